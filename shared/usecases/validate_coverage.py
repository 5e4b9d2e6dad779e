"""Use case ``validate_coverage``: gate a date's checkpoint on what is really in the output."""

from __future__ import annotations

from dataclasses import dataclass

from shared import log
from shared.app import App
from shared.entrypoint import Delivery
from shared.errors import PermanentError, TransientError
from shared.messages import Alert, ValidateCoverage
from shared.rules import CoverageVerdict, coverage_verdict
from shared.sql import coverage as sql
from shared.usecases import ledger
from shared.usecases.ledger import LedgerUpdate


@dataclass(frozen=True)
class CoverageResult:
    """The outcome of validating one date."""

    status: str
    actual_players: int | None
    expected_players: int | None
    coverage_pct: float | None
    message: str


def count_players(app: App, msg: ValidateCoverage) -> tuple[int, int]:
    """(actual, expected) for the date: expected is PGS, or UPCG in daily mode (RULES §2.2)."""
    row = app.warehouse.query(sql.COUNTS, {"game_date": msg.game_date})[0]
    actual = int(row["actual_players"])
    expected = int(row["upcg_players"] if msg.mode == "daily" else row["pgs_players"])
    return actual, expected


def validate_coverage(app: App, msg: ValidateCoverage, delivery: Delivery) -> CoverageResult:
    """Count, decide (pure verdict), record the ledger status, alert when blocked or failed."""
    s = app.settings
    try:
        actual, expected = count_players(app, msg)
        verdict = coverage_verdict(
            actual=actual,
            expected=expected,
            force=msg.force,
            force_reason=msg.force_reason,
            block_pct=s.coverage_block_pct,
            warn_pct=s.coverage_warn_pct,
        )
    except Exception as exc:
        # Fail-safe: an error while validating is never a silent pass.
        _record_failure(app, msg, delivery, exc)
        if isinstance(exc, TransientError):
            raise
        raise PermanentError(f"coverage validation of {msg.game_date} failed: {exc}") from exc
    _log_verdict(verdict, msg)
    ledger.record(
        app.warehouse,
        LedgerUpdate(
            run_id=msg.run_id,
            game_date=msg.game_date,
            status=verdict.status,
            mode=msg.mode,
            expected_players=expected,
            upcg_players=msg.upcg_players,
            actual_players=actual,
            coverage_pct=verdict.coverage_pct,
            data_source=msg.data_source,
            forced=verdict.forced,
            force_reason=msg.force_reason if verdict.forced else None,
            requested_by=msg.requested_by,
            last_message_id=delivery.message_id,
            calculation_version=s.calculation_version,
        ),
    )
    if verdict.status == "blocked":
        app.alert(
            Alert(
                kind="coverage_blocked",
                summary=verdict.message,
                run_id=msg.run_id,
                game_date=msg.game_date,
                details={
                    "actual_players": actual,
                    "expected_players": expected,
                    "coverage_pct": verdict.coverage_pct,
                    "data_source": msg.data_source,
                },
            ),
        )
    return CoverageResult(verdict.status, actual, expected, verdict.coverage_pct, verdict.message)


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
    )


def _record_failure(app: App, msg: ValidateCoverage, delivery: Delivery, exc: Exception) -> None:
    log.event(
        "ERROR",
        f"COVERAGE VALIDATION ERROR for {msg.game_date}: {type(exc).__name__}: {exc}",
        status="failed",
    )
    ledger.record_failure(
        app, msg, delivery.message_id, exc, "validation_failed", "coverage validation"
    )
