"""Output rows: full-row worked totals, quality fields, warnings, range guard, data_hash."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.rules import (
    PlayerContext,
    RowRejected,
    ShotZoneProfile,
    ZoneDefense,
    build_row,
    data_hash,
    round_half_away,
    validate_row,
)

SCHEMA = Path(__file__).resolve().parents[3] / "infra" / "schemas" / "player_composite_factors.json"
D = date(2023, 2, 23)
# data_hash of the FRESH row below, pinned so a change to the hash definition is deliberate.
GOLDEN_FRESH_HASH = "96f22961c00fdc8f"

FRESH = PlayerContext(
    days_rest=2,
    back_to_back=False,
    games_in_last_7_days=3,
    minutes_in_last_7_days=175,
    avg_minutes_per_game_last_7=29.2,
    back_to_backs_last_14_days=0,
    player_age=28,
    projected_usage_rate=26.0,
    avg_usage_rate_last_7_games=25.0,
    star_teammates_out=0,
    pace_differential=3.5,
    opponent_pace_last_10=101.5,
)
VETERAN = PlayerContext(
    days_rest=1,
    minutes_in_last_7_days=190,
    avg_minutes_per_game_last_7=31.7,
    player_age=32,
    projected_usage_rate=28.5,
    avg_usage_rate_last_7_games=27.0,
    star_teammates_out=1,
    pace_differential=4.0,
)
EXHAUSTED = PlayerContext(
    days_rest=0,
    back_to_back=True,
    games_in_last_7_days=4,
    minutes_in_last_7_days=250,
    avg_minutes_per_game_last_7=36.5,
    back_to_backs_last_14_days=2,
    player_age=35,
    projected_usage_rate=30.0,
    avg_usage_rate_last_7_games=28.0,
    star_teammates_out=2,
    pace_differential=-2.0,
)
PAINT_65 = ShotZoneProfile("paint", 65.0, 20.0, 15.0)
PAINT_DEF_4_3 = ZoneDefense(4.3, 0.0, 0.0)


def _row(
    ctx: PlayerContext,
    profile: ShotZoneProfile | None = PAINT_65,
    defense: ZoneDefense | None = PAINT_DEF_4_3,
    **overrides: Any,
) -> dict[str, object]:
    kwargs: dict[str, Any] = {
        "player_lookup": "lebronjames",
        "universal_player_id": "lebronjames_001",
        "game_id": "0022200900",
        "game_date": D,
        "data_source": "UPCG",
        "ctx": ctx,
        "profile": profile,
        "defense": defense,
        "calculation_version": "v1_4factors",
    }
    kwargs.update(overrides)
    return build_row(**kwargs)


# ---------------------------------------------------------------- full rows (RULES §2.5)


@pytest.mark.parametrize(
    ("ctx", "profile", "defense", "expected"),
    [
        (
            FRESH,
            PAINT_65,
            PAINT_DEF_4_3,
            {
                "fatigue_score": 100,
                "shot_zone_mismatch_score": 4.3,
                "pace_score": 1.8,  # 1.75 stored to 1 decimal, half away from zero
                "usage_spike_score": 0.3,
                "total_composite_adjustment": 6.35,
                "has_warnings": False,
                "warning_details": None,
            },
        ),
        (
            VETERAN,
            ShotZoneProfile("perimeter", 20.0, 15.0, 65.0),
            ZoneDefense(1.0, 1.0, -3.2),
            {
                "fatigue_score": 95,
                "shot_zone_mismatch_score": -3.2,
                "pace_score": 2.0,
                "usage_spike_score": 0.5,  # 0.5175 unrounded
                # -0.25 - 3.2 + 2.0 + 0.5175 = -0.9325; summing stored scores would give -0.95.
                "total_composite_adjustment": -0.93,
                "has_warnings": False,
                "warning_details": None,
            },
        ),
        (
            EXHAUSTED,
            ShotZoneProfile("mid_range", 30.0, 45.0, 25.0),
            ZoneDefense(0.0, 2.1, 0.0),
            {
                "fatigue_score": 35,
                "shot_zone_mismatch_score": 1.9,  # 1.89 unrounded
                "pace_score": -1.0,
                "usage_spike_score": 0.8,  # 0.78 unrounded
                # -3.25 + 1.89 - 1.0 + 0.78 = -1.58; summing stored scores would give -1.55.
                "total_composite_adjustment": -1.58,
                "has_warnings": True,
                "warning_details": "EXTREME_FATIGUE",
            },
        ),
    ],
    ids=["fresh-6.35", "veteran-minus-0.93", "exhausted-minus-1.58"],
)
def test_full_rows_reproduce_worked_totals(
    ctx: PlayerContext,
    profile: ShotZoneProfile,
    defense: ZoneDefense,
    expected: dict[str, object],
) -> None:
    row = _row(ctx, profile, defense)
    for name, value in expected.items():
        assert row[name] == value, name


def test_full_row_context_json_holds_unrounded_factors() -> None:
    row = _row(VETERAN, ShotZoneProfile("perimeter", 20.0, 15.0, 65.0), ZoneDefense(1.0, 1.0, -3.2))
    usage = json.loads(str(row["usage_context_json"]))
    assert usage["final_score"] == pytest.approx(0.5175)
    assert usage["boost_multiplier"] == 1.15
    zone = json.loads(str(row["shot_zone_context_json"]))
    assert zone["mismatch_type"] == "unfavorable"
    assert zone["zone_used"] == "three_pt"
    pace = json.loads(str(row["pace_context_json"]))
    assert pace["pace_environment"] == "fast"
    fatigue = json.loads(str(row["fatigue_context_json"]))
    assert fatigue["penalties"] == {"player_age_30_plus": -5}
    assert fatigue["defaults_applied"] == [
        "back_to_back",
        "games_in_last_7_days",
        "back_to_backs_last_14_days",
    ]


def test_context_json_is_compact_and_sorted() -> None:
    row = _row(FRESH)
    for name in (
        "fatigue_context_json",
        "shot_zone_context_json",
        "pace_context_json",
        "usage_context_json",
    ):
        text = str(row[name])
        parsed = json.loads(text)
        assert text == json.dumps(parsed, sort_keys=True, separators=(",", ":"))
        assert ": " not in text
        assert ", " not in text


def test_synthetic_context_row() -> None:
    ctx = PlayerContext(
        days_rest=0,
        back_to_back=True,
        games_in_last_7_days=4,
        minutes_in_last_7_days=140,
        avg_minutes_per_game_last_7=35.0,
        back_to_backs_last_14_days=1,
        avg_usage_rate_last_7_games=24.0,
        star_teammates_out=0,
    )
    row = _row(ctx, None, None, data_source="PGS_SYNTHETIC")
    assert row["data_source"] == "PGS_SYNTHETIC"
    assert row["fatigue_score"] == 70
    assert row["usage_spike_score"] == 0.0
    assert row["shot_zone_mismatch_score"] == 0.0
    assert row["pace_score"] == 0.0
    assert row["total_composite_adjustment"] == -1.5
    assert row["data_completeness_pct"] == 20.0
    assert row["missing_data_fields"] == (
        "projected_usage_rate, pace_differential, player_shot_zone, team_defense_zone"
    )
    assert row["has_warnings"] is False


# ---------------------------------------------------------------- columns


def test_row_has_every_schema_column_except_run_columns() -> None:
    schema_columns = [c["name"] for c in json.loads(SCHEMA.read_text())["schema"]]
    row = _row(FRESH)
    assert "run_id" not in row
    assert "processed_at" not in row
    assert sorted(row) == sorted(c for c in schema_columns if c not in ("run_id", "processed_at"))


def test_identifying_columns_and_deferred_factors() -> None:
    row = _row(FRESH)
    assert row["player_lookup"] == "lebronjames"
    assert row["universal_player_id"] == "lebronjames_001"
    assert row["game_id"] == "0022200900"
    assert row["game_date"] == D
    assert row["calculation_version"] == "v1_4factors"
    for name in (
        "referee_favorability_score",
        "look_ahead_pressure_score",
        "travel_impact_score",
        "opponent_strength_score",
    ):
        assert row[name] == 0.0


# ---------------------------------------------------------------- quality fields


@pytest.mark.parametrize(
    ("ctx", "profile", "defense", "pct", "missing"),
    [
        (FRESH, PAINT_65, PAINT_DEF_4_3, 100.0, None),
        (
            PlayerContext(),
            None,
            None,
            0.0,
            "days_rest, projected_usage_rate, pace_differential, player_shot_zone, "
            "team_defense_zone",
        ),
        (replace(FRESH, days_rest=None), PAINT_65, PAINT_DEF_4_3, 80.0, "days_rest"),
        (
            replace(FRESH, projected_usage_rate=None, pace_differential=None),
            PAINT_65,
            PAINT_DEF_4_3,
            60.0,
            "projected_usage_rate, pace_differential",
        ),
        (FRESH, None, PAINT_DEF_4_3, 80.0, "player_shot_zone"),
        (FRESH, PAINT_65, None, 80.0, "team_defense_zone"),
        (
            replace(FRESH, days_rest=None),
            PAINT_65,
            None,
            60.0,
            "days_rest, team_defense_zone",
        ),
        # Only the five listed inputs count: other NULLs do not lower completeness.
        (
            PlayerContext(days_rest=1, projected_usage_rate=25.0, pace_differential=0.0),
            PAINT_65,
            PAINT_DEF_4_3,
            100.0,
            None,
        ),
    ],
)
def test_quality_fields(
    ctx: PlayerContext,
    profile: ShotZoneProfile | None,
    defense: ZoneDefense | None,
    pct: float,
    missing: str | None,
) -> None:
    row = _row(ctx, profile, defense)
    assert row["data_completeness_pct"] == pct
    assert row["missing_data_fields"] == missing


# ---------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    ("ctx", "profile", "defense", "details", "total"),
    [
        (FRESH, PAINT_65, PAINT_DEF_4_3, None, 6.35),
        # Unrounded 8.04 is stored as 8.0 but still an extreme matchup.
        (
            PlayerContext(),
            ShotZoneProfile("paint", 100.0),
            ZoneDefense(6.7),
            "EXTREME_MATCHUP",
            8.04,
        ),
        # 10 + 2.0 = 12.0 exactly: not above 12.
        (
            PlayerContext(pace_differential=4.0),
            ShotZoneProfile("paint", 80.0),
            ZoneDefense(15.0),
            "EXTREME_MATCHUP",
            12.0,
        ),
        # 10 + 3 - 0.996 = 12.004 → the 2-decimal total 12.0 does not warn.
        (
            PlayerContext(
                pace_differential=6.0, projected_usage_rate=20.0, avg_usage_rate_last_7_games=23.32
            ),
            ShotZoneProfile("paint", 80.0),
            ZoneDefense(15.0),
            "EXTREME_MATCHUP",
            12.0,
        ),
        (
            PlayerContext(
                pace_differential=10.0, projected_usage_rate=50.0, avg_usage_rate_last_7_games=20.0
            ),
            ShotZoneProfile("paint", 80.0),
            ZoneDefense(15.0),
            "EXTREME_MATCHUP; EXTREME_ADJUSTMENT",
            16.0,
        ),
        (
            replace(EXHAUSTED, pace_differential=10.0, projected_usage_rate=50.0),
            ShotZoneProfile("paint", 80.0),
            ZoneDefense(15.0),
            "EXTREME_FATIGUE; EXTREME_MATCHUP; EXTREME_ADJUSTMENT",
            12.75,
        ),
        (
            replace(EXHAUSTED, pace_differential=-10.0, projected_usage_rate=10.0),
            ShotZoneProfile("paint", 80.0),
            ZoneDefense(-15.0),
            "EXTREME_FATIGUE; EXTREME_MATCHUP; EXTREME_ADJUSTMENT",
            -19.25,
        ),
    ],
    ids=[
        "none",
        "matchup-8.04",
        "total-exactly-12",
        "total-12.004-rounds-to-12",
        "matchup-and-adjustment",
        "all-three",
        "all-three-negative",
    ],
)
def test_warnings(
    ctx: PlayerContext,
    profile: ShotZoneProfile,
    defense: ZoneDefense,
    details: str | None,
    total: float,
) -> None:
    row = _row(ctx, profile, defense)
    assert row["total_composite_adjustment"] == total
    assert row["warning_details"] == details
    assert row["has_warnings"] is (details is not None)


def test_fatigue_warning_is_strictly_below_50() -> None:
    # 100 - 15 (b2b) - 10 (games) - 10 (minutes) - 5 (one b2b in 14 days) - 10 (age 35) = 50.
    ctx = PlayerContext(
        back_to_back=True,
        games_in_last_7_days=4,
        minutes_in_last_7_days=250,
        back_to_backs_last_14_days=1,
        player_age=35,
    )
    at_50 = _row(ctx)
    assert at_50["fatigue_score"] == 50
    assert at_50["warning_details"] is None
    assert at_50["has_warnings"] is False
    below = _row(replace(ctx, avg_minutes_per_game_last_7=36.0))
    assert below["fatigue_score"] == 42
    assert below["warning_details"] == "EXTREME_FATIGUE"


# ---------------------------------------------------------------- range guard


@pytest.mark.parametrize("bad", [101, -1, 150, None, True, 50.0])
def test_range_guard_rejects_fatigue_outside_0_100(bad: object) -> None:
    row = _row(FRESH)
    row["fatigue_score"] = bad
    with pytest.raises(RowRejected, match="fatigue_score") as info:
        validate_row(row)
    assert "fatigue_score" in info.value.reason


@pytest.mark.parametrize("good", [0, 100, 35])
def test_range_guard_accepts_fatigue_bounds(good: int) -> None:
    row = _row(FRESH)
    row["fatigue_score"] = good
    validate_row(row)


@pytest.mark.parametrize("column", ["pace_score", "total_composite_adjustment"])
def test_range_guard_rejects_non_finite_scores(column: str) -> None:
    row = _row(FRESH)
    row[column] = math.nan
    with pytest.raises(RowRejected, match=column):
        validate_row(row)


def test_build_row_rejects_infinite_inputs_rather_than_writing_invalid_json() -> None:
    with pytest.raises(RowRejected, match="JSON"):
        _row(replace(FRESH, pace_differential=math.inf))


def test_row_rejected_is_a_value_error_with_reason() -> None:
    err = RowRejected("fatigue_score 101 outside [0, 100]")
    assert isinstance(err, ValueError)
    assert err.reason == "fatigue_score 101 outside [0, 100]"


# ---------------------------------------------------------------- data_hash


def test_hash_is_16_hex_and_deterministic() -> None:
    first, second = _row(FRESH), _row(FRESH)
    assert first == second
    digest = str(first["data_hash"])
    assert len(digest) == 16
    assert all(ch in "0123456789abcdef" for ch in digest)
    assert data_hash(first) == digest


def test_hash_is_stable_across_processes() -> None:
    # Pinned: the hash must not depend on dict order, PYTHONHASHSEED or the platform; if the
    # hashed columns or their formatting change on purpose, update this value.
    assert _row(FRESH)["data_hash"] == GOLDEN_FRESH_HASH


@pytest.mark.parametrize(
    "change",
    [
        {"ctx": replace(FRESH, pace_differential=3.6)},
        {"ctx": replace(FRESH, player_age=30)},
        {"ctx": replace(FRESH, opponent_pace_last_10=99.0)},  # context-only change
        {"defense": ZoneDefense(4.4)},
        {"profile": None},
        {"player_lookup": "someoneelse"},
        {"game_date": date(2023, 2, 24)},
        {"data_source": "PGS_SYNTHETIC"},
        {"calculation_version": "v2"},
        {"universal_player_id": None},
    ],
)
def test_hash_changes_when_one_input_changes(change: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"ctx": FRESH, **change}
    assert _row(**kwargs)["data_hash"] != _row(FRESH)["data_hash"]


def test_hash_changes_when_one_computed_value_changes() -> None:
    row = _row(FRESH)
    tampered = dict(row, pace_score=1.7)
    assert data_hash(tampered) != row["data_hash"]


def test_hash_ignores_run_columns_and_itself() -> None:
    row = _row(FRESH)
    with_run = dict(row, run_id="20230223T000000Z-abc", processed_at="2024-01-01T00:00:00Z")
    assert data_hash(with_run) == row["data_hash"]
    assert data_hash(dict(row, data_hash="0" * 16)) == row["data_hash"]


def test_hash_renders_null_and_negative_zero_deterministically() -> None:
    assert data_hash({"a": None}) != data_hash({"a": "None"})
    assert data_hash({"a": -0.0}) == data_hash({"a": 0.0})
    assert data_hash({"a": 1, "b": 2}) == data_hash({"b": 2, "a": 1})


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (1.89, 1, 1.9),
        (0.5175, 1, 0.5),
        (1.75, 1, 1.8),
        (0.15, 1, 0.2),
        (-0.15, 1, -0.2),
        (-0.9325, 2, -0.93),
        (6.35, 2, 6.35),
        (12.004, 2, 12.0),
    ],
)
def test_round_half_away(value: float, places: int, expected: float) -> None:
    assert round_half_away(value, places) == expected


def test_round_never_yields_negative_zero() -> None:
    assert math.copysign(1.0, round_half_away(-0.04, 1)) == 1.0
