"""The coverage verdict for one written date (RULES §4): may this date be checkpointed?"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from shared.rules.source import Severity, format_pct, percent
from shared.rules.statuses import CHECKPOINTED

CoverageStatus = Literal["succeeded", "warned", "blocked", "forced"]
# Why a date blocks (None when it passes): too few players, or no players expected at all on a
# date with final games (upstream data not ready — never "nothing to cover").
BlockReason = Literal["coverage_below_threshold", "no_expected_players"]


@dataclass(frozen=True)
class CoverageVerdict:
    """Outcome of comparing rows written for a date with the players expected."""

    status: CoverageStatus
    actual: int
    expected: int
    missing: int
    coverage_pct: float | None
    checkpointed: bool
    forced: bool
    force_reason: str | None
    severity: Severity
    message: str
    reason: BlockReason | None = None


def _exact(value: float) -> Fraction:
    """The decimal a human wrote for a float threshold (90.0, 95.0) as an exact fraction."""
    return Fraction(repr(float(value)))


def coverage_verdict(
    *,
    actual: int,
    expected: int,
    force: bool,
    force_reason: str | None,
    block_pct: float = 90.0,
    warn_pct: float = 95.0,
    final_games: int = 0,
) -> CoverageVerdict:
    """Classify a date's coverage per RULES §4: succeeded, warned, blocked or forced."""
    if actual < 0 or expected < 0:
        raise ValueError(f"player counts must be >= 0 (actual={actual}, expected={expected})")
    if not 0 <= block_pct <= warn_pct <= 100:
        raise ValueError(
            f"need 0 <= block_pct <= warn_pct <= 100, got block={block_pct}, warn={warn_pct}"
        )
    reason = (force_reason or "").strip() or None
    missing = max(expected - actual, 0)
    pct = percent(actual, expected)
    counts = f"{actual}/{expected} players ({pct}%)"
    block_text, warn_text = format_pct(block_pct), format_pct(warn_pct)

    def verdict(
        status: CoverageStatus,
        severity: Severity,
        message: str,
        forced: bool = False,
        block_reason: BlockReason | None = None,
    ) -> CoverageVerdict:
        return CoverageVerdict(
            status=status,
            actual=actual,
            expected=expected,
            missing=missing,
            coverage_pct=pct,
            checkpointed=status in CHECKPOINTED,
            forced=forced,
            force_reason=reason if forced else None,
            severity=severity,
            message=message,
            reason=block_reason,
        )

    ignored = "; force ignored without a force_reason" if force else ""
    if expected == 0 and final_games > 0:
        # PGS has nothing yet for a date whose games are final: upstream is late, not done.
        text = (
            f"COVERAGE VALIDATION FAILED: 0 players expected but {final_games} final games "
            f"(no_expected_players: PGS not loaded yet); {actual} rows staged"
        )
        if force and reason is not None:
            return verdict(
                "forced",
                "WARNING",
                f"{text}; checkpointed by force: {reason}",
                forced=True,
                block_reason="no_expected_players",
            )
        return verdict(
            "blocked",
            "ERROR",
            f"{text}; date not checkpointed{ignored}",
            block_reason="no_expected_players",
        )
    if expected == 0:
        return verdict("succeeded", "INFO", f"No players expected; {actual} rows, nothing to cover")

    # Compare the exact ratio, not the rounded pct: 89.96 % must block even though it shows 90.0.
    exact = Fraction(actual * 100, expected)
    if exact >= _exact(warn_pct):
        return verdict("succeeded", "INFO", f"Coverage OK: {counts}")
    if exact >= _exact(block_pct):
        return verdict(
            "warned",
            "WARNING",
            f"Low coverage: {counts} is below {warn_text}% ({missing} missing); date passes",
        )
    if force and reason is not None:
        return verdict(
            "forced",
            "WARNING",
            f"Coverage {counts} < {block_text}% of expected ({missing} missing); "
            f"checkpointed by force: {reason}",
            forced=True,
            block_reason="coverage_below_threshold",
        )
    # A force without a reason must not slip a bad date through: it blocks like any other.
    return verdict(
        "blocked",
        "ERROR",
        f"COVERAGE VALIDATION FAILED: {counts} < {block_text}% of expected "
        f"({missing} missing); date not checkpointed{ignored}",
        block_reason="coverage_below_threshold",
    )
