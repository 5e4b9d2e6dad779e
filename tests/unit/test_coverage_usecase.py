"""RULES §4 through the ``validate_coverage`` use case on an embedded warehouse."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ValidateCoverage
from shared.usecases import ledger
from shared.usecases.validate_coverage import CoverageResult, validate_coverage
from shared.warehouse import Warehouse
from shared.warehouse.base import Sql, TransientWarehouseError, WarehouseError
from tests.fakes import DelegatingWarehouse

D = date(2023, 2, 23)
RUN = "r-cov-test"
DELIVERY = Delivery(message_id="m-1", attempt=1, publish_time=None, attributes={})


def _players(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def seed_counts(app: App, *, actual: int, pgs: int, upcg: int = 0, day: date = D) -> None:
    """N distinct PCF players, M distinct PGS players, K UPCG players on ``day``."""
    players = _players("player", max(actual, pgs, upcg))
    if pgs:
        app.warehouse.insert_rows(
            "player_game_summary",
            [{"player_lookup": p, "game_id": "g1", "game_date": day} for p in players[:pgs]],
        )
    if upcg:
        app.warehouse.insert_rows(
            "upcoming_player_game_context",
            [{"player_lookup": p, "game_date": day} for p in players[:upcg]],
        )
    if actual:
        app.warehouse.insert_rows(
            "player_composite_factors",
            [
                {"player_lookup": p, "game_date": day, "run_id": RUN, "data_source": "UPCG"}
                for p in players[:actual]
            ],
        )


def validate(app: App, **fields: Any) -> CoverageResult:
    msg = ValidateCoverage(run_id=RUN, game_date=D, data_source="UPCG", **fields)
    return validate_coverage(app, msg, DELIVERY)


def ledger_row(app: App, day: date = D) -> dict[str, Any]:
    return ledger.latest_by_date(app.warehouse, day, day, run_id=RUN)[day]


def alerts(app: App) -> list[Alert]:
    return [m for m in app.bus.messages("alerts") if isinstance(m, Alert)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("actual", "expected", "status", "pct"),
    [
        (187, 187, "succeeded", 100.0),
        (190, 200, "succeeded", 95.0),
        (169, 187, "warned", 90.4),
        (168, 187, "blocked", 89.8),
        (1, 187, "blocked", 0.5),
    ],
)
def test_spec_numbers(
    app: App, logs: Any, actual: int, expected: int, status: str, pct: float
) -> None:
    seed_counts(app, actual=actual, pgs=expected)
    result = validate(app, upcg_players=3)

    assert (result.status, result.actual_players, result.expected_players) == (
        status,
        actual,
        expected,
    )
    assert result.coverage_pct == pct
    row = ledger_row(app)
    assert row["status"] == status
    assert (row["actual_players"], row["expected_players"], row["upcg_players"]) == (
        actual,
        expected,
        3,
    )
    assert row["coverage_pct"] == Decimal(str(pct))
    assert row["data_source"] == "UPCG"
    assert row["last_message_id"] == "m-1"
    assert row["forced"] is False

    blocked = status == "blocked"
    assert [a.kind for a in alerts(app)] == (["coverage_blocked"] if blocked else [])
    failed_logs = logs.find("ERROR", "COVERAGE VALIDATION FAILED")
    assert len(failed_logs) == (1 if blocked else 0)
    assert len(logs.find("WARNING", "Low coverage")) == (1 if status == "warned" else 0)
    if blocked:
        (alert,) = alerts(app)
        assert alert.game_date == D and alert.run_id == RUN
        assert alert.details["actual_players"] == actual
        assert alert.details["expected_players"] == expected
        assert alert.details["coverage_pct"] == pct
        assert failed_logs[0]["checkpointed"] is False
        assert f"{actual}/{expected}" in failed_logs[0]["message"]


def test_warned_log_names_the_shortfall(app: App, logs: Any) -> None:
    seed_counts(app, actual=169, pgs=187)
    validate(app)
    (record,) = logs.find("WARNING", "Low coverage")
    assert "169/187" in record["message"] and "18 missing" in record["message"]
    assert record["coverage_pct"] == 90.4
    assert record["checkpointed"] is True


def test_one_of_187_forced_with_reason_is_audited(app: App, logs: Any) -> None:
    seed_counts(app, actual=1, pgs=187)
    result = validate(
        app, force=True, force_reason="upstream outage ticket 42", requested_by="alice"
    )
    assert result.status == "forced"
    row = ledger_row(app)
    assert row["status"] == "forced"
    assert row["forced"] is True
    assert row["force_reason"] == "upstream outage ticket 42"
    assert row["requested_by"] == "alice"
    assert row["coverage_pct"] == Decimal("0.5")
    assert (row["actual_players"], row["expected_players"]) == (1, 187)
    assert alerts(app) == []  # forced is checkpointed: no blocked alert
    (record,) = logs.find("WARNING", "checkpointed by force")
    assert record["forced"] is True
    assert record["force_reason"] == "upstream outage ticket 42"
    assert logs.find("ERROR") == []


def test_zero_expected_succeeds(app: App) -> None:
    seed_counts(app, actual=0, pgs=0)
    result = validate(app)
    assert (result.status, result.actual_players, result.expected_players) == ("succeeded", 0, 0)
    assert result.coverage_pct is None
    row = ledger_row(app)
    assert row["status"] == "succeeded"
    assert row["coverage_pct"] is None
    assert alerts(app) == []


def test_counts_distinct_players_in_the_output(app: App) -> None:
    # 170 rows but only 168 distinct players in PCF: the gate counts players, not rows.
    seed_counts(app, actual=168, pgs=187)
    app.warehouse.insert_rows(
        "player_composite_factors",
        [{"player_lookup": f"player{i:03d}", "game_date": D} for i in (0, 1)],
    )
    # Another date's rows must not count either.
    seed_counts(app, actual=50, pgs=0, day=date(2023, 2, 24))
    assert validate(app).status == "blocked"
    assert ledger_row(app)["actual_players"] == 168


def test_daily_mode_uses_upcg_as_expected(app: App) -> None:
    # Upcoming date: PGS has nobody yet, UPCG lists 200 players, 190 were written → 95 %.
    seed_counts(app, actual=190, pgs=0, upcg=200)
    result = validate(app, mode="daily")
    assert (result.status, result.expected_players, result.coverage_pct) == (
        "succeeded",
        200,
        95.0,
    )
    assert ledger_row(app)["expected_players"] == 200
    # In backfill mode the same output is judged against PGS, which has nobody yet.
    backfill = validate(app)
    assert (backfill.status, backfill.expected_players) == ("succeeded", 0)


def test_daily_mode_blocks_against_upcg(app: App) -> None:
    seed_counts(app, actual=150, pgs=187, upcg=200)
    result = validate(app, mode="daily")
    # Expected is UPCG (200), not PGS (187): 150/200 = 75 % blocks.
    assert (result.status, result.expected_players, result.coverage_pct) == ("blocked", 200, 75.0)
    assert ledger_row(app)["mode"] == "daily"


class FailingWarehouse(DelegatingWarehouse):
    """Our Warehouse port around a real adapter; the coverage query raises ``error``."""

    def __init__(self, inner: Warehouse, error: Exception) -> None:
        super().__init__(inner)
        self.error = error

    def observe(self, operation: str, sql: Sql | None = None) -> None:
        if sql is not None and sql.name == "coverage.counts":
            raise self.error


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (WarehouseError("coverage.counts failed: table is gone"), PermanentError),
        (TransientWarehouseError("coverage.counts: 503 backend error"), TransientError),
    ],
)
def test_warehouse_error_while_counting_fails_safe(
    app: App, logs: Any, error: Exception, raised: type[Exception]
) -> None:
    seed_counts(app, actual=187, pgs=187)  # would pass, were it counted
    failing = FailingWarehouse(app.warehouse, error)
    broken = App(settings=app.settings, warehouse=failing, bus=app.bus)

    with pytest.raises(raised):
        validate(broken)

    row = ledger_row(app)
    assert row["status"] == "failed"
    assert str(error) in row["error"]
    assert row["actual_players"] is None and row["coverage_pct"] is None
    (alert,) = alerts(app)
    assert alert.kind == "validation_failed"
    assert alert.game_date == D
    assert str(error) in alert.details["error"]
    assert logs.find("ERROR", "COVERAGE VALIDATION ERROR")
    assert not logs.find(contains="Coverage OK")
