"""CLI usage errors: clear message, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.tools.cli.main import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["process", "--date", "2023-02-23", "--source", "magic"], "invalid choice: 'magic'"),
        (["process", "--date", "23/02/2023"], "is not a date: use YYYY-MM-DD"),
        (["process", "--date", "2023-02-30"], "is not a date"),
        (["seed", "--stale-upcg", "2023-02-23"], "use DATE=N"),
        (["backfill", "--start-date", "2023-02-23"], "--end-date"),
        (["backfill", "--dates", "2023-02-23", "--force"], "--force needs --reason"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code, text = run([*args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2 and needle in text
    assert not db.exists()


def test_unreadable_seed_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code, text = run(
        ["seed", "--from", str(tmp_path / "nope"), "--warehouse", f"duckdb:///{db}"], capsys
    )
    assert code == 2 and "does not exist" in text and not db.exists()


def test_seed_folder_without_season_files_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "wh.duckdb"
    code, text = run(["seed", "--from", str(empty), "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2 and "empty" in text


def test_sql_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    assert run(["init", "--warehouse", db], capsys)[0] == 0
    code, text = run(
        [
            "sql",
            "SELECT COUNT(*) AS n FROM nba_analytics.player_game_summary",
            "--json",
            "--warehouse",
            db,
        ],
        capsys,
    )
    assert code == 0 and '"n": 0' in text
