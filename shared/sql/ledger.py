"""SQL of the backfill ledger (nba_orchestration.backfill_ledger).

The ledger is append-only: every step of a (run_id, game_date) key is a new row carrying the
key's FULL state (the step's values folded onto the key's previous state), so every write is
one INSERT (never a mutating UPDATE/DELETE/MERGE: BigQuery runs at most 2 of those per table at
once, INSERTs are not limited that way) and the table keeps the whole history of every date.
The state of a key is its latest row (``STATE_ORDER``); every reader folds through
``states()``. A key written once (the rows from before the ledger became append-only) is its
own state.
"""

from __future__ import annotations

from shared.rules.statuses import CHECKPOINTED, FINAL_OK
from shared.warehouse.base import Sql

COLUMNS = (
    "run_id",
    "game_date",
    "status",
    "mode",
    "expected_players",
    "upcg_players",
    "actual_players",
    "coverage_pct",
    "data_source",
    "forced",
    "force_reason",
    "requested_by",
    "attempts",
    "last_message_id",
    "error",
    "source_reason",
    "missing_players",
    "dispatched_at",
    "staging_table",
    "calculation_version",
    "created_at",
    "updated_at",
)
_INSERT_COLUMNS = ", ".join(COLUMNS)


# SQL: the rank of a row's step in a date's life (queued < processing < written < an outcome),
# the tiebreak between two rows of a key written at the same instant.
STEP_RANK = (
    "CASE status WHEN 'queued' THEN 0 WHEN 'processing' THEN 1 WHEN 'written' THEN 2 ELSE 3 END"
)
# SQL ORDER BY list of one key's rows, its state (the latest row) first: the latest updated_at,
# then the later step, then the most deliveries. The one definition of "latest".
STATE_ORDER = f"updated_at DESC, {STEP_RANK} DESC, attempts DESC"


def states(where: str) -> str:
    """SQL SELECT of the state (latest row) of every (run_id, game_date) key whose rows match
    ``where`` (a filter on the key's columns: game_date, run_id — keep the game_date range in
    it, it prunes partitions). Use it as a CTE or a subquery."""
    return f"""SELECT * FROM {{backfill_ledger}}
  WHERE {where}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY run_id, game_date ORDER BY {STATE_ORDER}) = 1"""


# The new row's updated_at: now, but always after the state it folds (a clock that went back,
# or a row stamped by the dispatcher's clock, never leaves the new step behind its predecessor).
_UPDATED_AT = (
    "IF(P.updated_at IS NOT NULL AND P.updated_at >= CURRENT_TIMESTAMP(), "
    "TIMESTAMP_ADD(P.updated_at, INTERVAL 1 MICROSECOND), CURRENT_TIMESTAMP())"
)


def _folded(new: dict[str, str]) -> str:
    """The SELECT list of a step's row: the step's values ``new`` (column → SQL) folded onto
    the previous state ``P`` (NULL when the key has no row yet) as the MERGE used to: counts
    and audit fields fill in, status and error are the step's, attempts add up, the first
    dispatch time and creation time stay."""
    out = []
    for column in COLUMNS:
        if column in ("run_id", "game_date", "status", "error"):
            value = new[column]
        elif column == "forced":
            value = (
                f"IF(P.run_id IS NULL, IFNULL({new[column]}, FALSE), "
                f"COALESCE({new[column]}, P.forced))"
            )
        elif column == "attempts":
            value = f"COALESCE(P.attempts, 0) + COALESCE({new[column]}, 0)"
        elif column == "dispatched_at":
            value = f"COALESCE(P.dispatched_at, {new[column]})"
        elif column == "created_at":
            value = "COALESCE(P.created_at, CURRENT_TIMESTAMP())"
        elif column == "updated_at":
            value = _UPDATED_AT
        else:
            value = f"COALESCE({new[column]}, P.{column})"
        out.append(f"  {value} AS {column}")
    return ",\n".join(out)


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

# A known race, accepted: two copies of one delivery writing the same key at the same instant
# both fold the same previous state, so ``attempts`` can count one delivery less (Pub/Sub's own
# delivery-attempt count drives dead-lettering, not this column). Status and error stay right:
# both rows carry the same step, and the latest one is the state.

# One step of one (run_id, game_date) key, from parameters: ONE INSERT whose row is the step
# folded onto the key's state, read inside the statement (no read-then-write from Python).
APPEND = Sql(
    "ledger.append",
    f"""
INSERT INTO {{backfill_ledger}} ({_INSERT_COLUMNS})
WITH prev AS (
  {states("game_date = @game_date AND run_id = @run_id")}
)
SELECT
{_folded({**{c: f"@{c}" for c in COLUMNS}, "attempts": "@attempt_increment"})}
FROM (SELECT @run_id AS run_id, @game_date AS game_date) AS S
LEFT JOIN prev AS P ON P.run_id = S.run_id AND P.game_date = S.game_date
""",
    _TYPES,
)

_STAGED_KEYS = (
    "game_date BETWEEN @start_date AND @end_date AND run_id IN (SELECT run_id FROM {staging})"
)

# One step of many keys in ONE INSERT (a chunk's step): the same rules as APPEND, the step's
# values come from staged rows shaped like the ledger whose ``attempts`` column carries the
# increment. No mutating DML on the ledger, however many dates.
APPEND_MANY = Sql(
    "ledger.append_many",
    f"""
INSERT INTO {{backfill_ledger}} ({_INSERT_COLUMNS})
WITH prev AS (
  {states(_STAGED_KEYS)}
)
SELECT
{_folded({c: f"S.{c}" for c in COLUMNS})}
FROM {{staging}} AS S
LEFT JOIN prev AS P ON P.run_id = S.run_id AND P.game_date = S.game_date
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# Queue many dates of one run at once (dispatch): insert the staged rows of keys that have no
# row yet (a redelivered request queues nothing twice).
QUEUE_MANY = Sql(
    "ledger.queue_many",
    f"""
INSERT INTO {{backfill_ledger}} ({_INSERT_COLUMNS})
WITH known AS (
  SELECT DISTINCT run_id, game_date FROM {{backfill_ledger}}
  WHERE {_STAGED_KEYS}
)
SELECT {", ".join(f"S.{c}" for c in COLUMNS)}
FROM {{staging}} AS S
LEFT JOIN known AS K ON K.run_id = S.run_id AND K.game_date = S.game_date
WHERE K.run_id IS NULL
""",
    {"start_date": "DATE", "end_date": "DATE"},
)

# The latest state per date in a range (any run), optionally one run only. "Latest" is the run
# dispatched last (the fencing order), so a stale run's late message cannot make its state the
# date's state; a `superseded` state only counts when nothing else exists.
LATEST_BY_DATE = Sql(
    "ledger.latest_by_date",
    f"""
WITH state AS (
  {states("game_date BETWEEN @start_date AND @end_date AND (@run_id IS NULL OR run_id = @run_id)")}
)
SELECT *
FROM state
WHERE @calculation_version IS NULL OR calculation_version = @calculation_version
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY game_date
  ORDER BY IF(status = 'superseded', 1, 0), COALESCE(dispatched_at, created_at) DESC,
           updated_at DESC, run_id DESC
) = 1
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE", "run_id": "STRING", "calculation_version": "STRING"},
)

# This run's latest checkpointed step of every date in a range, whatever came after it (a
# duplicate delivery that finds its chunk already published restates these).
_CHECKPOINTED = ", ".join(f"'{status}'" for status in CHECKPOINTED)
PUBLISHED_BY_RUN = Sql(
    "ledger.published_by_run",
    f"""
SELECT *
FROM {{backfill_ledger}}
WHERE game_date BETWEEN @start_date AND @end_date AND run_id = @run_id
  AND status IN ({_CHECKPOINTED})
QUALIFY ROW_NUMBER() OVER (PARTITION BY game_date ORDER BY {STATE_ORDER}) = 1
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE", "run_id": "STRING"},
)

# The state of every date of one run (pcf status --run).
RUN_ROWS = Sql(
    "ledger.run_rows",
    f"""
WITH state AS (
  {states("game_date BETWEEN @start_date AND @end_date AND run_id = @run_id")}
)
SELECT * FROM state
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE", "run_id": "STRING"},
)

_FINAL_OK = ", ".join(f"'{status}'" for status in FINAL_OK)


def _dead_lettered() -> str:
    """The SELECT list of a dead-lettered key's new state: `failed` with the error, the rest
    of its state kept; a key with no row gets the message's values."""
    new = {
        "mode": "@mode",
        "forced": "FALSE",
        "requested_by": "@requested_by",
        "attempts": "@attempts",
        "dispatched_at": "@dispatched_at",
        "calculation_version": "@calculation_version",
    }
    out = []
    for column in COLUMNS:
        if column in ("run_id", "game_date"):
            value = f"S.{column}"
        elif column == "status":
            value = "'failed'"
        elif column == "error":
            value = "@error"
        elif column == "last_message_id":
            value = "COALESCE(@last_message_id, P.last_message_id)"
        elif column == "created_at":
            value = "COALESCE(P.created_at, CURRENT_TIMESTAMP())"
        elif column == "updated_at":
            value = _UPDATED_AT
        elif column in new:
            value = f"IF(P.run_id IS NULL, {new[column]}, P.{column})"
        else:
            value = f"P.{column}"
        out.append(f"  {value} AS {column}")
    return ",\n".join(out)


# The dead-letter consumer: the run's dates (one, or a chunk) become `failed` unless their
# state already ended well (a copy of the message that succeeded must not be overwritten by the
# one that was dead-lettered). One INSERT for the whole chunk; the affected count is the number
# of dates marked.
MARK_DEAD_LETTERED = Sql(
    "ledger.mark_dead_lettered",
    f"""
INSERT INTO {{backfill_ledger}} ({_INSERT_COLUMNS})
WITH prev AS (
  {states("game_date BETWEEN @start_date AND @end_date AND run_id = @run_id")}
),
keys AS (
  SELECT DISTINCT @run_id AS run_id, d AS game_date FROM UNNEST(@game_dates) AS d
)
SELECT
{_dead_lettered()}
FROM keys AS S
LEFT JOIN prev AS P ON P.run_id = S.run_id AND P.game_date = S.game_date
WHERE P.run_id IS NULL OR P.status NOT IN ({_FINAL_OK})
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
