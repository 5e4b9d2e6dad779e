"""Use case ``process_date``: compute one date's composite factors and STAGE them (never live)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError
from shared.messages import ProcessDate, ValidateCoverage
from shared.rules import (
    PlayerContext,
    RowRejected,
    ShotZoneProfile,
    SourceDecision,
    ZoneDefense,
    build_row,
    decide_source,
)
from shared.rules.planning import DatePlan, staging_table_name
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


def load_plan(app: App, game_date: date, mode: str) -> DatePlan:
    """The DATE_PLAN row of one date (one round trip)."""
    rows = app.warehouse.query(sql.DATE_PLAN, {"start_date": game_date, "end_date": game_date})
    return DatePlan.from_row(rows[0], mode, app.settings.bootstrap_days)


def build_rows(
    context_rows: list[dict[str, Any]], game_date: date, source: str, calculation_version: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pure: composite rows for every context row, and the rejected players with reasons."""
    rows: list[dict[str, Any]] = []
    rejected: list[str] = []
    for ctx in context_rows:
        profile = ShotZoneProfile.from_row(ctx) if ctx.get("has_shot_zone") else None
        defense = ZoneDefense.from_row(ctx) if ctx.get("has_team_defense") else None
        try:
            rows.append(
                build_row(
                    player_lookup=ctx["player_lookup"],
                    universal_player_id=ctx.get("universal_player_id"),
                    game_id=ctx.get("game_id"),
                    game_date=game_date,
                    data_source=source,
                    ctx=PlayerContext.from_row(ctx),
                    profile=profile,
                    defense=defense,
                    calculation_version=calculation_version,
                )
            )
        except (RowRejected, ValueError) as exc:
            rejected.append(f"{ctx['player_lookup']}: {exc}")
    return rows, rejected


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
    """Process one date; a permanent failure is recorded (ledger ``failed`` + alert), then acked."""
    dispatched_at = ledger.dispatch_time(msg.dispatched_at, delivery.publish_time, app.clock())
    try:
        return _process(app, msg, delivery, dispatched_at)
    except PermanentError as exc:
        ledger.record_failure(
            app, msg, delivery.message_id, exc, "processing_failed", "processing", dispatched_at
        )
        raise


def _process(
    app: App, msg: ProcessDate, delivery: Delivery, dispatched_at: datetime
) -> ProcessResult:
    s = app.settings
    wh = app.warehouse
    base = LedgerUpdate(
        run_id=msg.run_id,
        game_date=msg.game_date,
        status="processing",
        mode=msg.mode,
        requested_by=msg.requested_by,
        dispatched_at=dispatched_at,
        calculation_version=s.calculation_version,
    )
    ledger.record(
        wh,
        replace(
            base,
            forced=msg.force,
            force_reason=msg.force_reason,
            attempt_increment=1,
            last_message_id=delivery.message_id,
        ),
    )
    plan = load_plan(app, msg.game_date, msg.mode)
    if plan.action != "process":
        log.event(
            "INFO",
            f"{msg.game_date} {plan.action.replace('_', ' ')}"
            + (f" (season day {plan.season_day})" if plan.season_day is not None else ""),
            status=plan.action,
            expected_players=plan.expected_players,
            upcg_players=plan.upcg_players,
        )
        ledger.record(
            wh,
            replace(
                base,
                status=plan.action,
                expected_players=plan.expected_players,
                upcg_players=plan.upcg_players,
                actual_players=0,
            ),
        )
        return ProcessResult(msg.game_date, plan.action, plan.expected_players, plan.upcg_players)

    decision = decide_source(
        upcg_players=plan.upcg_players,
        expected_players=plan.expected_players,
        mode=msg.mode,
        pinned=msg.source,
        threshold=s.fallback_threshold,
    )
    log_source_decision(decision, plan)
    query = sql.CONTEXT_FROM_PGS if decision.source == "PGS_SYNTHETIC" else sql.CONTEXT_FROM_UPCG
    context_rows = wh.query(query, {"game_date": msg.game_date})
    rows, rejected = build_rows(context_rows, msg.game_date, decision.source, s.calculation_version)
    processed_at = app.clock()
    for row in rows:
        row["run_id"] = msg.run_id
        row["processed_at"] = processed_at
    if rejected:
        log.event(
            "ERROR",
            f"range guard rejected {len(rejected)} rows (not written)",
            rejected=rejected[:20],
        )
    # WRITE only: the rows go to this run's own staging table; the live partition is
    # untouched until validate_coverage has audited them (RULES §4).
    staging = staging_table_name(msg.run_id, msg.game_date)
    wh.write_staging_table(OUTPUT_TABLE, staging, rows)
    log.event(
        "INFO",
        f"staged {len(rows)} rows for {msg.game_date} from {decision.source} in {staging} "
        "(not live until audited)",
        rows_written=len(rows),
        rows_rejected=len(rejected),
        data_source=decision.source,
        expected_players=decision.expected,
        upcg_players=plan.upcg_players,
        staging_table=staging,
    )
    ledger.record(
        wh,
        replace(
            base,
            status="written",
            expected_players=decision.expected,
            upcg_players=plan.upcg_players,
            actual_players=len(rows),
            data_source=decision.source,
            source_reason=f"{decision.reason}: {decision.message}",
            staging_table=staging,
            error=f"{len(rejected)} rows rejected by the range guard" if rejected else None,
        ),
    )
    app.bus.publish(
        "validate_coverage",
        ValidateCoverage(
            run_id=msg.run_id,
            game_date=msg.game_date,
            mode=msg.mode,
            source=msg.source,
            force=msg.force,
            force_reason=msg.force_reason,
            requested_by=msg.requested_by,
            data_source=decision.source,
            upcg_players=plan.upcg_players,
            expected_players=decision.expected,
            rows_written=len(rows),
            rows_rejected=len(rejected),
            dispatched_at=dispatched_at,
        ),
    )
    return ProcessResult(
        game_date=msg.game_date,
        status="written",
        expected_players=decision.expected,
        upcg_players=plan.upcg_players,
        data_source=decision.source,
        reason=decision.reason,
        rows_written=len(rows),
        rows_rejected=len(rejected),
        rejected=rejected,
        staging_table=staging,
    )
