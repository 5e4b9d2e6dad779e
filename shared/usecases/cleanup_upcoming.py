"""Use case ``cleanup_upcoming``: daily TTL cleanup of the upcoming_* tables, and its restore
(RULES §5).

Decisions are pure (shared/rules/cleanup.py); this is the I/O shell around them. Per table,
under a lease (one cleanup per table at a time): reconcile runs that stopped half-way → count →
decide → write the ``started`` row naming the backup (intent first) → back up (create-only) →
verify the backup → delete only the rows the backup holds → verify both sides → complete the row.
``{"action": "restore"}`` puts a cleanup's backed-up rows back (idempotent).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal

from shared import log
from shared.app import App
from shared.clock import et_today
from shared.entrypoint import Delivery
from shared.errors import PermanentError
from shared.messages import Alert, AlertKind, CleanupRequest
from shared.rules.cleanup import (
    PROBLEM_STATUSES,
    GuardVerdict,
    Severity,
    Status,
    TableStats,
    allow_list_problem,
    backup_problems,
    backup_table_name,
    cutoff,
    date_range,
    decide,
    delete_problems,
    guard_verdict,
    reconcile_verdict,
    restore_problems,
)
from shared.rules.cleanup import new_cleanup_id as _cleanup_id
from shared.sql import cleanup as sql
from shared.warehouse import Warehouse, get_schema
from shared.warehouse.schemas import UnknownTable

RUNS_TABLE = "cleanup_runs"
BACKUP_DATASET_KEY = "backup"
# Steps after which a test may inject a fault (a crash is a BaseException the shell never
# catches, like a kill: the lease stays taken and the `started` row stays `started`).
Step = Literal["leased", "intent", "backup", "delete"]
StepHook = Callable[[Step, "TableOutcome"], None]


class UnknownCleanupTable(PermanentError):
    """A requested table is not on the cleanup allow-list (nothing was touched)."""


class CleanupConfigError(PermanentError):
    """PCF_CLEANUP_TABLES names a table the cleanup may not touch (a configuration error)."""

    usage = True


class RestoreError(PermanentError):
    """A restore cannot start: unknown cleanup id, or a cleanup that made no backup."""

    usage = True


class CleanupError(PermanentError):
    """A table failed on a permanent warehouse error; ``result`` holds every table's outcome."""

    def __init__(self, message: str, result: CleanupResult) -> None:
        super().__init__(message)
        self.result = result


# -- configuration -----------------------------------------------------------------------------


def allow_list_error(tables: Sequence[str]) -> str | None:
    """One line saying why the allow-list (PCF_CLEANUP_TABLES) is invalid, or None."""
    problems = []
    for table in tables:
        try:
            schema = get_schema(table)
            problem = allow_list_problem(table, schema.dataset_key, schema.partition_field)
        except (UnknownTable, ValueError):
            problem = allow_list_problem(table, None, None)
        if problem:
            problems.append(problem)
    if not problems:
        return None
    return (
        f"PCF_CLEANUP_TABLES is invalid: {'; '.join(problems)} "
        "(only upcoming_* tables of the analytics dataset can be cleaned)"
    )


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
    error = allow_list_error(wanted)
    if error:
        raise UnknownCleanupTable(error)
    return wanted


def _check_config(app: App) -> None:
    """Refuse to start on an invalid allow-list: ERROR log, alert, permanent error (ack)."""
    error = allow_list_error(app.settings.cleanup_tables)
    if error is None:
        return
    tables = list(app.settings.cleanup_tables)
    log.event("ERROR", f"TTL cleanup not started: {error}", cleanup_tables=tables)
    app.alert(
        Alert(
            kind="cleanup_failed",
            severity="ERROR",
            summary=f"TTL cleanup not started: {error}",
            details={"cleanup_tables": list(app.settings.cleanup_tables)},
        )
    )
    raise CleanupConfigError(error)


# -- results ---------------------------------------------------------------------------------


@dataclass
class TableOutcome:
    """What happened to one table in one run: exactly one ``cleanup_runs`` row."""

    cleanup_id: str
    run_date: date
    table_name: str
    ttl_days: int | None
    cutoff_date: date | None
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
    restored_rows: int | None = None
    restore_of: str | None = None
    detail: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_row(self) -> dict[str, Any]:
        """The ``cleanup_runs`` row (every schema column)."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TableOutcome:
        """A ``cleanup_runs`` row read back."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    @property
    def stale_range(self) -> str:
        """The stale game dates as ``first..last``."""
        return date_range(self.min_stale_date, self.max_stale_date)

    @property
    def backup_name(self) -> str | None:
        """The backup table's bare name (the last part of ``backup_table``)."""
        return self.backup_table.split(".")[-1] if self.backup_table else None


@dataclass
class CleanupResult:
    """The outcome of one cleanup (or restore) run over its tables."""

    cleanup_id: str
    run_date: date
    ttl_days: int | None
    cutoff_date: date | None
    dry_run: bool
    action: Literal["cleanup", "restore"] = "cleanup"
    restore_of: str | None = None
    tables: list[TableOutcome] = field(default_factory=list)
    # Earlier runs that had stopped half-way and were reconciled by this one.
    reconciled: list[TableOutcome] = field(default_factory=list)

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
            "action": self.action,
            "restore_of": self.restore_of,
            "run_date": self.run_date,
            "ttl_days": self.ttl_days,
            "cutoff_date": self.cutoff_date,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "tables": [t.to_row() for t in self.tables],
            "reconciled": [t.to_row() for t in self.reconciled],
        }


def new_cleanup_id(now: datetime) -> str:
    """A sortable, unique id shared by the tables of one run: ``c<UTC time>_<hex>``."""
    return _cleanup_id(now, secrets.token_hex(3))


# -- the use case ----------------------------------------------------------------------------


def cleanup_upcoming(
    app: App, req: CleanupRequest, delivery: Delivery, *, hook: StepHook | None = None
) -> CleanupResult:
    """Clean the requested upcoming_* tables (lease, intent, backup, delete, verify) or restore."""
    _check_config(app)
    if req.action == "restore":
        return restore_cleanup(app, req, delivery)
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
            outcome, error = _clean_table(app, req, result, table, hook)
            result.tables.append(outcome)
            if error is not None:
                errors.append(f"{table}: {error}")
    if errors:
        raise CleanupError("TTL cleanup failed: " + "; ".join(errors), result)
    return result


def _clean_table(
    app: App, req: CleanupRequest, result: CleanupResult, table: str, hook: StepHook | None
) -> tuple[TableOutcome, str | None]:
    """Run one table; transient errors propagate (retry), permanent ones become ``failed``."""
    o = TableOutcome(
        cleanup_id=result.cleanup_id,
        run_date=result.run_date,
        table_name=table,
        ttl_days=result.ttl_days,
        cutoff_date=result.cutoff_date,
        dry_run=result.dry_run,
        started_at=app.clock(),
    )
    leased = False
    if not o.dry_run:
        holder = _take_lease(app, table, o.cleanup_id)
        if holder != o.cleanup_id:
            o.status = "skipped_locked"
            o.detail = f"another run ({holder}) holds the lease on {table}; nothing done"
            o.finished_at = app.clock()
            _log_outcome(o)
            _record(app, o)
            return o, None
        leased = True
    intent = _Intent()
    error: str | None = None
    try:
        if hook:
            hook("leased", o)
        if leased:
            result.reconciled.extend(_reconcile(app, table))
        _run_table(app, req, o, intent, hook)
    except PermanentError as exc:
        error = str(exc)
        o.status = "failed"
        o.detail = f"warehouse error: {exc}; " + _what_was_deleted(o)
    except Exception:
        # Transient (or unexpected): a `started` row stays `started` — what happened is not
        # known here; a later run reconciles it. Release the lease for the redelivery.
        if leased:
            _release_lease(app, table, o.cleanup_id)
        raise
    o.finished_at = app.clock()
    _log_outcome(o)
    try:
        if intent.recorded:
            _complete(app, o)
        else:
            _record(app, o)
    finally:
        if leased:
            _release_lease(app, table, o.cleanup_id)
    if o.status in PROBLEM_STATUSES:
        _alert(app, o)
    return o, error


@dataclass
class _Intent:
    recorded: bool = False


def _run_table(
    app: App, req: CleanupRequest, o: TableOutcome, intent: _Intent, hook: StepHook | None
) -> None:
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
    _back_up_and_delete(app, o, before, verdict, stale, intent, hook)


def _back_up_and_delete(
    app: App,
    o: TableOutcome,
    before: TableStats,
    verdict: GuardVerdict,
    stale: str,
    intent: _Intent,
    hook: StepHook | None,
) -> None:
    s = app.settings
    wh = app.warehouse
    target = wh.table(o.table_name)
    params = {"cutoff": o.cutoff_date}
    columns = get_schema(o.table_name).column_names

    # 1. Intent first: the row names the backup before anything is created or deleted.
    name = backup_table_name(o.table_name, o.run_date, o.cleanup_id)
    backup = wh.dataset_table(BACKUP_DATASET_KEY, name)
    o.backup_table = backup.strip("`")
    o.status = "started"
    o.detail = f"backing up {stale} to {o.backup_table}, then deleting them"
    _record(app, o)
    intent.recorded = True
    if hook:
        hook("intent", o)

    # 2. Backup: create-only, so an existing table (a clash) is an error, never replaced.
    wh.copy_rows_to_new_table(
        sql.STALE_ROWS, params, BACKUP_DATASET_KEY, name, s.backup_expiration_days, target=target
    )
    if hook:
        hook("backup", o)
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

    # 3. Delete only the rows the verified backup holds: a row that arrived since survives.
    o.deleted_rows = wh.execute(
        sql.delete_backed_up(o.table_name, columns), params, target=target, backup=backup
    )
    if hook:
        hook("delete", o)

    # 4. Verify both sides.
    after = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
    o.rows_after = after.total_rows
    missing = _missing(wh, o.table_name, columns, params, target, backup)
    remaining = o.backup_rows - missing
    problems = delete_problems(before, after, o.deleted_rows, o.backup_rows, remaining)
    late = after.stale_rows - remaining
    if problems:
        o.status = "failed"
        o.detail = (
            f"verification after delete failed: {'; '.join(problems)}; "
            f"the deleted rows are in {o.backup_table} "
            f"(undo: pcf cleanup restore --cleanup-id {o.cleanup_id})"
        )
        return
    o.status = "deleted"
    o.detail = f"deleted {stale}; backup {o.backup_table} ({o.backup_rows} rows) verified"
    if late:
        o.detail += (
            f"; {_count(late, 'row')} below the cutoff arrived after the backup and "
            "were kept (the next run cleans them)"
        )
    if verdict.overridden:
        o.detail += f"; guard: {verdict.reason}"


def _missing(
    wh: Warehouse,
    table: str,
    columns: Sequence[str],
    params: dict[str, Any],
    target: str,
    backup: str,
) -> int:
    """Rows of the backup (twins counted) that are not in the table below the cutoff."""
    rows = wh.query(sql.backup_rows_missing(table, columns), params, target=target, backup=backup)
    return int(rows[0]["missing_rows"] or 0)


# -- lease -------------------------------------------------------------------------------------


def _take_lease(app: App, table: str, holder: str) -> str | None:
    """Take the table's lease (one MERGE); return who holds it now (``holder`` = taken)."""
    now = app.clock()
    expires = now + timedelta(minutes=app.settings.cleanup_lease_minutes)
    wh = app.warehouse
    wh.execute(
        sql.TAKE_LEASE,
        {"table_name": table, "holder": holder, "now": now, "expires_at": expires},
    )
    rows = wh.query(sql.LEASE_HOLDER, {"table_name": table})
    return str(rows[0]["holder"]) if rows else None


def _release_lease(app: App, table: str, holder: str) -> None:
    app.warehouse.execute(sql.RELEASE_LEASE, {"table_name": table, "holder": holder})


# -- reconcile -----------------------------------------------------------------------------


def _reconcile(app: App, table: str) -> list[TableOutcome]:
    """Settle every run of ``table`` left ``started`` for longer than the lease."""
    wh = app.warehouse
    older_than = app.clock() - timedelta(minutes=app.settings.cleanup_lease_minutes)
    rows = wh.query(sql.STALE_STARTED_RUNS, {"table_name": table, "older_than": older_than})
    settled = []
    for row in rows:
        o = TableOutcome.from_row(row)
        target = wh.table(table)
        params = {"cutoff": o.cutoff_date}
        backup_rows: int | None = None
        missing: int | None = None
        name = o.backup_name
        if name and wh.table_exists(BACKUP_DATASET_KEY, name):
            backup = wh.dataset_table(BACKUP_DATASET_KEY, name)
            backup_rows = int(wh.query(sql.BACKUP_STATS, params, backup=backup)[0]["backup_rows"])
            columns = get_schema(table).column_names
            missing = _missing(wh, table, columns, params, target, backup)
        now_stats = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
        verdict = reconcile_verdict(
            o.backup_table, o.stale_rows, backup_rows, missing, now_stats.stale_rows
        )
        o.status = verdict.status
        o.backup_rows = backup_rows
        o.deleted_rows = verdict.deleted_rows
        o.rows_after = now_stats.total_rows
        o.detail = verdict.detail
        o.finished_at = app.clock()
        _log_outcome(o, severity=verdict.severity)
        _complete(app, o)
        _raise(app, o, "cleanup_reconciled", verdict.severity, f"{o.status}: {o.detail}")
        settled.append(o)
    return settled


# -- restore -----------------------------------------------------------------------------------


def restore_cleanup(app: App, req: CleanupRequest, delivery: Delivery) -> CleanupResult:
    """Re-insert a cleanup's backed-up rows missing from each table (idempotent), verify, record."""
    wh = app.warehouse
    source_id = str(req.cleanup_id)
    rows = wh.query(sql.RUNS_OF_CLEANUP, {"cleanup_id": source_id})
    recorded = [TableOutcome.from_row(r) for r in rows]
    if not recorded:
        raise RestoreError(
            f"no cleanup_runs row has cleanup_id {source_id}; list recent runs with "
            "`pcf cleanup list`"
        )
    # A cleanup's own rows (not restores of it) that name a backup.
    wanted = [o for o in recorded if o.backup_table and o.restore_of is None]
    if req.tables is not None:
        wanted = [o for o in wanted if o.table_name in req.tables]
    if not wanted:
        statuses = ", ".join(f"{o.table_name}: {o.status}" for o in recorded)
        raise RestoreError(f"cleanup {source_id} made no backup to restore ({statuses})")
    now = app.clock()
    first = wanted[0]
    result = CleanupResult(
        cleanup_id=new_cleanup_id(now),
        run_date=et_today(now),
        ttl_days=first.ttl_days,
        cutoff_date=first.cutoff_date,
        dry_run=req.dry_run,
        action="restore",
        restore_of=source_id,
    )
    with log.log_context(cleanup_id=result.cleanup_id, message_id=delivery.message_id):
        log.event(
            "INFO",
            f"restore of cleanup {source_id}: {', '.join(o.table_name for o in wanted)}"
            + (" [dry run]" if req.dry_run else ""),
            restore_of=source_id,
            dry_run=req.dry_run,
            requested_by=req.requested_by,
        )
        for source in wanted:
            result.tables.append(_restore_table(app, result, source))
    return result


def _restore_table(app: App, result: CleanupResult, source: TableOutcome) -> TableOutcome:
    table = source.table_name
    o = TableOutcome(
        cleanup_id=result.cleanup_id,
        run_date=result.run_date,
        table_name=table,
        ttl_days=source.ttl_days,
        cutoff_date=source.cutoff_date,
        dry_run=result.dry_run,
        backup_table=source.backup_table,
        restore_of=source.cleanup_id,
        started_at=app.clock(),
    )
    leased = False
    if not o.dry_run:
        holder = _take_lease(app, table, o.cleanup_id)
        if holder != o.cleanup_id:
            o.status = "skipped_locked"
            o.detail = f"another run ({holder}) holds the lease on {table}; nothing restored"
            return _finish_restore(app, o, leased=False)
        leased = True
    try:
        _run_restore(app, o)
    except PermanentError as exc:
        o.status = "failed"
        o.detail = f"warehouse error: {exc}"
    except Exception:
        if leased:
            _release_lease(app, table, o.cleanup_id)
        raise
    return _finish_restore(app, o, leased)


def _run_restore(app: App, o: TableOutcome) -> None:
    wh = app.warehouse
    name = str(o.backup_name)
    if not wh.table_exists(BACKUP_DATASET_KEY, name):
        o.status = "failed"
        o.detail = (
            f"backup {o.backup_table} no longer exists (backups expire after "
            f"{app.settings.backup_expiration_days} days); nothing restored"
        )
        return
    target = wh.table(o.table_name)
    backup = wh.dataset_table(BACKUP_DATASET_KEY, name)
    params = {"cutoff": o.cutoff_date}
    columns = get_schema(o.table_name).column_names
    o.backup_rows = int(wh.query(sql.BACKUP_STATS, params, backup=backup)[0]["backup_rows"])
    before = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
    o.rows_before = o.rows_after = before.total_rows
    missing = _missing(wh, o.table_name, columns, params, target, backup)
    if o.dry_run:
        o.status = "dry_run"
        o.restored_rows = 0
        o.detail = (
            f"dry run: would re-insert {missing} of the {o.backup_rows} rows of {o.backup_table}"
        )
        return
    o.restored_rows = wh.execute(
        sql.restore_missing(o.table_name, columns), params, target=target, backup=backup
    )
    after = TableStats.from_row(wh.query(sql.TABLE_STATS, params, target=target)[0])
    o.rows_after = after.total_rows
    left = _missing(wh, o.table_name, columns, params, target, backup)
    problems = restore_problems(missing, o.restored_rows, left)
    if problems:
        o.status = "failed"
        o.detail = f"restore verification failed: {'; '.join(problems)}"
        return
    o.status = "restored"
    o.detail = (
        f"re-inserted {o.restored_rows} of the {o.backup_rows} rows of {o.backup_table} "
        f"(the other {o.backup_rows - o.restored_rows} were already in the table)"
    )


def _finish_restore(app: App, o: TableOutcome, leased: bool) -> TableOutcome:
    o.finished_at = app.clock()
    _log_outcome(o)
    try:
        _record(app, o)
    finally:
        if leased:
            _release_lease(app, o.table_name, o.cleanup_id)
    if o.status == "failed":
        _alert(app, o)
    return o


# -- listing -----------------------------------------------------------------------------------


def recent_runs(app: App, days: int = 30, limit: int = 200) -> list[dict[str, Any]]:
    """Runs started in the last ``days`` days, newest first, with ``backup_exists`` per row."""
    wh = app.warehouse
    since = app.clock() - timedelta(days=days)
    rows = wh.query(sql.RECENT_RUNS, {"since": since, "max_rows": limit})
    for row in rows:
        name = TableOutcome.from_row(row).backup_name
        row["backup_exists"] = bool(name) and wh.table_exists(BACKUP_DATASET_KEY, str(name))
    return rows


# -- recording and alerts ----------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _what_was_deleted(o: TableOutcome) -> str:
    # BigQuery DML is atomic: a DELETE that raised deleted nothing.
    if not o.deleted_rows:
        return "nothing deleted"
    return f"{o.deleted_rows} rows were deleted; they are in the backup {o.backup_table}"


def _log_outcome(o: TableOutcome, severity: str | None = None) -> None:
    level = severity or {"failed": "ERROR", "refused": "WARNING"}.get(o.status, "INFO")
    log.event(
        level,
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
        restored_rows=o.restored_rows,
        restore_of=o.restore_of,
    )


def _record(app: App, o: TableOutcome) -> None:
    """Append the run's row to cleanup_runs (a batch load: fine for an append-only log)."""
    try:
        app.warehouse.insert_rows(RUNS_TABLE, [o.to_row()])
    except PermanentError as exc:
        # The audit row is lost: say so loudly, then let the runner log and acknowledge.
        _raise(app, o, "cleanup_failed", "ERROR", f"could not be recorded: {exc}")
        raise


def _complete(app: App, o: TableOutcome) -> None:
    """Turn the run's ``started`` row into its outcome (UPDATE of that one row)."""
    row = o.to_row()
    params = {k: row[k] for k in sql.COMPLETE_RUN.types}
    try:
        updated = app.warehouse.execute(sql.COMPLETE_RUN, params)
    except PermanentError as exc:
        _raise(app, o, "cleanup_failed", "ERROR", f"could not be recorded: {exc}")
        raise
    if updated != 1:
        log.event(
            "WARNING",
            f"cleanup_runs row of {o.cleanup_id}/{o.table_name} was no longer `started` "
            f"({updated} rows updated): another run reconciled it first",
            table_name=o.table_name,
        )


def _alert(app: App, o: TableOutcome) -> None:
    if o.status == "refused":
        _raise(app, o, "cleanup_refused", "WARNING", f"{o.status}: {o.detail}")
        return
    # Rows were deleted and the numbers do not add up: someone must look now.
    severity: Severity = "CRITICAL" if o.deleted_rows else "ERROR"
    _raise(app, o, "cleanup_failed", severity, f"{o.status}: {o.detail}")


def _raise(app: App, o: TableOutcome, kind: AlertKind, severity: Severity, what: str) -> None:
    verb = "restore" if o.restore_of else "TTL cleanup"
    app.alert(
        Alert(
            kind=kind,
            severity=severity,
            summary=f"{verb} of {o.table_name} {what}",
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
