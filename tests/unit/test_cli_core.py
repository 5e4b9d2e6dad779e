"""CLI usage errors: clear message, exit code 2, nothing written."""

from __future__ import annotations

import json
import logging
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
    assert code == 2
    assert needle in text
    assert not db.exists()


def test_unreadable_seed_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code, text = run(
        ["seed", "--from", str(tmp_path / "nope"), "--warehouse", f"duckdb:///{db}"], capsys
    )
    assert code == 2
    assert "does not exist" in text
    assert not db.exists()


def test_seed_folder_without_season_files_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "wh.duckdb"
    code, text = run(["seed", "--from", str(empty), "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2
    assert "empty" in text


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
    assert code == 0
    assert '"n": 0' in text


# -- the one CLI contract ----------------------------------------------------------------------
@pytest.fixture
def wh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """An initialized (empty) DuckDB warehouse URL."""
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    assert run(["init", "--warehouse", url], capsys)[0] == 0
    return url


def one_error(text: str) -> str:
    """The error line of a failed command (asserting there is exactly one, and no traceback)."""
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if ": error: " in line]
    assert len(errors) == 1, text
    return errors[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.tools.cli.version import VERSION

    code, text = run(["--version"], capsys)
    assert code == 0
    assert text.strip() == f"pcf {VERSION}"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["backfill", "--dates", "2023-02-23", "--workers", "-3"], "'-3': must be 1 or more"),
        (
            ["backfill", "--start-date", "2023-03-05", "--end-date", "2023-02-15"],
            "--end-date 2023-02-15 is before --start-date 2023-03-05",
        ),
        (["backfill", "--dates", "2023-02-23", "--reason", "x"], "only used with --force"),
        (["status"], "--run-id RUN_ID"),
        (["nosuch"], "invalid choice: 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_with_a_hint(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code, text = run([*args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2
    assert needle in one_error(text)
    assert "pydantic" not in text
    assert "https://" not in text
    if args[0] == "nosuch" or "--workers" in args or "--end-date" in args:
        assert "hint: " in text  # argparse's: see `pcf … --help`; the range: swap the dates
    assert not db.exists()


def test_bad_sql_is_one_line(wh: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(["sql", "SELEC 1", "--warehouse", wh], capsys)
    assert code == 2
    assert "SQL error" in one_error(text)


def test_global_options_after_the_subcommand(wh: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(
        ["sql", "SELECT 1 AS one", "--warehouse", wh, "--log-level", "DEBUG", "--log-format",
         "json", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert json.loads(text)["data"] == [{"one": 1}]
    assert logging.getLogger("pcf").level == logging.DEBUG


def test_json_envelope_is_the_same_for_every_command(
    wh: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = {}
    for args in (
        ["init", "--warehouse", wh],
        ["sql", "SELECT 2 AS two", "--warehouse", wh],
        ["status", "--start-date", "2023-02-01", "--end-date", "2023-02-02", "--warehouse", wh],
        ["explain", "2023-02-23", "--warehouse", wh],
        ["backfill", "--dates", "2023-02-23", "--dry-run", "--warehouse", wh],
        ["sql", "SELEC 1", "--warehouse", wh],
        ["backfill", "--workers", "0", "--warehouse", wh],
        ["status", "--run-id", "x", "--warehouse", f"duckdb:///{tmp_path / 'none.duckdb'}"],
    ):
        code, text = run([*args, "--json"], capsys)
        out = text[text.index("{") :]  # stderr (the error line) comes after stdout here
        doc = json.loads(out[: out.rindex("}") + 1])
        assert set(doc) == {"pcf", "command", "ok", "exit_code", "data", "error"}
        assert (doc["exit_code"], doc["ok"], doc["command"]) == (code, code == 0, args[0])
        docs[tuple(args[:2])] = doc
    assert docs[("init", "--warehouse")]["data"]["tables"]
    assert docs[("sql", "SELECT 2 AS two")]["data"] == [{"two": 2}]
    assert docs[("status", "--start-date")]["data"] == {"dates": []}
    assert docs[("explain", "2023-02-23")]["data"]["runs"] == []
    assert docs[("sql", "SELEC 1")]["error"]["message"].startswith("SQL error")
    assert docs[("backfill", "--workers")]["error"]["message"].endswith("must be 1 or more")
    missing = docs[("status", "--run-id")]
    assert missing["exit_code"] == 1
    assert "pcf init" in missing["error"]["hint"]


def test_read_only_commands_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "not" / "there"
    url = f"duckdb:///{folder / 'wh.duckdb'}"
    for args in (
        ["status", "--start-date", "2023-02-01", "--end-date", "2023-02-02"],
        ["explain", "2023-02-23"],
        ["report", "--start-date", "2023-02-01", "--end-date", "2023-02-02", "--out",
         str(tmp_path / "r.html")],
        ["sql", "SELECT 1"],
    ):  # fmt: skip
        code, text = run([*args, "--warehouse", url], capsys)
        assert code == 1
        assert f"no warehouse at {folder / 'wh.duckdb'}" in one_error(text)
        assert "pcf init" in text
    assert not (tmp_path / "not").exists()
    assert not (tmp_path / "r.html").exists()


def test_not_initialized_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    code, text = run(["explain", "2023-02-23", "--warehouse", f"duckdb:///{path}"], capsys)
    assert code == 1
    assert "is not initialized" in one_error(text)
    assert "pcf init" in text


def test_init_creates_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new" / "folder" / "wh.duckdb"
    code, _ = run(["init", "--warehouse", f"duckdb:///{path}"], capsys)
    assert code == 0
    assert path.is_file()


def test_absolute_and_relative_duckdb_urls(tmp_path: Path) -> None:
    from shared.tools.cli.common import duckdb_path

    assert duckdb_path("duckdb:///.pcf/x.duckdb") == Path(".pcf/x.duckdb")
    assert duckdb_path(f"duckdb:///{tmp_path}/x.duckdb") == tmp_path / "x.duckdb"
    assert duckdb_path(f"duckdb:////{str(tmp_path).lstrip('/')}/x.duckdb") == tmp_path / "x.duckdb"
    assert duckdb_path("duckdb://:memory:") is None
    assert duckdb_path("bigquery://proj") is None


def test_missing_google_credentials_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No credentials anywhere and no metadata server probe: what a laptop without gcloud sees.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    code, text = run(["sql", "SELECT 1", "--warehouse", "bigquery://my-proj"], capsys)
    (line,) = text.strip().splitlines()
    assert code == 2
    assert line.startswith("pcf sql: no Google Cloud credentials (")
    code, text = run(["backfill", "--dates", "2023-02-23", "--via", "pubsub"], capsys)
    (line,) = text.strip().splitlines()
    assert code == 2
    assert line.startswith("pcf backfill: no Google Cloud credentials (")
    assert "gcloud auth application-default login" in line


def test_unexpected_errors_are_one_line_details_under_debug(
    wh: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.tools.cli import explain

    def boom(*_: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(explain, "explain_date", boom)
    code, text = run(["explain", "2023-02-23", "--warehouse", wh], capsys)
    assert code == 1
    assert one_error(text) == "pcf: error: RuntimeError: disk on fire"
    assert "--log-level DEBUG" in text
    code, text = run(["explain", "2023-02-23", "--warehouse", wh, "--log-level", "DEBUG"], capsys)
    errors = [line for line in text.splitlines() if ": error: " in line]
    assert code == 1
    assert errors == ["pcf: error: RuntimeError: disk on fire"]
    assert "Traceback" in text  # the details, in the log
    assert "second line" in text


def test_unknown_pcf_variables_warn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    cli_main = sys.modules["shared.tools.cli.main"]
    monkeypatch.setenv("PCF_WAREHOUS", "duckdb:///x.duckdb")
    monkeypatch.setattr(cli_main, "_warned_env", False)
    _, text = run(["--version"], capsys)
    assert (
        "pcf: warning: PCF_WAREHOUS is not a pcf setting and is ignored "
        "(did you mean PCF_WAREHOUSE?)" in text
    )
    _, text = run(["--version"], capsys)
    assert "warning" not in text  # once per process


def test_values_are_printed_for_people() -> None:
    from decimal import Decimal

    from shared.tools.cli.common import human

    assert [human(v) for v in (True, False, None, Decimal("100.000000000"), Decimal("0.8"))] == [
        "yes",
        "no",
        "",
        "100",
        "0.8",
    ]
    assert human(38.9) == "38.9"
    assert human(187) == "187"


def test_broken_pipe_is_quiet(wh: str) -> None:
    import os
    import subprocess
    import sys

    # `pcf status … | head` after head has exited: the reading end of stdout is gone.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shared.tools.cli", "sql", "SELECT 1 AS x", "--warehouse", wh],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert done.returncode == 141, err
    assert "Traceback" not in err
    assert "BrokenPipe" not in err
    assert "Exception ignored" not in err


# -- logs ---------------------------------------------------------------------------------------
def test_log_formats() -> None:
    import io

    from shared import log
    from shared.tools.cli.logtext import TextFormatter

    log.register_text_formatter(TextFormatter)
    buf = io.StringIO()  # not a terminal: auto means JSON
    log.configure("INFO", stream=buf, fmt="auto")
    with log.log_context(run_id="r1", game_date="2023-02-23"):
        log.event("WARNING", "fallback to PGS_SYNTHETIC", upcg_players=1, expected_players=126)
    doc = json.loads(buf.getvalue())
    assert (doc["severity"], doc["game_date"], doc["upcg_players"]) == ("WARNING", "2023-02-23", 1)

    buf = io.StringIO()
    log.configure("INFO", stream=buf, fmt="text")
    with log.log_context(run_id="r1", game_date="2023-02-23"):
        log.event("WARNING", "fallback to PGS_SYNTHETIC", upcg_players=1, coverage_pct=0.8)
    [line] = buf.getvalue().splitlines()
    assert line.endswith(
        "WARNING 2023-02-23 fallback to PGS_SYNTHETIC  upcg_players=1  coverage_pct=0.8"
    )
    assert "\x1b[" not in line
    assert "r1" not in line


def test_text_lines_are_coloured_and_fit_the_terminal() -> None:
    from shared.tools.cli.logtext import TextFormatter

    record = logging.LogRecord("pcf", logging.ERROR, "x", 1, "x" * 300, None, None)
    plain = TextFormatter(color=False, width=80).format(record)
    assert len(plain) == 80
    assert plain.endswith("…")
    coloured = TextFormatter(color=True, width=80).format(record)
    assert "\x1b[" in coloured
    assert "\n" not in coloured


def test_functions_always_log_json() -> None:
    from shared import log
    from shared.tools.cli.logtext import TextFormatter

    log.register_text_formatter(TextFormatter)
    logger = logging.getLogger("pcf")
    for h in list(logger.handlers):
        if getattr(h, "_pcf", False):
            logger.removeHandler(h)
    log.ensure_configured("INFO")  # what shared/entrypoint.py does in a Cloud Function
    [handler] = [h for h in logger.handlers if getattr(h, "_pcf", False)]
    assert isinstance(handler.formatter, log.JsonFormatter)


def test_resume_hint_keeps_what_the_run_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    from datetime import date

    from shared.messages import BackfillRequest
    from shared.tools.cli.backfill import _interrupted

    req = BackfillRequest(
        start_date=date(2023, 2, 15),
        end_date=date(2023, 3, 5),
        force=True,
        force_reason="INC-42 accepted",
        rerun="all",
        source="upcg",
        requested_by="dave",
        run_id="r1",
    )
    args = argparse.Namespace(warehouse="duckdb:///w.duckdb")
    _interrupted(args, req, None, 11, [date(2023, 3, 4), date(2023, 3, 5)])
    err = capsys.readouterr().err.splitlines()
    base = (
        "pcf backfill --start-date 2023-02-15 --end-date 2023-03-05 --warehouse "
        "duckdb:///w.duckdb --source upcg --force --reason 'INC-42 accepted'"
    )
    assert err[1] == "pcf backfill: interrupted: run r1 stopped; 11 dates not started stay " + (
        "`queued` (nothing half-written is checkpointed)"
    )
    assert err[2] == f"  resume the unfinished dates:  {base} --rerun missing"
    assert err[3] == f"  retry blocked/failed dates:   {base} --rerun failed"
    assert err[4] == "  see where it stopped:         pcf status --run-id r1"
    assert err[5].endswith(
        "pcf backfill --dates 2023-03-04,2023-03-05 --warehouse duckdb:///w.duckdb --source upcg "
        "--force --reason 'INC-42 accepted' --rerun all"
    )
