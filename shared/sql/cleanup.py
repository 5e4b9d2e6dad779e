"""SQL of the TTL cleanup of the upcoming_* tables (RULES §5).

``{target}`` is the (allow-listed, validated) table being cleaned, ``{backup}`` the backup table
made for this run; every value is a typed ``@parameter``. Stale means ``game_date < @cutoff``.
"""

from __future__ import annotations

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

# The delete itself: a partition-column predicate, so BigQuery drops whole partitions.
DELETE_STALE = Sql(
    "cleanup.delete_stale",
    """
DELETE FROM {target}
WHERE game_date < @cutoff
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
