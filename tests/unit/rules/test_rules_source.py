"""The data-source decision (RULES §2.2) with the incident numbers of RULES §0/§2.5."""

from __future__ import annotations

from typing import Any

import pytest

from shared.rules import PGS_SYNTHETIC, UPCG, SourceDecision, decide_source


@pytest.mark.parametrize(
    ("upcg", "expected", "want"),
    [
        (
            1,
            187,
            {
                "source": PGS_SYNTHETIC,
                "reason": "upcg_partial",
                "fallback": True,
                "coverage_pct": 0.5,
                "missing": 186,
                "severity": "ERROR",
                "message": "UPCG has 1/187 players (0.5%) < 90% of expected",
            },
        ),
        (
            68,
            175,
            {
                "source": PGS_SYNTHETIC,
                "reason": "upcg_partial",
                "fallback": True,
                "coverage_pct": 38.9,
                "missing": 107,
                "severity": "ERROR",
                "message": "UPCG has 68/175 players (38.9%) < 90% of expected",
            },
        ),
        (
            0,
            175,
            {
                "source": PGS_SYNTHETIC,
                "reason": "upcg_empty",
                "fallback": True,
                "coverage_pct": 0.0,
                "missing": 175,
                "severity": "WARNING",
            },
        ),
        (
            168,
            187,
            {
                "source": PGS_SYNTHETIC,
                "reason": "upcg_partial",
                "fallback": True,
                "coverage_pct": 89.8,
                "missing": 19,
                "severity": "ERROR",
                "message": "UPCG has 168/187 players (89.8%) < 90% of expected",
            },
        ),
        (
            169,
            187,
            {
                "source": UPCG,
                "reason": "upcg_complete",
                "fallback": False,
                "coverage_pct": 90.4,
                "missing": 18,
                "severity": "INFO",
            },
        ),
        (
            187,
            187,
            {
                "source": UPCG,
                "reason": "upcg_complete",
                "fallback": False,
                "coverage_pct": 100.0,
                "missing": 0,
                "severity": "INFO",
            },
        ),
        (
            190,
            187,
            {
                "source": UPCG,
                "reason": "upcg_complete",
                "fallback": False,
                "coverage_pct": 101.6,
                "missing": 0,
                "severity": "INFO",
            },
        ),
        (
            5,
            0,
            {
                "source": UPCG,
                "reason": "upcg_complete",
                "fallback": False,
                "coverage_pct": None,
                "missing": 0,
                "severity": "INFO",
            },
        ),
        (
            0,
            0,
            {
                "source": PGS_SYNTHETIC,
                "reason": "upcg_empty",
                "fallback": True,
                "coverage_pct": None,
                "missing": 0,
                "severity": "WARNING",
            },
        ),
    ],
    ids=[
        "incident-1-of-187",
        "incident-68-of-175",
        "empty-0-of-175",
        "168-of-187-falls-back",
        "169-of-187-keeps",
        "complete",
        "more-upcg-than-pgs",
        "upcoming-pgs-0-upcg-5",
        "nothing-at-all",
    ],
)
def test_backfill_decisions(upcg: int, expected: int, want: dict[str, Any]) -> None:
    decision = decide_source(upcg_players=upcg, expected_players=expected, mode="backfill")
    assert decision.upcg_players == upcg
    assert decision.expected == expected
    for name, value in want.items():
        assert getattr(decision, name) == value, name


def test_fallback_boundary_is_exact_for_every_roster_size() -> None:
    # Keep UPCG iff upcg >= 0.9 × expected, checked in integers (10·upcg >= 9·expected) so a
    # binary-float product such as 0.9 × 10 can never flip a boundary case.
    for expected in range(1, 501):
        for upcg in range(max(1, (9 * expected) // 10 - 1), (9 * expected) // 10 + 3):
            decision = decide_source(upcg_players=upcg, expected_players=expected, mode="backfill")
            keeps = 10 * upcg >= 9 * expected
            assert decision.fallback is (not keeps), (upcg, expected)
            assert decision.source == (UPCG if keeps else PGS_SYNTHETIC)


@pytest.mark.parametrize(
    ("upcg", "threshold", "source", "message"),
    [
        (150, 0.8, UPCG, None),
        (149, 0.8, PGS_SYNTHETIC, "UPCG has 149/187 players (79.7%) < 80% of expected"),
        (172, 0.925, PGS_SYNTHETIC, "UPCG has 172/187 players (92.0%) < 92.5% of expected"),
        (173, 0.925, UPCG, None),
    ],
)
def test_threshold_is_a_setting(
    upcg: int, threshold: float, source: str, message: str | None
) -> None:
    decision = decide_source(
        upcg_players=upcg, expected_players=187, mode="backfill", threshold=threshold
    )
    assert decision.source == source
    if message is not None:
        assert decision.message == message


@pytest.mark.parametrize(
    ("upcg", "pgs", "reason", "severity", "coverage"),
    [
        (240, 0, "upcg_complete", "INFO", 100.0),
        (240, 187, "upcg_complete", "INFO", 100.0),  # PGS is not compared in daily mode
        (0, 0, "upcg_empty", "WARNING", None),
    ],
)
def test_daily_mode_uses_upcg_as_the_roster(
    upcg: int, pgs: int, reason: str, severity: str, coverage: float | None
) -> None:
    decision = decide_source(upcg_players=upcg, expected_players=pgs, mode="daily")
    assert decision.source == UPCG
    assert decision.fallback is False
    assert decision.expected == upcg
    assert decision.missing == 0
    assert decision.reason == reason
    assert decision.severity == severity
    assert decision.coverage_pct == coverage


def test_pinned_upcg_keeps_partial_upcg_but_reports_what_it_saw() -> None:
    decision = decide_source(upcg_players=1, expected_players=187, mode="backfill", pinned="upcg")
    assert decision == SourceDecision(
        source=UPCG,
        reason="pinned",
        fallback=False,
        upcg_players=1,
        expected=187,
        missing=186,
        coverage_pct=0.5,
        severity="ERROR",
        message="source pinned to UPCG; UPCG has 1/187 players (0.5%) < 90% of expected",
    )


@pytest.mark.parametrize(("upcg", "severity"), [(187, "INFO"), (0, "WARNING"), (100, "ERROR")])
def test_pinned_synthetic_always_synthesizes(upcg: int, severity: str) -> None:
    decision = decide_source(
        upcg_players=upcg, expected_players=187, mode="backfill", pinned="synthetic"
    )
    assert decision.source == PGS_SYNTHETIC
    assert decision.reason == "pinned"
    assert decision.fallback is False
    assert decision.severity == severity


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"upcg_players": -1, "expected_players": 10, "mode": "backfill"}, "player counts"),
        ({"upcg_players": 1, "expected_players": -10, "mode": "backfill"}, "player counts"),
        (
            {"upcg_players": 1, "expected_players": 10, "mode": "backfill", "threshold": 0.0},
            r"threshold must be in \(0, 1\]",
        ),
        (
            {"upcg_players": 1, "expected_players": 10, "mode": "backfill", "threshold": 90.0},
            r"threshold must be in \(0, 1\]",
        ),
        ({"upcg_players": 1, "expected_players": 10, "mode": "weekly"}, "mode must be"),
        (
            {"upcg_players": 1, "expected_players": 10, "mode": "daily", "pinned": "pgs"},
            "pinned must be",
        ),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decide_source(**kwargs)
