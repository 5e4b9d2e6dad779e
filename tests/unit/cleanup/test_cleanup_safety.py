"""The cleanup against overlaps, crashes and late rows, and its undo (RULES §5, issue 11).

Faults are injected through the use case's step hook: a crash is a BaseException the use case
never catches (like a kill: the lease stays taken, the ``started`` row stays ``started``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery, run
from shared.messages import Alert, CleanupRequest
from shared.tools.local_bus import LocalBus
from shared.usecases.cleanup_upcoming import (
    CleanupConfigError,
    CleanupResult,
    RestoreError,
    TableOutcome,
    cleanup_upcoming,
    recent_runs,
)
from shared.warehouse import Sql, WarehouseError

from .conftest import UPCG, UTCG, add_upcg, add_utcg, all_rows, backups, make_app, per_date, runs

D = date
TODAY = D(2026, 1, 13)  # cutoff with 7 days: 2026-01-06
T0 = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)  # 04:00 in New York
LATER = T0 + timedelta(minutes=31)  # past the 30-minute lease
DELIVERY = Delivery("m-1", 1, None, {})


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the use case handles it)."""


def clean(app: App, hook: Any = None, **kw: Any) -> CleanupResult:
    return cleanup_upcoming(app, CleanupRequest(today=TODAY, **kw), DELIVERY, hook=hook)


def restore(app: App, cleanup_id: str, **kw: Any) -> CleanupResult:
    req = CleanupRequest(action="restore", cleanup_id=cleanup_id, **kw)
    return cleanup_upcoming(app, req, DELIVERY)


def alerts(app: App) -> list[Alert]:
    assert isinstance(app.bus, LocalBus)
    return [m for m in app.bus.messages("alerts") if isinstance(m, Alert)]


def crash_at(step: str, table: str = UPCG) -> Any:
    def hook(at: str, o: TableOutcome) -> None:
        if at == step and o.table_name == table:
            raise Crash(step)

    return hook


@pytest.fixture
def app() -> Any:
    """UPCG: 3 stale (01-05) + 6 kept; UTCG: 2 stale (01-01) + 2 kept; the clock at 04:00 ET."""
    a = make_app()
    a.clock = lambda: T0
    add_upcg(a.warehouse, {D(2026, 1, 5): 3, D(2026, 1, 6): 3, D(2026, 1, 12): 3})
    add_utcg(a.warehouse, {D(2026, 1, 1): 2, D(2026, 1, 10): 2})
    yield a
    a.close()


# -- two runs at once ----------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["intent", "backup", "delete"])
def test_an_overlapping_run_is_skipped_and_touches_no_backup(app: App, step: str) -> None:
    """B starts while A holds UPCG (before A's backup exists, or after A's delete)."""
    before = all_rows(app.warehouse, UPCG)
    seen: list[CleanupResult] = []

    def run_b(at: str, o: TableOutcome) -> None:
        if at == step and o.table_name == UPCG:
            seen.append(clean(app, tables=[UPCG]))

    a = clean(app, hook=run_b, tables=[UPCG])
    [b] = seen
    a_upcg, b_upcg = a.tables[0], b.tables[0]
    assert (a_upcg.status, a_upcg.backup_rows, a_upcg.deleted_rows) == ("deleted", 3, 3)
    assert b_upcg.status == "skipped_locked"
    assert b.ok  # a clean exit
    assert b_upcg.backup_table is None
    assert b_upcg.deleted_rows is None
    assert b_upcg.detail == f"another run ({a.cleanup_id}) holds the lease on {UPCG}; nothing done"
    # A's backup is the only backup and still holds A's rows.
    assert backups(app) == [str(a_upcg.backup_name)]
    assert per_date(app.warehouse, str(a_upcg.backup_table)) == {D(2026, 1, 5): 3}
    assert sorted(all_rows(app.warehouse, UPCG) + _backup_rows(app, a_upcg), key=repr) == before
    # cleanup_runs is truthful: A deleted 3 into its backup, B did nothing.
    rows = {r["cleanup_id"]: r for r in runs(app.warehouse)}
    assert (rows[a.cleanup_id]["status"], rows[a.cleanup_id]["deleted_rows"]) == ("deleted", 3)
    assert rows[a.cleanup_id]["backup_table"] == a_upcg.backup_table
    assert (rows[b.cleanup_id]["status"], rows[b.cleanup_id]["backup_table"]) == (
        "skipped_locked",
        None,
    )
    assert alerts(app) == []


def test_the_lease_is_released_and_the_next_run_proceeds(app: App) -> None:
    first = clean(app, tables=[UPCG])
    add_upcg(app.warehouse, {D(2026, 1, 4): 2}, prefix="late")
    second = clean(app, tables=[UPCG])
    assert [first.tables[0].status, second.tables[0].status] == ["deleted", "deleted"]
    assert second.tables[0].deleted_rows == 2


def test_a_backup_is_created_only_never_replaced(app: App) -> None:
    """The port: a second copy under an existing name is an error; the first copy is intact."""
    from shared.sql.cleanup import STALE_ROWS

    wh = app.warehouse
    target = wh.table(UPCG)
    made = wh.copy_rows_to_new_table(
        STALE_ROWS, {"cutoff": D(2026, 1, 6)}, "backup", "clash", None, target=target
    )
    with pytest.raises(WarehouseError, match="already exists"):
        wh.copy_rows_to_new_table(
            STALE_ROWS, {"cutoff": D(2026, 1, 1)}, "backup", "clash", None, target=target
        )
    assert per_date(wh, made) == {D(2026, 1, 5): 3}


# -- crashes -------------------------------------------------------------------------------------


def _backup_rows(app: App, o: TableOutcome) -> list[tuple[Any, ...]]:
    from shared.warehouse import get_schema

    cols = get_schema(o.table_name).column_names
    rows = app.warehouse.query(
        Sql("t.backup", f"SELECT {', '.join(cols)} FROM {{b}}"), b=str(o.backup_table)
    )
    return [tuple(r[c] for c in cols) for r in rows]


def _started_row(app: App) -> dict[str, Any]:
    [row] = [r for r in runs(app.warehouse) if r["status"] == "started"]
    return row


def test_crash_after_the_delete_is_reconciled_listed_and_restored(app: App) -> None:
    before = all_rows(app.warehouse, UPCG)
    with pytest.raises(Crash):
        clean(app, hook=crash_at("delete"))
    started = _started_row(app)
    crashed_id = started["cleanup_id"]
    # Intent first: the row names the backup the rows went to.
    assert started["backup_table"] == (f"nba_backup.{UPCG}__stale_20260113_{crashed_id}")
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 6): 3, D(2026, 1, 12): 3}

    # Within the lease the dead run still holds UPCG: skipped, nothing reconciled yet.
    app.clock = lambda: T0 + timedelta(minutes=5)
    soon = clean(app)
    assert [t.status for t in soon.tables] == ["skipped_locked", "deleted"]  # UTCG is free
    assert soon.reconciled == []
    assert _started_row(app)["cleanup_id"] == crashed_id

    # After the lease: reconciled (the delete ran), alerted, and the table is clean.
    app.clock = lambda: LATER
    nxt = clean(app)
    [settled] = nxt.reconciled
    assert (settled.cleanup_id, settled.status, settled.deleted_rows, settled.backup_rows) == (
        crashed_id,
        "reconciled_deleted",
        3,
        3,
    )
    assert nxt.tables[0].status == "clean"
    rows = [r for r in runs(app.warehouse) if r["cleanup_id"] == crashed_id]
    assert [(r["table_name"], r["status"]) for r in rows] == [(UPCG, "reconciled_deleted")]
    assert "pcf cleanup restore" in rows[0]["detail"]
    [alert] = [a for a in alerts(app) if a.kind == "cleanup_reconciled"]
    assert (alert.severity, alert.run_id, alert.table_name) == ("WARNING", crashed_id, UPCG)

    # `pcf cleanup list` shows it with its backup, which still exists.
    [listed] = [r for r in recent_runs(app) if r["cleanup_id"] == crashed_id]
    assert (listed["status"], listed["backup_exists"]) == ("reconciled_deleted", True)

    # Restore brings the exact pre-cleanup row set back.
    done = restore(app, crashed_id)
    [t] = done.tables
    assert (t.status, t.restored_rows, t.restore_of) == ("restored", 3, crashed_id)
    assert all_rows(app.warehouse, UPCG) == before


def test_crash_after_the_backup_copy_is_reconciled_then_cleaned_and_restorable(app: App) -> None:
    before = all_rows(app.warehouse, UPCG)
    with pytest.raises(Crash):
        clean(app, hook=crash_at("backup"))
    crashed_id = _started_row(app)["cleanup_id"]
    assert per_date(app.warehouse, UPCG)[D(2026, 1, 5)] == 3  # nothing deleted yet

    app.clock = lambda: LATER
    nxt = clean(app)
    [settled] = nxt.reconciled
    assert (settled.status, settled.deleted_rows, settled.backup_rows) == (
        "reconciled_not_deleted",
        0,
        3,
    )
    # The stale rows are then cleaned by this run, into its own (new) backup.
    upcg = nxt.tables[0]
    assert (upcg.status, upcg.deleted_rows) == ("deleted", 3)
    assert upcg.backup_table != settled.backup_table
    assert [b for b in backups(app) if b.startswith(UPCG)] == sorted(
        [str(settled.backup_name), str(upcg.backup_name)]
    )
    [alert] = [a for a in alerts(app) if a.kind == "cleanup_reconciled"]
    assert alert.run_id == crashed_id

    restore(app, nxt.cleanup_id)
    assert all_rows(app.warehouse, UPCG) == before


def test_crash_after_intent_before_the_backup(app: App) -> None:
    with pytest.raises(Crash):
        clean(app, hook=crash_at("intent"))
    app.clock = lambda: LATER
    [settled] = clean(app).reconciled
    assert (settled.status, settled.backup_rows, settled.deleted_rows) == (
        "reconciled_not_deleted",
        None,
        0,
    )
    assert "before its backup" in str(settled.detail)


# -- a late row ----------------------------------------------------------------------------------


def test_a_row_arriving_between_backup_and_delete_survives(app: App) -> None:
    def late(at: str, o: TableOutcome) -> None:
        if at == "backup" and o.table_name == UPCG:
            add_upcg(app.warehouse, {D(2026, 1, 2): 1}, prefix="late")

    result = clean(app, hook=late, tables=[UPCG])
    t = result.tables[0]
    assert (t.status, t.stale_rows, t.backup_rows, t.deleted_rows) == ("deleted", 3, 3, 3)
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 2): 1, D(2026, 1, 6): 3, D(2026, 1, 12): 3}
    assert "1 row below the cutoff arrived after the backup and were kept" in str(t.detail)
    # Every deleted row is in the backup; the late one is cleaned by the next run.
    assert per_date(app.warehouse, str(t.backup_table)) == {D(2026, 1, 5): 3}
    assert clean(app, tables=[UPCG]).tables[0].deleted_rows == 1


# -- restore -------------------------------------------------------------------------------------


def test_restore_is_idempotent_and_recorded(app: App) -> None:
    before_upcg, before_utcg = all_rows(app.warehouse, UPCG), all_rows(app.warehouse, UTCG)
    done = clean(app)
    dry = restore(app, done.cleanup_id, dry_run=True)
    assert [(t.status, t.restored_rows) for t in dry.tables] == [("dry_run", 0)] * 2
    assert "would re-insert 3 of the 3 rows" in str(dry.tables[0].detail)
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 6): 3, D(2026, 1, 12): 3}

    first = restore(app, done.cleanup_id)
    assert [(t.table_name, t.status, t.restored_rows) for t in first.tables] == [
        (UPCG, "restored", 3),
        (UTCG, "restored", 2),
    ]
    assert (all_rows(app.warehouse, UPCG), all_rows(app.warehouse, UTCG)) == (
        before_upcg,
        before_utcg,
    )
    second = restore(app, done.cleanup_id)
    assert [t.restored_rows for t in second.tables] == [0, 0]
    assert all_rows(app.warehouse, UPCG) == before_upcg

    restored = [r for r in runs(app.warehouse) if r["restore_of"] == done.cleanup_id]
    assert sorted((r["status"], r["restored_rows"]) for r in restored) == [
        ("dry_run", 0),
        ("dry_run", 0),
        ("restored", 0),
        ("restored", 0),
        ("restored", 2),
        ("restored", 3),
    ]
    assert alerts(app) == []


def test_restore_keeps_identical_rows_as_a_multiset(app: App) -> None:
    twin = {"player_lookup": "twin", "game_date": D(2026, 1, 3), "team_abbr": "BOS"}
    app.warehouse.insert_rows(UPCG, [twin, twin])
    before = all_rows(app.warehouse, UPCG)
    done = clean(app, tables=[UPCG])
    assert done.tables[0].deleted_rows == 5
    # One twin came back some other way: the restore adds only the other one.
    app.warehouse.insert_rows(UPCG, [twin])
    assert restore(app, done.cleanup_id).tables[0].restored_rows == 4
    assert all_rows(app.warehouse, UPCG) == before


def test_restore_of_an_unknown_or_backup_less_cleanup_is_refused(app: App) -> None:
    with pytest.raises(RestoreError, match="no cleanup_runs row has cleanup_id"):
        restore(app, "c20260113T090000Z_000000")
    dry = clean(app, dry_run=True)
    with pytest.raises(RestoreError, match="made no backup to restore"):
        restore(app, dry.cleanup_id)


def test_restore_of_an_expired_backup_fails_with_an_alert(app: App) -> None:
    done = clean(app, tables=[UPCG])
    app.warehouse.execute(Sql("t.drop", "DROP TABLE {b}"), b=str(done.tables[0].backup_table))
    [t] = restore(app, done.cleanup_id).tables
    assert t.status == "failed"
    assert "no longer exists" in str(t.detail)
    assert [a.kind for a in alerts(app)] == ["cleanup_failed"]
    [listed] = [r for r in recent_runs(app) if r["cleanup_id"] == done.cleanup_id]
    assert listed["backup_exists"] is False


def push(body: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(body).encode()).decode("ascii")
    return {"message": {"data": data, "messageId": "m-7"}}


def test_restore_by_message_through_the_function_runner(app: App) -> None:
    before = all_rows(app.warehouse, UPCG)
    done = clean(app, tables=[UPCG])
    body = {"trigger": "manual", "action": "restore", "cleanup_id": done.cleanup_id}
    run(push(body), CleanupRequest, cleanup_upcoming, app=app)
    assert all_rows(app.warehouse, UPCG) == before
    assert [r["status"] for r in runs(app.warehouse) if r["restore_of"]] == ["restored"]


# -- configuration -------------------------------------------------------------------------------


def test_an_allow_list_outside_upcoming_tables_is_a_config_error_with_an_alert(
    logs: Any,
) -> None:
    app = make_app(cleanup_tables=["backfill_ledger"])
    try:
        trips = app.warehouse.round_trips
        with pytest.raises(CleanupConfigError, match="'backfill_ledger' is not an upcoming_"):
            clean(app)
        run(push({"trigger": "scheduled"}), CleanupRequest, cleanup_upcoming, app=app)  # acked
        assert app.warehouse.round_trips == trips  # nothing read, nothing written
        assert [a.kind for a in alerts(app)] == ["cleanup_failed"] * 2
        errors = logs.find("ERROR", "TTL cleanup not started: PCF_CLEANUP_TABLES is invalid")
        assert len(errors) == 2
    finally:
        app.close()
