"""The synthetic season: deterministic, shaped like the real one, and loadable."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pandas as pd

from shared.tools.seed import write_synthetic_season

from .helpers import on

# The columns of the real files (SOURCE.md); the synthetic files carry all of them.
REAL_COLUMNS = {
    "player_game_logs": "game_id,game_date,team_id,team_abbr,opp_abbr,home_away,matchup,"
    "player_id,player_name,birthdate,age_years,start_position,dnp_comment,played,min_raw,"
    "minutes,fgm,fga,fg_pct,fg3m,fg3a,fg3_pct,ftm,fta,ft_pct,oreb,dreb,reb,ast,stl,blk,tov,pf,"
    "pts,plus_minus,usg_pct,pace,poss,off_rating,def_rating,ts_pct",
    "team_game_logs": "game_id,game_date,team_id,team_abbr,team_name,opp_abbr,home_away,wl,pts,"
    "opp_pts,minutes,fgm,fga,fg_pct,fg3m,fg3a,fg3_pct,ftm,fta,ft_pct,oreb,dreb,reb,ast,stl,blk,"
    "tov,pf,plus_minus,pace,poss,off_rating,def_rating,net_rating,efg_pct,ts_pct,tm_tov_pct,"
    "oreb_pct,dreb_pct",
    "schedule": "game_id,game_date,home_team_id,home_abbr,home_pts,away_team_id,away_abbr,"
    "away_pts,game_pace,overtime_periods",
    "player_shot_zones": "game_id,game_date,team_id,player_id,player_name,fga_total,fg3a_total,"
    "fga_ra,fgm_ra,fga_paint_nonra,fgm_paint_nonra,fga_midrange,fgm_midrange,fga_lc3,fgm_lc3,"
    "fga_rc3,fgm_rc3,fga_atb3,fgm_atb3,fga_backcourt,fgm_backcourt",
    "players": "player_id,player_name,games_listed,games_played,team_abbrs,birthdate,height,"
    "weight,position,country,draft_year,draft_round,draft_number",
}


def _read(folder: Path, kind: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{kind}_synthetic.csv", dtype={"game_id": str})


def test_same_seed_gives_identical_bytes(synthetic_dir: Path, tmp_path: Path) -> None:
    again = write_synthetic_season(tmp_path / "again", seed=7)
    other = write_synthetic_season(tmp_path / "other", seed=8)
    names = sorted(p.name for p in synthetic_dir.iterdir())
    assert names == [f"{kind}_synthetic.csv" for kind in sorted(REAL_COLUMNS)]
    for name in names:
        assert (again / name).read_bytes() == (synthetic_dir / name).read_bytes(), name
    assert (other / "player_game_logs_synthetic.csv").read_bytes() != (
        synthetic_dir / "player_game_logs_synthetic.csv"
    ).read_bytes()


def test_files_have_the_real_columns(synthetic_dir: Path) -> None:
    for kind, header in REAL_COLUMNS.items():
        assert list(_read(synthetic_dir, kind).columns) == header.split(","), kind


def test_schedule_shape(synthetic_dir: Path) -> None:
    schedule = _read(synthetic_dir, "schedule")
    teams = _read(synthetic_dir, "team_game_logs")
    assert len(schedule) == 1_230
    assert schedule["game_id"].is_unique
    assert teams["team_abbr"].nunique() == 30
    per_team = teams.groupby("team_abbr").size()
    assert per_team.eq(82).all()
    assert teams[teams["home_away"] == "H"].groupby("team_abbr").size().eq(41).all()
    days = pd.to_datetime(schedule["game_date"]).dt.date
    assert days.min() == date(2022, 10, 18)
    assert days.max() == date(2023, 4, 9)
    assert 155 <= days.nunique() <= 170  # the real season has 164 game dates
    assert not days.between(date(2023, 2, 17), date(2023, 2, 22)).any()  # All-Star break
    # One game per team per day; back-to-backs exist but no three games in three days.
    teams = teams.sort_values(["team_abbr", "game_date"])
    teams["day"] = pd.to_datetime(teams["game_date"])
    assert not teams.duplicated(["team_abbr", "day"]).any()
    gaps = teams.groupby("team_abbr")["day"].diff().dt.days
    b2b = (gaps == 1).groupby(teams["team_abbr"]).sum()
    assert 6 <= b2b.mean() <= 16
    assert not (teams.groupby("team_abbr")["day"].diff(2).dt.days == 2).any()


def test_box_scores_are_realistic_and_consistent(synthetic_dir: Path) -> None:
    logs = _read(synthetic_dir, "player_game_logs")
    teams = _read(synthetic_dir, "team_game_logs")
    shots = _read(synthetic_dir, "player_shot_zones")
    played = logs[logs["played"] & (logs["minutes"] > 0)]
    # Minutes: five on the floor, 48 minutes plus 5 per overtime.
    per_team_game = played.groupby(["game_id", "team_abbr"])["minutes"].sum()
    assert (per_team_game.round(1) % 5 == 0).all()
    assert per_team_game.min() > 239.9
    # Team logs are the sums of the player rows.
    sums = played.groupby(["game_id", "team_abbr"])[["pts", "fga", "fg3a", "fta", "reb"]].sum()
    merged = sums.reset_index().merge(teams, on=["game_id", "team_abbr"], suffixes=("", "_team"))
    for column in ("pts", "fga", "fg3a", "fta", "reb"):
        assert (merged[column] == merged[f"{column}_team"]).all(), column
    assert 96 <= teams["pace"].mean() <= 104
    assert teams["pace"].std() > 2
    assert 105 <= teams["pts"].mean() <= 122
    # Stars, role players and DNPs.
    scoring = played.groupby("player_id")["pts"].agg(["mean", "size"])
    regulars = scoring[scoring["size"] >= 40]
    assert (regulars["mean"] >= 25).sum() >= 5
    assert (regulars["mean"] < 8).sum() >= 100
    usage = played["usg_pct"].mean() * 100
    assert 15 <= usage <= 21
    assert (~logs["played"]).sum() > 3_000
    assert logs.loc[~logs["played"], "dnp_comment"].str.contains("Injury").sum() > 200
    assert logs.loc[~logs["played"], ["minutes", "pts"]].isna().all().all()
    # Shot zones sum to the box-score FGA, one row per player-game with an attempt.
    zone_cols = [c for c in shots.columns if c.startswith("fga_") and c != "fga_total"]
    joined = shots.merge(
        played[["game_id", "player_id", "fga", "fg3a"]], on=["game_id", "player_id"]
    )
    assert len(joined) == len(shots) == int((played["fga"] > 0).sum())
    assert (joined[zone_cols].sum(axis=1) == joined["fga"]).all()
    assert (joined["fg3a_total"] == joined["fg3a"]).all()


def test_players_roster_names_and_birthdates(synthetic_dir: Path) -> None:
    players = _read(synthetic_dir, "players")
    assert len(players) == 450  # 30 teams × 15
    assert players["team_abbrs"].str.contains("|", regex=False).sum() >= 2  # deadline trades
    assert 0.03 <= players["birthdate"].isna().mean() <= 0.15
    assert (players["player_name"].map(lambda n: not n.isascii())).sum() >= 30
    assert players["player_name"].str.contains(r"[.'\-]").sum() >= 30
    folded = players["player_name"].map(
        lambda n: unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode()
    )
    assert folded.str.lower().str.replace(r"[^a-z0-9]", "", regex=True).is_unique


def test_synthetic_season_loads(synthetic_tables: dict[str, pd.DataFrame]) -> None:
    pgs = synthetic_tables["player_game_summary"]
    upcg = synthetic_tables["upcoming_player_game_context"]
    assert 22_000 <= len(pgs) <= 30_000
    assert len(synthetic_tables["nba_schedule"]) == 1_230
    assert len(synthetic_tables["upcoming_team_game_context"]) == 2_460
    assert len(synthetic_tables["team_defense_zone_analysis"]) == 2_430
    assert len(upcg) == len(pgs)
    assert not on(pgs, "game_date", "2023-02-20").shape[0]
    assert pgs["player_lookup"].str.fullmatch(r"[a-z0-9]+").all()
    # Missing birth dates give NULL ages; injured stars show up as star_teammates_out.
    assert upcg["player_age"].isna().any()
    assert upcg["player_age"].notna().mean() > 0.8
    assert (upcg["star_teammates_out"] > 0).sum() > 500
    assert upcg["back_to_back"].sum() > 1_000
    psza = synthetic_tables["player_shot_zone_analysis"]
    assert {"paint", "perimeter", "mid_range", "balanced"} <= set(psza["primary_scoring_zone"])
    assert psza["early_season_flag"].any()
    assert not psza["early_season_flag"].all()
