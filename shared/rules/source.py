"""The data-source decision for one date (RULES §2.2): UPCG or context synthesized from PGS."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from shared.rules.statuses import PGS_SYNTHETIC, UPCG, DataSource

Reason = Literal["upcg_complete", "upcg_empty", "upcg_partial", "pinned"]
Severity = Literal["INFO", "WARNING", "ERROR"]
Mode = Literal["backfill", "daily"]
Pinned = Literal["auto", "upcg", "synthetic"]


@dataclass(frozen=True)
class SourceDecision:
    """Which context source a date uses, why, and what was seen (for defensive logging)."""

    source: DataSource
    reason: Reason
    fallback: bool
    upcg_players: int
    expected: int
    missing: int
    coverage_pct: float | None
    severity: Severity
    message: str


def percent(part: int, whole: int) -> float | None:
    """part / whole × 100 rounded half away from zero to 1 decimal; None when whole is 0."""
    if whole == 0:
        return None
    # Decimal division avoids binary-float surprises right at a .x5 boundary.
    exact = Decimal(part) * 100 / Decimal(whole)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def format_pct(value: Decimal | float) -> str:
    """Render a threshold percentage without trailing zeros (90 → '90', 92.5 → '92.5')."""
    text = format(Decimal(repr(value) if isinstance(value, float) else value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def decide_source(
    *,
    upcg_players: int,
    expected_players: int,
    mode: Mode,
    pinned: Pinned = "auto",
    threshold: float = 0.9,
) -> SourceDecision:
    """Decide UPCG vs PGS_SYNTHETIC per RULES §2.2 (fallback when UPCG is empty or partial)."""
    if upcg_players < 0 or expected_players < 0:
        raise ValueError(
            f"player counts must be >= 0 (upcg={upcg_players}, expected={expected_players})"
        )
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if mode not in ("backfill", "daily"):
        raise ValueError(f"mode must be 'backfill' or 'daily', got {mode!r}")
    if pinned not in ("auto", "upcg", "synthetic"):
        raise ValueError(f"pinned must be 'auto', 'upcg' or 'synthetic', got {pinned!r}")

    # Daily mode: PGS has nothing yet for today's games, so UPCG *is* the roster.
    expected = upcg_players if mode == "daily" else expected_players
    missing = max(expected - upcg_players, 0)
    coverage = percent(upcg_players, expected)
    threshold_dec = Decimal(repr(threshold))
    threshold_text = format_pct(threshold_dec * 100)
    seen = f"UPCG has {upcg_players}/{expected} players"
    if coverage is not None:
        seen += f" ({coverage}%)"

    # Exact decimal comparison: 0.9 × 187 = 168.3 → 168 falls back, 169 keeps UPCG.
    empty = upcg_players == 0
    partial = (
        mode == "backfill"
        and not empty
        and expected > 0
        and upcg_players < threshold_dec * expected
    )
    auto_reason: Reason
    severity: Severity
    if empty:
        auto_reason, severity = "upcg_empty", "WARNING"
        detail = f"{seen}: UPCG is empty"
    elif partial:
        auto_reason, severity = "upcg_partial", "ERROR"
        # Exactly the RULES §2.2 reason text; the missing count travels as its own field.
        detail = f"{seen} < {threshold_text}% of expected"
    else:
        auto_reason, severity = "upcg_complete", "INFO"
        if mode == "daily":
            detail = f"{seen} (daily mode: UPCG is the roster)"
        elif expected == 0:
            detail = f"{seen}: PGS has none yet (upcoming date)"
        else:
            detail = f"{seen} >= {threshold_text}% of expected"

    # In daily mode there is nothing to synthesize from, so an empty UPCG stays UPCG (0 rows).
    auto_fallback = partial or (empty and mode == "backfill")

    if pinned != "auto":
        source: DataSource = UPCG if pinned == "upcg" else PGS_SYNTHETIC
        return SourceDecision(
            source=source,
            reason="pinned",
            fallback=False,
            upcg_players=upcg_players,
            expected=expected,
            missing=missing,
            coverage_pct=coverage,
            severity=severity,
            message=f"source pinned to {source}; {detail}",
        )

    source = PGS_SYNTHETIC if auto_fallback else UPCG
    return SourceDecision(
        source=source,
        reason=auto_reason,
        fallback=auto_fallback,
        upcg_players=upcg_players,
        expected=expected,
        missing=missing,
        coverage_pct=coverage,
        severity=severity,
        message=detail,
    )
