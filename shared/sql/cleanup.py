"""SQL of the TTL cleanup of the upcoming_* tables and its restore (RULES §5).

``{target}`` is the (allow-listed, validated) table being cleaned, ``{backup}`` the backup table
made for this run; every value is a typed ``@parameter``. Stale means ``game_date < @cutoff``.

Rows have no id, so "the rows the backup holds" means rows equal on every column (NULL equal to
NULL). The three statements that match rows are built per table from its schema's column names
(``delete_backed_up``, ``backup_rows_missing``, ``restore_missing``); the column names come from
infra/schemas and are checked as identifiers before they reach the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.config import validate_identifier
from shared.warehouse.base import Sql

_CUTOFF = {"cutoff": "DATE"}

# Everything the decision needs, in one round trip: the stale side (rows, dates, range) and the
# side that must survive (rows at or after the cutoff). This is the one query that reads every
# partition on purpose — the runaway guard needs the table's total — but it reads only the
# game_date column, so it costs a few bytes a row. Also run after the DELETE to verify both sides.
TABLE_STATS = Sql(
    "cleanup.table_stats",
    """
SELECT
  COUNTIF(game_date < @cutoff) AS stale_rows,
  COUNT(DISTINCT IF(game_date < @cutoff, game_date, NULL)) AS stale_dates,
  MIN(IF(game_date < @cutoff, game_date, NULL)) AS min_stale_date,
  MAX(IF(game_date < @cutoff, game_date, NULL)) AS max_stale_date,
  COUNTIF(game_date >= @cutoff) AS kept_rows
FROM {target}
WHERE game_date IS NOT NULL
""",
    _CUTOFF,
)

# The rows the backup must hold: exactly the stale rows, every column (a restore is a plain
# INSERT … SELECT * back into the source table). Used as the SELECT of a CREATE TABLE … AS.
STALE_ROWS = Sql(
    "cleanup.stale_rows",
    """
SELECT *
FROM {target}
WHERE game_date < @cutoff
""",
    _CUTOFF,
)

# Verify the backup. The backup table is an unpartitioned CTAS of the stale rows, so there is no
# partition to prune: count all of it, so that rows that should not be there are caught too.
BACKUP_STATS = Sql(
    "cleanup.backup_stats",
    """
SELECT
  COUNT(*) AS backup_rows,
  COUNTIF(game_date < @cutoff) AS backup_stale_rows
FROM {backup}
""",
    _CUTOFF,
)

# The cleanup_runs rows of one run (the CLI and tests read back what was recorded).
RUN_ROWS = Sql(
    "cleanup.run_rows",
    """
SELECT *
FROM {cleanup_runs}
WHERE run_date = @run_date AND cleanup_id = @cleanup_id
ORDER BY table_name
""",
    {"run_date": "DATE", "cleanup_id": "STRING"},
)

# Every cleanup_runs row of one cleanup (restore, list); the log is small, so no partition filter.
RUNS_OF_CLEANUP = Sql(
    "cleanup.runs_of_cleanup",
    """
SELECT *
FROM {cleanup_runs}
WHERE run_date IS NOT NULL AND cleanup_id = @cleanup_id
ORDER BY table_name
""",
    {"cleanup_id": "STRING"},
)

# Runs started since @since, newest first (`pcf cleanup list`). By started_at, not run_date: a
# replay (`--today 2023-03-05`) is recent even though its run date is not. The log is small.
RECENT_RUNS = Sql(
    "cleanup.recent_runs",
    """
SELECT *
FROM {cleanup_runs}
WHERE run_date IS NOT NULL AND started_at >= @since
ORDER BY started_at DESC, table_name
LIMIT @max_rows
""",
    {"since": "TIMESTAMP", "max_rows": "INT64"},
)

# `started` rows of a table whose run began before @older_than: runs that stopped between two
# statements (a crash, a timeout) and must be reconciled.
STALE_STARTED_RUNS = Sql(
    "cleanup.stale_started_runs",
    """
SELECT *
FROM {cleanup_runs}
WHERE run_date IS NOT NULL
  AND table_name = @table_name
  AND status = 'started'
  AND started_at < @older_than
ORDER BY started_at
""",
    {"table_name": "STRING", "older_than": "TIMESTAMP"},
)

_RUN_TYPES = {
    "run_date": "DATE",
    "cleanup_id": "STRING",
    "table_name": "STRING",
    "status": "STRING",
    "stale_rows": "INT64",
    "stale_dates": "INT64",
    "min_stale_date": "DATE",
    "max_stale_date": "DATE",
    "rows_before": "INT64",
    "rows_after": "INT64",
    "backup_rows": "INT64",
    "deleted_rows": "INT64",
    "detail": "STRING",
    "finished_at": "TIMESTAMP",
}

# Complete the `started` row of a run (intent first, outcome after): only a row still `started`
# changes, so a run reconciled meanwhile by another run is never overwritten.
COMPLETE_RUN = Sql(
    "cleanup.complete_run",
    """
UPDATE {cleanup_runs}
SET status = @status,
    stale_rows = @stale_rows,
    stale_dates = @stale_dates,
    min_stale_date = @min_stale_date,
    max_stale_date = @max_stale_date,
    rows_before = @rows_before,
    rows_after = @rows_after,
    backup_rows = @backup_rows,
    deleted_rows = @deleted_rows,
    detail = @detail,
    finished_at = @finished_at
WHERE run_date = @run_date
  AND cleanup_id = @cleanup_id
  AND table_name = @table_name
  AND status = 'started'
""",
    _RUN_TYPES,
)

_LEASE_TYPES = {
    "table_name": "STRING",
    "holder": "STRING",
    "now": "TIMESTAMP",
    "expires_at": "TIMESTAMP",
}

# Take the table's lease in one statement (compare-and-set): insert it when there is none,
# take it over when it has expired, leave it alone otherwise. Whoever holds it afterwards
# (LEASE_HOLDER) owns the table until it releases the lease or the lease expires.
TAKE_LEASE = Sql(
    "cleanup.take_lease",
    """
MERGE {cleanup_leases} AS L
USING (SELECT @table_name AS table_name) AS S
ON L.table_name = S.table_name
WHEN MATCHED AND L.expires_at <= @now THEN UPDATE SET
  holder = @holder,
  acquired_at = @now,
  expires_at = @expires_at
WHEN NOT MATCHED THEN INSERT (table_name, holder, acquired_at, expires_at)
VALUES (@table_name, @holder, @now, @expires_at)
""",
    _LEASE_TYPES,
)

LEASE_HOLDER = Sql(
    "cleanup.lease_holder",
    """
SELECT holder, acquired_at, expires_at
FROM {cleanup_leases}
WHERE table_name = @table_name
""",
    {"table_name": "STRING"},
)

# Release only our own lease (an expired one taken over by another run stays theirs).
RELEASE_LEASE = Sql(
    "cleanup.release_lease",
    """
DELETE FROM {cleanup_leases}
WHERE table_name = @table_name AND holder = @holder
""",
    {"table_name": "STRING", "holder": "STRING"},
)


# -- row matching, built per table from its columns -------------------------------------------


def _columns(columns: Sequence[str]) -> list[str]:
    cols = [validate_identifier(c, "column name") for c in columns]
    if "game_date" not in cols:
        raise ValueError("the cleanup only handles tables with a game_date column")
    return cols


def _same_row(left: str, right: str, columns: Sequence[str]) -> str:
    """Equal on every column, NULL equal to NULL (game_date first: a plain equality to join on)."""
    rest = [c for c in columns if c != "game_date"]
    terms = [f"{left}.game_date = {right}.game_date"]
    terms += [f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in rest]
    return "\n    AND ".join(terms)


def delete_backed_up(table: str, columns: Sequence[str]) -> Sql:
    """DELETE the stale rows of ``{target}`` that ``{backup}`` holds (a later row survives)."""
    cols = _columns(columns)
    return Sql(
        f"cleanup.delete_backed_up.{validate_identifier(table)}",
        f"""
DELETE FROM {{target}} AS T
WHERE T.game_date < @cutoff
  AND EXISTS (
    SELECT 1 FROM {{backup}} AS B
    WHERE {_same_row("B", "T", cols)}
  )
""",
        _CUTOFF,
    )


def _numbered(columns: Sequence[str]) -> str:
    """The backup and the table's stale rows, each row numbered among its identical twins."""
    cols = ", ".join(columns)
    return f"""
WITH B AS (
  SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {cols}) AS pcf_n
  FROM {{backup}}
),
T AS (
  SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {cols}) AS pcf_n
  FROM {{target}}
  WHERE game_date < @cutoff
)"""


def backup_rows_missing(table: str, columns: Sequence[str]) -> Sql:
    """COUNT the backup's rows (as a multiset) that are not in ``{target}``."""
    cols = _columns(columns)
    return Sql(
        f"cleanup.backup_rows_missing.{validate_identifier(table)}",
        f"""{_numbered(cols)}
SELECT COUNT(*) AS missing_rows
FROM B
LEFT JOIN T
  ON T.pcf_n = B.pcf_n
    AND {_same_row("T", "B", cols)}
WHERE T.pcf_n IS NULL
""",
        _CUTOFF,
    )


def restore_missing(table: str, columns: Sequence[str]) -> Sql:
    """INSERT the backup's rows that are not in ``{target}`` (twins counted): idempotent."""
    cols = _columns(columns)
    return Sql(
        f"cleanup.restore_missing.{validate_identifier(table)}",
        f"""
INSERT INTO {{target}} ({", ".join(cols)}){_numbered(cols)}
SELECT {", ".join(f"B.{c}" for c in cols)}
FROM B
LEFT JOIN T
  ON T.pcf_n = B.pcf_n
    AND {_same_row("T", "B", cols)}
WHERE T.pcf_n IS NULL
""",
        _CUTOFF,
    )
