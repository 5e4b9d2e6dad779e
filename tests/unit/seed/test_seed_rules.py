"""RULES §2.3 / §6.1 window rules on tiny hand-made seasons, plus output schemas and dtypes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shared.config import REPO_ROOT
from shared.tools.seed import derive_tables

from .conftest import STAMP
from .helpers import write_mini_season

D = date(2023, 1, 20)


def _iso(days_before: int) -> str:
    return (D - timedelta(days=days_before)).isoformat()


def _context(folder: Path, day: date = D) -> pd.Series:
    upcg = derive_tables(folder, processed_at=STAMP)["upcoming_player_game_context"]
    rows = upcg[upcg["game_date"] == day]
    assert len(rows) == 1
    return rows.iloc[0]


def test_spec_worked_example(tmp_path: Path) -> None:
    # RULES §2.5: D-1 (30, 25), D-3 (34, NULL), D-6 (36, 27), D-7 (40, 24), D-10 (20, 20).
    games = [
        (_iso(1), 30.0, 25.0),
        (_iso(3), 34.0, None),
        (_iso(6), 36.0, 27.0),
        (_iso(7), 40.0, 24.0),
        (_iso(10), 20.0, 20.0),
        (_iso(0), 12.0, 50.0),
    ]
    row = _context(write_mini_season(tmp_path, games))
    assert row["player_lookup"] == "zoeotest"  # "Zoë O'Test"
    assert row["universal_player_id"] == "zoeotest_001"
    assert row["days_rest"] == 0
    assert bool(row["back_to_back"])
    assert row["games_in_last_7_days"] == 4
    assert row["minutes_in_last_7_days"] == 140
    assert row["avg_minutes_per_game_last_7"] == pytest.approx(35.0)
    assert row["back_to_backs_last_14_days"] == 1  # D-6 follows D-7
    assert row["avg_usage_rate_last_7_games"] == pytest.approx(24.0)  # NULL ignored
    assert row["projected_usage_rate"] == pytest.approx(24.0)  # 5 games before D, NULL ignored
    assert row["player_age"] == 32  # born 1990-06-15
    assert row["star_teammates_out"] == 0


def test_days_rest_is_14_without_a_game_in_the_window(tmp_path: Path) -> None:
    row = _context(write_mini_season(tmp_path / "a", [(_iso(15), 30.0, 20.0), (_iso(0), 1, 1)]))
    assert row["days_rest"] == 14
    assert row["games_in_last_7_days"] == 0
    assert row["avg_minutes_per_game_last_7"] == 0.0
    assert pd.isna(row["projected_usage_rate"])  # fewer than 3 games
    assert row["avg_usage_rate_last_7_games"] == pytest.approx(20.0)  # last 7 games, any date
    row = _context(write_mini_season(tmp_path / "b", [(_iso(14), 30.0, 20.0), (_iso(0), 1, 1)]))
    assert row["days_rest"] == 13


def test_minutes_round_half_away_from_zero(tmp_path: Path) -> None:
    # 20.25 + 20.25 = 40.5 → 41 (banker's rounding would give 40); 30.5 alone → 31.
    row = _context(
        write_mini_season(
            tmp_path / "a", [(_iso(2), 20.25, 20.0), (_iso(4), 20.25, 20.0), (_iso(0), 1, 1)]
        )
    )
    assert row["minutes_in_last_7_days"] == 41
    assert row["avg_minutes_per_game_last_7"] == pytest.approx(20.25)
    row = _context(write_mini_season(tmp_path / "b", [(_iso(2), 30.5, 20.0), (_iso(0), 1, 1)]))
    assert row["minutes_in_last_7_days"] == 31


def test_back_to_back_may_lean_on_day_minus_15(tmp_path: Path) -> None:
    # D-14 follows D-15: it counts although D-15 is outside the window; D-15 itself does not.
    games = [(_iso(15), 30.0, 20.0), (_iso(14), 30.0, 20.0), (_iso(0), 1, 1)]
    row = _context(write_mini_season(tmp_path, games))
    assert row["back_to_backs_last_14_days"] == 1
    assert row["days_rest"] == 13


def test_age_turns_on_the_birthday(tmp_path: Path) -> None:
    games = [("2023-06-14", 30.0, 20.0), ("2023-06-15", 30.0, 20.0)]
    upcg = derive_tables(write_mini_season(tmp_path, games))["upcoming_player_game_context"]
    assert upcg["player_age"].tolist() == [32, 33]


def test_psza_needs_a_shot_before_the_day(tmp_path: Path) -> None:
    games = [(_iso(2), 30.0, 20.0), (_iso(0), 30.0, 20.0)]
    tables = derive_tables(write_mini_season(tmp_path, games))
    psza = tables["player_shot_zone_analysis"]
    assert psza["analysis_date"].tolist() == [D]  # none on the debut
    assert psza["paint_rate_last_10"].tolist() == [100.0]
    assert psza["primary_scoring_zone"].tolist() == ["paint"]
    assert psza["games_in_sample"].tolist() == [1]
    assert psza["early_season_flag"].tolist() == [True]
    tdza = tables["team_defense_zone_analysis"]
    # BBB's opponents made their only (paint) shot, as did the whole league: exactly average.
    bbb = tdza[tdza["team_abbr"] == "BBB"].iloc[0]
    assert bbb["paint_defense_vs_league_avg"] == 0.0
    assert pd.isna(bbb["mid_range_defense_vs_league_avg"])  # no attempts in that zone
    assert bbb["weakest_zone"] == "paint"


def test_colliding_lookups_get_increasing_suffixes(synthetic_dir: Path, tmp_path: Path) -> None:
    season = tmp_path / "season"
    shutil.copytree(synthetic_dir, season)
    path = season / "players_synthetic.csv"
    players = pd.read_csv(path)
    players.loc[players.index[[0, 1]], "player_name"] = ["Zoë Test", "Zoe Test"]
    players.to_csv(path, index=False)
    ids = players["player_id"].iloc[[0, 1]].tolist()
    tables = derive_tables(season)
    pgs = tables["player_game_summary"]
    mine = pgs[pgs["player_lookup"] == "zoetest"].drop_duplicates("universal_player_id")
    assert sorted(mine["universal_player_id"]) == ["zoetest_001", "zoetest_002"]
    # The lower player_id gets _001.
    names = dict(zip(mine["universal_player_id"], mine["player_full_name"], strict=True))
    assert names["zoetest_001"] == ("Zoë Test" if ids[0] < ids[1] else "Zoe Test")


SCHEMA_DIR = REPO_ROOT / "infra" / "schemas"
EXPECTED_DTYPES = {
    "STRING": "object",
    "DATE": "object",
    "NUMERIC": "float64",
    "INTEGER": "Int64",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "datetime64[us, UTC]",
}


def test_tables_follow_the_schemas(synthetic_tables: dict[str, pd.DataFrame]) -> None:
    assert sorted(synthetic_tables) == sorted(
        [
            "nba_schedule",
            "player_game_summary",
            "upcoming_player_game_context",
            "upcoming_team_game_context",
            "player_shot_zone_analysis",
            "team_defense_zone_analysis",
        ]
    )
    for table, frame in synthetic_tables.items():
        fields = json.loads((SCHEMA_DIR / f"{table}.json").read_text())["schema"]
        assert list(frame.columns) == [f["name"] for f in fields], table
        for field in fields:
            column = frame[field["name"]]
            assert str(column.dtype) == EXPECTED_DTYPES[field["type"]], (table, field["name"])
            if field["type"] == "DATE":
                assert all(type(v) is date for v in column.head(50)), (table, field["name"])
            if field["type"] == "STRING":
                assert all(v is None or isinstance(v, str) for v in column), field["name"]
            if field["mode"] == "REQUIRED":
                assert column.notna().all(), (table, field["name"])
    stamps = synthetic_tables["upcoming_player_game_context"]["processed_at"]
    assert stamps.eq(pd.Timestamp(STAMP)).all()
    tdza = synthetic_tables["team_defense_zone_analysis"]
    assert tdza["weakest_zone"].map(lambda v: v is None or isinstance(v, str)).all()


def test_processed_at_defaults_to_now_utc(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    tables = derive_tables(write_mini_season(tmp_path, [(_iso(0), 30.0, 20.0)]))
    stamp = tables["upcoming_team_game_context"]["processed_at"].iloc[0]
    assert stamp.tzinfo is not None
    assert stamp >= pd.Timestamp(before).floor("us")
