"""The loader on the real 2022-23 season: counts, the incident, and values checked by hand."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.tools.seed import derive_tables
from tests.unit.seed.conftest import STAMP
from tests.unit.seed.helpers import on

pytestmark = pytest.mark.realdata

ZONES = {
    "paint": ("ra", "paint_nonra"),
    "mid": ("midrange",),
    "three": ("lc3", "rc3", "atb3", "backcourt"),
}


def _played(logs: pd.DataFrame) -> pd.DataFrame:
    played = logs[(logs["played"] == True) & (logs["minutes"] > 0)].copy()  # noqa: E712
    played["day"] = pd.to_datetime(played["game_date"]).dt.date
    return played


def _row(frame: pd.DataFrame, key: str, value: str, column: str, day: str) -> pd.Series:
    rows = on(frame, column, day)
    rows = rows[rows[key] == value]
    assert len(rows) == 1, f"expected one {value} row on {day}, got {len(rows)}"
    return rows.iloc[0]


# --- PGS and the incident --------------------------------------------------------------------


def test_pgs_keeps_played_rows_with_minutes(
    real_tables: dict[str, pd.DataFrame], real_logs: pd.DataFrame
) -> None:
    pgs = real_tables["player_game_summary"]
    # SOURCE.md counts 25,894 played rows; two of them are "played" at 0:00 and RULES §6.1
    # keeps only minutes > 0.
    assert int(real_logs["played"].sum()) == 25_894
    assert len(pgs) == 25_892
    zero = real_logs[(real_logs["played"] == True) & (real_logs["minutes"] == 0)]  # noqa: E712
    assert sorted(zero["player_name"]) == ["Taj Gibson", "Willy Hernangomez"]
    assert set(zero["game_date"]) == {"2023-02-04"}
    assert pgs["season_year"].eq(2022).all()
    lebron = pgs[(pgs["player_lookup"] == "lebronjames") & (pgs["game_id"] == "0022200002")]
    assert lebron[["minutes_played", "usage_rate", "points", "fg_attempts"]].iloc[0].tolist() == [
        pytest.approx(35.2),
        pytest.approx(32.7),
        31,
        26,
    ]


def test_incident_dates_have_187_and_175_players(real_tables: dict[str, pd.DataFrame]) -> None:
    pgs, upcg = real_tables["player_game_summary"], real_tables["upcoming_player_game_context"]
    assert on(pgs, "game_date", "2023-02-23")["player_lookup"].nunique() == 187
    assert on(pgs, "game_date", "2023-02-24")["player_lookup"].nunique() == 175
    assert len(on(upcg, "game_date", "2023-02-23")) == 187
    assert len(on(upcg, "game_date", "2023-02-24")) == 175


def test_untouched_upcg_covers_pgs_on_every_date(real_tables: dict[str, pd.DataFrame]) -> None:
    pgs, upcg = real_tables["player_game_summary"], real_tables["upcoming_player_game_context"]
    expected = pgs.groupby("game_date")["player_lookup"].apply(frozenset)
    actual = upcg.groupby("game_date")["player_lookup"].apply(frozenset)
    assert len(expected) == 164
    assert actual.equals(expected)  # 100 % on each of the 164 dates
    assert not upcg.duplicated(["game_date", "player_lookup"]).any()


def test_player_lookups_are_normalized_and_unique(real_tables: dict[str, pd.DataFrame]) -> None:
    pgs = real_tables["player_game_summary"]
    names = pgs.drop_duplicates("player_full_name").set_index("player_full_name")
    assert names.loc["Nikola Jokić", "player_lookup"] == "nikolajokic"
    assert names.loc["P.J. Tucker", "player_lookup"] == "pjtucker"
    assert names.loc["Luka Dončić", "player_lookup"] == "lukadoncic"
    assert names.loc["Dāvis Bertāns", "player_lookup"] == "davisbertans"
    assert names.loc["Jimmy Butler III", "universal_player_id"] == "jimmybutleriii_001"
    ids = pgs.drop_duplicates("universal_player_id")
    assert ids["player_lookup"].is_unique  # no collisions in the real season
    assert pgs["player_lookup"].str.fullmatch(r"[a-z0-9]+").all()


# --- UPCG checked by hand ------------------------------------------------------------------


def _reference(history: pd.DataFrame, day: date, birthdate: str | None) -> dict[str, object]:
    """RULES §2.3 / §6.1 computed the slow, obvious way from one player's played rows."""
    before = history[history["day"] < day].sort_values("day")
    window = before[before["day"] >= day - timedelta(days=14)]
    last7 = window[window["day"] >= day - timedelta(days=7)]
    played_days = set(before["day"])
    minutes = float(last7["minutes"].sum())
    usage = before["usg_pct"].tail(7).dropna() * 100
    age = None
    if birthdate:
        born = date.fromisoformat(birthdate)
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return {
        "days_rest": (day - window["day"].max()).days - 1 if len(window) else 14,
        "back_to_back": (day - timedelta(days=1)) in played_days,
        "games_in_last_7_days": len(last7),
        "minutes_in_last_7_days": int(np.floor(minutes + 0.5)),
        "avg_minutes_per_game_last_7": minutes / len(last7) if len(last7) else 0.0,
        "back_to_backs_last_14_days": sum(
            (g - timedelta(days=1)) in played_days for g in window["day"]
        ),
        "avg_usage_rate_last_7_games": usage.mean() if len(usage) else None,
        "projected_usage_rate": (before["usg_pct"] * 100).mean() if len(before) >= 3 else None,
        "player_age": age,
    }


def _assert_matches(row: pd.Series, expected: dict[str, object]) -> None:
    for column, value in expected.items():
        got = row[column]
        if value is None:
            assert pd.isna(got), column
        elif isinstance(value, float):
            assert got == pytest.approx(value, abs=1e-9), column
        else:
            assert got == value, column


@pytest.mark.parametrize(
    ("day", "literal"),
    [
        # Feb 15: games Feb 9, 11, 13 in the last 7 days; the birthday (Feb 19) is still ahead.
        (
            "2023-02-15",
            {
                "days_rest": 1,
                "back_to_back": False,
                "games_in_last_7_days": 3,
                "minutes_in_last_7_days": 106,
                "avg_minutes_per_game_last_7": 35.2,
                "back_to_backs_last_14_days": 0,
                "player_age": 27,
                "projected_usage_rate": 26.546,
                "star_teammates_out": 1,
            },
        ),
        # Feb 26: played Feb 25 (back-to-back) and Feb 23 after the All-Star break; 28 now.
        (
            "2023-02-26",
            {
                "days_rest": 0,
                "back_to_back": True,
                "games_in_last_7_days": 2,
                "minutes_in_last_7_days": 63,
                "avg_minutes_per_game_last_7": 31.26665,
                "back_to_backs_last_14_days": 0,
                "player_age": 28,
                "star_teammates_out": 0,
            },
        ),
    ],
)
def test_upcg_for_jokic_by_hand(
    real_tables: dict[str, pd.DataFrame],
    real_logs: pd.DataFrame,
    day: str,
    literal: dict[str, object],
) -> None:
    row = _row(
        real_tables["upcoming_player_game_context"],
        "player_lookup",
        "nikolajokic",
        "game_date",
        day,
    )
    history = _played(real_logs)
    history = history[history["player_name"] == "Nikola Jokić"]
    _assert_matches(row, _reference(history, date.fromisoformat(day), "1995-02-19"))
    _assert_matches(row, literal)
    assert row["team_abbr"] == "DEN"


def test_upcg_matches_reference_for_every_player_on_2023_02_23(
    real_tables: dict[str, pd.DataFrame], real_logs: pd.DataFrame, real_dir: Path
) -> None:
    history = _played(real_logs)
    births = pd.read_csv(next(real_dir.glob("players_*.csv"))).set_index("player_id")["birthdate"]
    upcg = on(real_tables["upcoming_player_game_context"], "game_date", "2023-02-23")
    names = history.drop_duplicates("player_id").set_index("player_id")["player_name"]
    lookups = (
        real_tables["player_game_summary"]
        .drop_duplicates("player_full_name")
        .set_index("player_full_name")["player_lookup"]
    )
    day = date(2023, 2, 23)
    today = history[history["day"] == day]
    assert len(today) == 187
    for player_id in today["player_id"]:
        row = _row(upcg, "player_lookup", lookups[names[player_id]], "game_date", "2023-02-23")
        birth = births.get(player_id)
        expected = _reference(
            history[history["player_id"] == player_id], day, None if pd.isna(birth) else str(birth)
        )
        _assert_matches(row, expected)


def test_star_teammates_out_counts_absent_stars(real_tables: dict[str, pd.DataFrame]) -> None:
    # Before Feb 15, DEN's stars (≥ 10 games, ≥ 20 pts) are Jokić (24.9) and Jamal Murray (20.2);
    # Murray sat out Feb 15, so every Nugget that day has one star teammate out.
    upcg = on(real_tables["upcoming_player_game_context"], "game_date", "2023-02-15")
    nuggets = upcg[upcg["team_abbr"] == "DEN"]
    assert len(nuggets) == 11
    assert nuggets["star_teammates_out"].eq(1).all()


def test_pace_context_by_hand(real_tables: dict[str, pd.DataFrame], real_dir: Path) -> None:
    teams = pd.read_csv(next(real_dir.glob("team_game_logs_*.csv")))
    before = teams[teams["game_date"] < "2023-02-26"].sort_values("game_date")
    lac = before[before["team_abbr"] == "LAC"]["pace"]
    den = before[before["team_abbr"] == "DEN"]["pace"]
    expected_diff = (den.mean() + lac.mean()) / 2 - before["pace"].mean()
    row = _row(
        real_tables["upcoming_player_game_context"],
        "player_lookup",
        "nikolajokic",
        "game_date",
        "2023-02-26",
    )
    assert row["opponent_team_abbr"] == "LAC"
    assert row["opponent_pace_last_10"] == pytest.approx(lac.tail(10).mean())
    assert row["opponent_pace_last_10"] == pytest.approx(99.636)
    assert row["pace_differential"] == pytest.approx(expected_diff)
    assert row["pace_differential"] == pytest.approx(-1.08666, abs=1e-5)

    utcg = real_tables["upcoming_team_game_context"]
    den_row = _row(utcg, "team_abbr", "DEN", "game_date", "2023-02-26")
    assert den_row["team_pace_last_10"] == pytest.approx(den.tail(10).mean())
    assert den_row["opponent_team_abbr"] == "LAC"
    assert pd.isna(den_row["game_total"])
    assert pd.isna(den_row["game_spread"])
    assert len(utcg) == 2_460
    assert on(utcg, "game_date", "2022-10-18")["team_pace_last_10"].isna().all()


# --- PSZA and TDZA checked by hand ---------------------------------------------------------


def _shots(real_dir: Path) -> pd.DataFrame:
    shots = pd.read_csv(next(real_dir.glob("player_shot_zones_*.csv")), dtype={"game_id": str})
    for group, zones in ZONES.items():
        shots[f"{group}_a"] = sum(shots[f"fga_{z}"] for z in zones)
        shots[f"{group}_m"] = sum(shots[f"fgm_{z}"] for z in zones)
    shots["all_a"] = shots["paint_a"] + shots["mid_a"] + shots["three_a"]
    return shots


def test_psza_pooled_rates_by_hand(real_tables: dict[str, pd.DataFrame], real_dir: Path) -> None:
    shots = _shots(real_dir)
    # Joined on player_id: the shot file spells him "Nikola Jokic" (23 names differ there).
    mine = shots[(shots["player_id"] == 203999) & (shots["game_date"] < "2023-02-26")]
    last10 = mine.sort_values("game_date").tail(10)
    row = _row(
        real_tables["player_shot_zone_analysis"],
        "player_lookup",
        "nikolajokic",
        "analysis_date",
        "2023-02-26",
    )
    total = last10["all_a"].sum()
    assert total == 133
    assert row["paint_rate_last_10"] == pytest.approx(100 * last10["paint_a"].sum() / total)
    assert row["paint_rate_last_10"] == pytest.approx(84.962406, abs=1e-6)  # 113 / 133
    assert row["mid_range_rate_last_10"] == pytest.approx(6.015038, abs=1e-6)  # 8 / 133
    assert row["three_pt_rate_last_10"] == pytest.approx(9.022556, abs=1e-6)  # 12 / 133
    assert row["primary_scoring_zone"] == "paint"
    assert row["games_in_sample"] == 10
    assert not row["early_season_flag"]


def test_psza_first_night_is_early_season(real_tables: dict[str, pd.DataFrame]) -> None:
    psza = on(real_tables["player_shot_zone_analysis"], "analysis_date", "2022-10-20")
    davis = psza[psza["player_lookup"] == "anthonydavis"].iloc[0]
    assert davis["games_in_sample"] == 1
    assert davis["early_season_flag"]
    assert davis["paint_rate_last_10"] == pytest.approx(100 * 17 / 22)


def test_no_psza_row_without_a_prior_shot(real_tables: dict[str, pd.DataFrame]) -> None:
    pgs, psza = real_tables["player_game_summary"], real_tables["player_shot_zone_analysis"]
    # Kris Dunn's first game of the season is 2023-02-23 (the incident date).
    assert "krisdunn" in set(on(pgs, "game_date", "2023-02-23")["player_lookup"])
    assert "krisdunn" not in set(on(psza, "analysis_date", "2023-02-23")["player_lookup"])
    # Andre Iguodala played Jan 7 without a field-goal attempt: still no shot before Jan 10.
    assert "andreiguodala" in set(on(pgs, "game_date", "2023-01-10")["player_lookup"])
    assert "andreiguodala" not in set(on(psza, "analysis_date", "2023-01-10")["player_lookup"])
    # 187 played that day; Kris Dunn is the only one without a shot earlier in the season.
    assert len(on(psza, "analysis_date", "2023-02-23")) == 186


def test_tdza_by_hand(real_tables: dict[str, pd.DataFrame], real_dir: Path) -> None:
    shots = _shots(real_dir)
    schedule = pd.read_csv(next(real_dir.glob("schedule_*.csv")), dtype={"game_id": str})
    day = "2023-02-26"
    den_games = (
        schedule[
            ((schedule["home_abbr"] == "DEN") | (schedule["away_abbr"] == "DEN"))
            & (schedule["game_date"] < day)
        ]
        .sort_values("game_date")
        .tail(15)
    )
    den_id = 1610612743
    allowed = shots[shots["game_id"].isin(den_games["game_id"]) & (shots["team_id"] != den_id)]
    league = shots[shots["game_date"] < day]
    row = _row(real_tables["team_defense_zone_analysis"], "team_abbr", "DEN", "analysis_date", day)
    for group, column in (
        ("paint", "paint_defense_vs_league_avg"),
        ("mid", "mid_range_defense_vs_league_avg"),
        ("three", "three_pt_defense_vs_league_avg"),
    ):
        team_pct = allowed[f"{group}_m"].sum() / allowed[f"{group}_a"].sum()
        league_pct = league[f"{group}_m"].sum() / league[f"{group}_a"].sum()
        assert row[column] == pytest.approx(100 * (team_pct - league_pct))
        # Positive = opponents shoot better than the league = weak defence.
        assert (row[column] > 0) == (team_pct > league_pct)
    assert row["paint_defense_vs_league_avg"] == pytest.approx(2.115633, abs=1e-6)
    assert row["mid_range_defense_vs_league_avg"] == pytest.approx(-4.582811, abs=1e-6)
    assert row["three_pt_defense_vs_league_avg"] == pytest.approx(-1.647141, abs=1e-6)
    assert row["weakest_zone"] == "paint"
    assert row["games_in_sample"] == 15
    assert not row["early_season_flag"]


def test_tdza_has_no_row_before_a_teams_first_game(real_tables: dict[str, pd.DataFrame]) -> None:
    tdza = real_tables["team_defense_zone_analysis"]
    assert on(tdza, "analysis_date", "2022-10-18").empty
    # 2,460 team-games minus each team's opener.
    assert len(tdza) == 2_460 - 30
    assert set(tdza["weakest_zone"]) == {"paint", "mid_range", "perimeter"}


# --- Strictly before D ---------------------------------------------------------------------


def test_context_never_uses_the_days_own_box_score(
    real_dir: Path, real_tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    day = "2023-02-23"
    for source in real_dir.iterdir():
        if source.suffix == ".csv":
            shutil.copy(source, tmp_path / source.name)  # CSVs only: the loader reads them
    for path in tmp_path.glob("player_game_logs_*.csv"):
        logs = pd.read_csv(path, dtype={"game_id": str})
        hit = (logs["game_date"] == day) & logs["played"]
        logs.loc[hit, "minutes"] = logs.loc[hit, "minutes"] * 1.5
        logs.loc[hit, ["usg_pct", "pts"]] = [0.9, 60]
        logs.to_csv(path, index=False)
    teams_path = next(tmp_path.glob("team_game_logs_*.csv"))
    teams = pd.read_csv(teams_path, dtype={"game_id": str})
    teams.loc[teams["game_date"] == day, "pace"] = 150.0
    teams.to_csv(teams_path, index=False)
    shots_path = next(tmp_path.glob("player_shot_zones_*.csv"))
    shots = pd.read_csv(shots_path, dtype={"game_id": str})
    hit = shots["game_date"] == day
    shots.loc[hit, "fga_ra"] = shots.loc[hit, "fga_total"]
    shots.loc[hit, "fgm_ra"] = shots.loc[hit, "fga_total"]
    for zone in ("paint_nonra", "midrange", "lc3", "rc3", "atb3", "backcourt"):
        shots.loc[hit, [f"fga_{zone}", f"fgm_{zone}"]] = 0
    shots.to_csv(shots_path, index=False)

    changed = derive_tables(tmp_path, processed_at=STAMP)
    # The edit took effect (D's PGS differs) ...
    assert (
        not on(changed["player_game_summary"], "game_date", day)
        .reset_index(drop=True)
        .equals(on(real_tables["player_game_summary"], "game_date", day).reset_index(drop=True))
    )
    # ... yet every context table for D is identical ...
    for table, column in (
        ("upcoming_player_game_context", "game_date"),
        ("upcoming_team_game_context", "game_date"),
        ("player_shot_zone_analysis", "analysis_date"),
        ("team_defense_zone_analysis", "analysis_date"),
    ):
        before = on(real_tables[table], column, day).reset_index(drop=True)
        after = on(changed[table], column, day).reset_index(drop=True)
        pd.testing.assert_frame_equal(after, before, obj=table)
        # ... while the next game day sees the change.
        nxt_before = on(real_tables[table], column, "2023-02-24").reset_index(drop=True)
        nxt_after = on(changed[table], column, "2023-02-24").reset_index(drop=True)
        assert not nxt_after.equals(nxt_before), table
