"""Use case ``process_date``: compute one date's composite factors and STAGE them (never live)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError
from shared.messages import ProcessDate, ValidateCoverage, WrittenDate
from shared.rules import SourceDecision, decide_source
from shared.rules.planning import DatePlan, staging_table_name
from shared.rules.render import RenderedRows, RenderJob, join, stamp
from shared.sql import processing as sql
from shared.usecases import ledger
from shared.usecases.ledger import LedgerUpdate

OUTPUT_TABLE = "player_composite_factors"


@dataclass
class ProcessResult:
    """What happened to one date."""

    game_date: date
    status: str
    expected_players: int = 0
    upcg_players: int = 0
    data_source: str | None = None
    reason: str | None = None
    rows_written: int = 0
    rows_rejected: int = 0
    rejected: list[str] = field(default_factory=list)
    staging_table: str | None = None
    # Every date's result when the message carried a chunk (this one is the first date's).
    chunk: list[ProcessResult] = field(default_factory=list, repr=False, compare=False)


def load_plan(app: App, game_date: date, mode: str) -> DatePlan:
    """The DATE_PLAN row of one date (one round trip)."""
    return load_plans(app, [game_date], mode)[game_date]


def load_plans(app: App, dates: list[date], mode: str) -> dict[date, DatePlan]:
    """The DATE_PLAN rows of every date of a chunk (one grouped round trip)."""
    rows = app.warehouse.query(sql.DATE_PLAN, {"start_date": min(dates), "end_date": max(dates)})
    plans = [DatePlan.from_row(r, mode, app.settings.bootstrap_days) for r in rows]
    wanted = set(dates)
    return {p.game_date: p for p in plans if p.game_date in wanted}


def load_contexts(
    app: App, dates_by_source: dict[str, list[date]]
) -> dict[date, list[dict[str, Any]]]:
    """The context rows of every date, grouped by date: one round trip per source used."""
    out: dict[date, list[dict[str, Any]]] = {d: [] for ds in dates_by_source.values() for d in ds}
    for source, dates in dates_by_source.items():
        if not dates:
            continue
        query = sql.CONTEXT_FROM_PGS if source == "PGS_SYNTHETIC" else sql.CONTEXT_FROM_UPCG
        rows = app.warehouse.query(query, sql.dates_params(dates))
        for row in rows:
            day = row.pop("game_date")
            if hasattr(day, "date") and not isinstance(day, date):
                day = day.date()
            out[day].append(row)
    return out


def log_source_decision(decision: SourceDecision, plan: DatePlan) -> None:
    """Defensive logging (RULES §2.2): counts, coverage, the source and why."""
    fields = {
        "upcg_players": plan.upcg_players,
        "expected_players": decision.expected,
        "coverage_pct": decision.coverage_pct,
        "missing_players": decision.missing,
        "data_source": decision.source,
        "reason": decision.reason,
    }
    pct = "n/a" if decision.coverage_pct is None else f"{decision.coverage_pct:.1f}%"
    check = f"data source check: UPCG has {plan.upcg_players}/{decision.expected} players ({pct})"
    if decision.reason == "upcg_partial":
        check += f", {decision.missing} missing"
    log.event(decision.severity, check, **fields)
    if decision.fallback:
        log.event("WARNING", f"fallback to PGS_SYNTHETIC: {decision.message}", **fields)
    else:
        log.event("INFO", f"using {decision.source}: {decision.message}", **fields)


def process_date(app: App, msg: ProcessDate, delivery: Delivery) -> ProcessResult:
    """Process one date or a chunk of dates (constant statements per chunk); a permanent failure
    is recorded (every date of the chunk ``failed`` + an alert each), then acked.

    Returns the first date's result; ``.chunk`` holds every date's."""
    dispatched_at = ledger.dispatch_time(msg.dispatched_at, delivery.publish_time, app.clock())
    try:
        return _process(app, msg, delivery, dispatched_at)
    except PermanentError as exc:
        ledger.record_failure(
            app, msg, delivery.message_id, exc, "processing_failed", "processing", dispatched_at
        )
        raise


@dataclass
class _Staged:
    """One date of a chunk on its way to the staging table."""

    plan: DatePlan
    decision: SourceDecision
    rows: int = 0  # rows staged (the rows themselves are dropped once written)
    rejected: list[str] = field(default_factory=list)


def _process(
    app: App, msg: ProcessDate, delivery: Delivery, dispatched_at: datetime
) -> ProcessResult:
    s = app.settings
    wh = app.warehouse
    dates = msg.dates

    def base(day: date) -> LedgerUpdate:
        return LedgerUpdate(
            run_id=msg.run_id,
            game_date=day,
            status="processing",
            mode=msg.mode,
            requested_by=msg.requested_by,
            dispatched_at=dispatched_at,
            calculation_version=s.calculation_version,
        )

    # 1 ledger statement: every date of the chunk is `processing` (one more delivery each).
    ledger.record_many(
        wh,
        [
            replace(
                base(day),
                forced=msg.force,
                force_reason=msg.force_reason,
                attempt_increment=1,
                last_message_id=delivery.message_id,
            )
            for day in dates
        ],
    )
    plans = load_plans(app, dates, msg.mode)
    results: dict[date, ProcessResult] = {}
    updates: list[LedgerUpdate] = []
    staged: dict[date, _Staged] = {}
    for day in dates:
        plan = plans[day]
        with log.log_context(game_date=day):
            if plan.action != "process":
                log.event(
                    "INFO",
                    f"{day} {plan.action.replace('_', ' ')}"
                    + (f" (season day {plan.season_day})" if plan.season_day is not None else ""),
                    status=plan.action,
                    expected_players=plan.expected_players,
                    upcg_players=plan.upcg_players,
                )
                updates.append(
                    replace(
                        base(day),
                        status=plan.action,
                        expected_players=plan.expected_players,
                        upcg_players=plan.upcg_players,
                        actual_players=0,
                    )
                )
                results[day] = ProcessResult(
                    day, plan.action, plan.expected_players, plan.upcg_players
                )
                continue
            decision = decide_source(
                upcg_players=plan.upcg_players,
                expected_players=plan.expected_players,
                mode=msg.mode,
                pinned=msg.source,
                threshold=s.fallback_threshold,
            )
            log_source_decision(decision, plan)
            staged[day] = _Staged(plan, decision)

    by_source: dict[str, list[date]] = {}
    for day, item in staged.items():
        by_source.setdefault(item.decision.source, []).append(day)
    contexts = load_contexts(app, by_source)
    jobs = [
        RenderJob(contexts.pop(day), day, item.decision.source, s.calculation_version)
        for day, item in staged.items()
    ]
    processed_at = app.clock()
    blocks: list[RenderedRows] = []
    for job, rendered in zip(jobs, app.renderer(jobs), strict=True):
        item = staged[job.game_date]
        item.rows, item.rejected = len(rendered.rows), rendered.rejected
        blocks.append(stamp(rendered.rows, run_id=msg.run_id, processed_at=processed_at))
    del jobs  # a chunk's contexts are not held while its rows are written
    all_rows = join(blocks)
    del blocks
    # WRITE only: the rows go to this run's own staging table (one per chunk); the live
    # partitions are untouched until validate_coverage has audited them (RULES §4).
    written = sorted(staged)
    staging = staging_table_name(msg.run_id, written[0], written[-1]) if written else None
    if staging is not None:
        wh.write_staging_table(OUTPUT_TABLE, staging, all_rows)
    del all_rows
    for day in written:
        item = staged[day]
        decision, plan = item.decision, item.plan
        with log.log_context(game_date=day):
            if item.rejected:
                log.event(
                    "ERROR",
                    f"range guard rejected {len(item.rejected)} rows (not written)",
                    rejected=item.rejected[:20],
                )
            log.event(
                "INFO",
                f"staged {item.rows} rows for {day} from {decision.source} in {staging} "
                "(not live until audited)",
                rows_written=item.rows,
                rows_rejected=len(item.rejected),
                data_source=decision.source,
                expected_players=decision.expected,
                upcg_players=plan.upcg_players,
                staging_table=staging,
            )
        updates.append(
            replace(
                base(day),
                status="written",
                expected_players=decision.expected,
                upcg_players=plan.upcg_players,
                actual_players=item.rows,
                data_source=decision.source,
                source_reason=f"{decision.reason}: {decision.message}",
                staging_table=staging,
                error=(
                    f"{len(item.rejected)} rows rejected by the range guard"
                    if item.rejected
                    else None
                ),
            )
        )
        results[day] = ProcessResult(
            game_date=day,
            status="written",
            expected_players=decision.expected,
            upcg_players=plan.upcg_players,
            data_source=decision.source,
            reason=decision.reason,
            rows_written=item.rows,
            rows_rejected=len(item.rejected),
            rejected=item.rejected,
            staging_table=staging,
        )
    # 1 ledger statement: every date `written` or skipped.
    ledger.record_many(wh, sorted(updates, key=lambda u: u.game_date))
    if written:
        app.bus.publish("validate_coverage", _handoff(msg, staged, written, dispatched_at))
    chunk = [results[day] for day in dates]
    first = chunk[0]
    first.chunk = chunk
    return first


def _handoff(
    msg: ProcessDate, staged: dict[date, _Staged], written: list[date], dispatched_at: datetime
) -> ValidateCoverage:
    """The ValidateCoverage message of the written dates (single-date fields for the first)."""
    first = staged[written[0]]
    return ValidateCoverage(
        run_id=msg.run_id,
        game_date=written[0],
        game_dates=written if len(written) > 1 else None,
        written=(
            [
                WrittenDate(
                    game_date=day,
                    data_source=staged[day].decision.source,  # type: ignore[arg-type]
                    upcg_players=staged[day].plan.upcg_players,
                    expected_players=staged[day].decision.expected,
                    rows_written=staged[day].rows,
                    rows_rejected=len(staged[day].rejected),
                )
                for day in written
            ]
            if len(written) > 1
            else None
        ),
        mode=msg.mode,
        source=msg.source,
        force=msg.force,
        force_reason=msg.force_reason,
        requested_by=msg.requested_by,
        data_source=first.decision.source,  # type: ignore[arg-type]
        upcg_players=first.plan.upcg_players,
        expected_players=first.decision.expected,
        rows_written=first.rows,
        rows_rejected=len(first.rejected),
        dispatched_at=dispatched_at,
    )
