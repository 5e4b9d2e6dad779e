"""RULES §4 through the ``validate_coverage`` use case on an embedded warehouse: audit the
staged rows of this run, publish (fenced) only what passes, block or supersede otherwise."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from typing_extensions import override

from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ValidateCoverage
from shared.rules.planning import staging_table_name
from shared.usecases import ledger
from shared.usecases.ledger import LedgerUpdate
from shared.usecases.validate_coverage import CoverageResult, validate_coverage
from shared.warehouse import Warehouse
from shared.warehouse.base import Sql, TransientWarehouseError, WarehouseError
from tests.fakes import DelegatingWarehouse

D = date(2023, 2, 23)
RUN = "r-cov-test"
DELIVERY = Delivery(message_id="m-1", attempt=1, publish_time=None, attributes={})
T0 = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
LIVE_RUN = "r-live-good"


def _players(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def pcf_rows(players: list[str], day: date, run_id: str, tag: str = "") -> list[dict[str, Any]]:
    """Output rows (only the columns the gate reads, and a hash to compare)."""
    return [
        {
            "player_lookup": p,
            "game_date": day,
            "run_id": run_id,
            "data_source": "UPCG",
            "data_hash": f"h-{p}{tag}",
        }
        for p in players
    ]


def stage(app: App, players: list[str], run_id: str = RUN, day: date = D, tag: str = "") -> str:
    """Stage rows as process_date does: the run's own staging table for the date."""
    name = staging_table_name(run_id, day)
    app.warehouse.write_staging_table(
        "player_composite_factors", name, pcf_rows(players, day, run_id, tag)
    )
    return name


def live(app: App, day: date = D) -> dict[str, tuple[str, str]]:
    """The live partition: player → (run_id, data_hash)."""
    rows = app.warehouse.query(
        Sql(
            "t.live",
            "SELECT player_lookup, run_id, data_hash FROM {player_composite_factors}"
            " WHERE game_date = @d",
        ),
        {"d": day},
    )
    return {r["player_lookup"]: (r["run_id"], r["data_hash"]) for r in rows}


def seed_counts(
    app: App, *, actual: int, pgs: int, upcg: int = 0, day: date = D, final_games: int = 0
) -> None:
    """M distinct PGS players, K UPCG players, N staged players of RUN on ``day``."""
    if final_games:
        app.warehouse.insert_rows(
            "nba_schedule",
            [
                {
                    "game_id": f"g{i}",
                    "game_date": day,
                    "season_year": 2022,
                    "home_team_abbr": "BOS",
                    "away_team_abbr": "NYK",
                    "game_status": 3,
                }
                for i in range(final_games)
            ],
        )
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
    stage(app, players[:actual], day=day)


def validate(app: App, run_id: str = RUN, **fields: Any) -> CoverageResult:
    fields.setdefault("dispatched_at", T0)
    msg = ValidateCoverage(run_id=run_id, game_date=D, data_source="UPCG", **fields)
    return validate_coverage(app, msg, DELIVERY)


def checkpoint(app: App, run_id: str, dispatched_at: datetime, status: str = "succeeded") -> None:
    """A ledger row of another run for D."""
    ledger.record(
        app.warehouse,
        LedgerUpdate(run_id=run_id, game_date=D, status=status, dispatched_at=dispatched_at),
    )


def publish_live(
    app: App, players: list[str], run_id: str, dispatched_at: datetime, **fields: Any
) -> None:
    """An earlier run: staged, audited and published for real through the use case."""
    stage(app, players, run_id=run_id, tag="-good")
    result = validate(app, run_id=run_id, dispatched_at=dispatched_at, **fields)
    assert result.published


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
    # Published only when it passed; a blocked date never reaches the live table.
    assert len(live(app)) == (0 if blocked else actual)
    assert result.published is (not blocked)
    assert row["staging_table"] == staging_table_name(RUN, D)
    assert row["missing_players"] == expected - actual
    assert [a.kind for a in alerts(app)] == (["coverage_blocked"] if blocked else [])
    failed_logs = logs.find("ERROR", "COVERAGE VALIDATION FAILED")
    assert len(failed_logs) == (1 if blocked else 0)
    assert len(logs.find("WARNING", "Low coverage")) == (1 if status == "warned" else 0)
    if blocked:
        (alert,) = alerts(app)
        assert alert.game_date == D
        assert alert.run_id == RUN
        assert alert.details["actual_players"] == actual
        assert alert.details["expected_players"] == expected
        assert alert.details["coverage_pct"] == pct
        assert failed_logs[0]["checkpointed"] is False
        assert f"{actual}/{expected}" in failed_logs[0]["message"]


def test_warned_log_names_the_shortfall(app: App, logs: Any) -> None:
    seed_counts(app, actual=169, pgs=187)
    validate(app)
    (record,) = logs.find("WARNING", "Low coverage")
    assert "169/187" in record["message"]
    assert "18 missing" in record["message"]
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


def test_zero_expected_without_final_games_succeeds(app: App) -> None:
    seed_counts(app, actual=0, pgs=0)
    result = validate(app)
    assert (result.status, result.actual_players, result.expected_players) == ("succeeded", 0, 0)
    assert result.coverage_pct is None
    row = ledger_row(app)
    assert row["status"] == "succeeded"
    assert row["coverage_pct"] is None
    assert alerts(app) == []


def test_zero_expected_with_final_games_blocks_as_no_expected_players(app: App) -> None:
    # RULES §4: 0 expected with 10 final games → blocked (upstream not ready), never a pass.
    publish_live(app, _players("player", 5), LIVE_RUN, T0 - timedelta(days=1))
    before = live(app)
    seed_counts(app, actual=1, pgs=0, upcg=1, final_games=10)
    result = validate(app)
    assert (result.status, result.reason, result.expected_players) == (
        "blocked",
        "no_expected_players",
        0,
    )
    assert live(app) == before  # nothing published
    row = ledger_row(app)
    assert row["status"] == "blocked"
    assert "no_expected_players" in row["error"]
    (alert,) = alerts(app)
    assert alert.kind == "coverage_blocked"
    assert alert.details["reason"] == "no_expected_players"
    assert alert.details["final_games"] == 10


def test_counts_distinct_players_of_this_run_only(app: App) -> None:
    # 170 staged rows but only 168 distinct players: the gate counts players, not rows.
    players = _players("player", 187)
    app.warehouse.insert_rows(
        "player_game_summary",
        [{"player_lookup": p, "game_id": "g1", "game_date": D} for p in players],
    )
    stage(app, players[:168] + players[:2])
    # Another date's live rows must not count either.
    app.warehouse.insert_rows("player_composite_factors", pcf_rows(players, date(2023, 2, 24), "x"))
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
    # In backfill mode the same output is judged against PGS, which has nobody yet (and the
    # date has no final games: an upcoming date).
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

    @override
    def observe(self, operation: str, sql: Sql | None = None) -> None:
        if sql is not None and sql.name == "coverage.audit":
            raise self.error


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (WarehouseError("coverage.audit failed: bad plan"), PermanentError),
        (TransientWarehouseError("coverage.audit: 503 backend error"), TransientError),
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
    assert row["actual_players"] is None
    assert row["coverage_pct"] is None
    (alert,) = alerts(app)
    assert alert.kind == "validation_failed"
    assert alert.game_date == D
    assert str(error) in alert.details["error"]
    assert logs.find("ERROR", "COVERAGE VALIDATION ERROR")
    assert not logs.find(contains="Coverage OK")


def test_a_run_that_never_staged_fails_with_a_clear_reason(app: App) -> None:
    seed_counts(app, actual=0, pgs=187)
    publish_live(app, _players("player", 187), LIVE_RUN, T0 - timedelta(days=1))
    before = live(app)
    with pytest.raises(PermanentError, match="no staged rows"):
        validate(app, run_id="r-never-staged")
    row = ledger.latest_by_date(app.warehouse, D, D, run_id="r-never-staged")[D]
    assert row["status"] == "failed"
    assert "does not exist (never staged, or expired)" in row["error"]
    assert live(app) == before
    assert [a.kind for a in alerts(app)] == ["validation_failed"]


def test_staged_rows_of_another_run_fail(app: App) -> None:
    seed_counts(app, actual=0, pgs=187)
    players = _players("player", 187)
    # The staging table named for RUN holds rows written by someone else.
    app.warehouse.write_staging_table(
        "player_composite_factors", staging_table_name(RUN, D), pcf_rows(players, D, "r-other")
    )
    with pytest.raises(PermanentError, match="187 rows of another run"):
        validate(app)
    assert ledger_row(app)["status"] == "failed"
    assert live(app) == {}


def test_a_stale_run_is_superseded_and_changes_nothing(app: App) -> None:
    players = _players("player", 187)
    seed_counts(app, actual=0, pgs=187)
    newer = T0 + timedelta(hours=1)
    publish_live(app, players, LIVE_RUN, newer)
    before = live(app)
    assert set(before.values()) == {(LIVE_RUN, f"h-{p}-good") for p in players}

    stage(app, players[:1])  # the old run: 1 row, forced
    result = validate(app, force=True, force_reason="pinned UPCG on purpose")
    assert result.status == "superseded"
    assert not result.published
    assert live(app) == before
    assert ledger_row(app)["status"] == "superseded"
    latest = ledger.latest_by_date(app.warehouse, D, D)[D]
    assert (latest["run_id"], latest["status"]) == (LIVE_RUN, "succeeded")
    (alert,) = [a for a in alerts(app) if a.run_id == RUN]
    assert alert.kind == "stale_run"
    assert alert.details["newer_run_id"] == LIVE_RUN


def test_an_older_checkpoint_does_not_fence_a_newer_run(app: App) -> None:
    players = _players("player", 187)
    seed_counts(app, actual=0, pgs=187)
    publish_live(
        app, players[:100], LIVE_RUN, T0 - timedelta(hours=1), force=True, force_reason="t"
    )
    stage(app, players)
    assert validate(app).status == "succeeded"
    assert set(live(app)) == set(players)  # the 100 old rows replaced, 87 inserted
    assert {run for run, _ in live(app).values()} == {RUN}


class PublishRace(DelegatingWarehouse):
    """A newer run publishes between this run's audit and its publish statement."""

    def __init__(self, inner: Warehouse, act: Any) -> None:
        super().__init__(inner)
        self.act = act

    @override
    def observe(self, operation: str, sql: Sql | None = None) -> None:
        if sql is not None and sql.name == "coverage.publish" and self.act is not None:
            act, self.act = self.act, None
            act()


def test_the_fence_is_inside_the_publish_statement(app: App) -> None:
    # The audit saw no newer run; the newer run publishes (but has not yet checkpointed) just
    # before this run's publish. The compare-and-set inside the MERGE still refuses.
    players = _players("player", 187)
    seed_counts(app, actual=0, pgs=187)
    stage(app, players[:1])
    newer = T0 + timedelta(hours=1)
    checkpoint(app, LIVE_RUN, newer, status="written")
    stage(app, players, run_id=LIVE_RUN, tag="-good")

    def newer_publishes() -> None:
        from shared.sql import coverage as sql

        params = {
            "game_dates": [D],
            "start_date": D,
            "end_date": D,
            "run_id": LIVE_RUN,
            "dispatched_at": newer,
        }
        staged = app.warehouse.dataset_table("staging", staging_table_name(LIVE_RUN, D))
        assert app.warehouse.execute(sql.PUBLISH, params, staging=staged) == 187

    racing = App(
        settings=app.settings, warehouse=PublishRace(app.warehouse, newer_publishes), bus=app.bus
    )
    result = validate(racing, force=True, force_reason="old pinned run")
    assert result.status == "superseded"
    assert {run for run, _ in live(app).values()} == {LIVE_RUN}
    assert len(live(app)) == 187


def test_two_runs_delivered_concurrently_end_with_the_newer_one_live(app: App) -> None:
    players = _players("player", 187)
    seed_counts(app, actual=0, pgs=187)
    old, new = "r-a-old", "r-b-new"
    # As process_date leaves them: staged, and the ledger says `written` with the dispatch time.
    stage(app, players[:1], run_id=old)
    stage(app, players, run_id=new, tag="-good")
    checkpoint(app, old, T0, status="written")
    checkpoint(app, new, T0 + timedelta(minutes=5), status="written")
    results: dict[str, CoverageResult] = {}
    barrier = threading.Barrier(2)

    def deliver(run_id: str, at: datetime, **fields: Any) -> None:
        barrier.wait()
        results[run_id] = validate(app, run_id=run_id, dispatched_at=at, **fields)

    threads = [
        threading.Thread(
            target=deliver, args=(old, T0), kwargs={"force": True, "force_reason": "x"}
        ),
        threading.Thread(target=deliver, args=(new, T0 + timedelta(minutes=5))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results[new].status == "succeeded"
    # Whichever order the two ran in, the newer run's rows are what is live, and the old run
    # is either superseded or published first and then replaced (never the final state).
    assert results[old].status in ("superseded", "forced")
    assert {v for v in live(app).values()} == {(new, f"h-{p}-good") for p in players}
    latest = ledger.latest_by_date(app.warehouse, D, D)[D]
    assert (latest["run_id"], latest["status"]) == (new, "succeeded")


class TamperingWarehouse(DelegatingWarehouse):
    """Something else writes the live partition between the publish and its verification."""

    @override
    def observe(self, operation: str, sql: Sql | None = None) -> None:
        if sql is not None and sql.name == "coverage.verify":
            self.inner.insert_rows("player_composite_factors", pcf_rows(["intruder"], D, "zz"))


def test_a_live_partition_that_differs_after_publish_fails_and_alerts(app: App) -> None:
    seed_counts(app, actual=187, pgs=187)
    broken = App(settings=app.settings, warehouse=TamperingWarehouse(app.warehouse), bus=app.bus)
    result = validate(broken)
    assert result.status == "failed"
    row = ledger_row(app)
    assert row["status"] == "failed"
    assert "188 live rows, 187 staged" in row["error"]
    assert [a.kind for a in alerts(app)] == ["publish_failed"]


def test_a_redelivered_validation_publishes_the_same_rows(app: App) -> None:
    seed_counts(app, actual=187, pgs=187)
    assert validate(app).status == "succeeded"
    first = live(app)
    assert validate(app).status == "succeeded"
    assert live(app) == first
    assert len(first) == 187


def test_data_source_in_messages_is_a_closed_set() -> None:
    from pydantic import ValidationError

    for value in ("UPCG", "PGS_SYNTHETIC"):
        assert ValidateCoverage(run_id=RUN, game_date=D, data_source=value).data_source == value
    for value in ("upcg", "PGS", "synthetic", ""):
        with pytest.raises(ValidationError, match="data_source"):
            ValidateCoverage.model_validate({"run_id": RUN, "game_date": D, "data_source": value})
