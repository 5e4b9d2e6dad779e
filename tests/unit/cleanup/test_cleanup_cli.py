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

from .conftest import UPCG, UTCG, add_upcg, add_utcg, all_rows, per_date, runs

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
    cleanup_id = lines[0].split()[1].rstrip(":")
    assert lines[3].split() == [
        UPCG, "2026-01-06", "3", "1", "2026-01-05",
        f"nba_backup.{UPCG}__stale_20260113_{cleanup_id}", "3", "3", "deleted",
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
        (["--today", "1999-12-31"], "today 1999-12-31 is outside 2000-01-01"),
        (["--ttl-days", "seven"], "invalid int value"),
    ],
)
def test_usage_errors_exit_2_and_touch_nothing(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.duckdb"
    code, out, err = pcf(["cleanup", *args, "--warehouse", f"duckdb:///{db}"], capsys)
    assert code == 2
    assert needle in out + err
    assert not db.exists()


def test_a_non_upcoming_allow_list_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCF_CLEANUP_TABLES", '["backfill_ledger"]')
    db = tmp_path / "never.duckdb"
    for args in (["cleanup", "--dry-run"], ["cleanup", "list"]):
        code, out, err = pcf([*args, "--warehouse", f"duckdb:///{db}"], capsys)
        assert (code, out) == (2, "")
        assert err == (
            "pcf: error: PCF_CLEANUP_TABLES is invalid: 'backfill_ledger' is not an upcoming_* "
            "table (only upcoming_* tables of the analytics dataset can be cleaned)\n"
        )
    assert not db.exists()


def all_upcg(path: Path) -> list[tuple[object, ...]]:
    app = build_app(Settings(warehouse=f"duckdb:///{path}"), bus=LocalBus())
    try:
        return all_rows(app.warehouse, UPCG)
    finally:
        app.close()


def test_cleanup_list_then_restore_round_trip(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wh = ["--warehouse", f"duckdb:///{db}"]
    before = all_upcg(db)
    code, out, _ = pcf(["cleanup", "--today", "2026-01-13", "--json", *wh], capsys)
    cleanup_id = json.loads(out)["data"]["cleanup_id"]

    code, out, _ = pcf(["cleanup", "list", *wh], capsys)
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][:4] == ["started", "(UTC)", "cleanup", "id"]
    mine = [line for line in lines if cleanup_id in line]
    assert [(line[3], line[4], line[-1]) for line in mine] == [
        (UTCG, "deleted", "yes"),
        (UPCG, "deleted", "yes"),
    ]

    restore = ["cleanup", "restore", "--cleanup-id", cleanup_id, *wh]
    code, out, _ = pcf([*restore, "--dry-run"], capsys)
    assert code == 0
    assert "would re-insert 3 of the 3 rows" in out
    code, out, _ = pcf([*restore, "--json"], capsys)
    doc = json.loads(out)["data"]
    assert code == 0
    assert doc["action"] == "restore"
    assert doc["restore_of"] == cleanup_id
    assert [(t["table_name"], t["restored_rows"]) for t in doc["tables"]] == [(UPCG, 3), (UTCG, 2)]
    assert all_upcg(db) == before
    code, out, _ = pcf(restore, capsys)
    assert code == 0
    assert "re-inserted 0 of the 3 rows" in out  # idempotent
    assert all_upcg(db) == before


@pytest.mark.parametrize(
    ("cleanup_id", "needle"),
    [
        ("nope", "--cleanup-id 'nope': String should match pattern"),
        ("c20260113T090000Z_000000", "no cleanup_runs row has cleanup_id"),
    ],
)
def test_restore_of_a_bad_id_exits_2(
    db: Path, cleanup_id: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["cleanup", "restore", "--cleanup-id", cleanup_id, "--warehouse", f"duckdb:///{db}"]
    code, _, err = pcf(args, capsys)
    assert code == 2
    assert needle in err
    assert len(err.splitlines()) == 1
