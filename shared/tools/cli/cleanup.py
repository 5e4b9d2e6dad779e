"""``pcf cleanup`` (TTL cleanup of the upcoming_* tables, ``restore``, ``list``) and
``pcf schedule`` (show and fire its job; Terraform owns the job itself)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.config import Settings, validate_identifier
from shared.entrypoint import Delivery
from shared.messages import CleanupRequest
from shared.tools.cli.common import (
    UsageError,
    add_warehouse_arg,
    iso_date,
    open_app,
    print_json,
    print_table,
    settings_from,
)
from shared.usecases.cleanup_upcoming import (
    CleanupError,
    CleanupResult,
    UnknownCleanupTable,
    allow_list_error,
    cleanup_upcoming,
    recent_runs,
    resolve_tables,
)

if TYPE_CHECKING:  # the scheduler client is imported only by the schedule commands
    from shared.tools.schedule import SchedulerPort, ScheduleSpec


def cloud_scheduler(_settings: Settings) -> SchedulerPort:
    """The real Cloud Scheduler port (credentials from the environment)."""
    from shared.tools.schedule import CloudSchedulerAdapter

    return CloudSchedulerAdapter()


# The seam to Cloud Scheduler: tests put a fake SchedulerPort here (our port, not Google's).
SCHEDULER_PORT_FACTORY: Callable[[Settings], SchedulerPort] = cloud_scheduler

RESTORE_COLUMNS = [
    "table",
    "backup",
    "backup rows",
    "restored",
    "rows before",
    "rows after",
    "status",
]
LIST_COLUMNS = [
    "started (UTC)",
    "cleanup id",
    "table",
    "status",
    "stale",
    "deleted",
    "restored",
    "backup",
    "backup rows",
    "exists",
    "restore of",
]
CLEANUP_COLUMNS = [
    "table",
    "cutoff",
    "stale rows",
    "stale dates",
    "range",
    "backup",
    "backup rows",
    "deleted",
    "status",
]


def _table_list(text: str) -> list[str]:
    """argparse type: comma-separated table names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--tables needs at least one table name")
    return names


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cleanup`` (with ``restore`` and ``list``) and ``schedule``."""
    p = sub.add_parser(
        "cleanup",
        help="delete stale rows of the upcoming_* tables (backup first, guarded, verified)",
        description=(
            "TTL cleanup (what runs daily at 04:00 America/New_York): per table, under a lease, "
            "rows with game_date < today(ET) - ttl_days are copied to a new backup table "
            "(named in cleanup_runs before it is made), the copy is verified, the rows the "
            "backup holds are deleted and both sides are verified. One cleanup_runs row per "
            "table. Exit 1 when a table is refused or failed. `pcf cleanup restore` undoes a "
            "cleanup; `pcf cleanup list` shows recent runs and their backups."
        ),
    )
    p.add_argument("--dry-run", action="store_true", help="report what would go; change nothing")
    p.add_argument(
        "--ttl-days", type=int, metavar="N", help="keep N days (1-365; default PCF_TTL_DAYS, 7)"
    )
    p.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="run as of this date (replays; default: today in America/New_York)",
    )
    p.add_argument(
        "--tables",
        type=_table_list,
        metavar="A,B",
        help="tables to clean (default and allow-list: PCF_CLEANUP_TABLES)",
    )
    p.add_argument(
        "--allow-large-delete",
        action="store_true",
        help=(
            "let a delete through the runaway guard (more than PCF_CLEANUP_MAX_FRACTION, 50%%, "
            "of a table or more than PCF_CLEANUP_MAX_ROWS, 100000, rows)"
        ),
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_cleanup)

    csub = p.add_subparsers(dest="cleanup_command", metavar="ACTION")
    r = csub.add_parser(
        "restore",
        help="put a cleanup's backed-up rows back (idempotent)",
        description=(
            "Re-insert the rows of a cleanup's backup that are not in the table (identical rows "
            "counted), verify that every backup row is back, and record a `restored` row in "
            "cleanup_runs. Running it again inserts 0 rows."
        ),
    )
    r.add_argument("--cleanup-id", required=True, metavar="ID", help="from `pcf cleanup list`")
    r.add_argument("--dry-run", action="store_true", help="count what would be re-inserted")
    r.add_argument("--tables", type=_table_list, metavar="A,B", help="only these tables")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    add_warehouse_arg(r)
    r.set_defaults(func=cmd_restore)
    ls = csub.add_parser(
        "list", help="recent cleanup runs, their backups and whether each backup still exists"
    )
    ls.add_argument(
        "--days", type=int, default=30, metavar="N", help="runs of the last N days (default 30)"
    )
    ls.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_warehouse_arg(ls)
    ls.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "schedule",
        help="the daily cleanup's Cloud Scheduler job, defined in infra/topology.json",
        description=(
            "show: the job as Terraform creates it from topology.json (offline). run: fire it "
            "now. Terraform (infra/terraform/scheduler.tf) is the only writer of the job."
        ),
    )
    ssub = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    show = ssub.add_parser("show", help="print the job built from topology.json (offline)")
    do_run = ssub.add_parser("run", help="fire the job now")
    do_run.add_argument(
        "--publish",
        action="store_true",
        help=(
            "instead of asking Cloud Scheduler, publish the job's payload (a CleanupRequest) on "
            "the configured bus (local stack: the Pub/Sub emulator; local bus: in-process)"
        ),
    )
    add_warehouse_arg(do_run)
    for q in (show, do_run):
        q.add_argument("--project", help="Google Cloud project (default PCF_PROJECT)")
        q.add_argument("--region", help="Cloud Scheduler location (default PCF_REGION)")
        q.add_argument("--json", action="store_true", help="print the result as JSON")
    show.set_defaults(func=cmd_schedule_show)
    do_run.set_defaults(func=cmd_schedule_run)


# -- pcf cleanup -----------------------------------------------------------------------------


def _one_line(exc: ValueError) -> str:
    """A pydantic validation error as one line (its messages, without the URL noise)."""
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
    return str(exc).splitlines()[0]


def _checked_settings(args: argparse.Namespace) -> Settings:
    """Settings with a valid cleanup allow-list, else a one-line usage error (exit 2)."""
    settings = settings_from(args)
    error = allow_list_error(settings.cleanup_tables)
    if error:
        raise UsageError(error)
    return settings


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Run the TTL cleanup now and print one line per table."""
    try:
        req = CleanupRequest(
            trigger="manual",
            dry_run=args.dry_run,
            ttl_days=args.ttl_days,
            today=args.today,
            tables=args.tables,
            allow_large_delete=args.allow_large_delete,
            requested_by="pcf cleanup",
        )
    except ValueError as exc:
        if args.ttl_days is not None and not 1 <= args.ttl_days <= 365:
            raise UsageError(f"--ttl-days must be between 1 and 365, got {args.ttl_days}") from exc
        raise UsageError(_one_line(exc)) from exc
    settings = _checked_settings(args)
    try:
        # Same check the use case makes, before a warehouse is even opened.
        resolve_tables(req.tables, settings.cleanup_tables)
    except UnknownCleanupTable as exc:
        raise UsageError(str(exc)) from exc
    return _run_and_print(args, req)


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a cleanup's backed-up rows and print one line per table."""
    try:
        req = CleanupRequest(
            trigger="manual",
            action="restore",
            cleanup_id=args.cleanup_id,
            dry_run=args.dry_run,
            tables=args.tables,
            requested_by="pcf cleanup restore",
        )
    except ValueError as exc:
        raise UsageError(f"--cleanup-id {args.cleanup_id!r}: {_one_line(exc)}") from exc
    _checked_settings(args)
    return _run_and_print(args, req)


def _run_and_print(args: argparse.Namespace, req: CleanupRequest) -> int:
    app = open_app(args)
    error: str | None = None
    try:
        try:
            result = cleanup_upcoming(app, req, Delivery("cli", 1, None, {}))
        except CleanupError as exc:
            result, error = exc.result, str(exc)
    finally:
        app.close()
    if args.json:
        print_json({**result.to_dict(), "error": error})
    elif result.action == "restore":
        print_restore(result)
    else:
        print_cleanup(result)
    if error and not args.json:
        print(f"error: {error}")
    return 0 if result.ok else 1


def print_cleanup(result: CleanupResult) -> None:
    """The per-table cleanup table, then each table's detail (and runs reconciled first)."""
    for r in result.reconciled:
        print(f"reconciled {r.cleanup_id} {r.table_name}: {r.status} — {r.detail}")
    print(
        f"cleanup {result.cleanup_id}: run date {result.run_date} (ET), ttl {result.ttl_days} "
        f"days, deleting game_date < {result.cutoff_date}"
        + (" [dry run]" if result.dry_run else "")
    )
    rows = [
        {
            "table": t.table_name,
            "cutoff": t.cutoff_date,
            "stale rows": t.stale_rows,
            "stale dates": t.stale_dates,
            "range": t.stale_range,
            "backup": t.backup_table,
            "backup rows": t.backup_rows,
            "deleted": t.deleted_rows,
            "status": t.status,
        }
        for t in result.tables
    ]
    print_table(rows, CLEANUP_COLUMNS)
    for t in result.tables:
        print(f"{t.table_name}: {t.detail}")


def print_restore(result: CleanupResult) -> None:
    """The per-table restore table, then each table's detail."""
    print(
        f"restore {result.cleanup_id} of cleanup {result.restore_of}"
        + (" [dry run]" if result.dry_run else "")
    )
    rows = [
        {
            "table": t.table_name,
            "backup": t.backup_table,
            "backup rows": t.backup_rows,
            "restored": t.restored_rows,
            "rows before": t.rows_before,
            "rows after": t.rows_after,
            "status": t.status,
        }
        for t in result.tables
    ]
    print_table(rows, RESTORE_COLUMNS)
    for t in result.tables:
        print(f"{t.table_name}: {t.detail}")


def cmd_list(args: argparse.Namespace) -> int:
    """Print recent cleanup runs with their backups and whether each backup still exists."""
    if not 1 <= args.days <= 3650:
        raise UsageError(f"--days must be between 1 and 3650, got {args.days}")
    _checked_settings(args)
    app = open_app(args)
    try:
        rows = recent_runs(app, days=args.days)
    finally:
        app.close()
    if args.json:
        print_json(rows)
        return 0
    shown = [
        {
            "started (UTC)": r["started_at"].strftime("%Y-%m-%d %H:%M") if r["started_at"] else "",
            "cleanup id": r["cleanup_id"],
            "table": r["table_name"],
            "status": r["status"],
            "stale": r["stale_rows"],
            "deleted": r["deleted_rows"],
            "restored": r["restored_rows"],
            "backup": r["backup_table"],
            "backup rows": r["backup_rows"],
            "exists": ("yes" if r["backup_exists"] else "no") if r["backup_table"] else "",
            "restore of": r["restore_of"],
        }
        for r in rows
    ]
    print_table(shown, LIST_COLUMNS)
    return 0


# -- pcf schedule ----------------------------------------------------------------------------


def _schedule_settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(args)
    update: dict[str, Any] = {}
    try:
        if args.project:
            update["project"] = validate_identifier(args.project, "project")
        if args.region:
            update["region"] = validate_identifier(args.region, "region")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return settings.model_copy(update=update) if update else settings


def cmd_schedule_show(args: argparse.Namespace) -> int:
    """Print the job built from topology.json and its next fire times (no API call)."""
    from shared.tools.schedule import build_job, job_summary, load_schedule

    settings = _schedule_settings(args)
    spec = load_schedule()
    job = job_summary(build_job(settings, spec))
    fires = _next_fires(spec)
    if args.json:
        print_json({"job": job, "next_runs_utc": fires})
        return 0
    _print_job(job)
    if spec.attempt_deadline_seconds is not None:
        print(
            f"{'attempt_deadline':<20} not set ({spec.attempt_deadline_seconds}s in topology): "
            "Cloud Scheduler ignores it for Pub/Sub targets"
        )
    if fires:
        print(f"{'next runs (UTC)':<20} {', '.join(fires)}")
    return 0


def cmd_schedule_run(args: argparse.Namespace) -> int:
    """Fire the job now (or publish its payload on the configured bus with ``--publish``)."""
    from shared.tools.schedule import load_schedule, run_now

    settings = _schedule_settings(args)
    spec = load_schedule()
    if not args.publish:
        name = run_now(SCHEDULER_PORT_FACTORY(settings), settings, spec)
        out = {"job": name, "action": "run requested"}
    else:
        out = _publish_payload(args, spec.topic_key, CleanupRequest.model_validate(spec.body))
    if args.json:
        print_json(out)
    else:
        for key, value in out.items():
            print(f"{key:<12} {value}")
    return 0


def _publish_payload(
    args: argparse.Namespace, topic_key: str, msg: CleanupRequest
) -> dict[str, Any]:
    """Publish the scheduler's payload; on the local bus, deliver it to the same entry point."""
    from shared.entrypoint import run
    from shared.tools.local_bus import LocalBus

    app = open_app(args)
    try:
        local = isinstance(app.bus, LocalBus)
        if isinstance(app.bus, LocalBus):
            app.bus.subscribe(
                topic_key, lambda body: run(body, CleanupRequest, cleanup_upcoming, app)
            )
        message_id = app.bus.publish(topic_key, msg)
    finally:
        app.close()  # the local bus drains: the in-process cleanup has finished here
    return {
        "topic": app.settings.topic(topic_key),
        "message_id": message_id,
        "body": msg.to_bytes().decode("utf-8"),
        "delivered": "in-process (local bus)" if local else "by Pub/Sub",
    }


def _print_job(job: dict[str, Any]) -> None:
    for key, value in job.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        print(f"{key:<20} {shown}")


def _next_fires(spec: ScheduleSpec) -> list[str]:
    from shared.tools.schedule import next_fire_times

    try:
        times = next_fire_times(spec, datetime.now(UTC), 3)
    except ImportError:  # croniter is a dev dependency; the job itself does not need it
        return []
    return [t.astimezone(UTC).isoformat() for t in times]
