"""Use case ``validate_coverage``: AUDIT this run's staged rows, then PUBLISH (fenced) or block.

Nothing reaches the live partition before its audit passed (RULES §4): ``process_date`` staged
the rows; here they are counted against the players expected, and only a passing verdict
(succeeded / warned / forced) replaces D's live partition, in one statement that also checks
that no newer run owns D. A stale run is acknowledged as ``superseded`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ValidateCoverage, WrittenDate
from shared.rules import CoverageVerdict, coverage_verdict
from shared.rules.planning import staging_table_name
from shared.rules.statuses import CHECKPOINTED, SUPERSEDED
from shared.sql import coverage as sql
from shared.sql import ledger as ledger_sql
from shared.usecases import ledger
from shared.usecases.ledger import LedgerUpdate
from shared.warehouse import WarehouseError


@dataclass(frozen=True)
class CoverageResult:
    """The outcome of validating (and publishing) one date."""

    status: str
    actual_players: int | None
    expected_players: int | None
    coverage_pct: float | None
    message: str
    published: bool = False
    reason: str | None = None
    game_date: date | None = None
    # Every date's result when the message carried a chunk (this one is the first date's).
    chunk: tuple[CoverageResult, ...] = field(default=(), repr=False, compare=False)


class NotStaged(PermanentError):
    """This run has no staged rows for the date (never staged, expired, or another run's)."""


@dataclass(frozen=True)
class Audit:
    """What the audit query saw for this run's staged rows of one date."""

    actual: int
    expected: int
    missing: int
    staged_rows: int
    final_games: int
    newer_run_id: str | None
    foreign_rows: int = 0


def _params(msg: ValidateCoverage, dates: list[date], dispatched_at: datetime) -> dict[str, Any]:
    return {
        "game_dates": dates,
        "start_date": min(dates),
        "end_date": max(dates),
        "run_id": msg.run_id,
        "dispatched_at": dispatched_at,
    }


def audit(
    app: App, msg: ValidateCoverage, params: dict[str, Any], staging: str
) -> dict[date, Audit]:
    """Count this run's staged rows of every date against the expected players (one trip)."""
    wh = app.warehouse
    qualified = wh.dataset_table("staging", staging)
    try:
        rows = wh.query(sql.AUDIT, params, staging=qualified)
    except WarehouseError as exc:
        if not wh.table_exists("staging", staging):
            days = ", ".join(str(d) for d in params["game_dates"])
            raise NotStaged(
                f"run {msg.run_id} has no staged rows for {days}: staging table "
                f"{staging} does not exist (never staged, or expired); nothing was published"
            ) from exc
        raise
    daily = msg.mode == "daily"
    out: dict[date, Audit] = {}
    for row in rows:
        day = row["game_date"]
        if hasattr(day, "date") and not isinstance(day, date):
            day = day.date()
        out[day] = Audit(
            actual=int(row["actual_players"]),
            expected=int(row["upcg_players"] if daily else row["pgs_players"]),
            missing=int(row["upcg_missing"] if daily else row["pgs_missing"]),
            staged_rows=int(row["staged_rows"]),
            final_games=0 if daily else int(row["final_games"] or 0),
            newer_run_id=row["newer_run_id"],
            foreign_rows=int(row["foreign_rows"]),
        )
    return out


def _written(msg: ValidateCoverage) -> dict[date, WrittenDate]:
    """What process_date said it staged, per date (the single-date fields for one date)."""
    if msg.written:
        return {w.game_date: w for w in msg.written}
    return {
        msg.game_date: WrittenDate.model_construct(
            game_date=msg.game_date,
            data_source=msg.data_source,
            upcg_players=msg.upcg_players,
            expected_players=msg.expected_players,
            rows_written=msg.rows_written,
            rows_rejected=msg.rows_rejected or 0,
        )
    }


@dataclass
class _Outcome:
    """What one date of the chunk ends as: its ledger step, its alert, its result."""

    updates: list[LedgerUpdate] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    results: dict[date, CoverageResult] = field(default_factory=dict)


def validate_coverage(app: App, msg: ValidateCoverage, delivery: Delivery) -> CoverageResult:
    """Audit the staged rows of every date (one query), decide each (pure verdict), publish the
    passing dates in ONE fenced statement, verify (one query), record (one ledger statement),
    alert per date. Returns the first date's result; ``.chunk`` holds every date's."""
    s = app.settings
    dispatched_at = ledger.dispatch_time(msg.dispatched_at, delivery.publish_time, app.clock())
    dates = msg.dates
    staging = staging_table_name(msg.run_id, dates[0], dates[-1])
    params = _params(msg, dates, dispatched_at)
    written = _written(msg)
    try:
        seen = audit(app, msg, params, staging)
        verdicts = {
            day: coverage_verdict(
                actual=seen[day].actual,
                expected=seen[day].expected,
                force=msg.force,
                force_reason=msg.force_reason,
                block_pct=s.coverage_block_pct,
                warn_pct=s.coverage_warn_pct,
                final_games=seen[day].final_games,
            )
            for day in dates
        }
    except Exception as exc:
        if (done := _published_before(app, msg, delivery, dates, staging, exc)) is not None:
            return done
        # Fail-safe: an error while validating is never a silent pass.
        _record_failure(app, msg, delivery, exc, dispatched_at, dates)
        if isinstance(exc, TransientError):
            raise
        raise PermanentError(f"coverage validation of {_days(dates)} failed: {exc}") from exc

    def update(day: date, status: str, error: str | None = None) -> LedgerUpdate:
        verdict, audit_ = verdicts[day], seen[day]
        return LedgerUpdate(
            run_id=msg.run_id,
            game_date=day,
            status=status,
            mode=msg.mode,
            expected_players=audit_.expected,
            upcg_players=written[day].upcg_players if day in written else None,
            actual_players=audit_.actual,
            coverage_pct=verdict.coverage_pct,
            data_source=written[day].data_source if day in written else None,
            forced=verdict.forced,
            force_reason=msg.force_reason if verdict.forced else None,
            requested_by=msg.requested_by,
            last_message_id=delivery.message_id,
            error=error,
            missing_players=audit_.missing,
            dispatched_at=dispatched_at,
            staging_table=staging,
            calculation_version=s.calculation_version,
        )

    out = _Outcome()
    passing: list[date] = []
    for day in dates:
        with log.log_context(game_date=day):
            _decide(msg, day, seen[day], verdicts[day], written.get(day), staging, update, out)
        if verdicts[day].status != "blocked" and day not in out.results:
            passing.append(day)

    if passing:
        try:
            outcomes = publish(app, _params(msg, passing, dispatched_at), staging)
        except Exception as exc:
            if (done := _published_before(app, msg, delivery, dates, staging, exc)) is not None:
                return done
            _record_failure(
                app, msg, delivery, exc, dispatched_at, passing, "publish_failed", out.updates
            )
            for alert in out.alerts:
                app.alert(alert)
            if isinstance(exc, TransientError):
                raise
            raise PermanentError(f"publishing {_days(passing)} failed: {exc}") from exc
        for day in passing:
            with log.log_context(game_date=day):
                _published(msg, day, seen[day], verdicts[day], outcomes[day], staging, update, out)

    # ONE ledger statement for every date of the chunk, then the alerts (one per date).
    ledger.record_many(app.warehouse, sorted(out.updates, key=lambda u: u.game_date))
    for alert in out.alerts:
        app.alert(alert)
    # Last, once the verdicts are recorded (a retry before this point still finds the rows).
    _release(app, staging, all(out.results[d].status in CHECKPOINTED for d in dates))
    foreign = [out.results[d].message for d in dates if seen[d].foreign_rows]
    if foreign:
        # Recorded (failed + alert) above; acknowledged as permanent, never retried.
        raise NotStaged("; ".join(foreign))
    chunk = tuple(out.results[day] for day in dates)
    return replace(chunk[0], chunk=chunk)


def _published_before(
    app: App,
    msg: ValidateCoverage,
    delivery: Delivery,
    dates: list[date],
    staging: str,
    exc: Exception,
) -> CoverageResult | None:
    """The verdicts already recorded when ``exc`` only means another copy of this chunk's
    messages got there first: the embedded warehouse frees a chunk's staging table once every
    date is published (BigQuery's expires after a day), so a duplicate delivery can find it
    gone. That copy recorded each date's checkpoint before freeing the table; a duplicate
    ``process_date`` may have recorded ``written`` after it, so the checkpoint is restated (one
    ledger step) when it is not the state. The live rows are not touched. None for any other
    failure — staged rows lost in a crash, a date this run never published — which the caller
    records as before."""
    if not isinstance(exc, NotStaged | WarehouseError):
        return None
    wh = app.warehouse
    try:
        if wh.table_exists("staging", staging):
            return None
        params = {"start_date": min(dates), "end_date": max(dates), "run_id": msg.run_id}
        done = {r["game_date"]: r for r in wh.query(ledger_sql.PUBLISHED_BY_RUN, params)}
        if any(day not in done for day in dates):
            return None
        states = ledger.latest_by_date(wh, min(dates), max(dates), run_id=msg.run_id)
        restate = [
            LedgerUpdate(
                run_id=msg.run_id,
                game_date=day,
                status=str(done[day]["status"]),
                expected_players=done[day]["expected_players"],
                upcg_players=done[day]["upcg_players"],
                actual_players=done[day]["actual_players"],
                coverage_pct=_pct(done[day]["coverage_pct"]),
                data_source=done[day]["data_source"],
                forced=done[day]["forced"],
                force_reason=done[day]["force_reason"],
                missing_players=done[day]["missing_players"],
                last_message_id=delivery.message_id,
                dispatched_at=done[day]["dispatched_at"],
                staging_table=staging,
            )
            for day in dates
            if states.get(day, {}).get("status") not in CHECKPOINTED
        ]
        ledger.record_many(wh, restate)
    except WarehouseError:
        return None
    chunk = tuple(
        CoverageResult(
            status=str(done[day]["status"]),
            actual_players=done[day]["actual_players"],
            expected_players=done[day]["expected_players"],
            coverage_pct=_pct(done[day]["coverage_pct"]),
            message=f"{day} was already published by run {msg.run_id} (a duplicate delivery; "
            "the live rows were not touched)",
            published=True,
            reason="duplicate_delivery",
            game_date=day,
        )
        for day in dates
    )
    log.event(
        "INFO",
        f"{_days(dates)} already published by run {msg.run_id}: a duplicate delivery, the live "
        f"rows were not touched ({len(restate)} checkpoints restated)",
        status="duplicate_delivery",
        staging_table=staging,
    )
    return replace(chunk[0], chunk=chunk)


def _pct(value: Any) -> float | None:
    return float(value) if value is not None else None


def _release(app: App, staging: str, published: bool) -> None:
    """Tell the warehouse the chunk's staging table is done with: free it when every date was
    published, keep it otherwise (for inspection). Housekeeping: a failure is a WARNING, never
    a change of the verdicts already recorded."""
    try:
        app.warehouse.release_staging(staging, keep=not published)
    except WarehouseError as exc:
        log.event("WARNING", f"staging table {staging} not released: {exc}", staging_table=staging)


def _decide(
    msg: ValidateCoverage,
    day: date,
    seen: Audit,
    verdict: CoverageVerdict,
    written: WrittenDate | None,
    staging: str,
    update: Callable[..., LedgerUpdate],
    out: _Outcome,
) -> None:
    """The per-date decision before the publish: foreign rows, superseded, blocked (or pass)."""
    data_source = written.data_source if written else None
    if seen.foreign_rows:
        error = (
            f"staging table {staging} holds {seen.foreign_rows} rows of another run for {day}; "
            f"run {msg.run_id} audits only its own rows — nothing was published"
        )
        log.event(
            "ERROR", f"COVERAGE VALIDATION ERROR for {day}: NotStaged: {error}", status="failed"
        )
        out.updates.append(update(day, "failed", f"NotStaged: {error}"))
        out.alerts.append(
            Alert(
                kind="validation_failed",
                summary=f"coverage validation of {day} failed: NotStaged: {error}",
                run_id=msg.run_id,
                game_date=day,
                details={"error": f"NotStaged: {error}"},
            )
        )
        out.results[day] = CoverageResult(
            "failed", seen.actual, seen.expected, verdict.coverage_pct, error, game_date=day
        )
        return
    if seen.newer_run_id is not None:
        _superseded(msg, day, verdict, seen.newer_run_id, update, out)
        return
    _log_verdict(verdict, msg, data_source)
    if verdict.status == "blocked":
        out.updates.append(update(day, "blocked", verdict.message))
        out.alerts.append(
            Alert(
                kind="coverage_blocked",
                summary=verdict.message,
                run_id=msg.run_id,
                game_date=day,
                details={
                    "actual_players": seen.actual,
                    "expected_players": seen.expected,
                    "missing_players": seen.missing,
                    "coverage_pct": verdict.coverage_pct,
                    "data_source": data_source,
                    "reason": verdict.reason,
                    "final_games": seen.final_games,
                    "staging_table": staging,
                },
            ),
        )
        out.results[day] = CoverageResult(
            "blocked",
            seen.actual,
            seen.expected,
            verdict.coverage_pct,
            verdict.message,
            reason=verdict.reason,
            game_date=day,
        )


def _published(
    msg: ValidateCoverage,
    day: date,
    seen: Audit,
    verdict: CoverageVerdict,
    outcome: PublishOutcome,
    staging: str,
    update: Callable[..., LedgerUpdate],
    out: _Outcome,
) -> None:
    """The per-date result of the publish: published, fenced (superseded) or a mismatch."""
    if outcome.newer_run_id is not None and not outcome.matches:
        _superseded(msg, day, verdict, outcome.newer_run_id, update, out)
        return
    if not outcome.matches:
        error = (
            f"live partition of {day} does not hold what run {msg.run_id} staged "
            f"after the publish: {outcome.live_rows} live rows, {outcome.staged_rows} staged, "
            f"{outcome.matching_rows} identical"
        )
        log.event("ERROR", f"PUBLISH VERIFICATION FAILED: {error}", status="failed")
        out.updates.append(update(day, "failed", error))
        out.alerts.append(
            Alert(
                kind="publish_failed",
                summary=error,
                run_id=msg.run_id,
                game_date=day,
                details={
                    "live_rows": outcome.live_rows,
                    "staged_rows": outcome.staged_rows,
                    "matching_rows": outcome.matching_rows,
                    "staging_table": staging,
                },
            ),
        )
        out.results[day] = CoverageResult(
            "failed", seen.actual, seen.expected, verdict.coverage_pct, error, game_date=day
        )
        return
    out.updates.append(update(day, verdict.status, None))
    log.event(
        "INFO",
        f"published {outcome.live_rows} rows of run {msg.run_id} to {day}",
        status=verdict.status,
        published_rows=outcome.live_rows,
        affected_rows=outcome.affected,
    )
    out.results[day] = CoverageResult(
        verdict.status,
        seen.actual,
        seen.expected,
        verdict.coverage_pct,
        verdict.message,
        published=True,
        game_date=day,
    )


@dataclass(frozen=True)
class PublishOutcome:
    """The fenced publish and what one date's live partition holds afterwards."""

    affected: int
    staged_rows: int
    live_rows: int
    matching_rows: int
    newer_run_id: str | None

    @property
    def matches(self) -> bool:
        """The live partition holds exactly this run's staged rows."""
        return self.live_rows == self.staged_rows == self.matching_rows


def publish(app: App, params: dict[str, Any], staging: str) -> dict[date, PublishOutcome]:
    """ONE fenced atomic replace of every passing date's live partition (the compare-and-set per
    date inside the statement), then read back what is live per date (2 trips in all)."""
    wh = app.warehouse
    qualified = wh.dataset_table("staging", staging)
    affected = wh.execute(sql.PUBLISH, params, staging=qualified)
    rows = wh.query(sql.VERIFY, params, staging=qualified)
    out: dict[date, PublishOutcome] = {}
    for row in rows:
        day = row["game_date"]
        if hasattr(day, "date") and not isinstance(day, date):
            day = day.date()
        out[day] = PublishOutcome(
            affected=affected,
            staged_rows=int(row["staged_rows"]),
            live_rows=int(row["live_rows"]),
            matching_rows=int(row["matching_rows"]),
            newer_run_id=row["newer_run_id"],
        )
    return out


def _superseded(
    msg: ValidateCoverage,
    day: date,
    verdict: CoverageVerdict,
    newer_run_id: str,
    update: Callable[..., LedgerUpdate],
    out: _Outcome,
) -> None:
    text = (
        f"stale run {msg.run_id} for {day}: newer run {newer_run_id} (dispatched "
        f"later) owns the date; nothing published (audit said {verdict.status}: "
        f"{verdict.actual}/{verdict.expected} players)"
    )
    log.event("WARNING", text, status=SUPERSEDED, newer_run_id=newer_run_id)
    out.updates.append(update(day, SUPERSEDED, text))
    out.alerts.append(
        Alert(
            kind="stale_run",
            severity="WARNING",
            summary=text,
            run_id=msg.run_id,
            game_date=day,
            details={"newer_run_id": newer_run_id, "verdict": verdict.status},
        ),
    )
    out.results[day] = CoverageResult(
        SUPERSEDED, verdict.actual, verdict.expected, verdict.coverage_pct, text, game_date=day
    )


def _log_verdict(verdict: CoverageVerdict, msg: ValidateCoverage, data_source: str | None) -> None:
    log.event(
        verdict.severity,
        verdict.message,
        status=verdict.status,
        actual_players=verdict.actual,
        expected_players=verdict.expected,
        coverage_pct=verdict.coverage_pct,
        data_source=data_source,
        forced=verdict.forced,
        force_reason=msg.force_reason if verdict.forced else None,
        requested_by=msg.requested_by,
        checkpointed=verdict.checkpointed,
        reason=verdict.reason,
    )


def _days(dates: list[date]) -> str:
    return str(dates[0]) if len(dates) == 1 else f"{dates[0]}..{dates[-1]} ({len(dates)} dates)"


def _record_failure(
    app: App,
    msg: ValidateCoverage,
    delivery: Delivery,
    exc: Exception,
    dispatched_at: datetime,
    dates: list[date],
    kind: str = "validation_failed",
    also: list[LedgerUpdate] | None = None,
) -> None:
    what = "publish" if kind == "publish_failed" else "coverage validation"
    for day in dates:
        with log.log_context(game_date=day):
            log.event(
                "ERROR",
                f"{what.upper()} ERROR for {day}: {type(exc).__name__}: {exc}",
                status="failed",
            )
    ledger.record_failure(
        app,
        msg,
        delivery.message_id,
        exc,
        "publish_failed" if kind == "publish_failed" else "validation_failed",
        what,
        dispatched_at,
        dates=dates,
        also=also or (),
    )
