"""The BigQuery adapter through the real google-cloud-bigquery client against bqemulator.

Every statement the adapter issues runs here: the DDL from infra/schemas, batch loads, the
staged partition replace, every named Sql with typed parameters, the ledger, per-date processing
and coverage validation of real dates, and the cleanup's backup/delete/verify. Each test works on
datasets of its own (``it<tag>_*``), so the function servers of the stack never see them.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shared.app import App, build_app
from shared.config import Settings
from shared.entrypoint import Delivery
from shared.messages import CleanupRequest, ProcessDate, ValidateCoverage
from shared.rules.cleanup import backup_table_name
from shared.rules.planning import staging_table_name
from shared.sql import cleanup as cleanup_sql
from shared.sql import explain as explain_sql
from shared.sql import ledger as ledger_sql
from shared.sql import processing as processing_sql
from shared.tools.local_bus import LocalBus
from shared.tools.seed.load import inject_stale_upcg, seed
from shared.usecases import ledger
from shared.usecases.cleanup_upcoming import cleanup_upcoming
from shared.usecases.ledger import LedgerUpdate
from shared.usecases.process_date import process_date
from shared.usecases.validate_coverage import PublishOutcome, publish, validate_coverage
from shared.warehouse import Sql, TransientWarehouseError, WarehouseError, load_schemas
from tests.integration.stack_helpers import (
    Stack,
    bq_client,
    drop_datasets,
    isolated_settings,
    stack_app,
)
from tests.sql_catalog import SAMPLE_DATE, STATEMENTS, check_sample_run, run_sample

pytestmark = pytest.mark.stack

LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
NO_DELIVERY = Delivery(message_id="it-1", attempt=1, publish_time=None, attributes={})
INCIDENT, NEXT, FULL_UPCG = date(2023, 2, 23), date(2023, 2, 24), date(2023, 2, 25)
STALE = {INCIDENT: 1, NEXT: 68}

PCF_ON = Sql(
    "it.pcf_on",
    "SELECT * FROM {player_composite_factors} WHERE game_date = @d ORDER BY player_lookup",
    {"d": "DATE"},
)
PCF_COUNTS = Sql(
    "it.pcf_counts",
    "SELECT game_date, COUNT(*) AS n_rows, COUNT(DISTINCT player_lookup) AS n_players"
    " FROM {player_composite_factors} WHERE game_date BETWEEN @a AND @b"
    " GROUP BY game_date ORDER BY game_date",
    {"a": "DATE", "b": "DATE"},
)
UPCG_ROWS = Sql(
    "it.upcg_rows",
    "SELECT game_date, player_lookup FROM {upcoming_player_game_context}"
    " WHERE game_date BETWEEN @a AND @b ORDER BY game_date, player_lookup",
    {"a": "DATE", "b": "DATE"},
)


def plain(value: Any) -> Any:
    """A value comparable across backends (NUMERIC scale and float noise removed)."""
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def comparable(rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows with plain values, without the columns in ``drop``."""
    return [{k: plain(v) for k, v in r.items() if k not in drop} for r in rows]


def pcf_row(day: date, player: str, total: str, run_id: str = "r1") -> dict[str, Any]:
    """A valid output row (the columns a replace test needs to tell versions apart)."""
    return {
        "player_lookup": player,
        "universal_player_id": f"{player}_001",
        "game_id": f"g{day:%Y%m%d}",
        "game_date": day,
        "run_id": run_id,
        "data_source": "UPCG",
        "fatigue_score": 100,
        "total_composite_adjustment": Decimal(total),
        "calculation_version": "v1_4factors",
        "has_warnings": False,
        "data_hash": f"h-{player}-{total}",
        "processed_at": datetime(2023, 3, 1, 12, tzinfo=UTC),
    }


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wh_app(stack: Stack) -> Iterator[App]:
    """Empty pipeline tables on datasets of this module; a recording (unwired) local bus."""
    app = stack_app(stack, isolated_settings(stack), LocalBus(1))
    app.warehouse.create_all()
    yield app
    drop_datasets(app)
    app.close()


@pytest.fixture(scope="module")
def season_app(stack: Stack, real_data_dir: Path) -> Iterator[App]:
    """The real season seeded through the adapter (with the incident's stale UPCG)."""
    app = stack_app(stack, isolated_settings(stack), LocalBus(1))
    try:
        result = seed(app, real_data_dir, STALE)
        assert result.stale == {INCIDENT: (187, 1), NEXT: (175, 68)}
        yield app
    finally:
        drop_datasets(app)
        app.close()


@pytest.fixture(scope="module")
def duck_app(real_seeded_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The embedded warehouse with the same season and stale UPCG: the reference results."""
    path = tmp_path_factory.mktemp("duck") / "season.duckdb"
    shutil.copy(real_seeded_file, path)
    app = build_app(Settings(warehouse=f"duckdb:///{path}"), bus=LocalBus(workers=1))
    inject_stale_upcg(app, STALE)
    yield app
    app.close()


# -- DDL ---------------------------------------------------------------------------------------


def test_create_all_builds_every_table_from_infra_schemas(wh_app: App) -> None:
    client = bq_client(wh_app)
    project = wh_app.settings.project
    for schema in load_schemas().values():
        table = client.get_table(
            f"{project}.{wh_app.settings.dataset(schema.dataset_key)}.{schema.name}"
        )
        got = [(f.name, LEGACY_TYPES.get(f.field_type, f.field_type), f.mode) for f in table.schema]
        want = [(c.name, LEGACY_TYPES.get(c.type, c.type), c.mode) for c in schema.columns]
        assert got == want, schema.name
        assert table.time_partitioning is not None, schema.name
        assert table.time_partitioning.type_ == "DAY"
        assert table.time_partitioning.field == schema.partition_field
        assert (table.clustering_fields or []) == list(schema.clustering), schema.name
        assert table.description == schema.description
    staging = client.get_dataset(f"{project}.{wh_app.settings.dataset_staging}")
    assert staging.default_table_expiration_ms == 24 * 3600 * 1000
    backup = client.get_dataset(f"{project}.{wh_app.settings.dataset_backup}")
    assert backup.default_table_expiration_ms == 30 * 24 * 3600 * 1000
    # Idempotent: a second run finds everything and changes nothing.
    assert wh_app.warehouse.create_all() == [wh_app.warehouse.table(n) for n in load_schemas()]


# -- loads -------------------------------------------------------------------------------------


def test_insert_rows_is_a_typed_batch_load(wh_app: App) -> None:
    day = date(2031, 1, 5)
    rows = [
        {
            "player_lookup": "ajones",
            "universal_player_id": "ajones_001",
            "player_full_name": "Añé Jones",
            "game_id": "g1",
            "game_date": day,
            "season_year": 2030,
            "team_abbr": "BOS",
            "opponent_team_abbr": "NYK",
            "home_game": True,
            "minutes_played": Decimal("31.5"),
            "usage_rate": Decimal("24.125"),
            "points": 22,
            "fg_attempts": 17,
            "three_pt_attempts": 6,
            "ft_attempts": 4,
        },
        {"player_lookup": "bsmith", "game_id": "g1", "game_date": day, "home_game": False},
    ]
    frame = pd.DataFrame([{"player_lookup": "csmith", "game_id": "g2", "game_date": day}])
    frame["usage_rate"] = [float("nan")]  # NaN travels as NULL
    wh = wh_app.warehouse
    assert wh.insert_rows("player_game_summary", rows) == 2
    assert wh.insert_rows("player_game_summary", frame) == 1
    assert wh.insert_rows("player_game_summary", []) == 0
    got = wh.query(
        Sql(
            "it.pgs",
            "SELECT * FROM {player_game_summary} WHERE game_date = @d ORDER BY player_lookup",
            {"d": "DATE"},
        ),
        {"d": day},
    )
    assert [r["player_lookup"] for r in got] == ["ajones", "bsmith", "csmith"]
    first = got[0]
    assert first["player_full_name"] == "Añé Jones"
    assert first["game_date"] == day
    assert first["home_game"] is True
    assert first["points"] == 22
    assert first["minutes_played"] == Decimal("31.5")
    assert first["usage_rate"] == Decimal("24.125")
    assert got[1]["minutes_played"] is None
    assert got[1]["home_game"] is False
    assert got[2]["usage_rate"] is None
    with pytest.raises(WarehouseError, match="not in table"):
        wh.insert_rows("player_game_summary", [{"player_lookup": "x", "nope": 1}])


# -- the partition replace ---------------------------------------------------------------------


def publish_run(
    app: App, run_id: str, day: date, rows: list[dict[str, Any]], at: datetime
) -> PublishOutcome:
    """What process_date + a passing audit do: ledger `written`, stage, fenced publish."""
    ledger.record(
        app.warehouse,
        LedgerUpdate(run_id=run_id, game_date=day, status="written", dispatched_at=at),
    )
    name = staging_table_name(run_id, day)
    app.warehouse.write_staging_table("player_composite_factors", name, rows)
    params = {**processing_sql.dates_params([day]), "run_id": run_id, "dispatched_at": at}
    return publish(app, params, name)[day]


def test_fenced_publish_replaces_one_date_and_refuses_an_older_run(wh_app: App) -> None:
    wh = wh_app.warehouse
    day, other = date(2031, 2, 1), date(2031, 2, 2)
    t0 = datetime(2031, 2, 3, 12, tzinfo=UTC)
    rows_other = [pcf_row(other, "xavier", "1.00", "r0"), pcf_row(other, "yann", "2.00", "r0")]
    assert publish_run(wh_app, "r0", other, rows_other, t0).matches
    first = [pcf_row(day, p, "0.50", "r1") for p in ("anna", "bert", "carl")]
    assert publish_run(wh_app, "r1", day, first, t0).matches
    before_other = wh.query(PCF_ON, {"d": other})

    new = [
        pcf_row(day, "anna", "0.50", "r2"),
        pcf_row(day, "bert", "-3.25", "r2"),
        pcf_row(day, "dora", "4.00", "r2"),
    ]
    outcome = publish_run(wh_app, "r2", day, new, t0 + timedelta(minutes=1))
    # 2 matched (updated) + 1 inserted + 1 deleted, in one MERGE; live == staged afterwards.
    assert (outcome.affected, outcome.matches, outcome.newer_run_id) == (4, True, None)
    after = wh.query(PCF_ON, {"d": day})
    assert [(r["player_lookup"], r["total_composite_adjustment"], r["run_id"]) for r in after] == [
        ("anna", Decimal("0.5"), "r2"),
        ("bert", Decimal("-3.25"), "r2"),
        ("dora", Decimal("4"), "r2"),
    ]
    assert wh.query(PCF_ON, {"d": other}) == before_other  # another date is untouched

    # The same publish again never duplicates and changes nothing.
    assert publish_run(wh_app, "r2", day, new, t0 + timedelta(minutes=1)).matches
    assert comparable(wh.query(PCF_ON, {"d": day})) == comparable(after)

    # An older run (dispatched before r2, which owns the live rows) is fenced inside the MERGE.
    stale = publish_run(wh_app, "r1b", day, [pcf_row(day, "zed", "9.00", "r1b")], t0)
    assert (stale.affected, stale.matches, stale.newer_run_id) == (0, False, "r2")
    assert comparable(wh.query(PCF_ON, {"d": day})) == comparable(after)

    # A newer run with no rows empties exactly that date.
    assert publish_run(wh_app, "r3", day, [], t0 + timedelta(minutes=2)).matches
    assert wh.query(PCF_ON, {"d": day}) == []
    assert wh.query(PCF_ON, {"d": other}) == before_other
    counts = wh.query(PCF_COUNTS, {"a": day, "b": other})
    assert [(r["game_date"], r["n_rows"]) for r in counts] == [(other, 2)]


def test_staging_an_empty_batch_still_makes_a_table(wh_app: App) -> None:
    wh = wh_app.warehouse
    staging = wh.stage_rows("player_composite_factors", [], tag="empty")
    try:
        rows = wh.query(Sql("it.staged", "SELECT COUNT(*) AS n FROM {staging}"), staging=staging)
        assert rows == [{"n": 0}]
    finally:
        wh.drop_staging(staging)
    wh.drop_staging(staging)  # dropping twice is fine


# -- every named statement ---------------------------------------------------------------------


@pytest.mark.parametrize("sql", STATEMENTS, ids=lambda s: s.name)
def test_named_statement_runs_on_bigquery_with_typed_parameters(wh_app: App, sql: Sql) -> None:
    # Staged tables hold one typed row here, so the MERGEs bind real values on BigQuery.
    staged = {
        "player_composite_factors": pcf_row(SAMPLE_DATE, "zed", "0.00"),
        "backfill_ledger": {"run_id": "it-sample", "game_date": SAMPLE_DATE, "status": "queued"},
    }
    wh = wh_app.warehouse
    check_sample_run(sql, run_sample(wh, sql, tag="it", staged_rows=staged))


def test_failing_statements_raise_instead_of_returning_nothing(wh_app: App) -> None:
    wh = wh_app.warehouse
    with pytest.raises(WarehouseError) as missing:
        wh.query(Sql("it.missing", "SELECT * FROM {target}"), target="`nowhere.nothing.here`")
    assert not isinstance(missing.value, TransientWarehouseError)
    with pytest.raises(WarehouseError, match=r"it\.syntax"):
        wh.execute(Sql("it.syntax", "DELET FROM {backfill_ledger} WHERE TRUE"))


# -- the ledger --------------------------------------------------------------------------------


def test_ledger_append_queue_many_dead_letter_and_latest(wh_app: App) -> None:
    wh = wh_app.warehouse
    d1, d2, d3 = date(2031, 3, 1), date(2031, 3, 2), date(2031, 3, 3)
    ledger.record(
        wh,
        LedgerUpdate(
            "run-a", d1, "queued", mode="backfill", expected_players=187, requested_by="it"
        ),
    )
    ledger.record(
        wh, LedgerUpdate("run-a", d1, "processing", attempt_increment=1, last_message_id="m1")
    )
    ledger.record(
        wh,
        LedgerUpdate(
            "run-a",
            d1,
            "written",
            upcg_players=1,
            actual_players=187,
            data_source="PGS_SYNTHETIC",
            error="transient detail",
        ),
    )
    ledger.record(
        wh,
        LedgerUpdate(
            "run-a", d1, "succeeded", coverage_pct=100.0, calculation_version="v1_4factors"
        ),
    )
    row = ledger.latest_by_date(wh, d1, d1)[d1]
    assert row["status"] == "succeeded"
    # Counts and audit fields only fill in; status/error reflect the latest step; attempts add up.
    assert (row["mode"], row["expected_players"], row["upcg_players"], row["actual_players"]) == (
        "backfill",
        187,
        1,
        187,
    )
    assert (row["requested_by"], row["data_source"], row["last_message_id"]) == (
        "it",
        "PGS_SYNTHETIC",
        "m1",
    )
    assert row["coverage_pct"] == Decimal("100.0")
    assert row["error"] is None
    assert row["attempts"] == 1
    assert row["forced"] is False
    assert row["created_at"] <= row["updated_at"]

    # queue_many inserts only the (run, date) rows that are new: d1 keeps its status.
    now = datetime.now(UTC)
    queued = [
        {
            "run_id": "run-a",
            "game_date": d,
            "status": "queued",
            "mode": "backfill",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for d in (d1, d2)
    ]
    staging = wh.stage_rows("backfill_ledger", queued, tag="it")
    try:
        inserted = wh.execute(
            ledger_sql.QUEUE_MANY, {"start_date": d1, "end_date": d2}, staging=staging
        )
    finally:
        wh.drop_staging(staging)
    assert inserted == 1
    ledger.record(wh, LedgerUpdate("run-b", d2, "failed", error="boom"))
    ledger.record(wh, LedgerUpdate("run-b", d3, "skipped_no_games"))

    # Append-only: every step is a row, the state of a (run, date) is its latest row.
    steps = wh.query(explain_sql.STEPS, {"start_date": d1, "end_date": d3})
    assert [(r["run_id"], r["game_date"], r["status"], r["attempts"]) for r in steps] == [
        ("run-a", d1, "queued", 0),
        ("run-a", d1, "processing", 1),
        ("run-a", d1, "written", 1),
        ("run-a", d1, "succeeded", 1),
        ("run-a", d2, "queued", 0),
        ("run-b", d2, "failed", 0),
        ("run-b", d3, "skipped_no_games", 0),
    ]
    states = wh.query(explain_sql.HISTORY, {"start_date": d1, "end_date": d3})
    assert sorted((r["run_id"], r["game_date"], r["status"]) for r in states) == [
        ("run-a", d1, "succeeded"),
        ("run-a", d2, "queued"),
        ("run-b", d2, "failed"),
        ("run-b", d3, "skipped_no_games"),
    ]  # one state per (run, date)
    latest = ledger.latest_by_date(wh, d1, d3)
    assert {d: (r["run_id"], r["status"]) for d, r in latest.items()} == {
        d1: ("run-a", "succeeded"),
        d2: ("run-b", "failed"),
        d3: ("run-b", "skipped_no_games"),
    }
    only_a = ledger.latest_by_date(wh, d1, d3, run_id="run-a")
    assert {d: r["status"] for d, r in only_a.items()} == {d1: "succeeded", d2: "queued"}

    # The dead-letter consumer's one INSERT: d1 ended well and stays; d2 (queued) and d3 (no
    # row of run-a) become failed; BigQuery's affected-row count is the rows inserted.
    marked = wh.execute(
        ledger_sql.MARK_DEAD_LETTERED,
        {
            "game_dates": [d1, d2, d3],
            "start_date": d1,
            "end_date": d3,
            "run_id": "run-a",
            "error": "dead-lettered after 5 attempts (ProcessDate)",
            "last_message_id": "m-dl",
            "mode": "backfill",
            "requested_by": "it",
            "attempts": 5,
            "dispatched_at": None,
            "calculation_version": "v1_4factors",
        },
    )
    assert marked == 2
    after = ledger.latest_by_date(wh, d1, d3, run_id="run-a")
    assert {d: (r["status"], r["attempts"]) for d, r in after.items()} == {
        d1: ("succeeded", 1),
        d2: ("failed", 0),
        d3: ("failed", 5),
    }
    assert after[d2]["mode"] == "backfill"  # the queued state is kept, only the status moves


# -- one real date through the adapter ---------------------------------------------------------


def _process_and_validate(app: App, run_id: str, day: date) -> tuple[Any, Any, int]:
    bus = app.bus
    assert isinstance(bus, LocalBus)
    before = app.warehouse.round_trips
    result = process_date(
        app, ProcessDate(run_id=run_id, game_date=day, requested_by="it"), NO_DELIVERY
    )
    handoff = [
        m
        for m in bus.messages("validate_coverage")
        if isinstance(m, ValidateCoverage) and m.run_id == run_id and m.game_date == day
    ]
    assert len(handoff) == 1
    verdict = validate_coverage(app, handoff[0], NO_DELIVERY)
    trips = app.warehouse.round_trips - before
    return result, verdict, trips


def test_process_date_and_validate_coverage_on_real_dates(season_app: App, duck_app: App) -> None:
    run_id = f"it-{time.time_ns()}"
    result, verdict, trips = _process_and_validate(season_app, run_id, INCIDENT)
    assert (result.status, result.data_source, result.reason) == (
        "written",
        "PGS_SYNTHETIC",
        "upcg_partial",
    )
    assert (result.expected_players, result.upcg_players, result.rows_written) == (187, 1, 187)
    assert (verdict.status, verdict.actual_players, verdict.expected_players) == (
        "succeeded",
        187,
        187,
    )

    full, full_verdict, full_trips = _process_and_validate(season_app, run_id, FULL_UPCG)
    assert (full.data_source, full.rows_written, full_verdict.status) == ("UPCG", 154, "succeeded")
    # Set-based I/O: a date costs the same round trips whatever its size or source: 5 to
    # process (ledger, plan, context, stage, ledger) + 4 to validate (audit, fenced publish,
    # verify, ledger) = 9 ≤ 10, the same as on DuckDB.
    assert trips == full_trips == 9

    row = ledger.latest_by_date(season_app.warehouse, INCIDENT, FULL_UPCG, run_id=run_id)
    assert {d: (r["status"], r["actual_players"], r["attempts"]) for d, r in row.items()} == {
        INCIDENT: ("succeeded", 187, 1),
        FULL_UPCG: ("succeeded", 154, 1),
    }
    assert row[INCIDENT]["coverage_pct"] == Decimal("100.0")

    # The same rows, to the value, as the embedded warehouse computes from the same inputs.
    for day in (INCIDENT, FULL_UPCG):
        _process_and_validate(duck_app, run_id, day)
        on_bq = comparable(
            season_app.warehouse.query(PCF_ON, {"d": day}), ("run_id", "processed_at")
        )
        on_duck = comparable(
            duck_app.warehouse.query(PCF_ON, {"d": day}), ("run_id", "processed_at")
        )
        assert len(on_bq) == len(on_duck)
        for bq_row, duck_row in zip(on_bq, on_duck, strict=True):
            assert bq_row == duck_row, bq_row["player_lookup"]


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (
            processing_sql.DATE_PLAN,
            {"start_date": date(2022, 10, 15), "end_date": date(2022, 11, 3)},
        ),
        (processing_sql.DATE_PLAN, {"start_date": date(2023, 2, 1), "end_date": date(2023, 3, 5)}),
        (processing_sql.CONTEXT_FROM_PGS, processing_sql.dates_params([INCIDENT])),
        (processing_sql.CONTEXT_FROM_UPCG, processing_sql.dates_params([FULL_UPCG])),
        (processing_sql.CONTEXT_FROM_PGS, processing_sql.dates_params([INCIDENT, FULL_UPCG])),
    ],
    ids=[
        "date_plan_season_start",
        "date_plan_feb",
        "context_from_pgs",
        "context_from_upcg",
        "context_from_pgs_two_dates",
    ],
)
def test_queries_agree_with_the_embedded_warehouse(
    season_app: App, duck_app: App, sql: Sql, params: dict[str, Any]
) -> None:
    on_bq = comparable(season_app.warehouse.query(sql, params))
    on_duck = comparable(duck_app.warehouse.query(sql, params))
    assert on_bq
    assert len(on_bq) == len(on_duck)
    for bq_row, duck_row in zip(on_bq, on_duck, strict=True):
        assert bq_row == duck_row


# -- cleanup: backup, delete, verify -----------------------------------------------------------


def _upcg(day: date, player: str) -> dict[str, Any]:
    return {"player_lookup": player, "game_id": f"g{day:%m%d}", "game_date": day, "days_rest": 1}


def test_cleanup_backs_up_deletes_and_verifies(isolated_app: Callable[[], App]) -> None:
    app = isolated_app()
    wh = app.warehouse
    today = date(2026, 1, 13)  # ttl 7 → cutoff 2026-01-06: the 5th goes, the 6th stays
    days = [date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]
    wh.insert_rows(
        "upcoming_player_game_context", [_upcg(d, p) for d in days for p in ("ann", "bob")]
    )
    tables = ["upcoming_player_game_context", "upcoming_team_game_context"]

    dry = cleanup_upcoming(
        app, CleanupRequest(dry_run=True, tables=tables, today=today), NO_DELIVERY
    )
    assert [t.status for t in dry.tables] == ["dry_run", "clean"]
    assert wh.query(UPCG_ROWS, {"a": days[0], "b": days[-1]}).__len__() == 8

    run = cleanup_upcoming(app, CleanupRequest(tables=tables, today=today), NO_DELIVERY)
    upcg = run.tables[0]
    assert (run.cutoff_date, upcg.status, run.tables[1].status) == (
        date(2026, 1, 6),
        "deleted",
        "clean",
    )
    assert (upcg.stale_rows, upcg.stale_dates, upcg.min_stale_date, upcg.max_stale_date) == (
        4,
        2,
        days[0],
        days[1],
    )
    assert (upcg.rows_before, upcg.rows_after, upcg.backup_rows, upcg.deleted_rows) == (8, 4, 4, 4)
    name = backup_table_name("upcoming_player_game_context", today, run.cleanup_id)
    assert upcg.backup_table == f"{app.settings.project}.{app.settings.dataset_backup}.{name}"
    assert wh.table_exists("backup", name)
    # Gap: bqemulator accepts the backup's expiration (update_table "expires") but never stores or
    # enforces it, so the 30-day expiry is real-BigQuery-only and not asserted here.
    backed_up = wh.query(
        Sql("it.backup", "SELECT game_date, player_lookup FROM {backup} ORDER BY 1, 2"),
        backup=f"`{upcg.backup_table}`",
    )
    assert [(r["game_date"], r["player_lookup"]) for r in backed_up] == [
        (d, p) for d in days[:2] for p in ("ann", "bob")
    ]
    left = wh.query(UPCG_ROWS, {"a": days[0], "b": days[-1]})
    assert [(r["game_date"], r["player_lookup"]) for r in left] == [
        (d, p) for d in days[2:] for p in ("ann", "bob")
    ]

    recorded = wh.query(cleanup_sql.RUN_ROWS, {"run_date": today, "cleanup_id": run.cleanup_id})
    assert [(r["table_name"], r["status"], r["deleted_rows"]) for r in recorded] == [
        ("upcoming_player_game_context", "deleted", 4),
        ("upcoming_team_game_context", "clean", 0),
    ]

    again = cleanup_upcoming(app, CleanupRequest(tables=tables, today=today), NO_DELIVERY)
    assert [t.status for t in again.tables] == ["clean", "clean"]
    assert not wh.table_exists(
        "backup", backup_table_name("upcoming_player_game_context", today, again.cleanup_id)
    )
    assert len(wh.query(UPCG_ROWS, {"a": days[0], "b": days[-1]})) == 4


def test_copy_rows_to_new_table_creates_and_never_replaces(wh_app: App) -> None:
    wh = wh_app.warehouse
    day = date(2031, 4, 1)
    wh.insert_rows(
        "upcoming_player_game_context", [_upcg(day - timedelta(days=i), f"p{i}") for i in range(3)]
    )
    target = wh.table("upcoming_player_game_context")
    copy = Sql("it.copy", "SELECT * FROM {target} WHERE game_date < @cutoff", {"cutoff": "DATE"})
    name = "it_copy_target"
    assert not wh.table_exists("backup", name)
    made = wh.copy_rows_to_new_table(copy, {"cutoff": day}, "backup", name, 30, target=target)
    assert made == wh.dataset_table("backup", name)
    assert wh.table_exists("backup", name)
    count = Sql("it.count", "SELECT COUNT(*) AS n FROM {t}")
    assert wh.query(count, t=made) == [{"n": 2}]
    with pytest.raises(WarehouseError):  # create-only: a clash is an error
        wh.copy_rows_to_new_table(
            copy, {"cutoff": day - timedelta(days=1)}, "backup", name, None, target=target
        )
    assert wh.query(count, t=made) == [{"n": 2}]  # the first copy is untouched
