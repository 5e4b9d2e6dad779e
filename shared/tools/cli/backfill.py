"""``pcf backfill``, ``pcf status`` and ``pcf report``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from shared.messages import BackfillRequest, new_run_id
from shared.rules.statuses import FAILING, FINAL_OK, RETRYABLE
from shared.tools.cli.common import (
    UsageError,
    add_warehouse_arg,
    date_list,
    is_tty,
    iso_date,
    open_app,
    positive_int,
    print_json,
    print_table,
    settings_from,
)
from shared.tools.local_bus import LocalBus

SUMMARY_COLUMNS = [
    "game_date",
    "expected",
    "upcg",
    "actual",
    "coverage_pct",
    "source",
    "status",
]
# A date is done for this run once its ledger row reaches one of these (the bar counts them).
FINAL_STATUSES = frozenset((*FINAL_OK, *RETRYABLE))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add backfill, status and report."""
    p = sub.add_parser(
        "backfill",
        help="backfill a date range safely (plan → process → validate → checkpoint)",
        description=(
            "Fan a range out into one message per game date. Each date is processed with the "
            "UPCG/PGS fallback and checkpointed only if its coverage passes the gate "
            "(block < 90 %%, warn < 95 %%). Exit 0 when no date is blocked/failed, 1 otherwise."
        ),
    )
    p.add_argument("--start-date", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--end-date", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--dates", type=date_list, metavar="D1,D2,...", help="explicit dates")
    p.add_argument("--force", action="store_true", help="checkpoint blocked dates (needs --reason)")
    p.add_argument("--reason", help="why the coverage gate is overridden (audited)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, send nothing")
    p.add_argument(
        "--rerun",
        choices=["missing", "failed", "all"],
        default="missing",
        help="missing: skip checkpointed dates (default); failed: only blocked/"
        "failed/stalled dates; all: every date",
    )
    p.add_argument(
        "--source",
        choices=["auto", "upcg", "synthetic"],
        default="auto",
        help="pin the context source (default auto)",
    )
    p.add_argument(
        "--workers", type=positive_int, metavar="N", help="local bus workers (default 2)"
    )
    p.add_argument(
        "--via",
        choices=["local", "pubsub"],
        help="local: run in-process (default when PCF_BUS=local); pubsub: publish "
        "the request to the backfill topic",
    )
    p.add_argument("--run-id", help="run id (default: generated, sortable)")
    p.add_argument("--requested-by", default=None, help="who asks (default: your user name)")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("status", help="latest ledger state per date (read-only)")
    p.add_argument("--start-date", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--end-date", type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--run-id", dest="run_id", help="only this run")
    p.add_argument("--run", dest="run_id", help=argparse.SUPPRESS)  # old name, kept as alias
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "report",
        help="a self-contained HTML page: calendar, chart, per-date history (read-only)",
    )
    p.add_argument("--start-date", type=iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--end-date", type=iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_report)


def build_request(args: argparse.Namespace) -> BackfillRequest:
    """The BackfillRequest the flags describe (UsageError when they make none)."""
    if args.dates and (args.start_date or args.end_date):
        raise UsageError("give --start-date/--end-date or --dates, not both")
    if not args.dates and not (args.start_date and args.end_date):
        raise UsageError("give --start-date and --end-date (inclusive), or --dates d1,d2")
    if args.force and not (args.reason or "").strip():
        raise UsageError('--force needs --reason "why the gate is overridden" (it is audited)')
    if args.reason and not args.force:
        raise UsageError("--reason is only used with --force")
    if args.start_date and args.end_date and args.end_date < args.start_date:
        raise UsageError(
            f"--end-date {args.end_date} is before --start-date {args.start_date}",
            "the range is inclusive: swap the two dates",
        )
    try:
        return BackfillRequest(
            start_date=args.start_date,
            end_date=args.end_date,
            dates=args.dates,
            force=args.force,
            force_reason=args.reason,
            dry_run=args.dry_run,
            rerun=args.rerun,
            source=args.source,
            requested_by=args.requested_by or getpass.getuser(),
            run_id=args.run_id or new_run_id(),
        )
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        text = str(errors()[0].get("msg", exc)) if callable(errors) and errors() else str(exc)
        raise UsageError(text.removeprefix("Value error, ")) from exc


def cmd_backfill(args: argparse.Namespace) -> int:
    """Run (or publish) a backfill and print the per-date summary."""
    from shared.clock import et_today
    from shared.usecases.dispatch_backfill import RequestError, plan_request, resolve_dates

    req = build_request(args)
    settings = settings_from(args)
    via = args.via or settings.bus
    from datetime import UTC, datetime

    try:
        resolve_dates(req, et_today(datetime.now(UTC)), settings.max_dates_per_request)
    except RequestError as exc:
        raise UsageError(str(exc)) from exc
    if via == "pubsub" and not req.dry_run:
        from shared.bus.pubsub import PubSubPublisher

        publisher = PubSubPublisher(settings)
        message_id = publisher.publish("backfill_requests", req)
        print(
            f"published backfill {req.run_id} to {publisher.topic_path('backfill_requests')} "
            f"(message {message_id}); follow it with: pcf status --run-id {req.run_id}"
        )
        print_json({"run_id": req.run_id, "published": message_id, "dates": []})
        return 0

    from shared.entrypoint import Delivery
    from shared.tools import render_pool
    from shared.tools.registry import wire_local_bus
    from shared.usecases.dispatch_backfill import dispatch_backfill

    bus = LocalBus(workers=settings.local_workers)
    app = open_app(args, bus=bus)
    try:
        if req.dry_run:
            plan = plan_request(app, req, req.run_id or "")
            lines = [line.as_dict() for line in plan.lines]
            if args.json:
                print_json({"run_id": plan.run_id, "dry_run": True, "plan": lines})
            else:
                print(f"dry run {plan.run_id}: {len(plan.sent)} dates would be processed")
                print_table(
                    lines,
                    [
                        "game_date",
                        "expected_players",
                        "upcg_players",
                        "planned_source",
                        "action",
                        "reason",
                    ],
                )
            return 0
        wire_local_bus(app, bus)
        render_pool.warm(app)
        started = time.monotonic()
        result = None
        try:
            result = dispatch_backfill(app, req, Delivery("cli", 1, None, {}))
            _wait_with_progress(app, bus, result)
        except KeyboardInterrupt:
            dropped = bus.stop()
            settled = bus.drain(timeout=0.8)
            _interrupted(args, req, result, dropped, _unfinished(app, result))
            if not settled:
                # A chunk is still being processed on a worker thread: Python cannot interrupt
                # it and would join it at exit (seconds), and closing the warehouse under it
                # fails it noisily. Leave at once instead: its dates stay in flight and nothing
                # of them reached the live table (write → audit → publish); `--rerun missing`
                # or, after the lease, `--rerun failed` picks them up.
                sys.stderr.flush()
                sys.stdout.flush()
                os._exit(130)
            return 130
        elapsed = time.monotonic() - started
        summary = summarize(app, result)
        alerts = [m.model_dump(mode="json") for m in bus.messages("alerts")]
        dead = [
            {
                "topic": d.topic_key,
                "message_id": d.message_id,
                "attempts": d.attempts,
                "error": d.errors[-1] if d.errors else "",
            }
            for d in bus.dead_letters()
        ]
    finally:
        app.close()
    failing = [r for r in summary if r["status"] in FAILING]
    if args.json:
        print_json(
            {"run_id": result.run_id, "dates": summary, "alerts": alerts, "dead_letters": dead}
        )
    else:
        print(f"backfill {result.run_id}: {len(result.sent)} dates processed")
        print_table(summary, SUMMARY_COLUMNS)
        for alert in alerts:
            print(f"ALERT [{alert['kind']}] {alert['summary']}")
        for d in dead:
            print(
                f"DEAD LETTER {d['topic']} {d['message_id']} after {d['attempts']} attempts: "
                f"{d['error']}"
            )
        counts: dict[str, int] = {}
        for r in summary:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        print("totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        final = sum(
            1
            for r in summary
            if r["status"] in FINAL_STATUSES or str(r["status"]).startswith("skipped")
        )
        rate = len(result.sent) / elapsed if elapsed > 0 else 0.0
        print(
            f"done: {final}/{len(summary)} dates final in {elapsed:.1f}s "
            f"({rate:.1f} dates/s processed)"
        )
    return 1 if failing or dead else 0


def _final_count(app: Any, result: Any) -> int:
    """Dates of the plan that reached a final state: plan-time skips + final ledger rows."""
    from shared.sql import ledger as ledger_sql

    sent = set(result.sent)
    done = len(result.lines) - len(sent)
    if not sent:
        return done
    rows = app.warehouse.query(
        ledger_sql.RUN_ROWS,
        {"start_date": min(sent), "end_date": max(sent), "run_id": result.run_id},
    )
    return done + sum(1 for r in rows if r["game_date"] in sent and r["status"] in FINAL_STATUSES)


def _wait_with_progress(app: Any, bus: LocalBus, result: Any, poll_s: float = 0.5) -> None:
    """Wait for the run; show how many planned dates are final (bar at a terminal, lines else)."""
    total = len(result.lines)
    if not result.sent:
        return
    if not is_tty(sys.stderr) or not _has_rich():
        last_decile = -1
        while not bus.drain(timeout=poll_s * 4):
            done = _final_count(app, result)
            if done * 10 // total != last_decile:
                last_decile = done * 10 // total
                print(f"progress: {done}/{total} dates final", file=sys.stderr, flush=True)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from shared.tools.cli.common import console

    with Progress(
        SpinnerColumn(),
        TextColumn(f"backfill {result.run_id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("dates"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=False,
        refresh_per_second=8,
    ) as progress:
        start = time.monotonic()
        first = total - len(result.sent)
        task = progress.add_task(
            "backfill", total=total, completed=first, rate="0.0 dates/s", eta="-:--:--"
        )
        while True:
            finished = bus.drain(timeout=poll_s)
            done = _final_count(app, result)
            elapsed = time.monotonic() - start
            rate = (done - first) / elapsed if elapsed > 0 else 0.0
            progress.update(
                task, completed=done, rate=f"{rate:.1f} dates/s", eta=_eta(total - done, rate)
            )
            if finished:
                break


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _eta(remaining: int, rate: float) -> str:
    """``H:MM:SS`` left at ``rate`` dates/s (``-:--:--`` before the first date is done)."""
    if rate <= 0:
        return "-:--:--"
    seconds = int(remaining / rate + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _unfinished(app: Any, result: Any) -> list[date]:
    """Dates the run sent that have no final ledger row yet (best effort after Ctrl-C)."""
    if result is None or not result.sent:
        return []
    from shared.sql import ledger as ledger_sql

    try:
        rows = app.warehouse.query(
            ledger_sql.RUN_ROWS,
            {"start_date": min(result.sent), "end_date": max(result.sent), "run_id": result.run_id},
        )
    except Exception:  # the hint must print even if the warehouse is busy
        return []
    final = {r["game_date"] for r in rows if r["status"] in FINAL_STATUSES}
    return [d for d in result.sent if d not in final]


def _interrupted(
    args: argparse.Namespace,
    req: BackfillRequest,
    result: Any,
    dropped: int,
    unfinished: list[date],
) -> None:
    """Tell what Ctrl-C left behind and the commands that resume it."""
    import shlex

    where = (
        ["--dates", ",".join(d.isoformat() for d in req.dates)]
        if req.dates
        else ["--start-date", str(req.start_date), "--end-date", str(req.end_date)]
    )
    extra = ["--warehouse", args.warehouse] if getattr(args, "warehouse", None) else []
    if req.source != "auto":
        extra += ["--source", req.source]
    if req.force:
        extra += ["--force", "--reason", req.force_reason or ""]
    base = shlex.join(["pcf", "backfill", *where, *extra])
    run = result.run_id if result is not None else req.run_id
    print(
        f"\npcf backfill: interrupted: run {run} stopped; {dropped} dates not started stay "
        "`queued` (nothing half-written is checkpointed)",
        file=sys.stderr,
    )
    print(f"  resume the unfinished dates:  {base} --rerun missing", file=sys.stderr)
    print(f"  retry blocked/failed dates:   {base} --rerun failed", file=sys.stderr)
    print(f"  see where it stopped:         pcf status --run-id {run}", file=sys.stderr)
    if req.rerun == "all" and unfinished and len(unfinished) <= 31:
        # --rerun missing would skip dates an older run checkpointed: name the dates instead.
        dates = ",".join(d.isoformat() for d in unfinished)
        rest = shlex.join(["pcf", "backfill", "--dates", dates, *extra, "--rerun", "all"])
        print(f"  redo exactly what this --rerun all run did not finish:  {rest}", file=sys.stderr)


def summarize(app: Any, result: Any) -> list[dict[str, Any]]:
    """Per-date summary rows: the plan joined with the run's ledger rows."""
    from shared.sql import ledger as ledger_sql

    if not result.lines:
        return []
    first, last = result.lines[0].game_date, result.lines[-1].game_date
    rows = app.warehouse.query(
        ledger_sql.RUN_ROWS, {"start_date": first, "end_date": last, "run_id": result.run_id}
    )
    by_date = {r["game_date"]: r for r in rows}
    out = []
    for line in result.lines:
        row = by_date.get(line.game_date)
        out.append(
            {
                "game_date": line.game_date,
                "expected": row["expected_players"] if row else line.expected_players,
                "upcg": row["upcg_players"] if row else line.upcg_players,
                "actual": row["actual_players"] if row else None,
                "coverage_pct": row["coverage_pct"] if row else None,
                "source": row["data_source"] if row else None,
                "status": row["status"] if row else line.action,
                "forced": bool(row["forced"]) if row and row["forced"] is not None else False,
            }
        )
    return out


def _status_range(args: argparse.Namespace) -> tuple[date, date]:
    if args.start_date and args.end_date:
        if args.end_date < args.start_date:
            raise UsageError("--end-date is before --start-date")
        return args.start_date, args.end_date
    if args.start_date or args.end_date:
        raise UsageError("give both --start-date and --end-date")
    if args.run_id:
        return date(1900, 1, 1), date(2999, 12, 31)
    raise UsageError("give --start-date and --end-date, or --run-id RUN_ID")


def cmd_status(args: argparse.Namespace) -> int:
    """Print the latest ledger row per date."""
    from shared.rules.planning import reported_statuses
    from shared.usecases import ledger

    start, end = _status_range(args)
    app = open_app(args, read_only=True)
    try:
        latest = ledger.latest_by_date(app.warehouse, start, end, run_id=args.run_id)
        # In flight for longer than the lease → reported `stalled` (never stored).
        reported = reported_statuses(latest, app.clock(), app.settings.stall_lease_minutes)
    finally:
        app.close()
    rows = [{**row, "status": reported[d]} for d, row in latest.items()]
    if args.json:
        print_json({"dates": rows})
        return 0
    print_table(
        rows,
        [
            "game_date",
            "status",
            "expected_players",
            "upcg_players",
            "actual_players",
            "coverage_pct",
            "data_source",
            "forced",
            "source_reason",
            "attempts",
            "run_id",
        ],
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report of a date range."""
    from shared.tools.report import collect, render_report

    if args.end_date < args.start_date:
        raise UsageError(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    if args.out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {args.out}: the report is an HTML page, use a .html file name")
    app = open_app(args, read_only=True)
    try:
        data = collect(app, args.start_date, args.end_date)
    finally:
        app.close()
    render_report(data, args.out)
    print_json({"out": str(args.out), "dates": len(data.days), "counts": data.counts()})
    print(f"wrote {args.out} ({len(data.days)} dates): open it in a browser")
    return 0
