"""Pure factor maths for player composite factors (RULES §2.4): values in, values out, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

# NULL defaults for fatigue inputs (RULES §2.4): a missing value is read as a "typical" player,
# so missing context neither rewards nor punishes.
FATIGUE_DEFAULTS: dict[str, float | int | bool] = {
    "days_rest": 1,
    "back_to_back": False,
    "games_in_last_7_days": 3,
    "minutes_in_last_7_days": 200,
    "avg_minutes_per_game_last_7": 30.0,
    "back_to_backs_last_14_days": 0,
    "player_age": 25,
}

# Contexts are built with their keys in sorted order: context_json sorts them anyway (the output
# does not depend on it), but sorting an already sorted dict costs the encoder next to nothing.
_FATIGUE_INPUTS_SORTED = tuple(sorted(FATIGUE_DEFAULTS))
_FATIGUE_RANK = {name: rank for rank, name in enumerate(FATIGUE_DEFAULTS)}

SHOT_ZONE_DEFAULT_RATE = 50.0
SHOT_ZONE_DEFAULT_DEFENSE = 0.0
SHOT_ZONE_AMPLIFY_ABOVE = 5.0
SHOT_ZONE_AMPLIFY_FACTOR = 1.2
SHOT_ZONE_LIMIT = 10.0
PACE_LIMIT = 3.0
USAGE_LIMIT = 3.0
USAGE_SCALE = 0.3
# Thresholds for the context labels (mismatch type, pace environment, usage trend).
LABEL_THRESHOLD = 2.0

_INT_FIELDS = (
    "days_rest",
    "games_in_last_7_days",
    "minutes_in_last_7_days",
    "back_to_backs_last_14_days",
    "player_age",
    "star_teammates_out",
)
_DEFENSE_FIELDS = (
    "paint_defense_vs_league_avg",
    "mid_range_defense_vs_league_avg",
    "three_pt_defense_vs_league_avg",
)
_FLOAT_FIELDS = (
    "avg_minutes_per_game_last_7",
    "projected_usage_rate",
    "avg_usage_rate_last_7_games",
    "pace_differential",
    "opponent_pace_last_10",
)


def _to_float(name: str, value: object) -> float | None:
    """Convert a warehouse value (Decimal, int, float, numeric str) to float; NULL/NaN → None."""
    kind = type(value)
    if kind is float:  # the common cases first, exactly as the general path below would give
        return None if value != value else value  # type: ignore[return-value]
    if kind is Decimal and value.is_finite():  # type: ignore[attr-defined]
        # Decimal.__float__ is float(str(self)) for a finite value (C and pure-Python decimal
        # alike); spelt out, CPython's call is markedly cheaper.
        return float(str(value))
    if value is None:
        return None
    if isinstance(value, bool):
        # A bool in a numeric column is a schema mix-up, not a number.
        raise ValueError(f"{name}: expected a number, got bool {value!r}")
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    # NaN is how some drivers (pandas, DuckDB fetchdf) spell NULL; treat it as missing.
    return None if math.isnan(result) else result


def _to_int(name: str, value: object) -> int | None:
    """Convert a warehouse integer (int, integral Decimal/float) to int; NULL/NaN → None."""
    if value is None or type(value) is int:
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, got bool {value!r}")
    if isinstance(value, int):
        return value
    as_float = _to_float(name, value)
    if as_float is None:
        return None
    if not as_float.is_integer():
        # Silently truncating 2.7 days of rest would hide an upstream bug.
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    return int(as_float)


def _to_bool(name: str, value: object) -> bool | None:
    """Convert a warehouse boolean (bool, 0/1, 'true'/'false') to bool; NULL → None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    # numpy.bool_ and friends are not bool subclasses but do expose .item().
    item = getattr(value, "item", None)
    if callable(item):
        return _to_bool(name, item())
    raise ValueError(f"{name}: expected a boolean, got {value!r}")


def _to_str(value: object) -> str | None:
    """Convert a warehouse string to str; NULL/empty → None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _num(value: float | int | None) -> float | None:
    """Return ``value`` as float, or None when missing or NaN (so NaN behaves like NULL)."""
    if value is None:
        return None
    if type(value) is float:  # the common case, exactly as float(value) below would give
        return None if value != value else value
    result = float(value)
    return None if math.isnan(result) else result


def _clamp(value: float, low: float, high: float) -> float:
    """Clamp ``value`` into [low, high]."""
    return max(low, min(high, value))


def _label(value: float, high: str, low: str, neutral: str) -> str:
    """Label a value ``high`` above +2, ``low`` below −2, else ``neutral``."""
    if value > LABEL_THRESHOLD:
        return high
    if value < -LABEL_THRESHOLD:
        return low
    return neutral


_Frozen = TypeVar("_Frozen")


def _frozen(cls: type[_Frozen], values: dict[str, Any]) -> _Frozen:
    """``cls(**values)`` for a frozen dataclass given every field (no ``__post_init__``), without
    its ``__init__``'s one frozen ``object.__setattr__`` per field: the instance state is the
    same dict of field values, at a fraction of the cost (it runs for every context row)."""
    instance = object.__new__(cls)  # type: ignore[call-overload]
    object.__setattr__(instance, "__dict__", values)
    return instance  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PlayerContext:
    """Pre-game context for one player (a UPCG row or its PGS-synthesized twin); any may be NULL."""

    days_rest: int | None = None
    back_to_back: bool | None = None
    games_in_last_7_days: int | None = None
    minutes_in_last_7_days: int | None = None
    avg_minutes_per_game_last_7: float | None = None
    back_to_backs_last_14_days: int | None = None
    player_age: int | None = None
    projected_usage_rate: float | None = None
    avg_usage_rate_last_7_games: float | None = None
    star_teammates_out: int | None = None
    pace_differential: float | None = None
    opponent_pace_last_10: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlayerContext:
        """Build from a warehouse row; absent keys are NULL, extra keys are ignored."""
        get = row.get
        values: dict[str, Any] = {name: _to_int(name, get(name)) for name in _INT_FIELDS}
        for name in _FLOAT_FIELDS:
            values[name] = _to_float(name, get(name))
        back_to_back = get("back_to_back")
        values["back_to_back"] = (
            back_to_back if type(back_to_back) is bool else _to_bool("back_to_back", back_to_back)
        )
        return _frozen(cls, values)


@dataclass(frozen=True)
class ShotZoneProfile:
    """A player's shot distribution before D (a PSZA row); rates are percent of FGA."""

    primary_scoring_zone: str | None = None
    paint_rate_last_10: float | None = None
    mid_range_rate_last_10: float | None = None
    three_pt_rate_last_10: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ShotZoneProfile:
        """Build from a PSZA warehouse row."""
        get = row.get
        return _frozen(
            cls,
            {
                "primary_scoring_zone": _to_str(get("primary_scoring_zone")),
                "paint_rate_last_10": _to_float("paint_rate_last_10", get("paint_rate_last_10")),
                "mid_range_rate_last_10": _to_float(
                    "mid_range_rate_last_10", get("mid_range_rate_last_10")
                ),
                "three_pt_rate_last_10": _to_float(
                    "three_pt_rate_last_10", get("three_pt_rate_last_10")
                ),
            },
        )


@dataclass(frozen=True)
class ZoneDefense:
    """The opponent's zone defense before D (a TDZA row); positive = weak defense."""

    paint_defense_vs_league_avg: float | None = None
    mid_range_defense_vs_league_avg: float | None = None
    three_pt_defense_vs_league_avg: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ZoneDefense:
        """Build from a TDZA warehouse row."""
        get = row.get
        return _frozen(cls, {name: _to_float(name, get(name)) for name in _DEFENSE_FIELDS})


@dataclass(frozen=True)
class FatigueResult:
    """Fatigue score (0–100 integer, higher = fresher), its total adjustment, and its context."""

    score: int
    adjustment: float
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FactorResult:
    """An unrounded factor score and the context that explains it."""

    score: float
    context: dict[str, Any] = field(default_factory=dict)


def fatigue(ctx: PlayerContext) -> FatigueResult:
    """Fatigue score per RULES §2.4: start at 100, apply penalties/bonus, clamp to [0, 100]."""
    defaults_applied: list[str] = []
    used: dict[str, Any] = {}
    for name in _FATIGUE_INPUTS_SORTED:
        value = getattr(ctx, name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            defaults_applied.append(name)
            value = FATIGUE_DEFAULTS[name]
        used[name] = value
    if len(defaults_applied) > 1:
        # The context lists defaulted inputs in FATIGUE_DEFAULTS order, not alphabetically.
        defaults_applied.sort(key=_FATIGUE_RANK.__getitem__)

    penalties: dict[str, int] = {}
    bonuses: dict[str, int] = {}
    if used["back_to_back"]:
        penalties["back_to_back"] = -15
    elif used["days_rest"] >= 3:
        # Only a player who is not on a back-to-back can be "well rested".
        bonuses["days_rest_3_plus"] = 5
    if used["games_in_last_7_days"] >= 4:
        penalties["games_in_last_7_days_4_plus"] = -10
    if used["minutes_in_last_7_days"] > 240:
        penalties["minutes_in_last_7_days_over_240"] = -10
    if used["avg_minutes_per_game_last_7"] > 35:
        penalties["avg_minutes_per_game_last_7_over_35"] = -8
    if used["back_to_backs_last_14_days"] >= 2:
        penalties["back_to_backs_last_14_days_2_plus"] = -12
    elif used["back_to_backs_last_14_days"] == 1:
        penalties["back_to_backs_last_14_days_1"] = -5
    if used["player_age"] >= 35:
        penalties["player_age_35_plus"] = -10
    elif used["player_age"] >= 30:
        penalties["player_age_30_plus"] = -5

    raw_score = 100 + sum(penalties.values()) + sum(bonuses.values())
    score = int(_clamp(raw_score, 0, 100))
    adjustment = (score - 100) / 20
    context: dict[str, Any] = {
        "adjustment": adjustment,
        "bonuses": bonuses,
        "defaults_applied": defaults_applied,
        "final_score": score,
        "inputs": used,
        "penalties": penalties,
        "raw_score": raw_score,
    }
    return FatigueResult(score=score, adjustment=adjustment, context=context)


# primary_scoring_zone → (profile rate field, defense field, zone name recorded in context).
_ZONE_PAIRS: dict[str, tuple[str, str, str]] = {
    "paint": ("paint_rate_last_10", "paint_defense_vs_league_avg", "paint"),
    "mid_range": ("mid_range_rate_last_10", "mid_range_defense_vs_league_avg", "mid_range"),
    "perimeter": ("three_pt_rate_last_10", "three_pt_defense_vs_league_avg", "three_pt"),
}


def shot_zone_mismatch(
    profile: ShotZoneProfile | None, defense: ZoneDefense | None
) -> FactorResult:
    """Shot-zone mismatch per RULES §2.4 (−10…+10, unrounded); 0.0 when PSZA or TDZA is missing."""
    if profile is None or defense is None:
        missing = [
            name
            for name, obj in (("player_shot_zone", profile), ("team_defense_zone", defense))
            if obj is None
        ]
        return FactorResult(
            score=0.0,
            context={
                "final_score": 0.0,
                "mismatch_type": "neutral",
                "missing": missing,
            },
        )

    zone = profile.primary_scoring_zone
    # balanced, NULL or anything unknown is scored on the paint pair: most shots come from there.
    rate_field, defense_field, zone_used = _ZONE_PAIRS.get(
        (zone or "").strip().lower(), _ZONE_PAIRS["paint"]
    )
    defaults_applied: list[str] = []
    rate = _num(getattr(profile, rate_field))
    if rate is None:
        defaults_applied.append(rate_field)
        rate = SHOT_ZONE_DEFAULT_RATE
    defense_value = _num(getattr(defense, defense_field))
    if defense_value is None:
        defaults_applied.append(defense_field)
        defense_value = SHOT_ZONE_DEFAULT_DEFENSE

    weight = min(rate / 50.0, 1.0)
    base = defense_value * weight
    amplified = abs(base) > SHOT_ZONE_AMPLIFY_ABOVE
    # Extreme mismatches matter more than linearly.
    mismatch = base * SHOT_ZONE_AMPLIFY_FACTOR if amplified else base
    score = _clamp(mismatch, -SHOT_ZONE_LIMIT, SHOT_ZONE_LIMIT)
    context: dict[str, Any] = {
        "amplified": amplified,
        "base_mismatch": base,
        "defaults_applied": defaults_applied,
        "extreme_matchup": abs(score) > 8.0,
        "final_score": score,
        "mismatch_type": _label(score, "favorable", "unfavorable", "neutral"),
        "opponent_defense_vs_league": defense_value,
        "player_zone_rate": rate,
        "primary_scoring_zone": zone,
        "zone_used": zone_used,
        "zone_weight": weight,
    }
    return FactorResult(score=score, context=context)


def pace(ctx: PlayerContext) -> FactorResult:
    """Pace score per RULES §2.4: clamp(pace_differential / 2, −3, 3); NULL → 0.0."""
    differential = _num(ctx.pace_differential)
    default_applied = differential is None
    used = 0.0 if differential is None else differential
    score = _clamp(used / 2.0, -PACE_LIMIT, PACE_LIMIT)
    context: dict[str, Any] = {
        "defaults_applied": ["pace_differential"] if default_applied else [],
        "final_score": score,
        "opponent_pace_last_10": _num(ctx.opponent_pace_last_10),
        "pace_differential": used,
        # The environment labels the game itself (pace points), not the scaled score.
        "pace_environment": _label(used, "fast", "slow", "normal"),
    }
    return FactorResult(score=score, context=context)


def usage_spike(ctx: PlayerContext) -> FactorResult:
    """Usage-spike score per RULES §2.4 (−3…+3), boosted when star teammates are out."""
    projected = _num(ctx.projected_usage_rate)
    baseline = _num(ctx.avg_usage_rate_last_7_games)
    stars = 0 if ctx.star_teammates_out is None else ctx.star_teammates_out
    defaults_applied = ["star_teammates_out"] if ctx.star_teammates_out is None else []
    if projected is None or baseline is None or baseline == 0:
        reason = (
            "projected_usage_rate is NULL"
            if projected is None
            else "avg_usage_rate_last_7_games is NULL"
            if baseline is None
            else "avg_usage_rate_last_7_games is 0"
        )
        return FactorResult(
            score=0.0,
            context={
                "avg_usage_last_7": baseline,
                "boost_multiplier": 1.0,
                "defaults_applied": defaults_applied,
                "final_score": 0.0,
                "projected_usage_rate": projected,
                "star_teammates_out": stars,
                "usage_boost_applied": False,
                "usage_differential": None,
                "usage_trend": "stable",
                "zero_reason": reason,
            },
        )

    differential = projected - baseline
    base = differential * USAGE_SCALE
    multiplier = 1.0
    # Missing stars only amplify an upward move: their shots go to someone.
    if base > 0:
        if stars >= 2:
            multiplier = 1.30
        elif stars == 1:
            multiplier = 1.15
    score = _clamp(base * multiplier, -USAGE_LIMIT, USAGE_LIMIT)
    context: dict[str, Any] = {
        "avg_usage_last_7": baseline,
        "boost_multiplier": multiplier,
        "defaults_applied": defaults_applied,
        "final_score": score,
        "projected_usage_rate": projected,
        "star_teammates_out": stars,
        "usage_boost_applied": multiplier != 1.0,
        "usage_differential": differential,
        "usage_trend": _label(differential, "spike", "drop", "stable"),
    }
    return FactorResult(score=score, context=context)
