"""cleanup_upcoming on embedded DuckDB: backup first, guard, verify both sides, record."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery, run
from shared.messages import Alert, CleanupRequest
from shared.tools.local_bus import LocalBus
from shared.usecases.cleanup_upcoming import CleanupError, UnknownCleanupTable, cleanup_upcoming
from shared.warehouse import Sql, TransientWarehouseError, Warehouse, WarehouseError
from tests.fakes import DelegatingWarehouse

from .conftest import UPCG, UTCG, add_upcg, add_utcg, backups, make_app, per_date, runs

D = date
TODAY = D(2026, 1, 13)  # cutoff with 7 days: 2026-01-06
DELIVERY = Delivery("m-1", 1, None, {})
RUN_COLUMNS = {
    "cleanup_id", "run_date", "table_name", "ttl_days", "cutoff_date", "dry_run", "stale_rows",
    "stale_dates", "min_stale_date", "max_stale_date", "rows_before", "rows_after",
    "backup_table", "backup_rows", "deleted_rows", "restored_rows", "restore_of", "status",
    "detail", "started_at", "finished_at",
}  # fmt: skip


def backup_of(result: Any, table: str, day: str = "20260113") -> str:
    """The backup name a run must use: table, run date and its own cleanup id."""
    return f"nba_backup.{table}__stale_{day}_{result.cleanup_id}"


def clean(app: App, **kw: Any) -> Any:
    return cleanup_upcoming(app, CleanupRequest(today=TODAY, **kw), DELIVERY)


def alerts(app: App) -> list[Alert]:
    assert isinstance(app.bus, LocalBus)
    return [m for m in app.bus.messages("alerts") if isinstance(m, Alert)]


def seed_small(app: App) -> None:
    """UPCG: 3 stale (01-05) + 6 kept (01-06, 01-12); UTCG: 2 stale (01-01) + 2 kept (01-10)."""
    add_upcg(app.warehouse, {D(2026, 1, 5): 3, D(2026, 1, 6): 3, D(2026, 1, 12): 3})
    add_utcg(app.warehouse, {D(2026, 1, 1): 2, D(2026, 1, 10): 2})


def test_stale_rows_go_to_a_verified_backup_then_are_deleted(app: App) -> None:
    seed_small(app)
    result = clean(app)

    assert result.ok
    assert result.cutoff_date == D(2026, 1, 6)
    assert result.run_date == TODAY
    # 2026-01-05 is gone, 2026-01-06 (exactly the cutoff) is kept.
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 6): 3, D(2026, 1, 12): 3}
    assert per_date(app.warehouse, UTCG) == {D(2026, 1, 10): 2}

    upcg, utcg = result.tables
    assert (upcg.status, upcg.stale_rows, upcg.backup_rows, upcg.deleted_rows) == (
        "deleted",
        3,
        3,
        3,
    )
    assert (upcg.rows_before, upcg.rows_after, upcg.stale_dates) == (9, 6, 1)
    assert upcg.backup_table == backup_of(result, UPCG)
    assert (utcg.status, utcg.stale_rows, utcg.backup_rows, utcg.deleted_rows) == (
        "deleted",
        2,
        2,
        2,
    )
    assert (utcg.min_stale_date, utcg.max_stale_date) == (D(2026, 1, 1), D(2026, 1, 1))

    # The backup holds exactly the stale rows, every column.
    backup = app.warehouse.query(
        Sql("t", "SELECT player_lookup, game_date, team_abbr, days_rest FROM {b} ORDER BY 1"),
        b=upcg.backup_table,
    )
    assert backup == [
        {"player_lookup": f"p{i}", "game_date": D(2026, 1, 5), "team_abbr": "BOS", "days_rest": i}
        for i in range(3)
    ]
    assert per_date(app.warehouse, str(utcg.backup_table)) == {D(2026, 1, 1): 2}
    assert alerts(app) == []


def test_one_complete_cleanup_runs_row_per_table_sharing_the_cleanup_id(app: App) -> None:
    seed_small(app)
    result = clean(app)
    rows = runs(app.warehouse)
    assert [r["table_name"] for r in rows] == [UPCG, UTCG]
    assert {r["cleanup_id"] for r in rows} == {result.cleanup_id}
    upcg = rows[0]
    assert set(upcg) == RUN_COLUMNS
    assert {
        k: upcg[k] for k in RUN_COLUMNS - {"cleanup_id", "detail", "started_at", "finished_at"}
    } == {
        "run_date": TODAY,
        "table_name": UPCG,
        "ttl_days": 7,
        "cutoff_date": D(2026, 1, 6),
        "dry_run": False,
        "stale_rows": 3,
        "stale_dates": 1,
        "min_stale_date": D(2026, 1, 5),
        "max_stale_date": D(2026, 1, 5),
        "rows_before": 9,
        "rows_after": 6,
        "backup_table": backup_of(result, UPCG),
        "backup_rows": 3,
        "deleted_rows": 3,
        "restored_rows": None,
        "restore_of": None,
        "status": "deleted",
    }
    assert upcg["detail"].startswith("deleted 3 stale rows on 1 date (2026-01-05)")
    assert upcg["started_at"] <= upcg["finished_at"]


def test_run_date_is_the_new_york_date(app: App) -> None:
    app.clock = lambda: datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # 23:30 on the 9th in New York
    add_upcg(app.warehouse, {D(2026, 3, 1): 1, D(2026, 3, 2): 2})
    result = cleanup_upcoming(app, CleanupRequest(trigger="scheduled"), DELIVERY)
    assert (result.run_date, result.cutoff_date) == (D(2026, 3, 9), D(2026, 3, 2))
    assert result.tables[0].backup_table == backup_of(result, UPCG, "20260309")
    assert per_date(app.warehouse, UPCG) == {D(2026, 3, 2): 2}


def test_second_run_the_same_day_is_clean_and_keeps_the_backup(app: App) -> None:
    seed_small(app)
    first = clean(app)
    second = clean(app)
    assert [t.status for t in second.tables] == ["clean", "clean"]
    assert [t.deleted_rows for t in second.tables] == [0, 0]
    assert second.tables[0].backup_table is None
    assert per_date(app.warehouse, str(first.tables[0].backup_table)) == {D(2026, 1, 5): 3}
    assert len(runs(app.warehouse)) == 4


def test_a_later_backup_the_same_day_gets_its_own_name_instead_of_replacing(app: App) -> None:
    seed_small(app)
    first = clean(app, tables=[UPCG])
    add_upcg(app.warehouse, {D(2026, 1, 2): 2}, prefix="late")  # a late upstream write
    second = clean(app, tables=[UPCG])
    assert second.tables[0].status == "deleted"
    assert second.cleanup_id != first.cleanup_id
    assert second.tables[0].backup_table == backup_of(second, UPCG)
    assert per_date(app.warehouse, str(first.tables[0].backup_table)) == {D(2026, 1, 5): 3}
    assert per_date(app.warehouse, str(second.tables[0].backup_table)) == {D(2026, 1, 2): 2}


def test_dry_run_changes_nothing_but_is_recorded(app: App) -> None:
    seed_small(app)
    result = clean(app, dry_run=True)
    assert [t.status for t in result.tables] == ["dry_run", "dry_run"]
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 5): 3, D(2026, 1, 6): 3, D(2026, 1, 12): 3}
    assert per_date(app.warehouse, UTCG) == {D(2026, 1, 1): 2, D(2026, 1, 10): 2}
    assert backups(app) == []
    rows = runs(app.warehouse)
    assert [(r["status"], r["dry_run"], r["stale_rows"], r["deleted_rows"]) for r in rows] == [
        ("dry_run", True, 3, 0),
        ("dry_run", True, 2, 0),
    ]
    assert rows[0]["detail"] == (
        "dry run: would back up and delete 3 stale rows on 1 date (2026-01-05); guard ok"
    )


def test_guard_refuses_more_than_half_the_table(app: App) -> None:
    add_upcg(app.warehouse, {D(2026, 1, 1): 4, D(2026, 1, 2): 2, D(2026, 1, 10): 4})
    result = clean(app, tables=[UPCG])
    t = result.tables[0]
    assert not result.ok
    assert t.status == "refused"
    assert t.deleted_rows == 0
    assert "6 of 10 rows (60.0%) is above the 50% limit" in str(t.detail)
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 1): 4, D(2026, 1, 2): 2, D(2026, 1, 10): 4}
    assert backups(app) == []
    [alert] = alerts(app)
    assert (alert.kind, alert.severity, alert.table_name) == ("cleanup_refused", "WARNING", UPCG)
    assert alert.details["stale_rows"] == 6
    assert alert.run_id == result.cleanup_id
    assert runs(app.warehouse)[0]["status"] == "refused"


def test_guard_refuses_above_the_absolute_row_limit() -> None:
    app = make_app(cleanup_max_rows=5)
    try:
        add_upcg(app.warehouse, {D(2026, 1, 1): 6, D(2026, 1, 10): 94})  # 6 % of the table
        t = clean(app, tables=[UPCG]).tables[0]
        assert t.status == "refused"
        assert "6 rows is above the 5 row limit" in str(t.detail)
        assert sum(per_date(app.warehouse, UPCG).values()) == 100
        assert [a.kind for a in alerts(app)] == ["cleanup_refused"]
    finally:
        app.close()


def test_allow_large_delete_lets_the_guard_through(app: App) -> None:
    add_upcg(app.warehouse, {D(2026, 1, 1): 4, D(2026, 1, 2): 2, D(2026, 1, 10): 4})
    t = clean(app, tables=[UPCG], allow_large_delete=True).tables[0]
    assert (t.status, t.backup_rows, t.deleted_rows) == ("deleted", 6, 6)
    assert "allowed by allow_large_delete" in str(t.detail)
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 10): 4}
    assert alerts(app) == []


def test_unknown_table_is_refused_before_anything_is_touched(app: App) -> None:
    seed_small(app)
    trips = app.warehouse.round_trips
    with pytest.raises(UnknownCleanupTable) as err:
        clean(app, tables=[UTCG, "player_game_summary"])
    assert str(err.value) == (
        "table(s) 'player_game_summary' may not be cleaned; allowed tables: "
        f"{UPCG}, {UTCG} (setting PCF_CLEANUP_TABLES)"
    )
    assert app.warehouse.round_trips == trips  # not one query, not even for the valid table
    assert per_date(app.warehouse, UTCG) == {D(2026, 1, 1): 2, D(2026, 1, 10): 2}
    assert runs(app.warehouse) == []


# -- faults injected at our port ----------------------------------------------------------------


class Faulty(DelegatingWarehouse):
    """Delegates to a real warehouse; hooks let a test break one step."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner)
        self.after_copy: Any = None
        self.on_execute: Any = None
        self.on_query: Any = None

    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Any]:
        if self.on_query:
            self.on_query(sql)
        return super().query(sql, params, **idents)

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        if self.on_execute:
            return int(self.on_execute(sql, params, idents))
        return super().execute(sql, params, **idents)

    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        target = super().copy_rows_to_new_table(
            sql, params, dataset_key, name, expiration_days, **idents
        )
        if self.after_copy:
            self.after_copy(target)
        return target


@pytest.fixture
def faulty(app: App) -> Faulty:
    wrapped = Faulty(app.warehouse)
    app.warehouse = wrapped
    return wrapped


def test_backup_shortfall_fails_and_deletes_nothing(app: App, faulty: Faulty) -> None:
    seed_small(app)
    faulty.after_copy = lambda backup: faulty.inner.execute(
        Sql("lose_one", "DELETE FROM {b} WHERE player_lookup = 'p0'"), b=backup
    )
    result = clean(app, tables=[UPCG])
    t = result.tables[0]
    assert not result.ok
    assert t.status == "failed"
    assert (t.stale_rows, t.backup_rows, t.deleted_rows) == (3, 2, 0)
    assert t.detail == (
        "backup verification failed: backup holds 2 rows but 3 rows are stale; nothing deleted "
        f"(backup left in {backup_of(result, UPCG)} for inspection)"
    )
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 5): 3, D(2026, 1, 6): 3, D(2026, 1, 12): 3}
    [alert] = alerts(app)
    assert (alert.kind, alert.severity, alert.details["backup_rows"]) == (
        "cleanup_failed",
        "ERROR",
        2,
    )
    assert runs(app.warehouse)[0]["status"] == "failed"


def test_a_delete_that_touches_kept_rows_fails_with_a_critical_alert(
    app: App, faulty: Faulty
) -> None:
    seed_small(app)

    def overreach(sql: Sql, params: Mapping[str, Any], idents: Mapping[str, str]) -> int:
        n = faulty.inner.execute(sql, params, **idents)
        if sql.name.startswith("cleanup.delete_backed_up"):  # also remove a row at the cutoff
            n += faulty.inner.execute(
                Sql(
                    "oops",
                    "DELETE FROM {target} WHERE game_date = @cutoff AND player_lookup = 'p1'",
                ),
                params,
                **idents,
            )
        return n

    faulty.on_execute = overreach
    t = clean(app, tables=[UPCG]).tables[0]
    assert t.status == "failed"
    assert (t.backup_rows, t.deleted_rows, t.rows_before, t.rows_after) == (3, 4, 9, 5)
    assert "rows at or after the cutoff changed from 6 to 5" in str(t.detail)
    assert "deleted 4 rows but the backup holds 3" in str(t.detail)
    [alert] = alerts(app)
    assert (alert.kind, alert.severity, alert.table_name) == ("cleanup_failed", "CRITICAL", UPCG)
    assert runs(app.warehouse)[0]["status"] == "failed"


def test_a_permanent_warehouse_error_records_failed_alerts_and_raises(
    app: App, faulty: Faulty
) -> None:
    seed_small(app)

    def broken(sql: Sql, params: Mapping[str, Any], idents: Mapping[str, str]) -> int:
        if sql.name.startswith("cleanup.delete_backed_up") and UPCG in idents["target"]:
            raise WarehouseError("cleanup.delete_backed_up failed: access denied")
        return faulty.inner.execute(sql, params, **idents)

    faulty.on_execute = broken
    with pytest.raises(CleanupError, match="access denied") as err:
        clean(app)
    upcg, utcg = err.value.result.tables
    assert (upcg.status, upcg.deleted_rows) == ("failed", 0)
    assert (
        upcg.detail
        == "warehouse error: cleanup.delete_backed_up failed: access denied; nothing deleted"
    )
    assert utcg.status == "deleted"  # the other table is independent
    assert [r["status"] for r in runs(app.warehouse)] == ["failed", "deleted"]
    assert [a.kind for a in alerts(app)] == ["cleanup_failed"]
    assert per_date(app.warehouse, UPCG)[D(2026, 1, 5)] == 3


def test_a_transient_warehouse_error_propagates_for_a_retry(app: App, faulty: Faulty) -> None:
    seed_small(app)

    def flaky(sql: Sql) -> None:
        if sql.name == "cleanup.table_stats":
            raise TransientWarehouseError("503 backend error")

    faulty.on_query = flaky
    with pytest.raises(TransientWarehouseError):
        clean(app)
    assert runs(app.warehouse) == []
    assert alerts(app) == []


def test_per_table_log_lines_carry_the_numbers(app: App, logs: Any) -> None:
    seed_small(app)
    clean(app, tables=[UPCG])
    [line] = logs.find("INFO", f"cleanup {UPCG}: deleted")
    assert {k: line[k] for k in ("stale_rows", "backup_rows", "deleted_rows", "rows_after")} == {
        "stale_rows": 3,
        "backup_rows": 3,
        "deleted_rows": 3,
        "rows_after": 6,
    }
    assert line["cutoff_date"] == "2026-01-06"
    assert line["cleanup_id"].startswith("c")


# -- through the Cloud Function runner ----------------------------------------------------------


def push(data: bytes, message_id: str = "m-9") -> dict[str, Any]:
    return {"message": {"data": base64.b64encode(data).decode("ascii"), "messageId": message_id}}


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b'{"trigger": "scheduled", "ttl_days": 0}',
        b'{"trigger": "scheduled", "ttl_days": 366}',
        b'{"trigger": "scheduled", "colour": "red"}',
        b'{"today": "0001-01-01"}',  # once an OverflowError redelivered into the DLQ
        b'{"today": "2999-01-01"}',  # after tomorrow in New York
        b'{"action": "restore"}',  # a restore needs its cleanup_id
        b'{"action": "restore", "cleanup_id": "x; DROP TABLE t"}',
    ],
)
def test_malformed_cleanup_message_is_acknowledged_and_logged(
    app: App, logs: Any, data: bytes
) -> None:
    seed_small(app)
    run(push(data), CleanupRequest, cleanup_upcoming, app=app)  # returns normally: ack
    [err] = logs.find("ERROR", "rejected malformed CleanupRequest")
    assert err["message_id"] == "m-9"
    assert runs(app.warehouse) == []
    assert per_date(app.warehouse, UPCG)[D(2026, 1, 5)] == 3
    assert [a.kind for a in alerts(app)] == ["bad_message"]


def test_unknown_table_message_is_acknowledged_and_logged(app: App, logs: Any) -> None:
    body = json.dumps({"trigger": "manual", "tables": ["player_game_summary"]}).encode()
    run(push(body), CleanupRequest, cleanup_upcoming, app=app)  # returns normally: ack
    [err] = logs.find("ERROR", "CleanupRequest failed permanently")
    assert "allowed tables" in err["error"]


def test_the_scheduler_payload_runs_the_cleanup(app: App) -> None:
    from shared.tools.schedule import load_schedule

    app.clock = lambda: datetime(2026, 1, 13, 9, 0, tzinfo=UTC)  # 04:00 in New York
    seed_small(app)
    run(push(load_schedule().data), CleanupRequest, cleanup_upcoming, app=app)
    assert [r["status"] for r in runs(app.warehouse)] == ["deleted", "deleted"]
    assert per_date(app.warehouse, UPCG) == {D(2026, 1, 6): 3, D(2026, 1, 12): 3}
