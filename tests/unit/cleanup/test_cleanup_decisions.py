"""Pure cleanup decisions (RULES §5): ET date, cutoff, runaway guard, status, verification."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.usecases.cleanup_upcoming import (
    GuardVerdict,
    TableStats,
    UnknownCleanupTable,
    backup_problems,
    backup_table_name,
    cutoff,
    decide,
    delete_problems,
    et_today,
    guard_verdict,
    resolve_tables,
)

UPCG = "upcoming_player_game_context"
UTCG = "upcoming_team_game_context"
ALLOWED = [UPCG, UTCG]


def test_cutoff_is_today_minus_ttl_and_strict() -> None:
    cut = cutoff(date(2026, 1, 13), 7)
    assert cut == date(2026, 1, 6)
    # stale = game_date < cutoff: the 5th goes, the 6th (exactly the cutoff) stays.
    assert date(2026, 1, 5) < cut
    assert not date(2026, 1, 6) < cut
    assert cutoff(date(2026, 3, 1), 1) == date(2026, 2, 28)
    assert cutoff(date(2024, 3, 1), 1) == date(2024, 2, 29)


@pytest.mark.parametrize("ttl", [0, -1, 366])
def test_cutoff_rejects_ttl_outside_1_to_365(ttl: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 365"):
        cutoff(date(2026, 1, 13), ttl)


@pytest.mark.parametrize(
    ("now_utc", "et_date"),
    [
        (datetime(2026, 3, 10, 3, 30, tzinfo=UTC), date(2026, 3, 9)),  # EDT: 23:30 on the 9th
        (datetime(2026, 3, 10, 4, 0, tzinfo=UTC), date(2026, 3, 10)),  # EDT midnight
        (datetime(2026, 1, 14, 4, 59, tzinfo=UTC), date(2026, 1, 13)),  # EST: 23:59
        (datetime(2026, 1, 14, 5, 0, tzinfo=UTC), date(2026, 1, 14)),  # EST midnight
        (datetime(2026, 3, 10, 3, 30), date(2026, 3, 9)),  # naive = UTC
    ],
)
def test_et_today(now_utc: datetime, et_date: date) -> None:
    assert et_today(now_utc) == et_date


def test_guard_refuses_above_the_fraction_of_the_table() -> None:
    v = guard_verdict(6, 10, 0.5, 100_000, False)
    assert not v.allowed and v.fraction == 0.6
    assert "6 of 10 rows (60.0%) is above the 50% limit" in v.reason
    # Exactly half is not "above" half.
    assert guard_verdict(5, 10, 0.5, 100_000, False).allowed


def test_guard_refuses_above_the_row_limit() -> None:
    v = guard_verdict(100_001, 1_000_000, 0.5, 100_000, False)
    assert not v.allowed
    assert v.reason == "100001 rows is above the 100000 row limit"
    assert guard_verdict(100_000, 1_000_000, 0.5, 100_000, False).allowed


def test_guard_names_both_limits_and_lets_allow_large_delete_through() -> None:
    refused = guard_verdict(200_000, 250_000, 0.5, 100_000, False)
    assert not refused.allowed and "80.0%" in refused.reason and "row limit" in refused.reason
    allowed = guard_verdict(200_000, 250_000, 0.5, 100_000, True)
    assert allowed.allowed and allowed.overridden
    assert allowed.reason.endswith("(allowed by allow_large_delete)")
    assert not guard_verdict(1, 10, 0.5, 100_000, True).overridden  # nothing to override


def _stats(stale: int, kept: int) -> TableStats:
    return TableStats(stale, 1 if stale else 0, None, None, kept)


OK = GuardVerdict(True, "within the guard limits", 0.1)
NO = GuardVerdict(False, "too much", 0.9)


@pytest.mark.parametrize(
    ("stale", "dry_run", "verdict", "decision"),
    [
        (0, False, OK, "clean"),
        (0, True, NO, "clean"),  # nothing stale wins over everything
        (3, True, OK, "dry_run"),
        (3, True, NO, "dry_run"),  # a dry run reports, it is never refused
        (3, False, NO, "refused"),
        (3, False, OK, "delete"),
    ],
)
def test_decide(stale: int, dry_run: bool, verdict: GuardVerdict, decision: str) -> None:
    assert decide(_stats(stale, 10), dry_run, verdict) == decision


def test_backup_table_name_and_same_day_suffix() -> None:
    assert backup_table_name(UPCG, date(2026, 1, 13)) == f"{UPCG}__stale_20260113"
    assert backup_table_name(UPCG, date(2026, 1, 13), 2) == f"{UPCG}__stale_20260113_2"


def test_backup_problems() -> None:
    assert backup_problems(3, 3, 3) == []
    assert backup_problems(3, 2, 2) == ["backup holds 2 rows but 3 rows are stale"]
    assert backup_problems(3, 3, 2) == ["backup holds 1 rows at or after the cutoff"]


def test_delete_problems_check_both_sides() -> None:
    before = _stats(3, 6)
    assert delete_problems(before, _stats(0, 6), 3, 3) == []
    assert delete_problems(before, _stats(1, 6), 2, 3) == [
        "1 rows below the cutoff remain",
        "deleted 2 rows but the backup holds 3",
    ]
    assert delete_problems(before, _stats(0, 5), 4, 3) == [
        "rows at or after the cutoff changed from 6 to 5",
        "deleted 4 rows but the backup holds 3",
    ]


def test_resolve_tables_defaults_to_the_allow_list_and_dedupes() -> None:
    assert resolve_tables(None, ALLOWED) == ALLOWED
    assert resolve_tables([UTCG, UTCG], ALLOWED) == [UTCG]


@pytest.mark.parametrize(
    "requested",
    [["player_game_summary"], [UPCG, "nope"], ["upcoming_player_game_context; DROP"], []],
)
def test_resolve_tables_refuses_anything_not_allow_listed(requested: list[str]) -> None:
    with pytest.raises(UnknownCleanupTable) as err:
        resolve_tables(requested, ALLOWED)
    assert f"allowed tables: {UPCG}, {UTCG}" in str(err.value)


def test_an_allow_listed_table_must_be_partitioned_by_game_date() -> None:
    with pytest.raises(UnknownCleanupTable, match="not partitioned by game_date"):
        resolve_tables(["player_shot_zone_analysis"], ["player_shot_zone_analysis"])
