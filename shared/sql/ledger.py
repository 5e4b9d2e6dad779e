"""SQL of the backfill ledger (nba_orchestration.backfill_ledger)."""

from __future__ import annotations

from shared.warehouse.base import Sql

_TYPES = {
    "run_id": "STRING",
    "game_date": "DATE",
    "status": "STRING",
    "mode": "STRING",
    "expected_players": "INT64",
    "upcg_players": "INT64",
    "actual_players": "INT64",
    "coverage_pct": "NUMERIC",
    "data_source": "STRING",
    "forced": "BOOL",
    "force_reason": "STRING",
    "requested_by": "STRING",
    "attempt_increment": "INT64",
    "last_message_id": "STRING",
    "error": "STRING",
    "source_reason": "STRING",
    "missing_players": "INT64",
    "dispatched_at": "TIMESTAMP",
    "staging_table": "STRING",
    "calculation_version": "STRING",
}

# Upsert one (run_id, game_date) row. Counts and audit fields only ever fill in (COALESCE),
# status and error always reflect the latest step, attempts add up deliveries.
UPSERT = Sql(
    "ledger.upsert",
    """
MERGE {backfill_ledger} AS T
USING (SELECT @run_id AS run_id, @game_date AS game_date) AS S
ON T.game_date = @game_date AND T.game_date = S.game_date AND T.run_id = S.run_id
WHEN MATCHED THEN UPDATE SET
  status = @status,
  mode = COALESCE(@mode, T.mode),
  expected_players = COALESCE(@expected_players, T.expected_players),
  upcg_players = COALESCE(@upcg_players, T.upcg_players),
  actual_players = COALESCE(@actual_players, T.actual_players),
  coverage_pct = COALESCE(@coverage_pct, T.coverage_pct),
  data_source = COALESCE(@data_source, T.data_source),
  forced = COALESCE(@forced, T.forced),
  force_reason = COALESCE(@force_reason, T.force_reason),
  requested_by = COALESCE(@requested_by, T.requested_by),
  attempts = COALESCE(T.attempts, 0) + @attempt_increment,
  last_message_id = COALESCE(@last_message_id, T.last_message_id),
  error = @error,
  source_reason = COALESCE(@source_reason, T.source_reason),
  missing_players = COALESCE(@missing_players, T.missing_players),
  dispatched_at = COALESCE(T.dispatched_at, @dispatched_at),
  staging_table = COALESCE(@staging_table, T.staging_table),
  calculation_version = COALESCE(@calculation_version, T.calculation_version),
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  run_id, game_date, status, mode, expected_players, upcg_players, actual_players, coverage_pct,
  data_source, forced, force_reason, requested_by, attempts, last_message_id, error,
  source_reason, missing_players, dispatched_at, staging_table,
  calculation_version, created_at, updated_at
) VALUES (
  @run_id, @game_date, @status, @mode, @expected_players, @upcg_players, @actual_players,
  @coverage_pct, @data_source, IFNULL(@forced, FALSE), @force_reason, @requested_by,
  @attempt_increment, @last_message_id, @error,
  @source_reason, @missing_players, @dispatched_at, @staging_table, @calculation_version,
  CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP()
)
""",
    _TYPES,
)

# Upsert many (run_id, game_date) rows in ONE statement (a chunk's step): the same rules as
# UPSERT, the values come from staged rows shaped like the ledger, whose ``attempts`` column
# carries the increment. One mutating DML on the ledger per chunk step, however many dates.
UPSERT_MANY = Sql(
    "ledger.upsert_many",
    """
MERGE {backfill_ledger} AS T
USING {staging} AS S
ON T.game_date BETWEEN @start_date AND @end_date
   AND T.game_date = S.game_date AND T.run_id = S.run_id
WHEN MATCHED THEN UPDATE SET
  status = S.status,
  mode = COALESCE(S.mode, T.mode),
  expected_players = COALESCE(S.expected_players, T.expected_players),
  upcg_players = COALESCE(S.upcg_players, T.upcg_players),
  actual_players = COALESCE(S.actual_players, T.actual_players),
  coverage_pct = COALESCE(S.coverage_pct, T.coverage_pct),
  data_source = COALESCE(S.data_source, T.data_source),
  forced = COALESCE(S.forced, T.forced),
  force_reason = COALESCE(S.force_reason, T.force_reason),
  requested_by = COALESCE(S.requested_by, T.requested_by),
  attempts = COALESCE(T.attempts, 0) + COALESCE(S.attempts, 0),
  last_message_id = COALESCE(S.last_message_id, T.last_message_id),
  error = S.error,
  source_reason = COALESCE(S.source_reason, T.source_reason),
  missing_players = COALESCE(S.missing_players, T.missing_players),
  dispatched_at = COALESCE(T.dispatched_at, S.dispatched_at),
  staging_table = COALESCE(S.staging_table, T.staging_table),
  calculation_version = COALESCE(S.calculation_version, T.calculation_version),
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  run_id, game_date, status, mode, expected_players, upcg_players, actual_players, coverage_pct,
  data_source, forced, force_reason, requested_by, attempts, last_message_id, error,
  source_reason, missing_players, dispatched_at, staging_table,
  calculation_version, created_at, updated_at
) VALUES (
  S.run_id, S.game_date, S.status, S.mode, S.expected_players, S.upcg_players, S.actual_players,
  S.coverage_pct, S.data_source, IFNULL(S.forced, FALSE), S.force_reason, S.requested_by,
  COALESCE(S.attempts, 0), S.last_message_id, S.error,
  S.source_reason, S.missing_players, S.dispatched_at, S.staging_table, S.calculation_version,
  CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP()
)
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# Queue many dates of one run at once (dispatch): insert the staged rows that are new.
QUEUE_MANY = Sql(
    "ledger.queue_many",
    """
MERGE {backfill_ledger} AS T
USING {staging} AS S
ON T.game_date BETWEEN @start_date AND @end_date
   AND T.game_date = S.game_date AND T.run_id = S.run_id
WHEN NOT MATCHED THEN INSERT (
  run_id, game_date, status, mode, expected_players, upcg_players, actual_players, coverage_pct,
  data_source, forced, force_reason, requested_by, attempts, last_message_id, error,
  dispatched_at, calculation_version, created_at, updated_at
) VALUES (
  S.run_id, S.game_date, S.status, S.mode, S.expected_players, S.upcg_players, S.actual_players,
  S.coverage_pct, S.data_source, S.forced, S.force_reason, S.requested_by, S.attempts,
  S.last_message_id, S.error, S.dispatched_at, S.calculation_version, S.created_at, S.updated_at
)
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# The latest ledger row per date in a range (any run), optionally one run only. "Latest" is
# the run dispatched last (the fencing order), so a stale run's late message cannot make its row
# the date's state; a `superseded` row only counts when nothing else exists.
LATEST_BY_DATE = Sql(
    "ledger.latest_by_date",
    """
SELECT *
FROM {backfill_ledger}
WHERE game_date BETWEEN @start_date AND @end_date
  AND (@run_id IS NULL OR run_id = @run_id)
  AND (@calculation_version IS NULL OR calculation_version = @calculation_version)
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_date
  ORDER BY IF(status = 'superseded', 1, 0), COALESCE(dispatched_at, created_at) DESC,
           updated_at DESC, run_id DESC
) = 1
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE", "run_id": "STRING", "calculation_version": "STRING"},
)

# Every ledger row of one run (pcf status --run).
RUN_ROWS = Sql(
    "ledger.run_rows",
    """
SELECT *
FROM {backfill_ledger}
WHERE game_date BETWEEN @start_date AND @end_date AND run_id = @run_id
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE", "run_id": "STRING"},
)

# The dead-letter consumer: mark the run's dates (one, or a chunk) `failed` unless they already
# ended well (a copy of the message that succeeded must not be overwritten by the one that was
# dead-lettered). One statement for the whole chunk.
MARK_DEAD_LETTERED = Sql(
    "ledger.mark_dead_lettered",
    """
MERGE {backfill_ledger} AS T
USING (SELECT @run_id AS run_id, d AS game_date FROM UNNEST(@game_dates) AS d) AS S
ON T.game_date BETWEEN @start_date AND @end_date
   AND T.game_date = S.game_date AND T.run_id = S.run_id
WHEN MATCHED AND T.status NOT IN (
  'succeeded', 'warned', 'forced', 'superseded', 'skipped_no_games', 'skipped_bootstrap'
) THEN UPDATE SET
  status = 'failed',
  error = @error,
  last_message_id = COALESCE(@last_message_id, T.last_message_id),
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  run_id, game_date, status, mode, forced, requested_by, attempts, last_message_id, error,
  dispatched_at, calculation_version, created_at, updated_at
) VALUES (
  S.run_id, S.game_date, 'failed', @mode, FALSE, @requested_by, @attempts, @last_message_id,
  @error, @dispatched_at, @calculation_version, CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP()
)
""",
    {
        "run_id": "STRING",
        "game_dates": "ARRAY<DATE>",
        "start_date": "DATE",
        "end_date": "DATE",
        "error": "STRING",
        "last_message_id": "STRING",
        "mode": "STRING",
        "requested_by": "STRING",
        "attempts": "INT64",
        "dispatched_at": "TIMESTAMP",
        "calculation_version": "STRING",
    },
)
