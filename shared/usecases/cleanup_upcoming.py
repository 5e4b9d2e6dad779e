"""Use case ``cleanup_upcoming``: daily TTL cleanup of the upcoming_* tables (RULES §5).

Pure decisions (ET date, cutoff, runaway guard, per-table status, verification checks) are plain
functions; ``cleanup_upcoming`` is the short I/O shell around them: count → decide → back up →
verify the backup → delete → verify both sides → record one ``cleanup_runs`` row per table.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from shared import log
from shared.app import App
from shared.clock import et_today
from shared.entrypoint import Delivery
from shared.errors import PermanentError
from shared.messages import Alert, CleanupRequest
from shared.sql import cleanup as sql
from shared.warehouse import Warehouse, get_schema

RUNS_TABLE = "cleanup_runs"
BACKUP_DATASET_KEY = "backup"
# Same-day backups get _2, _3, … instead of replacing an earlier one; this bounds the search.
MAX_BACKUPS_PER_DAY = 50

Status = Literal["clean", "deleted", "dry_run", "refused", "failed"]
Decision = Literal["clean", "dry_run", "refused", "delete"]
PROBLEM_STATUSES: frozenset[str] = frozenset({"refused", "failed"})


class UnknownCleanupTable(PermanentError):
    """A requested table is not on the cleanup allow-list (nothing was touched)."""


class CleanupError(PermanentError):
    """A table failed on a permanent warehouse error; ``result`` holds every table's outcome."""

    def __init__(self, message: str, result: CleanupResult) -> None:
        super().__init__(message)
        self.result = result


# -- pure decisions --------------------------------------------------------------------------


def cutoff(today: date, ttl_days: int) -> date:
    """The first date that is kept: ``today − ttl_days`` (stale = ``game_date < cutoff``)."""
    if not 1 <= ttl_days <= 365:
        raise ValueError(f"ttl_days must be between 1 and 365, got {ttl_days}")
    return today - timedelta(days=ttl_days)


def resolve_tables(requested: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    """The tables to clean (default: the allow-list); raise UnknownCleanupTable for any other."""
    if requested is None:
        wanted = list(allowed)
    else:
        # Order kept, duplicates dropped: one cleanup_runs row per table per run.
        wanted = list(dict.fromkeys(t.strip() for t in requested))
        if not wanted:
            raise UnknownCleanupTable(
                f"no table requested; allowed tables: {', '.join(allowed) or '(none)'}"
            )
    unknown = [t for t in wanted if t not in allowed]
    if unknown:
        raise UnknownCleanupTable(
            f"table(s) {', '.join(repr(t) for t in unknown)} may not be cleaned; "
            f"allowed tables: {', '.join(allowed) or '(none)'} (setting PCF_CLEANUP_TABLES)"
        )
    for table in wanted:
        # The allow-list is configuration: refuse a table the cleanup SQL cannot address safely.
        try:
            schema = get_schema(table)
        except ValueError as exc:
            raise UnknownCleanupTable(f"allow-listed table {table!r}: {exc}") from exc
        if schema.partition_field != "game_date":
            raise UnknownCleanupTable(
                f"allow-listed table {table!r} is not partitioned by game_date; "
                "the TTL cleanup only handles game_date-partitioned tables"
            )
    return wanted


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
            min_stale_date=_as_date(row.get("min_stale_date")),
            max_stale_date=_as_date(row.get("max_stale_date")),
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


def backup_table_name(table: str, run_date: date, n: int = 1) -> str:
    """``<table>__stale_<YYYYMMDD>``; the n-th backup of the same day gets ``_<n>`` appended."""
    base = f"{table}__stale_{run_date:%Y%m%d}"
    return base if n == 1 else f"{base}_{n}"


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
    before: TableStats, after: TableStats, deleted_rows: int, backup_rows: int
) -> list[str]:
    """Both-sides verification after the DELETE (empty = fine)."""
    problems = []
    if after.stale_rows != 0:
        problems.append(f"{after.stale_rows} rows below the cutoff remain")
    if after.kept_rows != before.kept_rows:
        problems.append(
            f"rows at or after the cutoff changed from {before.kept_rows} to {after.kept_rows}"
        )
    if deleted_rows != backup_rows:
        # Rows deleted without a backup copy (or a backup of rows that were not deleted).
        problems.append(f"deleted {deleted_rows} rows but the backup holds {backup_rows}")
    return problems


def date_range(first: date | None, last: date | None) -> str:
    """``first..last`` (or one date, or empty) for tables and messages."""
    if first is None or last is None:
        return ""
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


# -- results ---------------------------------------------------------------------------------


@dataclass
class TableOutcome:
    """What happened to one table in one run: exactly one ``cleanup_runs`` row."""

    cleanup_id: str
    run_date: date
    table_name: str
    ttl_days: int
    cutoff_date: date
    dry_run: bool
    status: Status = "failed"
    stale_rows: int | None = None
    stale_dates: int | None = None
    min_stale_date: date | None = None
    max_stale_date: date | None = None
    rows_before: int | None = None
    rows_after: int | None = None
    backup_table: str | None = None
    backup_rows: int | None = None
    deleted_rows: int | None = None
    detail: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_row(self) -> dict[str, Any]:
        """The ``cleanup_runs`` row (every schema column)."""
        return asdict(self)

    @property
    def stale_range(self) -> str:
        """The stale game dates as ``first..last``."""
        return date_range(self.min_stale_date, self.max_stale_date)


@dataclass
class CleanupResult:
    """The outcome of one cleanup run over its tables."""

    cleanup_id: str
    run_date: date
    ttl_days: int
    cutoff_date: date
    dry_run: bool
    tables: list[TableOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no table was refused or failed."""
        return not any(t.status in PROBLEM_STATUSES for t in self.tables)

    def status_of(self, table: str) -> Status:
        """The status of one table of this run."""
        for outcome in self.tables:
            if outcome.table_name == table:
                return outcome.status
        raise KeyError(table)

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (for ``--json``)."""
        return {
            "cleanup_id": self.cleanup_id,
            "run_date": self.run_date,
            "ttl_days": self.ttl_days,
            "cutoff_date": self.cutoff_date,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "tables": [t.to_row() for t in self.tables],
        }


def new_cleanup_id(now: datetime) -> str:
    """A sortable, unique id shared by the tables of one run: ``c<UTC time>-<hex>``."""
    return f"c{now.astimezone(UTC):%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


# -- the use case ----------------------------------------------------------------------------


def cleanup_upcoming(app: App, req: CleanupRequest, delivery: Delivery) -> CleanupResult:
    """Clean every requested upcoming_* table: back up, delete, verify, record, alert."""
    s = app.settings
    # Every name is checked before anything is read or written.
    tables = resolve_tables(req.tables, s.cleanup_tables)
    ttl_days = req.ttl_days or s.ttl_days
    now = app.clock()
    today = req.today or et_today(now)
    result = CleanupResult(
        cleanup_id=new_cleanup_id(now),
        run_date=today,
        ttl_days=ttl_days,
        cutoff_date=cutoff(today, ttl_days),
        dry_run=req.dry_run,
    )
    errors: list[str] = []
    with log.log_context(cleanup_id=result.cleanup_id, message_id=delivery.message_id):
        log.event(
            "INFO",
            f"TTL cleanup of {', '.join(tables)}: run date {today} (ET), ttl {ttl_days} days, "
            f"deleting game_date < {result.cutoff_date}" + (" [dry run]" if req.dry_run else ""),
            run_date=today,
            ttl_days=ttl_days,
            cutoff_date=result.cutoff_date,
            dry_run=req.dry_run,
            trigger=req.trigger,
            requested_by=req.requested_by,
            tables=tables,
        )
        for table in tables:
            outcome, error = _clean_table(app, req, result, table)
            result.tables.append(outcome)
            if error is not None:
                errors.append(f"{table}: {error}")
    if errors:
        raise CleanupError("TTL cleanup failed: " + "; ".join(errors), result)
    return result


def _clean_table(
    app: App, req: CleanupRequest, result: CleanupResult, table: str
) -> tuple[TableOutcome, str | None]:
    """Run one table; transient errors propagate (retry), permanent ones become ``failed``."""
    outcome = TableOutcome(
        cleanup_id=result.cleanup_id,
        run_date=result.run_date,
        table_name=table,
        ttl_days=result.ttl_days,
        cutoff_date=result.cutoff_date,
        dry_run=result.dry_run,
        started_at=app.clock(),
    )
    error: str | None = None
    try:
        _run_table(app, req, outcome)
    except PermanentError as exc:
        error = str(exc)
        outcome.status = "failed"
        outcome.detail = f"warehouse error: {exc}; " + _what_was_deleted(outcome)
    outcome.finished_at = app.clock()
    _log_outcome(outcome)
    _record(app, outcome)
    if outcome.status in PROBLEM_STATUSES:
        _alert(app, outcome)
    return outcome, error


def _run_table(app: App, req: CleanupRequest, o: TableOutcome) -> None:
    """The steps for one table; fills ``o`` as it goes so a failure still records the numbers."""
    s = app.settings
    wh = app.warehouse
    target = wh.table(o.table_name)
    params = {"cutoff": o.cutoff_date}

    before = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
    o.stale_rows = before.stale_rows
    o.stale_dates = before.stale_dates
    o.min_stale_date = before.min_stale_date
    o.max_stale_date = before.max_stale_date
    o.rows_before = o.rows_after = before.total_rows
    # Zero, not NULL, until a backup/delete happens: the log row states what was done.
    o.backup_rows = 0
    o.deleted_rows = 0

    verdict = guard_verdict(
        before.stale_rows,
        before.total_rows,
        s.cleanup_max_fraction,
        s.cleanup_max_rows,
        req.allow_large_delete,
    )
    decision = decide(before, o.dry_run, verdict)
    stale = (
        f"{_count(before.stale_rows, 'stale row')} on {_count(before.stale_dates, 'date')} "
        f"({date_range(before.min_stale_date, before.max_stale_date)})"
    )
    if decision == "clean":
        o.status = "clean"
        o.detail = f"nothing before {o.cutoff_date}; {before.kept_rows} rows kept"
        return
    if decision == "dry_run":
        o.status = "dry_run"
        guard = "guard ok" if verdict.allowed else f"guard would refuse: {verdict.reason}"
        o.detail = f"dry run: would back up and delete {stale}; {guard}"
        return
    if decision == "refused":
        o.status = "refused"
        o.detail = (
            f"refused by the runaway guard: {verdict.reason}; nothing deleted "
            "(re-run with allow_large_delete / --allow-large-delete if this is intended)"
        )
        return

    # Backup first, into a name no earlier run of the day used, so no backup is ever replaced.
    name = _free_backup_name(wh, o.table_name, o.run_date)
    backup = wh.copy_rows_to_new_table(
        sql.STALE_ROWS,
        params,
        BACKUP_DATASET_KEY,
        name,
        s.backup_expiration_days,
        target=target,
    )
    o.backup_table = backup.strip("`")
    check = wh.query(sql.BACKUP_STATS, params, backup=backup)[0]
    o.backup_rows = int(check["backup_rows"] or 0)
    problems = backup_problems(
        before.stale_rows, o.backup_rows, int(check["backup_stale_rows"] or 0)
    )
    if problems:
        o.status = "failed"
        o.detail = (
            f"backup verification failed: {'; '.join(problems)}; nothing deleted "
            f"(backup left in {o.backup_table} for inspection)"
        )
        return

    o.deleted_rows = wh.execute(sql.DELETE_STALE, params, target=target)
    after = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
    o.rows_after = after.total_rows
    problems = delete_problems(before, after, o.deleted_rows, o.backup_rows)
    if problems:
        o.status = "failed"
        o.detail = (
            f"verification after delete failed: {'; '.join(problems)}; "
            f"the deleted rows are in {o.backup_table} (see README: restore from a backup)"
        )
        return
    o.status = "deleted"
    o.detail = f"deleted {stale}; backup {o.backup_table} ({o.backup_rows} rows) verified"
    if verdict.overridden:
        o.detail += f"; guard: {verdict.reason}"


def _free_backup_name(wh: Warehouse, table: str, run_date: date) -> str:
    for n in range(1, MAX_BACKUPS_PER_DAY + 1):
        name = backup_table_name(table, run_date, n)
        if not wh.table_exists(BACKUP_DATASET_KEY, name):
            return name
    raise PermanentError(
        f"{MAX_BACKUPS_PER_DAY} backups of {table} already exist for {run_date}; "
        "inspect the backup dataset before running the cleanup again"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _what_was_deleted(o: TableOutcome) -> str:
    # BigQuery DML is atomic: a DELETE that raised deleted nothing.
    if not o.deleted_rows:
        return "nothing deleted"
    return f"{o.deleted_rows} rows were deleted; they are in the backup {o.backup_table}"


def _log_outcome(o: TableOutcome) -> None:
    severity = {"failed": "ERROR", "refused": "WARNING"}.get(o.status, "INFO")
    log.event(
        severity,
        f"cleanup {o.table_name}: {o.status} — {o.detail}",
        table_name=o.table_name,
        status=o.status,
        cutoff_date=o.cutoff_date,
        dry_run=o.dry_run,
        stale_rows=o.stale_rows,
        stale_dates=o.stale_dates,
        min_stale_date=o.min_stale_date,
        max_stale_date=o.max_stale_date,
        rows_before=o.rows_before,
        rows_after=o.rows_after,
        backup_table=o.backup_table,
        backup_rows=o.backup_rows,
        deleted_rows=o.deleted_rows,
    )


def _record(app: App, o: TableOutcome) -> None:
    """Append the run's row to cleanup_runs (a batch load: fine for an append-only log)."""
    try:
        app.warehouse.insert_rows(RUNS_TABLE, [o.to_row()])
    except PermanentError as exc:
        # The audit row is lost: say so loudly, then let the runner log and acknowledge.
        app.alert(
            Alert(
                kind="cleanup_failed",
                severity="ERROR",
                summary=f"cleanup of {o.table_name} ({o.status}) could not be recorded: {exc}",
                run_id=o.cleanup_id,
                table_name=o.table_name,
                details=_alert_details(o),
            ),
        )
        raise


def _alert(app: App, o: TableOutcome) -> None:
    if o.status == "refused":
        kind: Literal["cleanup_refused", "cleanup_failed"] = "cleanup_refused"
        severity: Literal["WARNING", "ERROR", "CRITICAL"] = "WARNING"
    else:
        kind = "cleanup_failed"
        # Rows were deleted and the numbers do not add up: someone must look now.
        severity = "CRITICAL" if o.deleted_rows else "ERROR"
    app.alert(
        Alert(
            kind=kind,
            severity=severity,
            summary=f"TTL cleanup of {o.table_name} {o.status}: {o.detail}",
            run_id=o.cleanup_id,
            table_name=o.table_name,
            details=_alert_details(o),
        ),
    )


def _alert_details(o: TableOutcome) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in o.to_row().items()
        if k not in ("detail", "table_name", "cleanup_id")
    }


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
