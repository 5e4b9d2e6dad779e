"""SQL of the audit and the fenced publish of a chunk of dates: staged rows of one run vs
expected, then live."""

from __future__ import annotations

from shared.sql.ledger import states
from shared.sql.processing import PCF_COLUMNS
from shared.warehouse.base import Sql

_COLUMNS = ", ".join(PCF_COLUMNS)
_UPDATES = ", ".join(f"{c} = S.{c}" for c in PCF_COLUMNS if c not in ("player_lookup", "game_date"))
_VALUES = ", ".join(f"S.{c}" for c in PCF_COLUMNS)


# Every statement covers the dates of @game_dates (one date, or a chunk) in ONE statement.
def _days(alias: str = "") -> str:
    column = f"{alias}.game_date" if alias else "game_date"
    return f"{column} BETWEEN @start_date AND @end_date AND {column} IN UNNEST(@game_dates)"


_DAYS = _days()

# Per date, the runs ordered after this one (@dispatched_at, then run_id) whose ledger state
# (the latest row of the run and date: the ledger is append-only) has checkpointed it, or whose
# rows are live for it right now: the second covers the moment between a newer run's publish
# and its ledger checkpoint, so the guard holds even then. Inside each statement below, so the
# fencing check stays per date and part of the publish (compare-and-set).
_NEWER_RUNS = f"""
live_runs AS (
  SELECT DISTINCT P.game_date, P.run_id FROM {{player_composite_factors}} AS P
  WHERE {_days("P")}
),
other_states AS (
  {states(f"{_DAYS} AND run_id <> @run_id")}
),
newer AS (
  SELECT L.game_date, MAX(L.run_id) AS newer_run_id
  FROM other_states AS L
  LEFT JOIN live_runs AS LR ON LR.game_date = L.game_date AND LR.run_id = L.run_id
  WHERE (L.status IN ('succeeded', 'warned', 'forced') OR LR.run_id IS NOT NULL)
    AND (
      COALESCE(L.dispatched_at, L.created_at) > @dispatched_at
      OR (COALESCE(L.dispatched_at, L.created_at) = @dispatched_at AND L.run_id > @run_id)
    )
  GROUP BY L.game_date
)"""

_MANY_TYPES = {
    "game_dates": "ARRAY<DATE>",
    "start_date": "DATE",
    "end_date": "DATE",
    "run_id": "STRING",
    "dispatched_at": "TIMESTAMP",
}

AUDIT = Sql(
    "coverage.audit",
    f"""
WITH days AS (
  SELECT d AS game_date FROM UNNEST(@game_dates) AS d
),
staged AS (
  SELECT game_date, player_lookup, run_id FROM {{staging}} WHERE {_DAYS}
),
mine AS (
  SELECT DISTINCT game_date, player_lookup FROM staged WHERE run_id = @run_id
),
staged_n AS (
  SELECT game_date,
    COUNTIF(run_id = @run_id) AS staged_rows,
    COUNTIF(run_id IS NULL OR run_id <> @run_id) AS foreign_rows
  FROM staged GROUP BY game_date
),
mine_n AS (
  SELECT game_date, COUNT(*) AS actual_players FROM mine GROUP BY game_date
),
pgs AS (
  SELECT DISTINCT game_date, player_lookup FROM {{player_game_summary}} WHERE {_DAYS}
),
upcg AS (
  SELECT DISTINCT game_date, player_lookup FROM {{upcoming_player_game_context}} WHERE {_DAYS}
),
pgs_n AS (
  SELECT pgs.game_date, COUNT(*) AS pgs_players, COUNTIF(mine.player_lookup IS NULL) AS pgs_missing
  FROM pgs LEFT JOIN mine
    ON mine.game_date = pgs.game_date AND mine.player_lookup = pgs.player_lookup
  GROUP BY pgs.game_date
),
upcg_n AS (
  SELECT upcg.game_date, COUNT(*) AS upcg_players,
    COUNTIF(mine.player_lookup IS NULL) AS upcg_missing
  FROM upcg LEFT JOIN mine
    ON mine.game_date = upcg.game_date AND mine.player_lookup = upcg.player_lookup
  GROUP BY upcg.game_date
),
sched AS (
  SELECT game_date, COUNTIF(game_status = 3) AS final_games FROM {{nba_schedule}}
  WHERE {_DAYS} GROUP BY game_date
),
{_NEWER_RUNS}
SELECT
  days.game_date,
  COALESCE(mine_n.actual_players, 0) AS actual_players,
  COALESCE(staged_n.staged_rows, 0) AS staged_rows,
  COALESCE(staged_n.foreign_rows, 0) AS foreign_rows,
  COALESCE(pgs_n.pgs_players, 0) AS pgs_players,
  COALESCE(upcg_n.upcg_players, 0) AS upcg_players,
  COALESCE(pgs_n.pgs_missing, 0) AS pgs_missing,
  COALESCE(upcg_n.upcg_missing, 0) AS upcg_missing,
  COALESCE(sched.final_games, 0) AS final_games,
  newer.newer_run_id
FROM days
LEFT JOIN staged_n ON staged_n.game_date = days.game_date
LEFT JOIN mine_n ON mine_n.game_date = days.game_date
LEFT JOIN pgs_n ON pgs_n.game_date = days.game_date
LEFT JOIN upcg_n ON upcg_n.game_date = days.game_date
LEFT JOIN sched ON sched.game_date = days.game_date
LEFT JOIN newer ON newer.game_date = days.game_date
ORDER BY days.game_date
""",
    _MANY_TYPES,
)

# ONE statement replaces the live partitions of every date of @game_dates (the dates whose audit
# passed) with this run's staged rows, except the dates a newer run owns (fenced: their staged
# rows and drop markers are left out, so nothing of theirs changes).
PUBLISH = Sql(
    "coverage.publish",
    f"""
MERGE {{player_composite_factors}} AS T
USING (
  WITH days AS (
    SELECT d AS game_date FROM UNNEST(@game_dates) AS d
  ),
  {_NEWER_RUNS.strip()},
  allowed AS (
    SELECT days.game_date FROM days
    LEFT JOIN newer ON newer.game_date = days.game_date
    WHERE newer.game_date IS NULL
  ),
  staged AS (
    SELECT {", ".join(f"st.{c}" for c in PCF_COLUMNS)}
    FROM {{staging}} AS st JOIN allowed ON allowed.game_date = st.game_date
    WHERE {_days("st")} AND st.run_id = @run_id
  )
  SELECT staged.*, FALSE AS pcf_drop
  FROM staged
  UNION ALL
  SELECT {", ".join(f"live.{c}" for c in PCF_COLUMNS)}, TRUE AS pcf_drop
  FROM {{player_composite_factors}} AS live
  JOIN allowed ON allowed.game_date = live.game_date
  LEFT JOIN staged AS kept
    ON kept.game_date = live.game_date AND kept.player_lookup = live.player_lookup
  WHERE {_days("live")} AND kept.player_lookup IS NULL
) AS S
ON T.game_date BETWEEN @start_date AND @end_date
   AND T.game_date = S.game_date AND T.player_lookup = S.player_lookup
WHEN MATCHED AND S.pcf_drop THEN DELETE
WHEN MATCHED THEN UPDATE SET {_UPDATES}
WHEN NOT MATCHED AND NOT S.pcf_drop THEN INSERT ({_COLUMNS}) VALUES ({_VALUES})
""",
    _MANY_TYPES,
)

# After the publish, per date: does the live partition hold exactly what this run staged, and
# does a newer run own the date now (then this run was fenced)?
VERIFY = Sql(
    "coverage.verify",
    f"""
WITH days AS (
  SELECT d AS game_date FROM UNNEST(@game_dates) AS d
),
staged AS (
  SELECT game_date, player_lookup, data_hash FROM {{staging}}
  WHERE {_DAYS} AND run_id = @run_id
),
live AS (
  SELECT game_date, player_lookup, data_hash, run_id FROM {{player_composite_factors}}
  WHERE {_DAYS}
),
staged_n AS (SELECT game_date, COUNT(*) AS n FROM staged GROUP BY game_date),
live_n AS (SELECT game_date, COUNT(*) AS n FROM live GROUP BY game_date),
matching_n AS (
  SELECT live.game_date, COUNT(*) AS n
  FROM live JOIN staged
    ON live.game_date = staged.game_date AND live.player_lookup = staged.player_lookup
   AND live.data_hash = staged.data_hash
  WHERE live.run_id = @run_id
  GROUP BY live.game_date
),
{_NEWER_RUNS}
SELECT
  days.game_date,
  COALESCE(staged_n.n, 0) AS staged_rows,
  COALESCE(live_n.n, 0) AS live_rows,
  COALESCE(matching_n.n, 0) AS matching_rows,
  newer.newer_run_id
FROM days
LEFT JOIN staged_n ON staged_n.game_date = days.game_date
LEFT JOIN live_n ON live_n.game_date = days.game_date
LEFT JOIN matching_n ON matching_n.game_date = days.game_date
LEFT JOIN newer ON newer.game_date = days.game_date
ORDER BY days.game_date
""",
    _MANY_TYPES,
)
