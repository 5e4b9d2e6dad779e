"""Use case ``dispatch_backfill``: plan a range in one grouped query, fan out chunks of dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared import log
from shared.app import App
from shared.clock import et_today
from shared.entrypoint import Delivery
from shared.errors import PermanentError
from shared.messages import Alert, BackfillRequest, ProcessDate, new_run_id
from shared.rules import decide_source
from shared.rules.planning import DatePlan, chunk_dates, reported_statuses, select_for_rerun
from shared.sql import ledger as ledger_sql
from shared.sql import processing as processing_sql
from shared.usecases import ledger


class RequestError(PermanentError):
    """A backfill request that can never be served as sent (nothing is sent)."""

    usage = True


def resolve_dates(req: BackfillRequest, today: date, max_dates: int) -> list[date]:
    """Pure: the calendar dates a request covers, after the RULES §3 limits."""
    if req.dates is not None:
        dates = sorted(set(req.dates))
    else:
        assert req.start_date is not None  # model-validated
        assert req.end_date is not None
        span = (req.end_date - req.start_date).days + 1
        if span > max_dates:
            raise RequestError(
                f"{req.start_date}..{req.end_date} is {span} dates; at most {max_dates} per "
                "request (split the range)"
            )
        dates = [req.start_date + timedelta(days=i) for i in range(span)]
    if len(dates) > max_dates:
        raise RequestError(f"{len(dates)} dates requested; at most {max_dates} per request")
    future = [d for d in dates if d > today]
    if future and req.mode == "backfill":
        raise RequestError(
            f"{future[0]} is in the future (today is {today} in New York); a backfill covers "
            "past dates only — use mode daily for upcoming games"
        )
    return dates


@dataclass
class PlanLine:
    """One date of a dispatch plan."""

    game_date: date
    expected_players: int
    upcg_players: int
    planned_source: str | None
    action: str
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for tables and JSON."""
        return dict(self.__dict__)


@dataclass
class DispatchResult:
    """The plan and what was sent."""

    run_id: str
    dry_run: bool
    lines: list[PlanLine] = field(default_factory=list)
    dispatched_at: datetime | None = None

    @property
    def sent(self) -> list[date]:
        """Dates that got a ProcessDate message (or would, on a dry run)."""
        return [line.game_date for line in self.lines if line.action == "send"]


def plan_request(app: App, req: BackfillRequest, run_id: str) -> DispatchResult:
    """One grouped pre-flight query + one ledger query → the per-date plan (no writes)."""
    s = app.settings
    dates = resolve_dates(req, et_today(app.clock()), s.max_dates_per_request)
    wanted = set(dates)
    rows = app.warehouse.query(
        processing_sql.DATE_PLAN, {"start_date": dates[0], "end_date": dates[-1]}
    )
    plans = [DatePlan.from_row(r, req.mode, s.bootstrap_days) for r in rows]
    plans = [p for p in plans if p.game_date in wanted]
    latest = ledger.latest_by_date(
        app.warehouse, dates[0], dates[-1], calculation_version=s.calculation_version
    )
    candidates = [p.game_date for p in plans if p.action == "process"]
    # Reported, not stored, statuses: an in-flight row older than the lease is `stalled`.
    statuses = reported_statuses(latest, app.clock(), s.stall_lease_minutes)
    to_send, skipped = select_for_rerun(statuses, candidates, req.rerun)
    send = set(to_send)
    result = DispatchResult(run_id=run_id, dry_run=req.dry_run)
    for p in plans:
        decision = decide_source(
            upcg_players=p.upcg_players,
            expected_players=p.expected_players,
            mode=req.mode,
            pinned=req.source,
            threshold=s.fallback_threshold,
        )
        line = PlanLine(p.game_date, p.expected_players, p.upcg_players, decision.source, "send")
        if p.action != "process":
            line.action, line.planned_source = p.action, None
            line.reason = (
                f"season day {p.season_day} < {s.bootstrap_days}"
                if p.action == "skipped_bootstrap"
                else "no games"
            )
        elif p.game_date not in send:
            line.action, line.reason = "skipped_rerun", skipped.get(p.game_date, "")
        else:
            line.reason = decision.message
        result.lines.append(line)
    return result


def _ledger_rows(app: App, req: BackfillRequest, result: DispatchResult) -> list[dict[str, Any]]:
    now = app.clock()
    rows = []
    for line in result.lines:
        if line.action not in ("send", "skipped_bootstrap"):
            continue
        rows.append(
            {
                "run_id": result.run_id,
                "game_date": line.game_date,
                "status": "queued" if line.action == "send" else line.action,
                "mode": req.mode,
                "expected_players": line.expected_players,
                "upcg_players": line.upcg_players,
                "data_source": line.planned_source,
                "forced": req.force,
                "force_reason": req.force_reason,
                "requested_by": req.requested_by,
                "attempts": 0,
                "dispatched_at": result.dispatched_at,
                "calculation_version": app.settings.calculation_version,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def dispatch_backfill(app: App, req: BackfillRequest, delivery: Delivery) -> DispatchResult:
    """Plan the request; unless dry_run, queue ledger rows then publish one ProcessDate per chunk
    of ``chunk_size`` dates (the request's, else the setting).

    A permanent failure (a request that can never be served, a broken query) raises a
    ``dispatch_failed`` alert before it is acknowledged: nothing is sent silently or lost.
    """
    try:
        return _dispatch(app, req, delivery)
    except PermanentError as exc:
        app.alert(
            Alert(
                kind="dispatch_failed",
                summary=f"backfill request {req.run_id or delivery.message_id} failed: {exc}",
                run_id=req.run_id,
                details={
                    "error": f"{type(exc).__name__}: {exc}",
                    "start_date": str(req.start_date) if req.start_date else None,
                    "end_date": str(req.end_date) if req.end_date else None,
                    "dates": len(req.dates) if req.dates else None,
                    "message_id": delivery.message_id,
                },
            ),
        )
        raise


def _dispatch(app: App, req: BackfillRequest, delivery: Delivery) -> DispatchResult:
    now = app.clock()
    run_id = req.run_id or run_id_for(delivery, now)
    result = plan_request(app, req, run_id)
    # The fencing order of runs: a redelivered request keeps its first publish time.
    result.dispatched_at = dispatched_at_for(delivery, now)
    sent = result.sent
    log.event(
        "INFO",
        f"backfill plan {run_id}: {len(result.lines)} dates, {len(sent)} to process"
        + (" (dry run: nothing sent)" if req.dry_run else ""),
        run_id=run_id,
        dates=len(result.lines),
        to_process=len(sent),
        skipped={a: sum(1 for x in result.lines if x.action == a) for a in _actions(result)},
        rerun=req.rerun,
        source=req.source,
        dry_run=req.dry_run,
    )
    if req.dry_run or not result.lines:
        return result
    rows = _ledger_rows(app, req, result)
    if rows:
        first, last = rows[0]["game_date"], rows[-1]["game_date"]
        staging = app.warehouse.stage_rows("backfill_ledger", rows, tag=run_id[-12:])
        try:
            app.warehouse.execute(
                ledger_sql.QUEUE_MANY,
                {"start_date": first, "end_date": last},
                staging=staging,
            )
        finally:
            app.warehouse.drop_staging(staging)
    size = req.chunk_size or app.settings.chunk_size
    for chunk in chunk_dates(sent, size):
        app.bus.publish(
            "process_date",
            ProcessDate(
                run_id=run_id,
                game_date=chunk[0],
                game_dates=chunk if len(chunk) > 1 else None,
                mode=req.mode,
                source=req.source,
                force=req.force,
                force_reason=req.force_reason,
                requested_by=req.requested_by,
                dispatched_at=result.dispatched_at,
            ),
            {
                "run_id": run_id,
                "game_date": chunk[0].isoformat(),
                "dates": str(len(chunk)),
            },
        )
    return result


def _actions(result: DispatchResult) -> set[str]:
    return {line.action for line in result.lines if line.action != "send"}


def run_id_for(delivery: Delivery, now: datetime) -> str:
    """A run id that a redelivery of the same message reproduces (sortable, unique)."""
    if delivery.message_id and delivery.publish_time:
        try:
            published = datetime.fromisoformat(delivery.publish_time.replace("Z", "+00:00"))
        except ValueError:
            published = now
        safe = "".join(ch for ch in delivery.message_id if ch.isalnum())[-16:]
        return f"r{published.astimezone(UTC):%Y%m%dT%H%M%S%f}Z-m{safe}"
    return new_run_id(now)


def dispatched_at_for(delivery: Delivery, now: datetime) -> datetime:
    """When this run is dispatched: the request's publish time (stable across redelivery)."""
    if delivery.message_id and delivery.publish_time:
        try:
            return datetime.fromisoformat(delivery.publish_time.replace("Z", "+00:00"))
        except ValueError:
            pass
    return now.astimezone(UTC)
