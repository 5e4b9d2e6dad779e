"""Per-date processing on the real 2022-23 season (RULES §2, issue 2 numbers)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import ProcessDate
from shared.sql import processing as sql
from shared.tools.seed.load import inject_stale_upcg
from shared.usecases.process_date import process_date
from shared.warehouse import Sql
from tests.fakes import local_bus

INCIDENT = date(2023, 2, 23)
NEXT = date(2023, 2, 24)
DELIVERY = Delivery("m-1", 1, None, {})
OUT = Sql(
    "t.out", "SELECT * FROM {player_composite_factors} WHERE game_date = @d ORDER BY player_lookup"
)


def run(app: App, day: date, run_id: str = "r1", **kw: Any) -> Any:
    """Process (stage) the date, then let the wired validate_coverage audit and publish it."""
    result = process_date(app, ProcessDate(run_id=run_id, game_date=day, **kw), DELIVERY)
    assert local_bus(app).drain(timeout=120)
    return result


def rows(app: App, day: date) -> list[dict[str, Any]]:
    return app.warehouse.query(OUT, {"d": day})


def test_incident_date_falls_back_to_all_187_players(real_app: App, logs: Any) -> None:
    inject_stale_upcg(real_app, {INCIDENT: 1})
    result = run(real_app, INCIDENT)
    out = rows(real_app, INCIDENT)
    assert (result.expected_players, result.upcg_players, result.rows_written) == (187, 1, 187)
    assert len(out) == 187
    assert {r["data_source"] for r in out} == {"PGS_SYNTHETIC"}
    check = logs.find("ERROR", "data source check")[0]
    assert (
        check["upcg_players"],
        check["expected_players"],
        check["coverage_pct"],
        check["missing_players"],
        check["reason"],
    ) == (1, 187, 0.5, 186, "upcg_partial")
    decision = logs.find("WARNING", "fallback to PGS_SYNTHETIC")[0]
    assert "UPCG has 1/187 players (0.5%) < 90% of expected" in decision["message"]


def test_next_day_with_68_of_175_falls_back_to_175(real_app: App) -> None:
    inject_stale_upcg(real_app, {NEXT: 68})
    result = run(real_app, NEXT)
    assert (result.data_source, result.rows_written) == ("PGS_SYNTHETIC", 175)
    assert len(rows(real_app, NEXT)) == 175


@pytest.mark.parametrize(
    ("keep", "source", "written"), [(169, "UPCG", 169), (168, "PGS_SYNTHETIC", 187)]
)
def test_the_90_percent_boundary(real_app: App, keep: int, source: str, written: int) -> None:
    inject_stale_upcg(real_app, {INCIDENT: keep})
    result = run(real_app, INCIDENT)
    assert (result.data_source, result.rows_written) == (source, written)
    assert {r["data_source"] for r in rows(real_app, INCIDENT)} == {source}


def test_bootstrap_boundary(real_app: App) -> None:
    assert run(real_app, date(2022, 10, 31)).status == "skipped_bootstrap"
    assert rows(real_app, date(2022, 10, 31)) == []
    first = run(real_app, date(2022, 11, 1))
    assert first.status == "written"
    assert first.rows_written == first.expected_players > 0


def test_rerun_gives_identical_rows_and_hashes(real_app: App) -> None:
    run(real_app, INCIDENT, "r1")
    first = rows(real_app, INCIDENT)
    run(real_app, INCIDENT, "r2")
    second = rows(real_app, INCIDENT)
    assert len(first) == len(second) == 187
    assert [r["data_hash"] for r in first] == [r["data_hash"] for r in second]
    for a, b in zip(first, second, strict=True):
        assert {k: v for k, v in a.items() if k not in ("run_id", "processed_at")} == {
            k: v for k, v in b.items() if k not in ("run_id", "processed_at")
        }
    assert {r["run_id"] for r in second} == {"r2"}


SHARED_COLUMNS = [
    "days_rest",
    "back_to_back",
    "games_in_last_7_days",
    "minutes_in_last_7_days",
    "back_to_backs_last_14_days",
]


@pytest.mark.parametrize("day", [date(2022, 11, 1), INCIDENT, date(2023, 4, 9)])
def test_synthetic_context_agrees_with_seeded_upcg(real_app: App, day: date) -> None:
    """Two independent derivations of RULES §2.3 (SQL for the fallback, pandas in the seed)."""
    synthetic = {
        r["player_lookup"]: r
        for r in real_app.warehouse.query(sql.CONTEXT_FROM_PGS, sql.dates_params([day]))
    }
    upcg = {
        r["player_lookup"]: r
        for r in real_app.warehouse.query(sql.CONTEXT_FROM_UPCG, sql.dates_params([day]))
    }
    assert synthetic.keys() == upcg.keys()
    assert len(upcg) > 50
    for player, s in synthetic.items():
        u = upcg[player]
        assert [s[c] for c in SHARED_COLUMNS] == [u[c] for c in SHARED_COLUMNS], player
        assert float(s["avg_minutes_per_game_last_7"]) == pytest.approx(
            float(u["avg_minutes_per_game_last_7"]), abs=1e-6
        )
        if u["avg_usage_rate_last_7_games"] is None:
            assert s["avg_usage_rate_last_7_games"] is None
        else:
            assert float(s["avg_usage_rate_last_7_games"]) == pytest.approx(
                float(u["avg_usage_rate_last_7_games"]), abs=1e-6
            )


def test_full_day_factors_are_in_range_and_complete(real_app: App) -> None:
    run(real_app, INCIDENT)
    out = rows(real_app, INCIDENT)
    assert all(0 <= r["fatigue_score"] <= 100 for r in out)
    assert all(-3 <= float(r["pace_score"]) <= 3 for r in out)
    assert all(-10 <= float(r["shot_zone_mismatch_score"]) <= 10 for r in out)
    # UPCG carries projections/pace on a mid-season date: most rows are 100 % complete.
    complete = sum(1 for r in out if float(r["data_completeness_pct"]) == 100)
    assert complete > 150


def test_stale_injection_keeps_the_first_players_and_nothing_else(real_app: App) -> None:
    count = Sql(
        "t.upcg",
        "SELECT game_date, COUNT(*) AS n, MIN(player_lookup) AS first "
        "FROM {upcoming_player_game_context} WHERE game_date BETWEEN "
        "'2023-02-22' AND '2023-02-25' GROUP BY game_date ORDER BY game_date",
    )
    before = {r["game_date"]: r["n"] for r in real_app.warehouse.query(count)}
    done = inject_stale_upcg(real_app, {INCIDENT: 1, NEXT: 68})
    assert done == {INCIDENT: (187, 1), NEXT: (175, 68)}
    after = {r["game_date"]: r for r in real_app.warehouse.query(count)}
    assert after[INCIDENT]["n"] == 1
    assert after[INCIDENT]["first"] == "aaronnesmith"
    assert after[NEXT]["n"] == 68
    assert after[date(2023, 2, 25)]["n"] == before[date(2023, 2, 25)]


@pytest.mark.parametrize(
    ("stale", "needle"),
    [
        ({date(2023, 2, 19): 1}, "UPCG has no rows on 2023-02-19"),
        ({INCIDENT: 188}, "only 187 UPCG players"),
        ({INCIDENT: -1}, "N must be 0 or more"),
    ],
)
def test_stale_injection_rejects_impossible_requests(
    real_app: App, stale: dict[date, int], needle: str
) -> None:
    from shared.errors import PermanentError

    with pytest.raises(PermanentError, match=needle):
        inject_stale_upcg(real_app, stale)
    assert (
        real_app.warehouse.query(
            Sql(
                "t", "SELECT COUNT(*) AS n FROM {upcoming_player_game_context} WHERE game_date = @d"
            ),
            {"d": INCIDENT},
        )[0]["n"]
        == 187
    )
