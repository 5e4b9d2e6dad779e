"""SQL of coverage validation: what is actually in the output vs what was expected."""

from __future__ import annotations

from shared.warehouse.base import Sql

COUNTS = Sql(
    "coverage.counts",
    """
SELECT
  (SELECT COUNT(DISTINCT player_lookup) FROM {player_composite_factors}
   WHERE game_date = @game_date) AS actual_players,
  (SELECT COUNT(DISTINCT player_lookup) FROM {player_game_summary}
   WHERE game_date = @game_date) AS pgs_players,
  (SELECT COUNT(DISTINCT player_lookup) FROM {upcoming_player_game_context}
   WHERE game_date = @game_date) AS upcg_players
""",
    {"game_date": "DATE"},
)
