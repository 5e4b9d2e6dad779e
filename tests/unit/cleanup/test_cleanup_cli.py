"""``pcf cleanup``: the per-table table, --json, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from shared.app import build_app
from shared.config import Settings
from shared.tools.cli.main import main
from shared.tools.local_bus import LocalBus

from .conftest import UPCG, UTCG, add_upcg, add_utcg, per_date, runs

D = date


def pcf(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A warehouse file with 3 stale + 6 kept UPCG rows and 2 stale + 2 kept UTCG rows."""
    path = tmp_path / "wh.duckdb"
    app = build_app(Settings(warehouse=f"duckdb:///{path}"), bus=LocalBus())
    try:
        app.warehouse.create_all()
        add_upcg(app.warehouse, {D(2026, 1, 5): 3, D(2026, 1, 6): 3, D(2026, 1, 12): 3})
        add_utcg(app.warehouse, {D(2026, 1, 1): 2, D(2026, 1, 10): 2})
    finally:
        app.close()
    return path


def read(path: Path) -> tuple[dict[date, int], dict[date, int], list[str]]:
    app = build_app(Settings(warehouse=f"duckdb:///{path}"), bus=LocalBus())
    try:
        w = app.warehouse
        return per_date(w, UPCG), per_date(w, UTCG), [r["status"] for r in runs(w)]
    finally:
        app.close()


def test_cleanup_prints_a_table_and_exits_0(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = pcf(
        ["cleanup", "--today", "2026-01-13", "--warehouse", f"duckdb:///{db}"], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert "run date 2026-01-13 (ET), ttl 7 days, deleting game_date < 2026-01-06" in lines[0]
    assert lines[1].split() == [
        "table", "cutoff", "stale", "rows", "stale", "dates", "range", "backup", "backup", "rows",
        "deleted", "status",
    ]  # fmt: skip
    assert lines[3].split() == [
        UPCG, "2026-01-06", "3", "1", "2026-01-05", f"nba_backup.{UPCG}__stale_20260113", "3",
        "3", "deleted",
    ]  # fmt: skip
    assert lines[4].split()[-3:] == ["2", "2", "deleted"]
    assert read(db) == ({D(2026, 1, 6): 3, D(2026, 1, 12): 3}, {D(2026, 1, 10): 2}, ["deleted"] * 2)


def test_dry_run_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cleanup", "--dry-run", "--today", "2026-01-13", "--tables", UTCG, "--json"]
    code, out, _ = pcf([*args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 0
    doc = json.loads(out)["data"]
    assert (doc["dry_run"], doc["ok"], doc["cutoff_date"], doc["error"]) == (
        True,
        True,
        "2026-01-06",
        None,
    )
    [t] = doc["tables"]
    assert (t["table_name"], t["status"], t["stale_rows"], t["deleted_rows"]) == (
        UTCG,
        "dry_run",
        2,
        0,
    )
    assert read(db)[1] == {D(2026, 1, 1): 2, D(2026, 1, 10): 2}


def test_refused_by_the_guard_exits_1(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ttl 1 day: 6 of 9 UPCG rows and 4 of 4 UTCG rows are stale — above half of each table.
    args = ["cleanup", "--today", "2026-01-13", "--ttl-days", "1"]
    code, out, _ = pcf([*args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 1
    assert "refused by the runaway guard: 6 of 9 rows (66.7%)" in out
    assert read(db)[2] == ["refused", "refused"]
    assert sum(read(db)[0].values()) == 9

    code, out, _ = pcf([*args, "--allow-large-delete", "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 0
    assert read(db)[0] == {D(2026, 1, 12): 3}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--ttl-days", "0"], "--ttl-days must be between 1 and 365, got 0"),
        (["--ttl-days", "366"], "--ttl-days must be between 1 and 365, got 366"),
        (["--tables", "player_game_summary"], f"allowed tables: {UPCG}, {UTCG}"),
        (["--today", "2026-02-30"], "is not a date"),
        (["--ttl-days", "seven"], "invalid int value"),
    ],
)
def test_usage_errors_exit_2_and_touch_nothing(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.duckdb"
    code, out, err = pcf(["cleanup", *args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2 and needle in out + err
    assert not db.exists()
