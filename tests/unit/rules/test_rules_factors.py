"""Factor maths against the RULES §2.4/§2.5 worked numbers."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from shared.rules import (
    PlayerContext,
    ShotZoneProfile,
    ZoneDefense,
    fatigue,
    pace,
    round_half_away,
    shot_zone_mismatch,
    usage_spike,
)


def _fatigue_ctx(
    days_rest: int | None,
    b2b: bool | None,
    games: int | None,
    minutes: int | None,
    avg: float | None,
    b2b14: int | None,
    age: int | None,
) -> PlayerContext:
    return PlayerContext(
        days_rest=days_rest,
        back_to_back=b2b,
        games_in_last_7_days=games,
        minutes_in_last_7_days=minutes,
        avg_minutes_per_game_last_7=avg,
        back_to_backs_last_14_days=b2b14,
        player_age=age,
    )


# ---------------------------------------------------------------- fatigue


@pytest.mark.parametrize(
    ("inputs", "score", "adjustment"),
    [
        ((2, False, 3, 175, 29.2, 0, 28), 100, 0.0),
        ((0, True, 4, 250, 36.5, 2, 35), 35, -3.25),
        ((1, False, 3, 250, 35.0, 0, 28), 90, -0.5),
        ((1, False, 4, 220, 34.0, 1, 30), 80, -1.0),
        ((3, False, 4, 220, 34.0, 1, 30), 85, -0.75),
        ((None, None, None, None, None, None, None), 100, 0.0),
    ],
    ids=["fresh", "exhausted", "heavy-minutes", "busy-30yo", "busy-30yo-rested", "all-null"],
)
def test_fatigue_worked_numbers(
    inputs: tuple[
        int | None, bool | None, int | None, int | None, float | None, int | None, int | None
    ],
    score: int,
    adjustment: float,
) -> None:
    result = fatigue(_fatigue_ctx(*inputs))
    assert result.score == score
    assert isinstance(result.score, int)
    assert result.adjustment == pytest.approx(adjustment)


def test_fatigue_exhausted_context_lists_every_penalty() -> None:
    result = fatigue(_fatigue_ctx(0, True, 4, 250, 36.5, 2, 35))
    assert result.context["penalties"] == {
        "back_to_back": -15,
        "games_in_last_7_days_4_plus": -10,
        "minutes_in_last_7_days_over_240": -10,
        "avg_minutes_per_game_last_7_over_35": -8,
        "back_to_backs_last_14_days_2_plus": -12,
        "player_age_35_plus": -10,
    }
    assert result.context["bonuses"] == {}
    assert result.context["defaults_applied"] == []
    assert result.context["raw_score"] == 35
    assert result.context["final_score"] == 35


def test_fatigue_all_null_records_every_default() -> None:
    result = fatigue(PlayerContext())
    assert result.context["defaults_applied"] == [
        "days_rest",
        "back_to_back",
        "games_in_last_7_days",
        "minutes_in_last_7_days",
        "avg_minutes_per_game_last_7",
        "back_to_backs_last_14_days",
        "player_age",
    ]
    assert result.context["inputs"] == {
        "days_rest": 1,
        "back_to_back": False,
        "games_in_last_7_days": 3,
        "minutes_in_last_7_days": 200,
        "avg_minutes_per_game_last_7": 30.0,
        "back_to_backs_last_14_days": 0,
        "player_age": 25,
    }
    assert result.context["penalties"] == {}


def test_fatigue_rest_bonus_only_without_back_to_back() -> None:
    rested = fatigue(_fatigue_ctx(3, False, None, None, None, None, None))
    assert rested.score == 100  # +5 then clamped to 100
    assert rested.context["raw_score"] == 105
    assert rested.context["bonuses"] == {"days_rest_3_plus": 5}
    # A back-to-back with a (contradictory) days_rest 3 takes the penalty, never the bonus.
    b2b = fatigue(_fatigue_ctx(3, True, None, None, None, None, None))
    assert b2b.score == 85
    assert b2b.context["bonuses"] == {}


@pytest.mark.parametrize(
    ("field", "value", "score"),
    [
        ("minutes_in_last_7_days", 240, 100),  # > 240 is strict
        ("minutes_in_last_7_days", 241, 90),
        ("avg_minutes_per_game_last_7", 35.0, 100),  # > 35 is strict
        ("avg_minutes_per_game_last_7", 35.1, 92),
        ("games_in_last_7_days", 3, 100),
        ("games_in_last_7_days", 4, 90),
        ("back_to_backs_last_14_days", 1, 95),
        ("back_to_backs_last_14_days", 3, 88),
        ("player_age", 29, 100),
        ("player_age", 30, 95),
        ("player_age", 34, 95),
        ("player_age", 35, 90),
    ],
)
def test_fatigue_thresholds(field: str, value: float, score: int) -> None:
    kwargs: dict[str, Any] = {field: value}
    assert fatigue(PlayerContext(**kwargs)).score == score


# ---------------------------------------------------------------- shot zone


@pytest.mark.parametrize(
    ("profile", "defense", "score", "stored", "mismatch_type"),
    [
        (ShotZoneProfile("paint", 65.0), ZoneDefense(4.3), 4.3, 4.3, "favorable"),
        (ShotZoneProfile("paint", 65.0), ZoneDefense(-3.8), -3.8, -3.8, "unfavorable"),
        (ShotZoneProfile("paint", 70.0), ZoneDefense(6.0), 7.2, 7.2, "favorable"),
        (ShotZoneProfile("paint", 25.0), ZoneDefense(4.0), 2.0, 2.0, "neutral"),
        (ShotZoneProfile("paint", 80.0), ZoneDefense(15.0), 10.0, 10.0, "favorable"),
        (
            ShotZoneProfile("perimeter", three_pt_rate_last_10=65.0),
            ZoneDefense(three_pt_defense_vs_league_avg=3.5),
            3.5,
            3.5,
            "favorable",
        ),
        (
            ShotZoneProfile("mid_range", mid_range_rate_last_10=45.0),
            ZoneDefense(mid_range_defense_vs_league_avg=2.1),
            1.89,
            1.9,
            "neutral",
        ),
        (
            ShotZoneProfile("balanced", paint_rate_last_10=30.0),
            ZoneDefense(paint_defense_vs_league_avg=5.0),
            3.0,
            3.0,
            "favorable",
        ),
        (ShotZoneProfile(None, None), ZoneDefense(-6.0), -7.2, -7.2, "unfavorable"),
        (None, ZoneDefense(4.3), 0.0, 0.0, "neutral"),
        (ShotZoneProfile("paint", 65.0), None, 0.0, 0.0, "neutral"),
        (None, None, 0.0, 0.0, "neutral"),
    ],
    ids=[
        "paint-65-vs-4.3",
        "paint-65-vs-neg3.8",
        "paint-70-vs-6-amplified",
        "paint-25-vs-4-weighted",
        "paint-80-vs-15-clamped",
        "perimeter-65-vs-3.5",
        "mid-45-vs-2.1",
        "balanced-uses-paint",
        "null-zone-null-rate",
        "psza-missing",
        "tdza-missing",
        "both-missing",
    ],
)
def test_shot_zone_worked_numbers(
    profile: ShotZoneProfile | None,
    defense: ZoneDefense | None,
    score: float,
    stored: float,
    mismatch_type: str,
) -> None:
    result = shot_zone_mismatch(profile, defense)
    assert result.score == pytest.approx(score, abs=1e-12)
    assert round_half_away(result.score, 1) == stored
    assert result.context["mismatch_type"] == mismatch_type


def test_shot_zone_uses_the_pair_of_the_primary_zone_only() -> None:
    profile = ShotZoneProfile("perimeter", 90.0, 90.0, 65.0)
    defense = ZoneDefense(9.0, 9.0, 3.5)
    result = shot_zone_mismatch(profile, defense)
    assert result.score == pytest.approx(3.5)
    assert result.context["zone_used"] == "three_pt"
    assert result.context["player_zone_rate"] == 65.0
    assert result.context["opponent_defense_vs_league"] == 3.5


def test_shot_zone_null_defaults_are_recorded() -> None:
    result = shot_zone_mismatch(ShotZoneProfile(None, None), ZoneDefense(None))
    assert result.score == 0.0
    assert result.context["player_zone_rate"] == 50.0
    assert result.context["opponent_defense_vs_league"] == 0.0
    assert result.context["defaults_applied"] == [
        "paint_rate_last_10",
        "paint_defense_vs_league_avg",
    ]


def test_shot_zone_missing_rows_are_named() -> None:
    assert shot_zone_mismatch(None, ZoneDefense(1.0)).context["missing"] == ["player_shot_zone"]
    assert shot_zone_mismatch(ShotZoneProfile(), None).context["missing"] == ["team_defense_zone"]


@pytest.mark.parametrize(
    ("defense", "score", "amplified"),
    [(5.0, 5.0, False), (5.5, 6.6, True), (-5.0, -5.0, False), (-9.0, -10.0, True)],
)
def test_shot_zone_amplification_is_strictly_above_five(
    defense: float, score: float, amplified: bool
) -> None:
    result = shot_zone_mismatch(ShotZoneProfile("paint", 100.0), ZoneDefense(defense))
    assert result.score == pytest.approx(score)
    assert result.context["amplified"] is amplified


# ---------------------------------------------------------------- pace


@pytest.mark.parametrize(
    ("differential", "score", "environment"),
    [
        (3.5, 1.75, "fast"),
        (-4.0, -2.0, "slow"),
        (10.0, 3.0, "fast"),
        (-10.0, -3.0, "slow"),
        (2.0, 1.0, "normal"),
        (-2.0, -1.0, "normal"),
        (None, 0.0, "normal"),
    ],
)
def test_pace_worked_numbers(differential: float | None, score: float, environment: str) -> None:
    result = pace(PlayerContext(pace_differential=differential, opponent_pace_last_10=101.5))
    assert result.score == score
    assert result.context["pace_environment"] == environment
    assert result.context["opponent_pace_last_10"] == 101.5
    assert result.context["defaults_applied"] == ([] if differential else ["pace_differential"])


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize(
    ("projected", "baseline", "stars", "score", "trend"),
    [
        (26.0, 25.0, 0, 0.3, "stable"),
        (20.0, 25.0, 0, -1.5, "drop"),
        (30.0, 25.0, 1, 1.725, "spike"),
        (30.0, 25.0, 2, 1.95, "spike"),
        (30.0, 25.0, 3, 1.95, "spike"),
        (50.0, 20.0, 0, 3.0, "spike"),
        (10.0, 40.0, 0, -3.0, "drop"),
        (30.0, 0.0, 0, 0.0, "stable"),
        (None, 25.0, 0, 0.0, "stable"),
        (26.0, None, 0, 0.0, "stable"),
        (20.0, 25.0, 2, -1.5, "drop"),  # missing stars never amplify a drop
        (26.0, 25.0, None, 0.3, "stable"),  # stars NULL → 0
    ],
)
def test_usage_worked_numbers(
    projected: float | None,
    baseline: float | None,
    stars: int | None,
    score: float,
    trend: str,
) -> None:
    result = usage_spike(
        PlayerContext(
            projected_usage_rate=projected,
            avg_usage_rate_last_7_games=baseline,
            star_teammates_out=stars,
        )
    )
    assert result.score == pytest.approx(score, abs=1e-12)
    assert result.context["usage_trend"] == trend


def test_usage_context_records_boost() -> None:
    result = usage_spike(
        PlayerContext(
            projected_usage_rate=28.5, avg_usage_rate_last_7_games=27.0, star_teammates_out=1
        )
    )
    assert result.score == pytest.approx(0.5175)
    assert result.context["usage_differential"] == pytest.approx(1.5)
    assert result.context["boost_multiplier"] == 1.15
    assert result.context["usage_boost_applied"] is True


def test_usage_zero_reason_is_explained() -> None:
    no_projection = usage_spike(PlayerContext(avg_usage_rate_last_7_games=24.0))
    assert no_projection.context["zero_reason"] == "projected_usage_rate is NULL"
    zero_baseline = usage_spike(
        PlayerContext(projected_usage_rate=30.0, avg_usage_rate_last_7_games=0.0)
    )
    assert zero_baseline.context["zero_reason"] == "avg_usage_rate_last_7_games is 0"


def test_synthetic_context_example_gives_fatigue_70_and_usage_zero() -> None:
    # RULES §2.5: the §2.3 quantities derived from the example PGS history.
    ctx = PlayerContext(
        days_rest=0,
        back_to_back=True,
        games_in_last_7_days=4,
        minutes_in_last_7_days=140,
        avg_minutes_per_game_last_7=35.0,
        back_to_backs_last_14_days=1,
        player_age=None,
        projected_usage_rate=None,
        avg_usage_rate_last_7_games=24.0,
        star_teammates_out=0,
        pace_differential=None,
        opponent_pace_last_10=None,
    )
    result = fatigue(ctx)
    assert result.score == 70
    assert result.adjustment == -1.5
    assert result.context["penalties"] == {
        "back_to_back": -15,
        "games_in_last_7_days_4_plus": -10,
        "back_to_backs_last_14_days_1": -5,
    }
    assert result.context["defaults_applied"] == ["player_age"]
    assert usage_spike(ctx).score == 0.0
    assert pace(ctx).score == 0.0


# ---------------------------------------------------------------- from_row


def test_player_context_from_row_converts_warehouse_values() -> None:
    ctx = PlayerContext.from_row(
        {
            "days_rest": 2,
            "back_to_back": False,
            "games_in_last_7_days": Decimal("3"),
            "minutes_in_last_7_days": 175.0,
            "avg_minutes_per_game_last_7": Decimal("29.2"),
            "back_to_backs_last_14_days": None,
            "player_age": 28,
            "projected_usage_rate": Decimal("26.0"),
            "avg_usage_rate_last_7_games": 25,
            "star_teammates_out": 0,
            "pace_differential": float("nan"),
            "player_lookup": "ignored",
        }
    )
    assert ctx == PlayerContext(
        days_rest=2,
        back_to_back=False,
        games_in_last_7_days=3,
        minutes_in_last_7_days=175,
        avg_minutes_per_game_last_7=29.2,
        back_to_backs_last_14_days=None,
        player_age=28,
        projected_usage_rate=26.0,
        avg_usage_rate_last_7_games=25.0,
        star_teammates_out=0,
        pace_differential=None,
        opponent_pace_last_10=None,
    )
    assert isinstance(ctx.games_in_last_7_days, int)
    assert isinstance(ctx.avg_minutes_per_game_last_7, float)
    assert isinstance(ctx.avg_usage_rate_last_7_games, float)


def test_player_context_from_empty_row_is_all_null() -> None:
    assert PlayerContext.from_row({}) == PlayerContext()


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"days_rest": 2.5}, "days_rest"),
        ({"pace_differential": "fast"}, "pace_differential"),
        ({"player_age": True}, "player_age"),
        ({"back_to_back": "maybe"}, "back_to_back"),
    ],
)
def test_player_context_from_row_rejects_malformed_values(
    row: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        PlayerContext.from_row(row)


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (0, False), (1, True), ("true", True), (None, None)]
)
def test_player_context_back_to_back_forms(value: object, expected: bool | None) -> None:
    assert PlayerContext.from_row({"back_to_back": value}).back_to_back is expected


def test_zone_rows_from_warehouse_values() -> None:
    profile = ShotZoneProfile.from_row(
        {
            "primary_scoring_zone": "mid_range",
            "paint_rate_last_10": Decimal("30.5"),
            "mid_range_rate_last_10": Decimal("45"),
            "three_pt_rate_last_10": None,
            "games_in_sample": 10,
        }
    )
    assert profile == ShotZoneProfile("mid_range", 30.5, 45.0, None)
    defense = ZoneDefense.from_row(
        {
            "paint_defense_vs_league_avg": Decimal("-1.25"),
            "mid_range_defense_vs_league_avg": Decimal("2.1"),
            "three_pt_defense_vs_league_avg": None,
            "weakest_zone": "mid_range",
        }
    )
    assert defense == ZoneDefense(-1.25, 2.1, None)
    assert shot_zone_mismatch(profile, defense).score == pytest.approx(1.89)


def test_nan_inputs_behave_like_null() -> None:
    nan = math.nan
    ctx = PlayerContext(
        avg_minutes_per_game_last_7=nan, pace_differential=nan, projected_usage_rate=nan
    )
    assert fatigue(ctx).score == 100
    assert "avg_minutes_per_game_last_7" in fatigue(ctx).context["defaults_applied"]
    assert pace(ctx).score == 0.0
    assert usage_spike(ctx).score == 0.0
