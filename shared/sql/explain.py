"""Read-only SQL behind ``pcf explain`` and the report: a date's history and its players."""

from __future__ import annotations

from shared.sql.ledger import STATE_ORDER, STEP_RANK, states
from shared.warehouse.base import Sql

# The state of every run of each date of a range (one row per run and date), runs in the order
# they were dispatched.
HISTORY = Sql(
    "explain.history",
    f"""
WITH state AS (
  {states("game_date BETWEEN @start_date AND @end_date")}
)
SELECT *
FROM state
ORDER BY game_date, COALESCE(dispatched_at, created_at), created_at, run_id
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# Every step of every run of a date range (the append-only ledger's rows), runs in the order
# HISTORY lists them (by their state's dispatch time), each run's steps oldest first: how each
# run got to its state. ``run_order`` is that dispatch time.
STEPS = Sql(
    "explain.steps",
    f"""
WITH steps AS (
  SELECT *,
    FIRST_VALUE(COALESCE(dispatched_at, created_at)) OVER (
      PARTITION BY run_id, game_date ORDER BY {STATE_ORDER}
    ) AS run_order
  FROM {{backfill_ledger}}
  WHERE game_date BETWEEN @start_date AND @end_date
)
SELECT *
FROM steps
ORDER BY game_date, run_order, run_id, updated_at, {STEP_RANK}, attempts
""",
    {"start_date": "DATE", "end_date": "DATE"},
)


# Scheduled games per date (a date without games is an off-day, not a date never run).
GAMES_BY_DATE = Sql(
    "explain.games_by_date",
    """
SELECT game_date, COUNT(DISTINCT game_id) AS games
FROM {nba_schedule}
WHERE game_date BETWEEN @start_date AND @end_date
GROUP BY game_date
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# Players expected (PGS) and players in the live table, per date.
PLAYERS_BY_DATE = Sql(
    "explain.players_by_date",
    """
SELECT d.game_date,
       d.expected_players,
       COALESCE(l.live_players, 0) AS live_players
FROM (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS expected_players
  FROM {player_game_summary}
  WHERE game_date BETWEEN @start_date AND @end_date
  GROUP BY game_date
) AS d
LEFT JOIN (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS live_players
  FROM {player_composite_factors}
  WHERE game_date BETWEEN @start_date AND @end_date
  GROUP BY game_date
) AS l ON l.game_date = d.game_date
ORDER BY d.game_date
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# Live rows of a date by the run and source that wrote them.
LIVE_BY_RUN = Sql(
    "explain.live_by_run",
    """
SELECT run_id, data_source, COUNT(DISTINCT player_lookup) AS players
FROM {player_composite_factors}
WHERE game_date = @game_date
GROUP BY run_id, data_source
ORDER BY run_id, data_source
""",
    {"game_date": "DATE"},
)


def _missing_from(table: str) -> str:
    """Players expected (PGS) on @game_date but absent from ``table`` (a placeholder)."""
    return f"""
SELECT p.player_lookup, ANY_VALUE(p.player_full_name) AS player_full_name,
       ANY_VALUE(p.team_abbr) AS team_abbr
FROM {{player_game_summary}} AS p
WHERE p.game_date = @game_date
  AND p.player_lookup NOT IN (
    SELECT f.player_lookup FROM {{{table}}} AS f
    WHERE f.game_date = @game_date AND f.player_lookup IS NOT NULL
  )
GROUP BY p.player_lookup
ORDER BY team_abbr, p.player_lookup
"""


# Players expected (PGS) on a date but absent from the live table.
MISSING_LIVE = Sql(
    "explain.missing_live", _missing_from("player_composite_factors"), {"game_date": "DATE"}
)

# Players expected (PGS) on a date but absent from a run's staging table ({staging}).
MISSING_STAGED = Sql("explain.missing_staged", _missing_from("staging"), {"game_date": "DATE"})
