"""SQL of per-date processing and of the range plan (dispatch pre-flight)."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.warehouse.base import Sql
from shared.warehouse.schemas import get_schema

# One grouped query for a whole range: per calendar day, what the schedule, PGS and UPCG hold,
# and the start of the season the day belongs to (latest season started on or before it).
# process_date uses it with start = end = D; dispatch uses it for the whole range.
DATE_PLAN = Sql(
    "processing.date_plan",
    """
WITH days AS (
  SELECT day AS game_date FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS day
),
sched AS (
  SELECT game_date, COUNT(*) AS scheduled_games, COUNTIF(game_status = 3) AS final_games
  FROM {nba_schedule}
  WHERE game_date BETWEEN @start_date AND @end_date
  GROUP BY game_date
),
pgs AS (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS expected_players
  FROM {player_game_summary}
  WHERE game_date BETWEEN @start_date AND @end_date
  GROUP BY game_date
),
upcg AS (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS upcg_players
  FROM {upcoming_player_game_context}
  WHERE game_date BETWEEN @start_date AND @end_date
  GROUP BY game_date
),
seasons AS (
  SELECT season_year, MIN(game_date) AS season_start
  FROM {nba_schedule}
  WHERE game_date BETWEEN DATE_SUB(@start_date, INTERVAL 400 DAY) AND @end_date
  GROUP BY season_year
),
season_of AS (
  SELECT days.game_date, MAX(seasons.season_start) AS season_start
  FROM days JOIN seasons ON seasons.season_start <= days.game_date
  GROUP BY days.game_date
)
SELECT
  days.game_date,
  COALESCE(sched.scheduled_games, 0) AS scheduled_games,
  COALESCE(sched.final_games, 0) AS final_games,
  COALESCE(pgs.expected_players, 0) AS expected_players,
  COALESCE(upcg.upcg_players, 0) AS upcg_players,
  season_of.season_start
FROM days
LEFT JOIN sched ON sched.game_date = days.game_date
LEFT JOIN pgs ON pgs.game_date = days.game_date
LEFT JOIN upcg ON upcg.game_date = days.game_date
LEFT JOIN season_of ON season_of.game_date = days.game_date
ORDER BY days.game_date
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

_ZONE_COLUMNS = """
  z.player_lookup IS NOT NULL AS has_shot_zone,
  z.primary_scoring_zone,
  z.paint_rate_last_10,
  z.mid_range_rate_last_10,
  z.three_pt_rate_last_10,
  t.team_abbr IS NOT NULL AS has_team_defense,
  t.paint_defense_vs_league_avg,
  t.mid_range_defense_vs_league_avg,
  t.three_pt_defense_vs_league_avg
"""

# The context of every date in @game_dates (one date or a chunk; @start_date..@end_date bounds
# the scan): one statement per source, every row carries its game_date.
_ZONE_JOINS = """
LEFT JOIN {player_shot_zone_analysis} AS z
  ON z.analysis_date = ctx.game_date AND z.player_lookup = ctx.player_lookup
LEFT JOIN {team_defense_zone_analysis} AS t
  ON t.analysis_date = ctx.game_date AND t.team_abbr = ctx.opponent_team_abbr
"""

_MANY_TYPES = {"game_dates": "ARRAY<DATE>", "start_date": "DATE", "end_date": "DATE"}


def dates_params(dates: list[date]) -> dict[str, Any]:
    """The parameters of a statement over a set of dates: the dates and their bounds."""
    return {"game_dates": sorted(dates), "start_date": min(dates), "end_date": max(dates)}


# UPCG as the context source: one row per player and date (the latest if stale duplicates exist).
CONTEXT_FROM_UPCG = Sql(
    "processing.context_from_upcg",
    """
WITH ctx AS (
  SELECT *
  FROM {upcoming_player_game_context}
  WHERE game_date BETWEEN @start_date AND @end_date AND game_date IN UNNEST(@game_dates)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY game_date, player_lookup ORDER BY processed_at DESC, game_id
  ) = 1
)
SELECT
  ctx.game_date,
  ctx.player_lookup, ctx.universal_player_id, ctx.game_id, ctx.team_abbr, ctx.opponent_team_abbr,
  ctx.days_rest, ctx.back_to_back, ctx.games_in_last_7_days, ctx.minutes_in_last_7_days,
  ctx.avg_minutes_per_game_last_7, ctx.back_to_backs_last_14_days, ctx.player_age,
  ctx.projected_usage_rate, ctx.avg_usage_rate_last_7_games, ctx.star_teammates_out,
  ctx.pace_differential, ctx.opponent_pace_last_10,
"""
    + _ZONE_COLUMNS
    + "FROM ctx"
    + _ZONE_JOINS
    + "ORDER BY ctx.game_date, ctx.player_lookup",
    _MANY_TYPES,
    numeric_as_float=True,  # PlayerContext/ShotZoneProfile/ZoneDefense read them with float()
)

# Context synthesized from PGS for each date D (RULES §2.3): the roster is PGS on D, history is
# D-15..D-1 (D-15 only to see whether a game on D-14 followed a game the day before).
CONTEXT_FROM_PGS = Sql(
    "processing.context_from_pgs",
    """
WITH roster AS (
  SELECT game_date, player_lookup, universal_player_id, game_id, team_abbr, opponent_team_abbr
  FROM {player_game_summary}
  WHERE game_date BETWEEN @start_date AND @end_date AND game_date IN UNNEST(@game_dates)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY game_date, player_lookup ORDER BY game_id) = 1
),
history AS (
  SELECT
    r.game_date AS target_date,
    h.player_lookup,
    h.game_date,
    h.minutes_played,
    DATE_DIFF(
      h.game_date,
      LAG(h.game_date) OVER (
        PARTITION BY r.game_date, h.player_lookup ORDER BY h.game_date
      ),
      DAY
    ) AS gap_days
  FROM {player_game_summary} AS h
  JOIN roster AS r ON r.player_lookup = h.player_lookup
  WHERE h.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 15 DAY)
                        AND DATE_SUB(@end_date, INTERVAL 1 DAY)
    AND h.game_date BETWEEN DATE_SUB(r.game_date, INTERVAL 15 DAY)
                        AND DATE_SUB(r.game_date, INTERVAL 1 DAY)
),
windows AS (
  SELECT
    target_date,
    player_lookup,
    MAX(IF(game_date >= DATE_SUB(target_date, INTERVAL 14 DAY), game_date, NULL)) AS last_game,
    COUNTIF(game_date = DATE_SUB(target_date, INTERVAL 1 DAY)) > 0 AS back_to_back,
    COUNTIF(game_date >= DATE_SUB(target_date, INTERVAL 7 DAY)) AS games_7,
    SUM(IF(game_date >= DATE_SUB(target_date, INTERVAL 7 DAY), minutes_played, NULL))
      AS minutes_7,
    COUNTIF(game_date >= DATE_SUB(target_date, INTERVAL 14 DAY) AND gap_days = 1) AS b2b_14
  FROM history
  GROUP BY target_date, player_lookup
),
usage AS (
  -- ROUND to 9 decimals as per date (NUMERIC on BigQuery, DOUBLE on DuckDB).
  SELECT target_date, player_lookup, ROUND(AVG(usage_rate), 9) AS avg_usage_7
  FROM (
    SELECT r.game_date AS target_date, p.player_lookup, p.usage_rate
    FROM {player_game_summary} AS p
    JOIN roster AS r ON r.player_lookup = p.player_lookup
    WHERE p.game_date BETWEEN DATE_SUB(@start_date, INTERVAL 400 DAY)
                          AND DATE_SUB(@end_date, INTERVAL 1 DAY)
      AND p.game_date BETWEEN DATE_SUB(r.game_date, INTERVAL 400 DAY)
                          AND DATE_SUB(r.game_date, INTERVAL 1 DAY)
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY r.game_date, p.player_lookup ORDER BY p.game_date DESC
    ) <= 7
  )
  GROUP BY target_date, player_lookup
),
ctx AS (
  SELECT
    r.game_date,
    r.player_lookup, r.universal_player_id, r.game_id, r.team_abbr, r.opponent_team_abbr,
    IFNULL(DATE_DIFF(r.game_date, w.last_game, DAY) - 1, 14) AS days_rest,
    IFNULL(w.back_to_back, FALSE) AS back_to_back,
    IFNULL(w.games_7, 0) AS games_in_last_7_days,
    CAST(IFNULL(ROUND(w.minutes_7), 0) AS INT64) AS minutes_in_last_7_days,
    IF(IFNULL(w.games_7, 0) = 0, 0, w.minutes_7 / w.games_7) AS avg_minutes_per_game_last_7,
    IFNULL(w.b2b_14, 0) AS back_to_backs_last_14_days,
    CAST(NULL AS INT64) AS player_age,
    CAST(NULL AS FLOAT64) AS projected_usage_rate,
    u.avg_usage_7 AS avg_usage_rate_last_7_games,
    0 AS star_teammates_out,
    CAST(NULL AS FLOAT64) AS pace_differential,
    CAST(NULL AS FLOAT64) AS opponent_pace_last_10
  FROM roster AS r
  LEFT JOIN windows AS w ON w.target_date = r.game_date AND w.player_lookup = r.player_lookup
  LEFT JOIN usage AS u ON u.target_date = r.game_date AND u.player_lookup = r.player_lookup
)
SELECT ctx.*,
"""
    + _ZONE_COLUMNS
    + "FROM ctx"
    + _ZONE_JOINS
    + "ORDER BY ctx.game_date, ctx.player_lookup",
    _MANY_TYPES,
    numeric_as_float=True,  # PlayerContext/ShotZoneProfile/ZoneDefense read them with float()
)

# The written column list is the schema file's (infra/schemas/player_composite_factors.json): a
# new column is added there once and every statement below follows.
PCF_COLUMNS = get_schema("player_composite_factors").column_names
_PCF_COLUMNS = ", ".join(PCF_COLUMNS)
