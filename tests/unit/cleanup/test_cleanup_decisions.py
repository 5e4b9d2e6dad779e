"""Pure cleanup rules (RULES §5): ET date, cutoff, today window, allow-list, runaway guard,
status, backup naming, verification and the reconcile verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.clock import et_today
from shared.rules.cleanup import (
    GuardVerdict,
    TableStats,
    allow_list_problem,
    backup_problems,
    backup_table_name,
    cutoff,
    decide,
    delete_problems,
    guard_verdict,
    is_cleanup_id,
    new_cleanup_id,
    reconcile_verdict,
    restore_problems,
    today_problem,
)
from shared.usecases.cleanup_upcoming import UnknownCleanupTable, allow_list_error, resolve_tables

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
    assert not v.allowed
    assert v.fraction == 0.6
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
    assert not refused.allowed
    assert "80.0%" in refused.reason
    assert "row limit" in refused.reason
    allowed = guard_verdict(200_000, 250_000, 0.5, 100_000, True)
    assert allowed.allowed
    assert allowed.overridden
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


def test_backup_table_name_carries_the_run_date_and_the_cleanup_id() -> None:
    cid = new_cleanup_id(datetime(2026, 1, 13, 9, 0, 5, tzinfo=UTC), "a1b2c3")
    assert cid == "c20260113T090005Z_a1b2c3"
    assert is_cleanup_id(cid)
    name = backup_table_name(UPCG, date(2026, 1, 13), cid)
    assert name == f"{UPCG}__stale_20260113_c20260113T090005Z_a1b2c3"
    # Two runs the same day can never pick the same name: the ids differ.
    other = backup_table_name(UPCG, date(2026, 1, 13), "c20260113T090005Z_ffffff")
    assert other != name
    with pytest.raises(ValueError, match="cleanup id"):
        backup_table_name(UPCG, date(2026, 1, 13), "x; DROP TABLE t")


def test_new_cleanup_id_is_in_utc() -> None:
    from zoneinfo import ZoneInfo

    ny = datetime(2026, 1, 13, 4, 0, tzinfo=ZoneInfo("America/New_York"))
    assert new_cleanup_id(ny, "000000") == "c20260113T090000Z_000000"


def test_backup_problems() -> None:
    assert backup_problems(3, 3, 3) == []
    assert backup_problems(3, 2, 2) == ["backup holds 2 rows but 3 rows are stale"]
    assert backup_problems(3, 3, 2) == ["backup holds 1 rows at or after the cutoff"]


def test_delete_problems_check_both_sides() -> None:
    before = _stats(3, 6)
    assert delete_problems(before, _stats(0, 6), 3, 3, 0) == []
    # A late stale row (not in the backup) remaining is expected, not a problem.
    assert delete_problems(before, _stats(1, 6), 3, 3, 0) == []
    assert delete_problems(before, _stats(1, 6), 2, 3, 1) == [
        "1 backed-up rows are still in the table",
        "deleted 2 rows but the backup holds 3",
    ]
    assert delete_problems(before, _stats(0, 5), 4, 3, 0) == [
        "rows at or after the cutoff changed from 6 to 5",
        "deleted 4 rows but the backup holds 3",
    ]


@pytest.mark.parametrize(
    ("today", "ok"),
    [
        (date(2000, 1, 1), True),
        (date(1999, 12, 31), False),
        (date(1, 1, 1), False),
        (date(2026, 1, 14), True),  # tomorrow in New York
        (date(2026, 1, 15), False),
        (date(9999, 12, 31), False),
    ],
)
def test_today_must_lie_between_2000_and_tomorrow(today: date, ok: bool) -> None:
    problem = today_problem(today, date(2026, 1, 13))
    assert (problem is None) == ok
    if not ok:
        assert problem == (
            f"today {today.isoformat()} is outside 2000-01-01 … 2026-01-14 (tomorrow in New "
            "York); give a real run date"
        )


@pytest.mark.parametrize(
    ("table", "dataset", "partition", "problem"),
    [
        (UPCG, "analytics", "game_date", None),
        ("backfill_ledger", "orchestration", "game_date", "'backfill_ledger' is not an upcoming_"),
        ("player_game_summary", "analytics", "game_date", "is not an upcoming_* table"),
        ("upcoming_x", None, None, "is not a pipeline table"),
        ("upcoming_x", "precompute", "game_date", "is in the precompute dataset, not analytics"),
        ("upcoming_x", "analytics", None, "is not partitioned by game_date"),
    ],
)
def test_allow_list_only_takes_upcoming_tables_of_analytics(
    table: str, dataset: str | None, partition: str | None, problem: str | None
) -> None:
    found = allow_list_problem(table, dataset, partition)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_allow_list_error_is_one_line_naming_every_bad_table() -> None:
    assert allow_list_error([UPCG, UTCG]) is None
    error = allow_list_error(["backfill_ledger", UPCG, "player_composite_factors"])
    assert error is not None
    assert "\n" not in error
    assert error.startswith("PCF_CLEANUP_TABLES is invalid: 'backfill_ledger' is not an")
    assert "'player_composite_factors' is not an upcoming_* table" in error


B = "nba_backup.t__stale_20260113_c20260113T090000Z_abcdef"


def test_reconcile_backup_never_made_means_nothing_deleted() -> None:
    v = reconcile_verdict(B, 3, None, None, 3)
    assert (v.status, v.severity, v.deleted_rows) == ("reconciled_not_deleted", "WARNING", 0)
    assert "before its backup" in v.detail


def test_reconcile_rows_gone_without_a_backup_is_critical() -> None:
    v = reconcile_verdict(B, 3, None, None, 1)
    assert (v.status, v.severity, v.deleted_rows) == ("reconciled_deleted", "CRITICAL", 2)


def test_reconcile_backup_made_but_all_rows_still_in_the_table() -> None:
    v = reconcile_verdict(B, 3, 3, 0, 3)
    assert (v.status, v.severity, v.deleted_rows) == ("reconciled_not_deleted", "WARNING", 0)
    assert "after its backup" in v.detail


def test_reconcile_delete_ran_rows_are_in_the_backup() -> None:
    v = reconcile_verdict(B, 3, 3, 3, 0)
    assert (v.status, v.severity, v.deleted_rows) == ("reconciled_deleted", "WARNING", 3)
    assert "pcf cleanup restore" in v.detail
    assert B in v.detail


def test_reconcile_partial_is_an_error() -> None:
    v = reconcile_verdict(B, 3, 3, 2, 1)
    assert (v.status, v.severity, v.deleted_rows) == ("reconciled_deleted", "ERROR", 2)


def test_restore_problems() -> None:
    assert restore_problems(3, 3, 0) == []
    assert restore_problems(0, 0, 0) == []  # a second restore
    assert restore_problems(3, 2, 1) == [
        "inserted 2 rows but 3 were missing",
        "1 backup rows are still missing from the table",
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


def test_an_allow_listed_table_must_be_an_upcoming_table_of_analytics() -> None:
    with pytest.raises(UnknownCleanupTable, match="not an upcoming_\\* table"):
        resolve_tables(["player_shot_zone_analysis"], ["player_shot_zone_analysis"])
