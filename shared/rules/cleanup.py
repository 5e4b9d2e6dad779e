"""Pure rules of the TTL cleanup and its restore (RULES §5): no I/O, plain values in and out.

Cutoff, the ``today`` window, the allow-list rule, the runaway guard, the per-table decision,
backup naming, backup / delete / restore verification and the reconcile verdict of a run that
stopped between two statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

# The earliest `today` a cleanup accepts; later than tomorrow (New York) is refused too.
EARLIEST_TODAY = date(2000, 1, 1)
# Only these tables may be allow-listed: upstream "upcoming" context of the analytics dataset.
ALLOWED_PREFIX = "upcoming_"
ALLOWED_DATASET_KEY = "analytics"
PARTITION_FIELD = "game_date"
_CLEANUP_ID = re.compile(r"^c\d{8}T\d{6}Z_[0-9a-f]{6}$")

Status = Literal[
    "started",
    "clean",
    "deleted",
    "dry_run",
    "refused",
    "failed",
    "skipped_locked",
    "reconciled_deleted",
    "reconciled_not_deleted",
    "restored",
]
Decision = Literal["clean", "dry_run", "refused", "delete"]
Severity = Literal["WARNING", "ERROR", "CRITICAL"]
# Statuses that make a run not ok (exit 1 for the CLI) and raise an alert.
PROBLEM_STATUSES: frozenset[str] = frozenset({"refused", "failed"})


def cutoff(today: date, ttl_days: int) -> date:
    """The first date that is kept: ``today − ttl_days`` (stale = ``game_date < cutoff``)."""
    if not 1 <= ttl_days <= 365:
        raise ValueError(f"ttl_days must be between 1 and 365, got {ttl_days}")
    return today - timedelta(days=ttl_days)


def today_problem(today: date, et_today: date) -> str | None:
    """Why ``today`` is outside 2000-01-01 … tomorrow in New York (None = fine)."""
    latest = et_today + timedelta(days=1)
    if today < EARLIEST_TODAY or today > latest:
        return (
            f"today {today.isoformat()} is outside {EARLIEST_TODAY.isoformat()} … "
            f"{latest.isoformat()} (tomorrow in New York); give a real run date"
        )
    return None


def allow_list_problem(
    table: str, dataset_key: str | None, partition_field: str | None
) -> str | None:
    """Why ``table`` may not be on the cleanup allow-list (None = it may).

    ``dataset_key``/``partition_field`` come from the table's schema file (None: no such table).
    """
    if not table.startswith(ALLOWED_PREFIX):
        return f"{table!r} is not an upcoming_* table"
    if dataset_key is None:
        return f"{table!r} is not a pipeline table (no infra/schemas/{table}.json)"
    if dataset_key != ALLOWED_DATASET_KEY:
        return f"{table!r} is in the {dataset_key} dataset, not analytics"
    if partition_field != PARTITION_FIELD:
        return f"{table!r} is not partitioned by {PARTITION_FIELD}"
    return None


def backup_table_name(table: str, run_date: date, cleanup_id: str) -> str:
    """``<table>__stale_<YYYYMMDD>_<cleanup_id>``: unique per run, so never a backup's twin."""
    if not _CLEANUP_ID.match(cleanup_id):
        raise ValueError(f"cleanup id {cleanup_id!r} is not of the form cYYYYMMDDTHHMMSSZ_xxxxxx")
    return f"{table}__stale_{run_date:%Y%m%d}_{cleanup_id}"


def is_cleanup_id(value: str) -> bool:
    """Whether ``value`` has the shape of a cleanup id (``cYYYYMMDDTHHMMSSZ_xxxxxx``)."""
    return bool(_CLEANUP_ID.match(value))


def new_cleanup_id(now: datetime, token: str) -> str:
    """``c<UTC time>_<6 hex>``: sortable, and a valid table-name suffix on every backend."""
    return f"c{now.astimezone(UTC):%Y%m%dT%H%M%S}Z_{token}"


@dataclass(frozen=True)
class TableStats:
    """One TABLE_STATS row: the stale side and the side that must survive."""

    stale_rows: int
    stale_dates: int
    min_stale_date: date | None
    max_stale_date: date | None
    kept_rows: int

    @property
    def total_rows(self) -> int:
        """Every row of the table."""
        return self.stale_rows + self.kept_rows

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TableStats:
        """Build from a TABLE_STATS result row (NULL counts of an empty table are 0)."""
        return cls(
            stale_rows=int(row.get("stale_rows") or 0),
            stale_dates=int(row.get("stale_dates") or 0),
            min_stale_date=as_date(row.get("min_stale_date")),
            max_stale_date=as_date(row.get("max_stale_date")),
            kept_rows=int(row.get("kept_rows") or 0),
        )


@dataclass(frozen=True)
class GuardVerdict:
    """Whether the runaway guard lets a delete through, and why."""

    allowed: bool
    reason: str
    fraction: float | None
    overridden: bool = False


def guard_verdict(
    stale_rows: int,
    total_rows: int,
    max_fraction: float,
    max_rows: int,
    allow_large_delete: bool,
) -> GuardVerdict:
    """Refuse deleting more than ``max_fraction`` of the table or more than ``max_rows`` rows."""
    fraction = stale_rows / total_rows if total_rows else None
    limits = []
    if fraction is not None and fraction > max_fraction:
        limits.append(
            f"{stale_rows} of {total_rows} rows ({fraction:.1%}) is above the "
            f"{max_fraction:.0%} limit"
        )
    if stale_rows > max_rows:
        limits.append(f"{stale_rows} rows is above the {max_rows} row limit")
    if not limits:
        return GuardVerdict(True, "within the guard limits", fraction)
    if allow_large_delete:
        reason = "; ".join(limits) + " (allowed by allow_large_delete)"
        return GuardVerdict(True, reason, fraction, overridden=True)
    return GuardVerdict(False, "; ".join(limits), fraction)


def decide(stats: TableStats, dry_run: bool, verdict: GuardVerdict) -> Decision:
    """The per-table decision before any write: clean, dry_run, refused or delete."""
    if stats.stale_rows == 0:
        return "clean"
    if dry_run:
        return "dry_run"
    if not verdict.allowed:
        return "refused"
    return "delete"


def backup_problems(stale_rows: int, backup_rows: int, backup_stale_rows: int) -> list[str]:
    """What is wrong with a backup that should hold exactly the stale rows (empty = fine)."""
    problems = []
    if backup_rows != stale_rows:
        problems.append(f"backup holds {backup_rows} rows but {stale_rows} rows are stale")
    if backup_stale_rows != backup_rows:
        problems.append(
            f"backup holds {backup_rows - backup_stale_rows} rows at or after the cutoff"
        )
    return problems


def delete_problems(
    before: TableStats,
    after: TableStats,
    deleted_rows: int,
    backup_rows: int,
    backed_up_remaining: int,
) -> list[str]:
    """Both-sides verification after the DELETE of the backed-up rows (empty = fine).

    Rows below the cutoff that are not in the backup (arrived after it) are expected to remain.
    """
    problems = []
    if backed_up_remaining != 0:
        problems.append(f"{backed_up_remaining} backed-up rows are still in the table")
    if after.kept_rows != before.kept_rows:
        problems.append(
            f"rows at or after the cutoff changed from {before.kept_rows} to {after.kept_rows}"
        )
    if deleted_rows != backup_rows:
        # Rows deleted without a backup copy (or a backup of rows that were not deleted).
        problems.append(f"deleted {deleted_rows} rows but the backup holds {backup_rows}")
    return problems


@dataclass(frozen=True)
class ReconcileVerdict:
    """What a run that stopped after writing ``started`` left behind, from what is there now."""

    status: Literal["reconciled_deleted", "reconciled_not_deleted"]
    severity: Severity
    deleted_rows: int
    detail: str


def reconcile_verdict(
    backup_table: str | None,
    recorded_stale_rows: int | None,
    backup_rows: int | None,
    backup_rows_missing_from_table: int | None,
    stale_rows_now: int,
) -> ReconcileVerdict:
    """Decide what an interrupted cleanup did.

    ``backup_rows`` is None when the backup table does not exist; the backup was then never
    made (the delete runs only after a verified backup), unless someone dropped it.
    ``backup_rows_missing_from_table``: backup rows (as a multiset) no longer in the table.
    """
    if backup_rows is None:
        expected = recorded_stale_rows or 0
        if stale_rows_now >= expected:
            return ReconcileVerdict(
                "reconciled_not_deleted",
                "WARNING",
                0,
                f"interrupted before its backup {backup_table} was made; nothing was deleted "
                f"({stale_rows_now} stale rows are still in the table)",
            )
        return ReconcileVerdict(
            "reconciled_deleted",
            "CRITICAL",
            expected - stale_rows_now,
            f"interrupted; {expected - stale_rows_now} of {expected} stale rows are gone but "
            f"the backup {backup_table} does not exist: investigate",
        )
    missing = backup_rows_missing_from_table or 0
    if missing == 0:
        return ReconcileVerdict(
            "reconciled_not_deleted",
            "WARNING",
            0,
            f"interrupted after its backup {backup_table} ({backup_rows} rows) was made; nothing "
            "was deleted (every backed-up row is still in the table); the backup expires on its "
            "own",
        )
    if missing == backup_rows:
        return ReconcileVerdict(
            "reconciled_deleted",
            "WARNING",
            missing,
            f"interrupted after its delete: the {missing} deleted rows are in the backup "
            f"{backup_table} (undo with `pcf cleanup restore`)",
        )
    return ReconcileVerdict(
        "reconciled_deleted",
        "ERROR",
        missing,
        f"interrupted: {missing} of the {backup_rows} rows of backup {backup_table} are no "
        "longer in the table; they are in the backup (undo with `pcf cleanup restore`)",
    )


def restore_problems(missing_before: int, inserted: int, missing_after: int) -> list[str]:
    """Verification of a restore: every backup row is in the table again (empty = fine)."""
    problems = []
    if inserted != missing_before:
        problems.append(f"inserted {inserted} rows but {missing_before} were missing")
    if missing_after != 0:
        problems.append(f"{missing_after} backup rows are still missing from the table")
    return problems


def date_range(first: date | None, last: date | None) -> str:
    """``first..last`` (or one date, or empty) for tables and messages."""
    if first is None or last is None:
        return ""
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def as_date(value: Any) -> date | None:
    """A DATE column value (date, datetime or ISO string) as a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
