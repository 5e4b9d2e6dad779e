"""process_date on a small hand-built warehouse: RULES §2.3 worked example, skips, idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import ProcessDate
from shared.rules.planning import staging_table_name
from shared.sql import explain as explain_sql
from shared.sql import processing as sql
from shared.usecases import ledger
from shared.usecases.process_date import process_date
from shared.warehouse import Sql

D = date(2023, 2, 23)
SEASON_START = date(2022, 10, 18)
DELIVERY = Delivery("m-1", 1, None, {})


def pgs(
    player: str, day: date, minutes: float, usage: float | None, team: str = "AAA", opp: str = "BBB"
) -> dict[str, Any]:
    return {
        "player_lookup": player,
        "universal_player_id": f"{player}_001",
        "game_id": f"g{day}",
        "game_date": day,
        "season_year": 2022,
        "team_abbr": team,
        "opponent_team_abbr": opp,
        "minutes_played": minutes,
        "usage_rate": usage,
    }


def seed_example(app: App) -> None:
    """RULES §2.5: PGS rows on D−1 (30, 25), D−3 (34, NULL), D−6 (36, 27), D−7 (40, 24),
    D−10 (20, 20), plus D itself; a second player with no history."""
    app.warehouse.insert_rows(
        "nba_schedule",
        [
            {
                "game_id": "g0",
                "game_date": SEASON_START,
                "season_year": 2022,
                "home_team_abbr": "AAA",
                "away_team_abbr": "BBB",
                "game_status": 3,
            },
            {
                "game_id": f"g{D}",
                "game_date": D,
                "season_year": 2022,
                "home_team_abbr": "AAA",
                "away_team_abbr": "BBB",
                "game_status": 3,
            },
        ],
    )
    rows = [
        pgs("p1", D - timedelta(days=off), m, u)
        for off, m, u in [(1, 30, 25), (3, 34, None), (6, 36, 27), (7, 40, 24), (10, 20, 20)]
    ]
    rows += [pgs("p1", D, 33, 22), pgs("p2", D, 20, 15, "BBB", "AAA")]
    app.warehouse.insert_rows("player_game_summary", rows)


def output(app: App, day: date = D) -> list[dict[str, Any]]:
    return app.warehouse.query(
        Sql(
            "t",
            "SELECT * FROM {player_composite_factors} WHERE game_date = @d ORDER BY player_lookup",
        ),
        {"d": day},
    )


def staged(app: App, run_id: str, day: date = D) -> list[dict[str, Any]]:
    """The rows process_date wrote to the run's own staging table for ``day``."""
    return app.warehouse.query(
        Sql("t", "SELECT * FROM {staging} ORDER BY player_lookup"),
        staging=app.warehouse.dataset_table("staging", staging_table_name(run_id, day)),
    )


def state(app: App, run_id: str, day: date) -> dict[str, Any]:
    """The ledger state (latest row) of one run's date."""
    return ledger.latest_by_date(app.warehouse, day, day, run_id=run_id)[day]


def steps(app: App, day: date) -> list[dict[str, Any]]:
    """Every ledger row (step) of a date, oldest first: the append-only history."""
    return app.warehouse.query(explain_sql.STEPS, {"start_date": day, "end_date": day})


def unwired(app: App) -> App:
    """The same warehouse with a bus nobody consumes: process_date alone, no validation."""
    from shared.tools.local_bus import LocalBus

    return App(settings=app.settings, warehouse=app.warehouse, bus=LocalBus())


def test_synthetic_context_matches_the_worked_example(app: App) -> None:
    seed_example(app)
    ctx = {
        r["player_lookup"]: r
        for r in app.warehouse.query(sql.CONTEXT_FROM_PGS, sql.dates_params([D]))
    }
    p1 = ctx["p1"]
    assert (
        p1["days_rest"],
        p1["back_to_back"],
        p1["games_in_last_7_days"],
        p1["minutes_in_last_7_days"],
    ) == (0, True, 4, 140)
    assert float(p1["avg_minutes_per_game_last_7"]) == 35.0
    assert p1["back_to_backs_last_14_days"] == 1
    assert float(p1["avg_usage_rate_last_7_games"]) == 24.0
    assert p1["player_age"] is None
    assert p1["projected_usage_rate"] is None
    assert p1["star_teammates_out"] == 0
    p2 = ctx["p2"]  # no game in the 14-day window
    assert (
        p2["days_rest"],
        p2["games_in_last_7_days"],
        float(p2["avg_minutes_per_game_last_7"]),
        p2["avg_usage_rate_last_7_games"],
    ) == (14, 0, 0.0, None)


def test_process_writes_fallback_rows_with_fatigue_70(app: App, logs: Any) -> None:
    seed_example(app)
    alone = unwired(app)
    result = process_date(alone, ProcessDate(run_id="r1", game_date=D), DELIVERY)
    assert (result.status, result.data_source, result.reason, result.rows_written) == (
        "written",
        "PGS_SYNTHETIC",
        "upcg_empty",
        2,
    )
    # WRITE only: staged in the run's own table, the live partition untouched.
    assert output(app) == []
    assert result.staging_table == staging_table_name("r1", D)
    rows = {r["player_lookup"]: r for r in staged(app, "r1")}
    assert rows["p1"]["fatigue_score"] == 70
    assert float(rows["p1"]["usage_spike_score"]) == 0.0
    assert float(rows["p1"]["total_composite_adjustment"]) == -1.5
    check = logs.find("WARNING", "data source check")[0]
    assert (
        check["upcg_players"],
        check["expected_players"],
        check["coverage_pct"],
        check["data_source"],
        check["reason"],
    ) == (0, 2, 0.0, "PGS_SYNTHETIC", "upcg_empty")
    assert logs.find("WARNING", "fallback to PGS_SYNTHETIC")
    handoff = alone.bus.messages("validate_coverage")  # type: ignore[attr-defined]
    assert len(handoff) == 1
    assert handoff[0].rows_written == 2
    ledger = state(app, "r1", D)
    assert (ledger["status"], ledger["staging_table"]) == ("written", result.staging_table)
    assert ledger["source_reason"].startswith("upcg_empty: UPCG has 0/2 players")
    assert ledger["dispatched_at"] is not None


def test_the_staging_name_is_a_valid_table_name_for_any_run_id() -> None:
    from shared.config import validate_identifier

    names = {
        staging_table_name(run_id, D)
        for run_id in ("r1", "a.b", "a:b", "a-b", "a_b", "x" * 128, "r20230101T000000Z-ab12")
    }
    assert len(names) == 7  # ids that reduce to the same characters stay apart
    for name in names:
        assert validate_identifier(name, "table name") == name
        assert len(name) <= 1024
        assert "-" not in name
        assert name.startswith("pcf_stage__20230223__")


def strip_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("run_id", "processed_at")} for r in rows]


def test_rerun_replaces_the_partition_and_drops_players_no_longer_present(app: App) -> None:
    seed_example(app)
    process_date(app, ProcessDate(run_id="r1", game_date=D), DELIVERY)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    first = output(app)
    process_date(app, ProcessDate(run_id="r2", game_date=D), DELIVERY)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    second = output(app)
    assert strip_run(first) == strip_run(second)
    assert len(second) == 2
    assert {r["run_id"] for r in second} == {"r2"}
    app.warehouse.execute(
        Sql("t", "DELETE FROM {player_game_summary} WHERE game_date = @d AND player_lookup = 'p2'"),
        {"d": D},
    )
    process_date(app, ProcessDate(run_id="r3", game_date=D), DELIVERY)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert [r["player_lookup"] for r in output(app)] == ["p1"]


@pytest.mark.parametrize(
    ("day", "status"),
    [
        (date(2022, 10, 31), "skipped_bootstrap"),
        (date(2022, 10, 18), "skipped_bootstrap"),
        (date(2023, 2, 19), "skipped_no_games"),
    ],
)
def test_skips_write_nothing_and_record_the_ledger(app: App, day: date, status: str) -> None:
    seed_example(app)
    app.warehouse.insert_rows("player_game_summary", [pgs("p3", date(2022, 10, 31), 10, 10)])
    result = process_date(app, ProcessDate(run_id="r1", game_date=day), DELIVERY)
    assert result.status == status
    assert output(app, day) == []
    assert [(r["status"], r["attempts"]) for r in steps(app, day)] == [
        ("processing", 1),
        (status, 1),
    ]
    assert (state(app, "r1", day)["status"], state(app, "r1", day)["attempts"]) == (status, 1)
    assert app.bus.messages("validate_coverage") == []  # type: ignore[attr-defined]


def test_round_trips_per_date_end_to_end(app: App) -> None:
    # process_date: ledger, plan, context, stage, ledger = 5; validate_coverage: audit,
    # fenced publish, verify, ledger = 4. The ceiling is 10 per date.
    seed_example(app)
    before = app.warehouse.round_trips
    process_date(unwired(app), ProcessDate(run_id="r1", game_date=D), DELIVERY)
    assert app.warehouse.round_trips - before == 5
    process_date(app, ProcessDate(run_id="r2", game_date=D), DELIVERY)
    assert app.bus.drain(timeout=60)  # type: ignore[attr-defined]
    assert app.warehouse.round_trips - before == 5 + 9
    assert [r["run_id"] for r in output(app)] == ["r2", "r2"]


def test_permanent_failure_is_recorded_failed_with_an_alert(app: App, logs: Any) -> None:
    from shared.entrypoint import run as run_event
    from tests.unit.test_entrypoint import push_body

    seed_example(app)
    app.warehouse.execute(Sql("t", "DROP TABLE {player_shot_zone_analysis}"))
    run_event(
        push_body(b'{"run_id": "r1", "game_date": "2023-02-23"}'),
        ProcessDate,
        process_date,
        app=app,
    )  # acknowledged: a missing table never heals by retrying
    ledger = state(app, "r1", D)
    assert ledger["status"] == "failed"
    assert "player_shot_zone_analysis" in ledger["error"]
    assert [r["status"] for r in steps(app, D)] == ["processing", "failed"]
    alerts = app.bus.messages("alerts")  # type: ignore[attr-defined]
    assert [a.kind for a in alerts] == ["processing_failed"]
    assert logs.find("ERROR", "failed permanently")
