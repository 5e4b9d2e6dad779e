"""Use case ``validate_coverage``: AUDIT this run's staged rows, then PUBLISH (fenced) or block.

Nothing reaches the live partition before its audit passed (RULES §4): ``process_date`` staged
the rows; here they are counted against the players expected, and only a passing verdict
(succeeded / warned / forced) replaces D's live partition, in one statement that also checks
that no newer run owns D. A stale run is acknowledged as ``superseded`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ValidateCoverage
from shared.rules import CoverageVerdict, coverage_verdict
from shared.rules.planning import staging_table_name
from shared.rules.statuses import SUPERSEDED
from shared.sql import coverage as sql
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


class NotStaged(PermanentError):
    """This run has no staged rows for the date (never staged, expired, or another run's)."""


@dataclass(frozen=True)
class Audit:
    """What the audit query saw for this run's staged rows."""

    actual: int
    expected: int
    missing: int
    staged_rows: int
    final_games: int
    newer_run_id: str | None


def audit(app: App, msg: ValidateCoverage, params: dict[str, Any], staging: str) -> Audit:
    """Count this run's staged rows against the expected players (one round trip)."""
    wh = app.warehouse
    qualified = wh.dataset_table("staging", staging)
    try:
        row = wh.query(sql.AUDIT, params, staging=qualified)[0]
    except WarehouseError as exc:
        if not wh.table_exists("staging", staging):
            raise NotStaged(
                f"run {msg.run_id} has no staged rows for {msg.game_date}: staging table "
                f"{staging} does not exist (never staged, or expired); nothing was published"
            ) from exc
        raise
    foreign = int(row["foreign_rows"])
    if foreign:
        raise NotStaged(
            f"staging table {staging} holds {foreign} rows of another run for {msg.game_date}; "
            f"run {msg.run_id} audits only its own rows — nothing was published"
        )
    daily = msg.mode == "daily"
    return Audit(
        actual=int(row["actual_players"]),
        expected=int(row["upcg_players"] if daily else row["pgs_players"]),
        missing=int(row["upcg_missing"] if daily else row["pgs_missing"]),
        staged_rows=int(row["staged_rows"]),
        final_games=0 if daily else int(row["final_games"] or 0),
        newer_run_id=row["newer_run_id"],
    )


def validate_coverage(app: App, msg: ValidateCoverage, delivery: Delivery) -> CoverageResult:
    """Audit the staged rows, decide (pure verdict), publish if it passes, record, alert."""
    s = app.settings
    dispatched_at = ledger.dispatch_time(msg.dispatched_at, delivery.publish_time, app.clock())
    staging = staging_table_name(msg.run_id, msg.game_date)
    params = {"game_date": msg.game_date, "run_id": msg.run_id, "dispatched_at": dispatched_at}
    try:
        seen = audit(app, msg, params, staging)
        verdict = coverage_verdict(
            actual=seen.actual,
            expected=seen.expected,
            force=msg.force,
            force_reason=msg.force_reason,
            block_pct=s.coverage_block_pct,
            warn_pct=s.coverage_warn_pct,
            final_games=seen.final_games,
        )
    except Exception as exc:
        # Fail-safe: an error while validating is never a silent pass.
        _record_failure(app, msg, delivery, exc, dispatched_at)
        if isinstance(exc, TransientError):
            raise
        raise PermanentError(f"coverage validation of {msg.game_date} failed: {exc}") from exc

    def record(status: str, error: str | None = None) -> None:
        ledger.record(
            app.warehouse,
            LedgerUpdate(
                run_id=msg.run_id,
                game_date=msg.game_date,
                status=status,
                mode=msg.mode,
                expected_players=seen.expected,
                upcg_players=msg.upcg_players,
                actual_players=seen.actual,
                coverage_pct=verdict.coverage_pct,
                data_source=msg.data_source,
                forced=verdict.forced,
                force_reason=msg.force_reason if verdict.forced else None,
                requested_by=msg.requested_by,
                last_message_id=delivery.message_id,
                error=error,
                missing_players=seen.missing,
                dispatched_at=dispatched_at,
                staging_table=staging,
                calculation_version=s.calculation_version,
            ),
        )

    if seen.newer_run_id is not None:
        return _superseded(app, msg, verdict, seen.newer_run_id, record)
    _log_verdict(verdict, msg)
    if verdict.status == "blocked":
        record("blocked", verdict.message)
        app.alert(
            Alert(
                kind="coverage_blocked",
                summary=verdict.message,
                run_id=msg.run_id,
                game_date=msg.game_date,
                details={
                    "actual_players": seen.actual,
                    "expected_players": seen.expected,
                    "missing_players": seen.missing,
                    "coverage_pct": verdict.coverage_pct,
                    "data_source": msg.data_source,
                    "reason": verdict.reason,
                    "final_games": seen.final_games,
                    "staging_table": staging,
                },
            ),
        )
        return CoverageResult(
            "blocked",
            seen.actual,
            seen.expected,
            verdict.coverage_pct,
            verdict.message,
            reason=verdict.reason,
        )

    try:
        outcome = publish(app, params, staging)
    except Exception as exc:
        _record_failure(app, msg, delivery, exc, dispatched_at, kind="publish_failed")
        if isinstance(exc, TransientError):
            raise
        raise PermanentError(f"publishing {msg.game_date} failed: {exc}") from exc
    if outcome.newer_run_id is not None and not outcome.matches:
        return _superseded(app, msg, verdict, outcome.newer_run_id, record)
    if not outcome.matches:
        error = (
            f"live partition of {msg.game_date} does not hold what run {msg.run_id} staged "
            f"after the publish: {outcome.live_rows} live rows, {outcome.staged_rows} staged, "
            f"{outcome.matching_rows} identical"
        )
        log.event("ERROR", f"PUBLISH VERIFICATION FAILED: {error}", status="failed")
        record("failed", error)
        app.alert(
            Alert(
                kind="publish_failed",
                summary=error,
                run_id=msg.run_id,
                game_date=msg.game_date,
                details={
                    "live_rows": outcome.live_rows,
                    "staged_rows": outcome.staged_rows,
                    "matching_rows": outcome.matching_rows,
                    "staging_table": staging,
                },
            ),
        )
        return CoverageResult("failed", seen.actual, seen.expected, verdict.coverage_pct, error)
    record(verdict.status, None)
    log.event(
        "INFO",
        f"published {outcome.live_rows} rows of run {msg.run_id} to {msg.game_date}",
        status=verdict.status,
        published_rows=outcome.live_rows,
        affected_rows=outcome.affected,
    )
    return CoverageResult(
        verdict.status,
        seen.actual,
        seen.expected,
        verdict.coverage_pct,
        verdict.message,
        published=True,
    )


@dataclass(frozen=True)
class PublishOutcome:
    """The fenced publish and what the live partition holds afterwards."""

    affected: int
    staged_rows: int
    live_rows: int
    matching_rows: int
    newer_run_id: str | None

    @property
    def matches(self) -> bool:
        """The live partition holds exactly this run's staged rows."""
        return self.live_rows == self.staged_rows == self.matching_rows


def publish(app: App, params: dict[str, Any], staging: str) -> PublishOutcome:
    """One fenced atomic replace of D's live partition, then read back what is live (2 trips)."""
    wh = app.warehouse
    qualified = wh.dataset_table("staging", staging)
    affected = wh.execute(sql.PUBLISH, params, staging=qualified)
    row = wh.query(sql.VERIFY, params, staging=qualified)[0]
    return PublishOutcome(
        affected=affected,
        staged_rows=int(row["staged_rows"]),
        live_rows=int(row["live_rows"]),
        matching_rows=int(row["matching_rows"]),
        newer_run_id=row["newer_run_id"],
    )


def _superseded(
    app: App,
    msg: ValidateCoverage,
    verdict: CoverageVerdict,
    newer_run_id: str,
    record: Callable[[str, str | None], None],
) -> CoverageResult:
    text = (
        f"stale run {msg.run_id} for {msg.game_date}: newer run {newer_run_id} (dispatched "
        f"later) owns the date; nothing published (audit said {verdict.status}: "
        f"{verdict.actual}/{verdict.expected} players)"
    )
    log.event("WARNING", text, status=SUPERSEDED, newer_run_id=newer_run_id)
    record(SUPERSEDED, text)
    app.alert(
        Alert(
            kind="stale_run",
            severity="WARNING",
            summary=text,
            run_id=msg.run_id,
            game_date=msg.game_date,
            details={"newer_run_id": newer_run_id, "verdict": verdict.status},
        ),
    )
    return CoverageResult(SUPERSEDED, verdict.actual, verdict.expected, verdict.coverage_pct, text)


def _log_verdict(verdict: CoverageVerdict, msg: ValidateCoverage) -> None:
    log.event(
        verdict.severity,
        verdict.message,
        status=verdict.status,
        actual_players=verdict.actual,
        expected_players=verdict.expected,
        coverage_pct=verdict.coverage_pct,
        data_source=msg.data_source,
        forced=verdict.forced,
        force_reason=msg.force_reason if verdict.forced else None,
        requested_by=msg.requested_by,
        checkpointed=verdict.checkpointed,
        reason=verdict.reason,
    )


def _record_failure(
    app: App,
    msg: ValidateCoverage,
    delivery: Delivery,
    exc: Exception,
    dispatched_at: datetime,
    kind: str = "validation_failed",
) -> None:
    what = "publish" if kind == "publish_failed" else "coverage validation"
    log.event(
        "ERROR",
        f"{what.upper()} ERROR for {msg.game_date}: {type(exc).__name__}: {exc}",
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
    )
