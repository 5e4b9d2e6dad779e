"""A frozen copy of the row-building path as it was before issue 13's fast paths (baseline).

``python -m tests.bench.rows`` times this copy against the current ``build_rows`` on the same
contexts and requires every row to be identical. It is a benchmark baseline only: no runtime
module imports it, and it must not change (it is the "before" of the comparison).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

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
_FLOAT_FIELDS = (
    "avg_minutes_per_game_last_7",
    "projected_usage_rate",
    "avg_usage_rate_last_7_games",
    "pace_differential",
    "opponent_pace_last_10",
)


def _to_float(name: str, value: object) -> float | None:
    """Convert a warehouse value (Decimal, int, float, numeric str) to float; NULL/NaN → None."""
    if value is None:
        return None
    if type(value) is float:  # the common case, exactly as float(value) below would give
        return None if value != value else value
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
    if value is None:
        return None
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
        kwargs: dict[str, Any] = {name: _to_int(name, row.get(name)) for name in _INT_FIELDS}
        kwargs.update({name: _to_float(name, row.get(name)) for name in _FLOAT_FIELDS})
        kwargs["back_to_back"] = _to_bool("back_to_back", row.get("back_to_back"))
        return cls(**kwargs)


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
        return cls(
            primary_scoring_zone=_to_str(row.get("primary_scoring_zone")),
            paint_rate_last_10=_to_float("paint_rate_last_10", row.get("paint_rate_last_10")),
            mid_range_rate_last_10=_to_float(
                "mid_range_rate_last_10", row.get("mid_range_rate_last_10")
            ),
            three_pt_rate_last_10=_to_float(
                "three_pt_rate_last_10", row.get("three_pt_rate_last_10")
            ),
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
        return cls(
            **{
                name: _to_float(name, row.get(name))
                for name in (
                    "paint_defense_vs_league_avg",
                    "mid_range_defense_vs_league_avg",
                    "three_pt_defense_vs_league_avg",
                )
            }
        )


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
    raw: dict[str, Any] = {name: getattr(ctx, name) for name in FATIGUE_DEFAULTS}
    defaults_applied: list[str] = []
    used: dict[str, Any] = {}
    for name, default in FATIGUE_DEFAULTS.items():
        value = raw[name]
        if isinstance(value, float) and math.isnan(value):
            value = None
        if value is None:
            defaults_applied.append(name)
            value = default
        used[name] = value

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
        "inputs": used,
        "defaults_applied": defaults_applied,
        "penalties": penalties,
        "bonuses": bonuses,
        "raw_score": raw_score,
        "final_score": score,
        "adjustment": adjustment,
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
                "missing": missing,
                "mismatch_type": "neutral",
                "final_score": 0.0,
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
        "primary_scoring_zone": zone,
        "zone_used": zone_used,
        "player_zone_rate": rate,
        "opponent_defense_vs_league": defense_value,
        "defaults_applied": defaults_applied,
        "zone_weight": weight,
        "base_mismatch": base,
        "amplified": amplified,
        "extreme_matchup": abs(score) > 8.0,
        "mismatch_type": _label(score, "favorable", "unfavorable", "neutral"),
        "final_score": score,
    }
    return FactorResult(score=score, context=context)


def pace(ctx: PlayerContext) -> FactorResult:
    """Pace score per RULES §2.4: clamp(pace_differential / 2, −3, 3); NULL → 0.0."""
    differential = _num(ctx.pace_differential)
    default_applied = differential is None
    used = 0.0 if differential is None else differential
    score = _clamp(used / 2.0, -PACE_LIMIT, PACE_LIMIT)
    context: dict[str, Any] = {
        "pace_differential": used,
        "opponent_pace_last_10": _num(ctx.opponent_pace_last_10),
        "defaults_applied": ["pace_differential"] if default_applied else [],
        # The environment labels the game itself (pace points), not the scaled score.
        "pace_environment": _label(used, "fast", "slow", "normal"),
        "final_score": score,
    }
    return FactorResult(score=score, context=context)


def usage_spike(ctx: PlayerContext) -> FactorResult:
    """Usage-spike score per RULES §2.4 (−3…+3), boosted when star teammates are out."""
    projected = _num(ctx.projected_usage_rate)
    baseline = _num(ctx.avg_usage_rate_last_7_games)
    stars = 0 if ctx.star_teammates_out is None else ctx.star_teammates_out
    context: dict[str, Any] = {
        "projected_usage_rate": projected,
        "avg_usage_last_7": baseline,
        "star_teammates_out": stars,
        "defaults_applied": ["star_teammates_out"] if ctx.star_teammates_out is None else [],
    }
    if projected is None or baseline is None or baseline == 0:
        reason = (
            "projected_usage_rate is NULL"
            if projected is None
            else "avg_usage_rate_last_7_games is NULL"
            if baseline is None
            else "avg_usage_rate_last_7_games is 0"
        )
        context.update(
            {
                "usage_differential": None,
                "boost_multiplier": 1.0,
                "usage_boost_applied": False,
                "usage_trend": "stable",
                "zero_reason": reason,
                "final_score": 0.0,
            }
        )
        return FactorResult(score=0.0, context=context)

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
    context.update(
        {
            "usage_differential": differential,
            "boost_multiplier": multiplier,
            "usage_boost_applied": multiplier != 1.0,
            "usage_trend": _label(differential, "spike", "drop", "stable"),
            "final_score": score,
        }
    )
    return FactorResult(score=score, context=context)


DEFAULT_CALCULATION_VERSION = "v1_4factors"

# Warning thresholds (RULES §2.4).
EXTREME_FATIGUE_BELOW = 50
EXTREME_MATCHUP_ABOVE = 8.0
EXTREME_ADJUSTMENT_ABOVE = 12.0

# Quality fields in the order RULES §2.4 lists them; each present one is worth 20 points.
QUALITY_FIELDS = (
    "days_rest",
    "projected_usage_rate",
    "pace_differential",
    "player_shot_zone",
    "team_defense_zone",
)

DEFERRED_FACTORS = (
    "referee_favorability_score",
    "look_ahead_pressure_score",
    "travel_impact_score",
    "opponent_strength_score",
)

# Columns the caller adds at write time; they describe the run, not the data, so they are
# neither produced here nor hashed (a re-run with identical inputs must give identical hashes).
RUN_COLUMNS = ("run_id", "processed_at")


class RowRejected(ValueError):
    """A computed row failed the pre-write range guard; the caller counts it as failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def round_half_away(value: float, places: int) -> float:
    """Round like BigQuery ROUND(): half away from zero on the value's shortest decimal form."""
    # repr() is the shortest string that round-trips, so 0.15 rounds to 0.2 as a reader expects.
    quantum = Decimal(1).scaleb(-places)
    rounded = float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    # Normalise -0.0 so equal rows render (and hash) identically.
    return rounded + 0.0


# One encoder for every context: json.dumps would build an identical one per call.
_CONTEXT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def context_json(context: Mapping[str, Any]) -> str:
    """Serialise a factor context deterministically (sorted keys, compact, strict JSON)."""
    return _CONTEXT_ENCODER.encode(context)


def _hash_value(value: object) -> str:
    """Render one column value for hashing, identically on every platform and run."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value + 0.0)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# Exact-type renderers for the common column types (bool before int: the chain above checks it
# first, and a dict keyed by exact type never confuses the two). Anything else takes the chain.
_RENDER: dict[type, Callable[[Any], str]] = {
    type(None): lambda _v: "NULL",
    bool: lambda v: "true" if v else "false",
    float: lambda v: repr(v + 0.0),
    int: str,
    str: str,
    Decimal: str,
    date: date.isoformat,
    datetime: datetime.isoformat,
}


@lru_cache(maxsize=64)
def _hash_order(names: tuple[str, ...]) -> tuple[str, ...] | None:
    """The hashed columns in the order their ``name:value`` pairs sort; None if names allow no
    value-independent order (a name holding ':' or a non-string)."""
    if not all(isinstance(n, str) and ":" not in n for n in names):
        return None
    # Pairs of distinct names first differ inside "name:" (':' is in no name), so sorting the
    # names with their ':' appended orders the pairs exactly as sorting the pair strings would.
    return tuple(
        sorted(
            (n for n in names if n not in RUN_COLUMNS and n != "data_hash"), key=lambda n: n + ":"
        )
    )


def data_hash(row: Mapping[str, object]) -> str:
    """First 16 hex chars of SHA-256 over the sorted ``name:value`` pairs (run columns excluded)."""
    order = _hash_order(tuple(row))
    if order is None:
        pairs = sorted(
            f"{name}:{_hash_value(value)}"
            for name, value in row.items()
            if name not in RUN_COLUMNS and name != "data_hash"
        )
    else:
        render = _RENDER.get
        pairs = [
            f"{name}:{(render(type(v)) or _hash_value)(v)}" for name in order for v in (row[name],)
        ]
    return hashlib.sha256("|".join(pairs).encode("utf-8")).hexdigest()[:16]


def validate_row(row: Mapping[str, object]) -> None:
    """Range guard before write: RowRejected for fatigue outside [0, 100] or a non-finite score."""
    fatigue_score = row.get("fatigue_score")
    if (
        not isinstance(fatigue_score, int)
        or isinstance(fatigue_score, bool)
        or not 0 <= fatigue_score <= 100
    ):
        raise RowRejected(f"fatigue_score {fatigue_score!r} outside [0, 100]")
    for name in (
        "shot_zone_mismatch_score",
        "pace_score",
        "usage_spike_score",
        "total_composite_adjustment",
        *DEFERRED_FACTORS,
    ):
        value = row.get(name)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise RowRejected(f"{name} {value!r} is not a finite number")


def build_row(
    *,
    player_lookup: str,
    universal_player_id: str | None,
    game_id: str | None,
    game_date: date,
    data_source: str,
    ctx: PlayerContext,
    profile: ShotZoneProfile | None,
    defense: ZoneDefense | None,
    calculation_version: str,
) -> dict[str, object]:
    """Compute one PCF row (all columns but run_id/processed_at); RowRejected if it is invalid."""
    fatigue_result = fatigue(ctx)
    zone_result = shot_zone_mismatch(profile, defense)
    pace_result = pace(ctx)
    usage_result = usage_spike(ctx)

    # Guard the raw maths before rounding: a NaN/inf would otherwise be rounded into garbage.
    for name, unrounded in (
        ("fatigue adjustment", fatigue_result.adjustment),
        ("shot_zone_mismatch_score", zone_result.score),
        ("pace_score", pace_result.score),
        ("usage_spike_score", usage_result.score),
    ):
        if not math.isfinite(unrounded):
            raise RowRejected(f"{name} {unrounded!r} is not a finite number")

    # The total uses the unrounded factors: summing rounded scores drifts by up to 0.15.
    total_unrounded = (
        fatigue_result.adjustment + zone_result.score + pace_result.score + usage_result.score
    )
    total = round_half_away(total_unrounded, 2)

    present = {
        "days_rest": ctx.days_rest is not None,
        "projected_usage_rate": _present(ctx.projected_usage_rate),
        "pace_differential": _present(ctx.pace_differential),
        "player_shot_zone": profile is not None,
        "team_defense_zone": defense is not None,
    }
    missing = [name for name in QUALITY_FIELDS if not present[name]]
    completeness = 20.0 * (len(QUALITY_FIELDS) - len(missing))

    warnings: list[str] = []
    if fatigue_result.score < EXTREME_FATIGUE_BELOW:
        warnings.append("EXTREME_FATIGUE")
    if abs(zone_result.score) > EXTREME_MATCHUP_ABOVE:
        warnings.append("EXTREME_MATCHUP")
    if abs(total) > EXTREME_ADJUSTMENT_ABOVE:
        warnings.append("EXTREME_ADJUSTMENT")

    try:
        contexts = {
            "fatigue_context_json": context_json(fatigue_result.context),
            "shot_zone_context_json": context_json(zone_result.context),
            "pace_context_json": context_json(pace_result.context),
            "usage_context_json": context_json(usage_result.context),
        }
    except ValueError as exc:
        # allow_nan=False: an infinite input would make invalid JSON; refuse the row instead.
        raise RowRejected(f"context is not valid JSON: {exc}") from exc

    row: dict[str, object] = {
        "player_lookup": player_lookup,
        "universal_player_id": universal_player_id,
        "game_id": game_id,
        "game_date": game_date,
        "data_source": data_source,
        "fatigue_score": fatigue_result.score,
        "shot_zone_mismatch_score": round_half_away(zone_result.score, 1),
        "pace_score": round_half_away(pace_result.score, 1),
        "usage_spike_score": round_half_away(usage_result.score, 1),
        **dict.fromkeys(DEFERRED_FACTORS, 0.0),
        "total_composite_adjustment": total,
        **contexts,
        "calculation_version": calculation_version,
        "data_completeness_pct": completeness,
        "missing_data_fields": ", ".join(missing) if missing else None,
        "has_warnings": bool(warnings),
        "warning_details": "; ".join(warnings) if warnings else None,
    }
    validate_row(row)
    row["data_hash"] = data_hash(row)
    return row


def _present(value: float | None) -> bool:
    """True when a numeric input is neither NULL nor NaN."""
    return value is not None and not math.isnan(value)


def build_rows(
    context_rows: list[dict[str, Any]], game_date: date, source: str, calculation_version: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pure: composite rows for every context row, and the rejected players with reasons."""
    rows: list[dict[str, Any]] = []
    rejected: list[str] = []
    for ctx in context_rows:
        profile = ShotZoneProfile.from_row(ctx) if ctx.get("has_shot_zone") else None
        defense = ZoneDefense.from_row(ctx) if ctx.get("has_team_defense") else None
        try:
            rows.append(
                build_row(
                    player_lookup=ctx["player_lookup"],
                    universal_player_id=ctx.get("universal_player_id"),
                    game_id=ctx.get("game_id"),
                    game_date=game_date,
                    data_source=source,
                    ctx=PlayerContext.from_row(ctx),
                    profile=profile,
                    defense=defense,
                    calculation_version=calculation_version,
                )
            )
        except (RowRejected, ValueError) as exc:
            rejected.append(f"{ctx['player_lookup']}: {exc}")
    return rows, rejected
