"""Assemble one output row of player_composite_factors from the pure factors (no I/O)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from shared.rules.factors import (
    PlayerContext,
    ShotZoneProfile,
    ZoneDefense,
    fatigue,
    pace,
    shot_zone_mismatch,
    usage_spike,
)

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
