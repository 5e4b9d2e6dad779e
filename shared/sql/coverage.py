"""SQL of the audit and the fenced publish: staged rows of one run vs expected, then live."""

from __future__ import annotations

from shared.sql.processing import PCF_COLUMNS
from shared.warehouse.base import Sql

_COLUMNS = ", ".join(PCF_COLUMNS)
_UPDATES = ", ".join(f"{c} = S.{c}" for c in PCF_COLUMNS if c not in ("player_lookup", "game_date"))
_VALUES = ", ".join(f"S.{c}" for c in PCF_COLUMNS)

# Runs ordered after this one (@dispatched_at, then run_id) that have checkpointed D, or whose
# rows are live for D right now: the second covers the moment between a newer run's publish and
# its ledger checkpoint, so the guard holds even then. Used inside each statement below.
_NEWER_RUNS = """
SELECT L.run_id
FROM {backfill_ledger} AS L
WHERE L.game_date = @game_date
  AND L.run_id <> @run_id
  AND (
    L.status IN ('succeeded', 'warned', 'forced')
    OR L.run_id IN (
      SELECT P.run_id FROM {player_composite_factors} AS P WHERE P.game_date = @game_date
    )
  )
  AND (
    COALESCE(L.dispatched_at, L.created_at) > @dispatched_at
    OR (COALESCE(L.dispatched_at, L.created_at) = @dispatched_at AND L.run_id > @run_id)
  )
"""

_RUN_TYPES = {
    "game_date": "DATE",
    "run_id": "STRING",
    "dispatched_at": "TIMESTAMP",
}

# The audit of one run's staged rows (one round trip): what was staged (and by whom), what was
# expected, who is missing, whether D had final games, and whether a newer run owns D.
AUDIT = Sql(
    "coverage.audit",
    """
WITH staged AS (
  SELECT player_lookup, run_id FROM {staging} WHERE game_date = @game_date
),
mine AS (
  SELECT DISTINCT player_lookup FROM staged WHERE run_id = @run_id
),
pgs AS (
  SELECT DISTINCT player_lookup FROM {player_game_summary} WHERE game_date = @game_date
),
upcg AS (
  SELECT DISTINCT player_lookup FROM {upcoming_player_game_context} WHERE game_date = @game_date
),
newer AS ("""
    + _NEWER_RUNS
    + """)
SELECT
  (SELECT COUNT(*) FROM mine) AS actual_players,
  (SELECT COUNT(*) FROM staged WHERE run_id = @run_id) AS staged_rows,
  (SELECT COUNT(*) FROM staged WHERE run_id IS NULL OR run_id <> @run_id) AS foreign_rows,
  (SELECT COUNT(*) FROM pgs) AS pgs_players,
  (SELECT COUNT(*) FROM upcg) AS upcg_players,
  (SELECT COUNT(*) FROM pgs
   WHERE player_lookup NOT IN (SELECT player_lookup FROM mine)) AS pgs_missing,
  (SELECT COUNT(*) FROM upcg
   WHERE player_lookup NOT IN (SELECT player_lookup FROM mine)) AS upcg_missing,
  (SELECT COUNTIF(game_status = 3) FROM {nba_schedule}
   WHERE game_date = @game_date) AS final_games,
  (SELECT MAX(run_id) FROM newer) AS newer_run_id
""",
    _RUN_TYPES,
)

# The publish: ONE statement replaces D's live partition with this run's staged rows, and only
# if no newer run owns D (compare-and-set inside the statement; a read then a write could
# interleave with the newer run's publish). The source is the staged rows plus a "drop" marker
# for every live row of D that is not staged; both are empty when fenced, so nothing changes
# and 0 rows are affected. (A guarded WHEN NOT MATCHED BY SOURCE would need a subquery in a
# WHEN condition; markers keep the guard in one place, on BigQuery and DuckDB alike.)
PUBLISH = Sql(
    "coverage.publish",
    f"""
MERGE {{player_composite_factors}} AS T
USING (
  WITH allowed AS (
    SELECT COUNT(*) = 0 AS ok FROM ({_NEWER_RUNS})
  ),
  staged AS (
    SELECT {_COLUMNS} FROM {{staging}} WHERE game_date = @game_date AND run_id = @run_id
  )
  SELECT staged.*, FALSE AS pcf_drop
  FROM staged CROSS JOIN allowed
  WHERE allowed.ok
  UNION ALL
  SELECT {", ".join(f"live.{c}" for c in PCF_COLUMNS)}, TRUE AS pcf_drop
  FROM {{player_composite_factors}} AS live CROSS JOIN allowed
  WHERE allowed.ok
    AND live.game_date = @game_date
    AND live.player_lookup NOT IN (SELECT player_lookup FROM staged)
) AS S
ON T.game_date = @game_date AND T.game_date = S.game_date AND T.player_lookup = S.player_lookup
WHEN MATCHED AND S.pcf_drop THEN DELETE
WHEN MATCHED THEN UPDATE SET {_UPDATES}
WHEN NOT MATCHED AND NOT S.pcf_drop THEN INSERT ({_COLUMNS}) VALUES ({_VALUES})
""",
    _RUN_TYPES,
)

# After the publish: does the live partition hold exactly what this run staged (same players,
# same data_hash, this run's id)? And does a newer run own D now (then this run was fenced)?
VERIFY = Sql(
    "coverage.verify",
    """
WITH staged AS (
  SELECT player_lookup, data_hash FROM {staging} WHERE game_date = @game_date AND run_id = @run_id
),
live AS (
  SELECT player_lookup, data_hash, run_id FROM {player_composite_factors}
  WHERE game_date = @game_date
),
newer AS ("""
    + _NEWER_RUNS
    + """)
SELECT
  (SELECT COUNT(*) FROM staged) AS staged_rows,
  (SELECT COUNT(*) FROM live) AS live_rows,
  (SELECT COUNT(*) FROM live JOIN staged
     ON live.player_lookup = staged.player_lookup AND live.data_hash = staged.data_hash
   WHERE live.run_id = @run_id) AS matching_rows,
  (SELECT MAX(run_id) FROM newer) AS newer_run_id
""",
    _RUN_TYPES,
)
