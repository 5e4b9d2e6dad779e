"""The append-only ledger: every step is ONE INSERT of the key's full state, the state of a
(run_id, game_date) is its latest row, and the rows before it are the date's history."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import BackfillRequest, DeadLetter, ProcessDate
from shared.sql import explain as explain_sql
from shared.sql import ledger as ledger_sql
from shared.tools.registry import wire_local_bus
from shared.usecases import ledger
from shared.usecases.dispatch_backfill import dispatch_backfill
from shared.usecases.ledger import LedgerUpdate
from shared.usecases.process_date import process_date
from shared.usecases.record_dead_letter import record_dead_letter
from shared.warehouse import Sql, Warehouse
from tests.fakes import DelegatingWarehouse
from tests.sql_catalog import STATEMENTS
from tests.unit.test_dispatch import PLAYERS, d, seed_mini_season

# A statement that writes a table: its verb and the {placeholder} it writes.
_WRITE = re.compile(
    r"^\s*(INSERT|MERGE|UPDATE|DELETE)(?:\s+(?:INTO|FROM))?\s+\{(\w+)\}", re.IGNORECASE
)
SENT = [d(f"2023-01-{n}") for n in (15, 16, 17, 18, 19, 22)]


def writes_to(sql: Sql) -> tuple[str, str] | None:
    """(verb, table placeholder) of a statement that writes a table, else None."""
    m = _WRITE.match(sql.text)
    return (m.group(1).upper(), m.group(2)) if m else None


class LedgerWrites(DelegatingWarehouse):
    """The real adapter, recording every statement that writes the ledger (verb, name)."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner)
        self.writes: list[tuple[str, str]] = []

    def observe(self, operation: str, sql: Sql | None = None) -> None:
        target = writes_to(sql) if sql is not None else None
        if target is not None and target[1] == "backfill_ledger":
            self.writes.append((target[0], sql.name if sql is not None else operation))


def recorded(app: App) -> tuple[App, LedgerWrites]:
    wh = LedgerWrites(app.warehouse)
    wrapped = App(settings=app.settings, warehouse=wh, bus=app.bus)
    wire_local_bus(wrapped, app.bus)  # type: ignore[arg-type]
    return wrapped, wh


def steps(app: App, start: date, end: date | None = None) -> list[dict[str, Any]]:
    """Every ledger row of the dates, each run's steps oldest first (explain.steps)."""
    return app.warehouse.query(explain_sql.STEPS, {"start_date": start, "end_date": end or start})


def state(app: App, run_id: str, day: date) -> dict[str, Any]:
    """The state of one key, as every reader sees it (ledger.latest_by_date of the run)."""
    return ledger.latest_by_date(app.warehouse, day, day, run_id=run_id)[day]


def test_every_ledger_write_in_shared_sql_is_an_insert() -> None:
    targets = {s.name: writes_to(s) for s in STATEMENTS}
    ledger_writes = {
        k: v for k, v in targets.items() if v is not None and v[1] == "backfill_ledger"
    }
    assert sorted(ledger_writes) == [
        "ledger.append",
        "ledger.append_many",
        "ledger.mark_dead_lettered",
        "ledger.queue_many",
    ]
    assert {verb for verb, _ in ledger_writes.values()} == {"INSERT"}


@pytest.mark.parametrize(("size", "chunks"), [(6, 1), (4, 2), (1, 6)])
def test_a_chunk_step_is_one_insert_and_no_mutating_dml_on_the_ledger(
    app: App, size: int, chunks: int
) -> None:
    seed_mini_season(app)
    wrapped, wh = recorded(app)
    req = BackfillRequest(start_date=d("2023-01-15"), end_date=d("2023-01-22"), chunk_size=size)
    result = dispatch_backfill(wrapped, req, Delivery(None, None, None, {}))
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert result.sent == SENT
    # Dispatch queues once; each chunk writes processing, written/skipped and the verdicts.
    append = "ledger.append_many" if size > 1 else "ledger.append"
    assert Counter(wh.writes) == {
        ("INSERT", "ledger.queue_many"): 1,
        ("INSERT", append): 3 * chunks,
    }
    # Every step of every date is kept: queued, processing, written, succeeded.
    rows = steps(app, SENT[0], SENT[-1])
    assert len(rows) == 4 * len(SENT)
    for day in SENT:
        assert [(r["status"], r["attempts"]) for r in rows if r["game_date"] == day] == [
            ("queued", 0),
            ("processing", 1),
            ("written", 1),
            ("succeeded", 1),
        ]
        now = state(app, result.run_id, day)
        assert (now["status"], now["actual_players"], now["attempts"]) == (
            "succeeded",
            PLAYERS,
            1,
        )


def test_the_full_history_of_a_date_and_a_redelivery_after_success(app: App) -> None:
    seed_mini_season(app)
    day = d("2023-01-16")
    t0 = datetime(2023, 6, 1, 12, tzinfo=UTC)
    delivery = Delivery("m-req", 1, "2023-06-01T12:00:00Z", {})
    result = dispatch_backfill(app, BackfillRequest(dates=[day], run_id="run-h"), delivery)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert result.sent == [day]
    first = state(app, "run-h", day)
    assert (first["status"], first["attempts"], first["dispatched_at"]) == ("succeeded", 1, t0)

    # A copy of the ProcessDate delivered again after success: processed again, same outcome,
    # one more delivery counted; the history keeps both passes.
    again = ProcessDate(run_id="run-h", game_date=day, dispatched_at=t0)
    process_date(app, again, Delivery("m-copy", 2, None, {}))
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    history = steps(app, day)
    assert [(r["status"], r["attempts"]) for r in history] == [
        ("queued", 0),
        ("processing", 1),
        ("written", 1),
        ("succeeded", 1),
        ("processing", 2),
        ("written", 2),
        ("succeeded", 2),
    ]
    times = [r["updated_at"] for r in history]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    now = state(app, "run-h", day)
    assert (now["status"], now["attempts"], now["actual_players"]) == ("succeeded", 2, PLAYERS)
    assert history[4]["last_message_id"] == "m-copy"
    # Every field the early steps set is still in the state (folded, never lost).
    assert now["dispatched_at"] == t0
    assert now["created_at"] == history[0]["created_at"]
    assert (now["expected_players"], now["data_source"]) == (PLAYERS, "PGS_SYNTHETIC")
    assert now["coverage_pct"] == Decimal("100.0")
    # The readers see one row per (run, date): the state.
    assert [
        r["status"]
        for r in app.warehouse.query(
            ledger_sql.RUN_ROWS, {"start_date": day, "end_date": day, "run_id": "run-h"}
        )
    ] == ["succeeded"]
    assert [
        r["status"]
        for r in app.warehouse.query(explain_sql.HISTORY, {"start_date": day, "end_date": day})
    ] == ["succeeded"]


def _dead_letter(app: App, run_id: str, days: list[date], message_id: str) -> Any:
    msg = DeadLetter(
        run_id=run_id,
        game_date=days[0],
        game_dates=days if len(days) > 1 else None,
        dispatched_at=datetime(2023, 6, 1, tzinfo=UTC),
    )
    attributes = {"type": "ProcessDate", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
    return record_dead_letter(app, msg, Delivery(message_id, 1, None, attributes))


def test_a_dead_letter_after_success_leaves_the_state_good(app: App) -> None:
    seed_mini_season(app)
    day = d("2023-01-16")
    dispatch_backfill(
        app, BackfillRequest(dates=[day], run_id="run-ok"), Delivery(None, None, None, {})
    )
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    before = len(steps(app, day))
    result = _dead_letter(app, "run-ok", [day], "m-dl")
    assert not result.marked_failed
    assert len(steps(app, day)) == before  # nothing appended
    assert state(app, "run-ok", day)["status"] == "succeeded"


def test_a_dead_lettered_chunk_marks_only_unfinished_dates_and_counts_them(app: App) -> None:
    done, stuck, unseen = d("2023-01-15"), d("2023-01-16"), d("2023-01-17")
    ledger.record(app.warehouse, LedgerUpdate("run-dl", done, "succeeded", attempt_increment=1))
    ledger.record(
        app.warehouse,
        LedgerUpdate("run-dl", stuck, "processing", attempt_increment=3, data_source="UPCG"),
    )
    affected = app.warehouse.execute(
        ledger_sql.MARK_DEAD_LETTERED,
        {
            "game_dates": [done, stuck, unseen],
            "start_date": done,
            "end_date": unseen,
            "run_id": "run-dl",
            "error": "dead-lettered after 5 attempts (ProcessDate)",
            "last_message_id": "m-dl",
            "mode": "backfill",
            "requested_by": "ops",
            "attempts": 5,
            "dispatched_at": None,
            "calculation_version": "v1",
        },
    )
    assert affected == 2  # the rows inserted: `stuck` and `unseen`, not `done`
    assert state(app, "run-dl", done)["status"] == "succeeded"
    marked = state(app, "run-dl", stuck)
    # The state it had is kept (attempts, source), only status/error/message move on.
    assert (marked["status"], marked["attempts"], marked["data_source"]) == ("failed", 3, "UPCG")
    assert marked["last_message_id"] == "m-dl"
    new = state(app, "run-dl", unseen)
    assert (new["status"], new["attempts"], new["requested_by"]) == ("failed", 5, "ops")


def test_attempts_add_up_over_deliveries_and_counts_fill_in(app: App) -> None:
    day = d("2023-01-16")
    for message in ("m1", "m2", "m3"):
        ledger.record(
            app.warehouse,
            LedgerUpdate("run-a", day, "processing", attempt_increment=1, last_message_id=message),
        )
    ledger.record(
        app.warehouse, LedgerUpdate("run-a", day, "written", expected_players=12, actual_players=11)
    )
    ledger.record(app.warehouse, LedgerUpdate("run-a", day, "blocked", coverage_pct=91.66))
    now = state(app, "run-a", day)
    assert (now["status"], now["attempts"], now["last_message_id"]) == ("blocked", 3, "m3")
    assert (now["expected_players"], now["actual_players"]) == (12, 11)
    assert now["coverage_pct"] == Decimal("91.7")
    assert now["error"] is None  # the step's error, not carried over
    assert [r["attempts"] for r in steps(app, day)] == [1, 2, 3, 3, 3]


def _legacy_row(run_id: str, day: date, status: str, **extra: Any) -> dict[str, Any]:
    at = datetime(2023, 3, 1, tzinfo=UTC)
    return {
        "run_id": run_id,
        "game_date": day,
        "status": status,
        "mode": "backfill",
        "expected_players": 12,
        "actual_players": 12,
        "forced": False,
        "attempts": 2,
        "dispatched_at": at,
        "calculation_version": "v1",
        "created_at": at,
        "updated_at": at + timedelta(minutes=5),
        **extra,
    }


def test_old_single_rows_are_their_own_state_and_new_steps_fold_onto_them(app: App) -> None:
    day, other = d("2023-01-16"), d("2023-01-17")
    # Rows from before the ledger became append-only: one per key, updated in place.
    app.warehouse.insert_rows(
        "backfill_ledger",
        [_legacy_row("old", day, "succeeded"), _legacy_row("old", other, "failed", error="boom")],
    )
    latest = ledger.latest_by_date(app.warehouse, day, other)
    assert {x: (r["run_id"], r["status"], r["attempts"]) for x, r in latest.items()} == {
        day: ("old", "succeeded", 2),
        other: ("old", "failed", 2),
    }
    # A rerun of the failed key appends on top of the old row: attempts continue from it.
    ledger.record(app.warehouse, LedgerUpdate("old", other, "processing", attempt_increment=1))
    now = state(app, "old", other)
    assert (now["status"], now["attempts"], now["expected_players"]) == ("processing", 3, 12)
    assert now["created_at"] == datetime(2023, 3, 1, tzinfo=UTC)
    assert now["error"] is None


def test_the_step_order_breaks_a_tie_and_a_new_step_is_never_behind_its_predecessor(
    app: App,
) -> None:
    day = d("2023-01-16")
    at = datetime(2023, 3, 1, tzinfo=UTC)
    # Two rows of one key written at the same instant: the later step is the state, whichever
    # row was stored first.
    app.warehouse.insert_rows(
        "backfill_ledger",
        [
            _legacy_row("tie-a", day, "written", updated_at=at),
            _legacy_row("tie-a", day, "processing", updated_at=at),
            _legacy_row("tie-b", day, "processing", updated_at=at),
            _legacy_row("tie-b", day, "written", updated_at=at),
            _legacy_row("tie-c", day, "succeeded", updated_at=at),
            _legacy_row("tie-c", day, "queued", updated_at=at),
        ],
    )
    assert state(app, "tie-a", day)["status"] == "written"
    assert state(app, "tie-b", day)["status"] == "written"
    assert state(app, "tie-c", day)["status"] == "succeeded"
    # A queued row stamped by a dispatcher clock ahead of the warehouse's: the next step still
    # becomes the state (its updated_at is moved just after the row it folds).
    ahead = datetime.now(UTC) + timedelta(hours=1)
    app.warehouse.insert_rows(
        "backfill_ledger", [_legacy_row("ahead", day, "queued", attempts=0, updated_at=ahead)]
    )
    ledger.record(app.warehouse, LedgerUpdate("ahead", day, "processing", attempt_increment=1))
    now = state(app, "ahead", day)
    assert (now["status"], now["attempts"]) == ("processing", 1)
    assert now["updated_at"] == ahead + timedelta(microseconds=1)


def test_queue_many_queues_only_keys_without_a_row(app: App) -> None:
    seed_mini_season(app)
    day = d("2023-01-16")
    req = BackfillRequest(dates=[day], run_id="run-q", rerun="all")
    delivery = Delivery("m-q", 1, "2023-06-01T12:00:00Z", {})
    dispatch_backfill(app, req, delivery)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    # The same request delivered again: the queue statement runs, but the key has rows, so
    # nothing is queued twice (the run's date is processed again: rerun=all).
    wrapped, wh = recorded(app)
    dispatch_backfill(wrapped, req, delivery)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert ("INSERT", "ledger.queue_many") in wh.writes
    assert [r["status"] for r in steps(app, day)] == [
        "queued",
        "processing",
        "written",
        "succeeded",
        "processing",
        "written",
        "succeeded",
    ]
