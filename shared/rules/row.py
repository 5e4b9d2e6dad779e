"""Assemble one output row of player_composite_factors from the pure factors (no I/O)."""

from __future__ import annotations

import hashlib
import json
import json.encoder
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from operator import call, itemgetter
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
    value = float(value)
    if 0 <= places <= _FAST_PLACES and abs(value) < _FAST_BELOW[places]:
        # Fast path, equal to the definition below (tests/unit/rules/test_row_fast_paths.py
        # compares them on ties, near-ties and random values): unless repr(value) ends exactly
        # half-way between two results, round() (correctly rounded on the exact binary value)
        # picks the same one. Were a half-way point m between the value v and its repr s, m
        # would round-trip to v too, so repr (shortest, then nearest) would have printed m or a
        # shorter string; and in this range one ulp of v is under a quarter of 10^-(places+1),
        # so s and m, both on that grid when s is no longer, cannot be within one ulp.
        # A half-way repr puts value * 10^(places+1) within 1.5 ulp of an integer ending in 5;
        # only those (about one value in ten, true ties among them) take the Decimal path.
        scaled = value * _FAST_SCALE[places]
        nearest = round(scaled)
        if nearest % 10 != 5 or abs(scaled - nearest) > 2 * math.ulp(scaled):
            return round(value, places) + 0.0
    # repr() is the shortest string that round-trips, so 0.15 rounds to 0.2 as a reader expects.
    quantum = Decimal(1).scaleb(-places)
    rounded = float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))
    # Normalise -0.0 so equal rows render (and hash) identically.
    return rounded + 0.0


# round_half_away's fast path: places 0..10 and |value| below 10^(14 - places), where one ulp
# of the value is under a quarter of 10^-(places+1); anything else takes the Decimal definition.
_FAST_PLACES = 10
_FAST_BELOW = tuple(10.0 ** (14 - places) for places in range(_FAST_PLACES + 1))
_FAST_SCALE = tuple(10.0 ** (places + 1) for places in range(_FAST_PLACES + 1))


# One encoder for every context: json.dumps would build an identical one per call.
_CONTEXT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def _c_encoder(encoder: json.JSONEncoder) -> Callable[[Any, int], list[str]] | None:
    """The C encoder ``encoder.encode`` itself runs (json's one-shot path), built once.

    ``encode`` builds this very object on every call; reusing it gives the same bytes. Only the
    circular-reference check is left out (markers=None): contexts are fresh trees of dicts,
    lists and scalars built by the factor functions, never cyclic, and the check's bookkeeping
    per container is pure overhead. None when the C accelerator is unavailable.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return None
    encode: Callable[[Any, int], list[str]] = make(
        None,
        encoder.default,
        json.encoder.encode_basestring_ascii
        if encoder.ensure_ascii
        else json.encoder.encode_basestring,
        encoder.indent,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    return encode


_C_CONTEXT_ENCODE = _c_encoder(_CONTEXT_ENCODER)


def context_json(context: Mapping[str, Any]) -> str:
    """Serialise a factor context deterministically (sorted keys, compact, strict JSON)."""
    if _C_CONTEXT_ENCODE is None:
        return _CONTEXT_ENCODER.encode(context)
    return "".join(_C_CONTEXT_ENCODE(context, 0))


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


class _FloatTexts(dict[float, str]):
    """Float → its _hash_value text (``repr(v + 0.0)``), remembered: a row's floats are rounded
    scores and constants, so the same few hundred values recur on every row. Exact: equal floats
    have one repr, except 0.0 and -0.0, which are equal keys and both render "0.0" here."""

    def __missing__(self, value: float) -> str:
        if len(self) >= 65536:  # bounded: an odd stream of distinct values cannot grow it
            self.clear()
        text = self[value] = repr(value + 0.0)
        return text


_FLOAT_TEXTS = _FloatTexts()


# Exact-type renderers for the common column types (bool before int: the chain above checks it
# first, and a dict keyed by exact type never confuses the two). Anything else takes the chain.
# Most are C functions, so rendering a row's values runs next to no Python code per value.
_RENDER: dict[type, Callable[[Any], str]] = {
    type(None): "NULL".format,  # str.format ignores its argument: always "NULL"
    bool: ("false", "true").__getitem__,  # type: ignore[dict-item]
    float: _FLOAT_TEXTS.__getitem__,
    int: int.__repr__,
    str: str,
    Decimal: Decimal.__str__,
    date: date.isoformat,
    datetime: datetime.isoformat,
}


class _HashPlan:
    """How to render the hashed text of rows with one set of column names, once per set.

    The text is ``|``-joined ``name:value`` pairs in sorted order: a %-template holding the
    names in that order, filled with the rendered values (renderers chosen per value types).
    """

    __slots__ = ("renderers", "template", "values")

    def __init__(self, order: tuple[str, ...]) -> None:
        self.values = itemgetter(*order)  # at least two names: a tuple of values in pair order
        self.template = "|".join(name.replace("%", "%%") + ":%s" for name in order)
        self.renderers: dict[tuple[type, ...], tuple[Callable[[Any], str], ...]] = {}

    def text(self, row: Mapping[str, object]) -> str:
        """The ``|``-joined sorted pairs of ``row`` (whose column names this plan was made for)."""
        values: tuple[object, ...] = self.values(row)
        kinds = tuple(map(type, values))
        renderers = self.renderers.get(kinds)
        if renderers is None:
            renderers = tuple(_RENDER.get(kind, _hash_value) for kind in kinds)
            if len(self.renderers) < 64:  # a handful of type mixes (NULL or not) in practice
                self.renderers[kinds] = renderers
        return self.template % tuple(map(call, renderers, values))


@lru_cache(maxsize=64)
def _hash_plan(names: tuple[str, ...]) -> _HashPlan | None:
    """The plan for rows with these column names; None if names allow no value-independent
    order (a name holding ':' or a non-string) or fewer than two columns are hashed."""
    if not all(isinstance(n, str) and ":" not in n for n in names):
        return None
    # Pairs of distinct names first differ inside "name:" (':' is in no name), so sorting the
    # names with their ':' appended orders the pairs exactly as sorting the pair strings would.
    order = tuple(
        sorted(
            (n for n in names if n not in RUN_COLUMNS and n != "data_hash"), key=lambda n: n + ":"
        )
    )
    return _HashPlan(order) if len(order) >= 2 else None


def data_hash(row: Mapping[str, object]) -> str:
    """First 16 hex chars of SHA-256 over the sorted ``name:value`` pairs (run columns excluded)."""
    plan = _hash_plan(tuple(row))
    if plan is None:
        text = "|".join(
            sorted(
                f"{name}:{_hash_value(value)}"
                for name, value in row.items()
                if name not in RUN_COLUMNS and name != "data_hash"
            )
        )
    else:
        text = plan.text(row)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# The scores validate_row requires to be finite numbers.
_FINITE_SCORES = (
    "shot_zone_mismatch_score",
    "pace_score",
    "usage_spike_score",
    "total_composite_adjustment",
    *DEFERRED_FACTORS,
)
_SCORES = itemgetter("fatigue_score", *_FINITE_SCORES)
_SCORE_NAMES = frozenset(("fatigue_score", *_FINITE_SCORES))
_FINITE_TYPES = frozenset((int, float))
_DEFERRED_ZEROS = dict.fromkeys(DEFERRED_FACTORS, 0.0)
_isfinite = math.isfinite


# pace() depends on two inputs that a whole team shares on a date: its outputs for the row
# (score, rounded score, context JSON) are remembered per input pair, computed once per team-date.
_PACE_OUTPUTS: dict[tuple[object, object], tuple[float, float, str]] = {}


def _remember_pace(key: tuple[object, object], outputs: tuple[float, float, str]) -> None:
    """Remember pace outputs for ``key`` when equal keys always give these exact outputs.

    pace() reads its inputs as float(value), and inputs that compare equal have one float value
    — except zero, whose sign pace keeps (-0.0 renders "-0.0"): keys holding a zero are skipped.
    NaN never equals a new NaN, so it only ever finds itself. Bounded: cleared when full.
    """
    if 0 in key:
        return
    if len(_PACE_OUTPUTS) >= 65536:
        _PACE_OUTPUTS.clear()
    _PACE_OUTPUTS[key] = outputs


def validate_row(row: Mapping[str, object]) -> None:
    """Range guard before write: RowRejected for fatigue outside [0, 100] or a non-finite score."""
    scores = _SCORES(row) if _SCORE_NAMES.issubset(row) else None
    if (
        scores is not None
        and type(scores[0]) is int
        and 0 <= scores[0] <= 100
        and _FINITE_TYPES.issuperset(map(type, scores[1:]))
        and all(map(math.isfinite, scores[1:]))
    ):
        return  # the common case, checked at C speed; anything else gets the checks below
    fatigue_score = row.get("fatigue_score")
    if (
        not isinstance(fatigue_score, int)
        or isinstance(fatigue_score, bool)
        or not 0 <= fatigue_score <= 100
    ):
        raise RowRejected(f"fatigue_score {fatigue_score!r} outside [0, 100]")
    for name in _FINITE_SCORES:
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
    pace_key = (ctx.pace_differential, ctx.opponent_pace_last_10)
    pace_known = _PACE_OUTPUTS.get(pace_key)
    if pace_known is None:
        pace_result = pace(ctx)
        pace_score = pace_result.score
    else:
        pace_score, pace_rounded, pace_json = pace_known
    usage_result = usage_spike(ctx)

    adjustment = fatigue_result.adjustment
    zone_score = zone_result.score
    usage_score = usage_result.score

    # Guard the raw maths before rounding: a NaN/inf would otherwise be rounded into garbage.
    if not (
        _isfinite(adjustment)
        and _isfinite(zone_score)
        and _isfinite(pace_score)
        and _isfinite(usage_score)
    ):
        for name, unrounded in (
            ("fatigue adjustment", adjustment),
            ("shot_zone_mismatch_score", zone_score),
            ("pace_score", pace_score),
            ("usage_spike_score", usage_score),
        ):
            if not math.isfinite(unrounded):
                raise RowRejected(f"{name} {unrounded!r} is not a finite number")

    # The total uses the unrounded factors: summing rounded scores drifts by up to 0.15.
    total = round_half_away(adjustment + zone_score + pace_score + usage_score, 2)

    missing = [
        name
        for name, present in zip(
            QUALITY_FIELDS,
            (
                ctx.days_rest is not None,
                _present(ctx.projected_usage_rate),
                _present(ctx.pace_differential),
                profile is not None,
                defense is not None,
            ),
            strict=True,
        )
        if not present
    ]
    completeness = 20.0 * (len(QUALITY_FIELDS) - len(missing))

    warnings: list[str] = []
    if fatigue_result.score < EXTREME_FATIGUE_BELOW:
        warnings.append("EXTREME_FATIGUE")
    if abs(zone_score) > EXTREME_MATCHUP_ABOVE:
        warnings.append("EXTREME_MATCHUP")
    if abs(total) > EXTREME_ADJUSTMENT_ABOVE:
        warnings.append("EXTREME_ADJUSTMENT")

    try:
        fatigue_json = context_json(fatigue_result.context)
        zone_json = context_json(zone_result.context)
        if pace_known is None:
            pace_json = context_json(pace_result.context)
        usage_json = context_json(usage_result.context)
    except ValueError as exc:
        # allow_nan=False: an infinite input would make invalid JSON; refuse the row instead.
        raise RowRejected(f"context is not valid JSON: {exc}") from exc
    if pace_known is None:
        pace_rounded = round_half_away(pace_score, 1)
        _remember_pace(pace_key, (pace_score, pace_rounded, pace_json))

    row: dict[str, object] = {
        "player_lookup": player_lookup,
        "universal_player_id": universal_player_id,
        "game_id": game_id,
        "game_date": game_date,
        "data_source": data_source,
        "fatigue_score": fatigue_result.score,
        "shot_zone_mismatch_score": round_half_away(zone_score, 1),
        "pace_score": pace_rounded,
        "usage_spike_score": round_half_away(usage_score, 1),
        **_DEFERRED_ZEROS,
        "total_composite_adjustment": total,
        "fatigue_context_json": fatigue_json,
        "shot_zone_context_json": zone_json,
        "pace_context_json": pace_json,
        "usage_context_json": usage_json,
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
