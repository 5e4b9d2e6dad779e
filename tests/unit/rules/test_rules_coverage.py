"""The coverage verdict (RULES §4) with every number the spec lists."""

from __future__ import annotations

from typing import Any

import pytest

from shared.rules import coverage_verdict
from shared.rules.statuses import CHECKPOINTED as CHECKPOINTED_STATUSES


@pytest.mark.parametrize(
    ("actual", "expected", "force", "reason", "status", "pct", "checkpointed", "severity"),
    [
        (187, 187, False, None, "succeeded", 100.0, True, "INFO"),
        (190, 200, False, None, "succeeded", 95.0, True, "INFO"),
        (169, 187, False, None, "warned", 90.4, True, "WARNING"),
        (168, 187, False, None, "blocked", 89.8, False, "ERROR"),
        (1, 187, False, None, "blocked", 0.5, False, "ERROR"),
        (
            1,
            187,
            True,
            "UPCG backfill known partial, approved by data lead",
            "forced",
            0.5,
            True,
            "WARNING",
        ),
        (1, 187, True, "", "blocked", 0.5, False, "ERROR"),
        (1, 187, True, None, "blocked", 0.5, False, "ERROR"),
        (1, 187, True, "   ", "blocked", 0.5, False, "ERROR"),
        (0, 0, False, None, "succeeded", None, True, "INFO"),
        (3, 0, False, None, "succeeded", None, True, "INFO"),
    ],
    ids=[
        "187-of-187",
        "190-of-200-is-95.0",
        "169-of-187-warned",
        "168-of-187-blocked",
        "1-of-187-blocked",
        "1-of-187-forced",
        "force-empty-reason",
        "force-no-reason",
        "force-blank-reason",
        "nothing-expected",
        "nothing-expected-some-written",
    ],
)
def test_spec_numbers(
    actual: int,
    expected: int,
    force: bool,
    reason: str | None,
    status: str,
    pct: float | None,
    checkpointed: bool,
    severity: str,
) -> None:
    verdict = coverage_verdict(actual=actual, expected=expected, force=force, force_reason=reason)
    assert verdict.status == status
    assert verdict.coverage_pct == pct
    assert verdict.checkpointed is checkpointed
    assert verdict.checkpointed is (verdict.status in CHECKPOINTED_STATUSES)
    assert verdict.severity == severity
    assert verdict.actual == actual
    assert verdict.expected == expected


def test_messages() -> None:
    warned = coverage_verdict(actual=169, expected=187, force=False, force_reason=None)
    assert warned.message.startswith("Low coverage")
    assert "169/187" in warned.message
    assert "90.4%" in warned.message

    blocked = coverage_verdict(actual=168, expected=187, force=False, force_reason=None)
    assert blocked.message.startswith("COVERAGE VALIDATION FAILED")
    assert "168/187" in blocked.message
    assert "89.8%" in blocked.message
    assert "19 missing" in blocked.message
    assert blocked.missing == 19

    forced = coverage_verdict(actual=1, expected=187, force=True, force_reason=" known gap ")
    assert forced.forced is True
    assert forced.force_reason == "known gap"
    assert "known gap" in forced.message
    assert forced.missing == 186

    unreasoned = coverage_verdict(actual=1, expected=187, force=True, force_reason="")
    assert unreasoned.forced is False
    assert unreasoned.force_reason is None
    assert "force ignored" in unreasoned.message


def test_force_is_not_applied_when_coverage_already_passes() -> None:
    verdict = coverage_verdict(actual=169, expected=187, force=True, force_reason="just in case")
    assert verdict.status == "warned"
    assert verdict.forced is False
    assert verdict.force_reason is None


@pytest.mark.parametrize(
    ("actual", "expected", "status", "shown"),
    [
        (1799, 2000, "blocked", 90.0),  # 89.95 % displays as 90.0 but is below 90
        (1800, 2000, "warned", 90.0),
        (1899, 2000, "warned", 95.0),  # 94.95 % displays as 95.0 but is below 95
        (171, 180, "succeeded", 95.0),  # exactly 95 % (0.95 is inexact in binary)
        (9, 10, "warned", 90.0),  # exactly 90 %
    ],
)
def test_thresholds_compare_the_unrounded_ratio(
    actual: int, expected: int, status: str, shown: float
) -> None:
    verdict = coverage_verdict(actual=actual, expected=expected, force=False, force_reason=None)
    assert verdict.status == status
    assert verdict.coverage_pct == shown


def test_thresholds_are_settings() -> None:
    kwargs: dict[str, Any] = {"expected": 100, "force": False, "force_reason": None}
    assert coverage_verdict(actual=80, block_pct=80.0, warn_pct=85.0, **kwargs).status == "warned"
    assert coverage_verdict(actual=79, block_pct=80.0, warn_pct=85.0, **kwargs).status == "blocked"
    assert (
        coverage_verdict(actual=85, block_pct=80.0, warn_pct=85.0, **kwargs).status == "succeeded"
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"actual": -1, "expected": 10}, "player counts must be >= 0"),
        ({"actual": 1, "expected": -10}, "player counts must be >= 0"),
        (
            {"actual": 1, "expected": 10, "block_pct": 96.0, "warn_pct": 95.0},
            "block_pct <= warn_pct",
        ),
        ({"actual": 1, "expected": 10, "warn_pct": 101.0}, "warn_pct <= 100"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        coverage_verdict(force=False, force_reason=None, **kwargs)
