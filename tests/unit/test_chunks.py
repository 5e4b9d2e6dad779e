"""Chunked execution: a constant number of statements per chunk, per-date outcomes and fencing."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import Alert, BackfillRequest, ProcessDate
from shared.rules.planning import chunk_dates, staging_table_name
from shared.tools.registry import wire_local_bus
from shared.usecases import ledger
from shared.usecases.dispatch_backfill import dispatch_backfill
from shared.warehouse import Sql, Warehouse
from tests.fakes import DelegatingWarehouse
from tests.unit.test_dispatch import PLAYERS, all_ledger_rows, d, seed_mini_season

SENT = [d(f"2023-01-{n}") for n in (15, 16, 17, 18, 19, 22)]


class Statements(DelegatingWarehouse):
    """Our Warehouse port around the real adapter, counting calls by statement name."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner)
        self.calls: Counter[str] = Counter()

    def observe(self, operation: str, sql: Sql | None = None) -> None:
        self.calls[sql.name if sql is not None else operation] += 1


def counted(app: App) -> tuple[App, Statements]:
    wh = Statements(app.warehouse)
    counting = App(settings=app.settings, warehouse=wh, bus=app.bus)
    wire_local_bus(counting, app.bus)  # type: ignore[arg-type]
    return counting, wh


@pytest.mark.parametrize(("size", "chunks"), [(6, 1), (4, 2), (1, 6)])
def test_a_chunk_costs_a_constant_number_of_statements(app: App, size: int, chunks: int) -> None:
    seed_mini_season(app)
    counting, wh = counted(app)
    req = BackfillRequest(start_date=d("2023-01-15"), end_date=d("2023-01-22"), chunk_size=size)
    result = dispatch_backfill(counting, req, Delivery(None, None, None, {}))
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert result.sent == SENT

    # Per chunk: one plan, one context query (all PGS_SYNTHETIC here), one staging write, one
    # audit, one fenced publish, one verification, and ONE ledger statement per step
    # (processing, written, verdicts); a one-date chunk uses the parameterised append.
    ledger_name = "ledger.append_many" if size > 1 else "ledger.append"
    assert wh.calls["processing.date_plan"] == 1 + chunks  # dispatch's + one per chunk
    assert wh.calls["processing.context_from_pgs"] == chunks
    assert wh.calls["processing.context_from_upcg"] == 0
    assert wh.calls["write_staging_table"] == chunks
    assert wh.calls["coverage.audit"] == wh.calls["coverage.publish"] == chunks
    assert wh.calls["coverage.verify"] == chunks
    assert wh.calls[ledger_name] == 3 * chunks
    assert wh.calls["ledger.queue_many"] == 1
    rows = {r["game_date"]: r for r in all_ledger_rows(app)}
    assert {x: (rows[x]["status"], rows[x]["actual_players"]) for x in SENT} == {
        x: ("succeeded", PLAYERS) for x in SENT
    }
    assert {rows[x]["attempts"] for x in SENT} == {1}
    first, last = chunk_dates(SENT, size)[0][0], chunk_dates(SENT, size)[0][-1]
    assert rows[first]["staging_table"] == staging_table_name(result.run_id, first, last)


def test_fencing_stays_per_date_inside_one_chunk(app: App) -> None:
    seed_mini_season(app)
    newer = Delivery("m-new", 1, "2023-06-01T12:00:00Z", {})
    older = Delivery("m-old", 1, "2023-06-01T11:00:00Z", {})
    dispatch_backfill(app, BackfillRequest(dates=[d("2023-01-22")], run_id="new"), newer)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    # The older run arrives late with a chunk that holds the newer run's date.
    req = BackfillRequest(
        start_date=d("2023-01-18"), end_date=d("2023-01-22"), run_id="old", rerun="all"
    )
    dispatch_backfill(app, req, older)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]

    rows = {(r["run_id"], r["game_date"]): r["status"] for r in all_ledger_rows(app)}
    assert rows[("old", d("2023-01-18"))] == rows[("old", d("2023-01-19"))] == "succeeded"
    assert rows[("old", d("2023-01-22"))] == "superseded"
    assert rows[("new", d("2023-01-22"))] == "succeeded"
    latest = ledger.latest_by_date(app.warehouse, d("2023-01-18"), d("2023-01-22"))
    assert {x: r["run_id"] for x, r in latest.items()} == {
        d("2023-01-18"): "old",
        d("2023-01-19"): "old",
        d("2023-01-22"): "new",
    }
    stale = [
        m
        for m in app.bus.messages("alerts")  # type: ignore[attr-defined]
        if isinstance(m, Alert) and m.kind == "stale_run"
    ]
    assert [(a.run_id, a.game_date) for a in stale] == [("old", d("2023-01-22"))]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"game_dates": []}, "must not be empty"),
        ({"game_dates": [date(2023, 1, 16), date(2023, 1, 15)]}, "sorted ascending"),
        ({"game_dates": [date(2023, 1, 15), date(2023, 1, 15)]}, "without duplicates"),
        ({"game_dates": [date(2023, 1, 16)]}, "must be the first of game_dates"),
    ],
)
def test_a_malformed_chunk_is_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ProcessDate(run_id="r", game_date=date(2023, 1, 15), **fields)


def test_chunk_dates_and_sizes() -> None:
    days = [date(2023, 1, n) for n in (5, 1, 3, 2, 4)]
    assert chunk_dates(days, 2) == [
        [date(2023, 1, 1), date(2023, 1, 2)],
        [date(2023, 1, 3), date(2023, 1, 4)],
        [date(2023, 1, 5)],
    ]
    with pytest.raises(ValueError, match="at least 1"):
        chunk_dates(days, 0)
    with pytest.raises(ValidationError):
        BackfillRequest(dates=days, chunk_size=0)


def test_a_validate_chunk_describes_exactly_its_dates() -> None:
    from shared.messages import ValidateCoverage, WrittenDate

    days = [date(2023, 1, 15), date(2023, 1, 16)]

    def written(day: date) -> WrittenDate:
        return WrittenDate(
            game_date=day,
            data_source="UPCG",
            upcg_players=12,
            expected_players=12,
            rows_written=12,
        )

    ok = ValidateCoverage(
        run_id="r", game_date=days[0], game_dates=days, written=[written(x) for x in days]
    )
    assert ok.dates == days
    with pytest.raises(ValidationError, match="exactly the dates"):
        ValidateCoverage(run_id="r", game_date=days[0], game_dates=days, written=[written(days[0])])
