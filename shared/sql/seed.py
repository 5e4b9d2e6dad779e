"""SQL used by ``pcf seed``: empty an input table and inject the incident (stale UPCG)."""

from __future__ import annotations

from shared.warehouse.base import Sql

# Seeding replaces a whole input table (BigQuery DML needs a WHERE clause).
EMPTY_TABLE = Sql("seed.empty_table", "DELETE FROM {target} WHERE TRUE")

# Keep only the first @keep UPCG players (by player_lookup) on @game_date: the incident's
# "1 of 187" staging table, reproduced exactly.
KEEP_FIRST_UPCG = Sql(
    "seed.keep_first_upcg",
    """
DELETE FROM {upcoming_player_game_context}
WHERE game_date = @game_date
  AND player_lookup NOT IN (
    SELECT player_lookup FROM (
      SELECT player_lookup, ROW_NUMBER() OVER (ORDER BY player_lookup) AS rn
      FROM (
        SELECT DISTINCT player_lookup
        FROM {upcoming_player_game_context}
        WHERE game_date = @game_date
      )
    )
    WHERE rn <= @keep
  )
""",
    {"game_date": "DATE", "keep": "INT64"},
)

UPCG_PLAYERS_ON = Sql(
    "seed.upcg_players_on",
    """
SELECT COUNT(DISTINCT player_lookup) AS players
FROM {upcoming_player_game_context}
WHERE game_date = @game_date
""",
    {"game_date": "DATE"},
)
