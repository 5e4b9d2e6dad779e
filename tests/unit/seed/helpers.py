"""Helpers for the seed tests: table filters and a tiny hand-made season folder."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd


def on(frame: pd.DataFrame, column: str, day: str) -> pd.DataFrame:
    """Rows of a derived table whose DATE column equals the ISO day."""
    return frame[frame[column] == date.fromisoformat(day)]


def write_mini_season(
    folder: Path, games: Iterable[tuple[str, float, float | None]], player: str = "Zoë O'Test"
) -> Path:
    """A one-player season in the real folder format: (date, minutes, usage %) per game.

    The player's team AAA meets BBB on each date; one shot (a made layup) per game.
    """
    folder.mkdir(parents=True, exist_ok=True)
    log_rows, team_rows, schedule_rows, shot_rows = [], [], [], []
    for n, (day, minutes, usage) in enumerate(sorted(games), start=1):
        game_id = f"00999{n:05d}"
        log_rows.append(
            {
                "game_id": game_id,
                "game_date": day,
                "team_id": 1,
                "team_abbr": "AAA",
                "opp_abbr": "BBB",
                "home_away": "H",
                "player_id": 42,
                "player_name": player,
                "birthdate": "1990-06-15",
                "played": True,
                "minutes": minutes,
                "usg_pct": None if usage is None else usage / 100,
                "pts": 2,
                "fga": 1,
                "fg3a": 0,
                "fta": 0,
            }
        )
        for team, opp, team_id in (("AAA", "BBB", 1), ("BBB", "AAA", 2)):
            team_rows.append(
                {
                    "game_id": game_id,
                    "game_date": day,
                    "team_id": team_id,
                    "team_abbr": team,
                    "opp_abbr": opp,
                    "pace": 100.0,
                }
            )
        schedule_rows.append(
            {
                "game_id": game_id,
                "game_date": day,
                "home_team_id": 1,
                "home_abbr": "AAA",
                "away_team_id": 2,
                "away_abbr": "BBB",
            }
        )
        shot = {"game_id": game_id, "game_date": day, "team_id": 1, "player_id": 42}
        for zone in ("ra", "paint_nonra", "midrange", "lc3", "rc3", "atb3", "backcourt"):
            shot[f"fga_{zone}"] = 1 if zone == "ra" else 0
            shot[f"fgm_{zone}"] = 1 if zone == "ra" else 0
        shot_rows.append(shot)
    pd.DataFrame(log_rows).to_csv(folder / "player_game_logs_mini.csv", index=False)
    pd.DataFrame(team_rows).to_csv(folder / "team_game_logs_mini.csv", index=False)
    pd.DataFrame(schedule_rows).to_csv(folder / "schedule_mini.csv", index=False)
    pd.DataFrame(shot_rows).to_csv(folder / "player_shot_zones_mini.csv", index=False)
    pd.DataFrame([{"player_id": 42, "player_name": player, "birthdate": "1990-06-15"}]).to_csv(
        folder / "players_mini.csv", index=False
    )
    return folder
