"""The fast row-building paths equal their definitions exactly (issue 13: outputs identical).

Each reference is the definition the fast path replaced (from the frozen previous
implementation, tests/bench/rows_baseline.py, or written out here), so a future
"optimisation" that changes a single rounded value, hash or context byte fails.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from shared.rules import (
    PlayerContext,
    ShotZoneProfile,
    ZoneDefense,
    build_row,
    data_hash,
    pace,
    round_half_away,
)
from shared.rules.row import RUN_COLUMNS, context_json
from tests.bench import rows_baseline

# The definitions the fast paths replaced: the frozen previous implementation (the benchmark's
# baseline, tests/bench/rows_baseline.py), one copy for both.
reference_hash_value = rows_baseline._hash_value
reference_round = rows_baseline.round_half_away


def reference_hash(row: dict[str, Any]) -> str:
    pairs = sorted(
        f"{name}:{reference_hash_value(value)}"
        for name, value in row.items()
        if name not in RUN_COLUMNS and name != "data_hash"
    )
    return hashlib.sha256("|".join(pairs).encode("utf-8")).hexdigest()[:16]


def test_round_half_away_ties_go_away_from_zero() -> None:
    assert round_half_away(0.15, 1) == 0.2
    assert round_half_away(-0.15, 1) == -0.2
    assert round_half_away(2.675, 2) == 2.68  # float(2.675) is below the tie; repr is not
    assert repr(round_half_away(-0.04, 1)) == "0.0"  # no negative zero


def test_data_hash_equals_the_sorted_pairs_definition_for_every_type() -> None:
    row: dict[str, Any] = {
        "b": True,
        "a": None,
        "c": 1.5,
        "c2": -0.0,
        "d": 7,
        "e": Decimal("1.250000000"),
        "f": date(2023, 2, 23),
        "g": datetime(2023, 2, 23, 12, tzinfo=UTC),
        "h": "text",
        "game_id": "x",
        "game_id2": "y",  # a name with another name as prefix
        "game_id_z": "z",
        "run_id": "ignored",
        "processed_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    assert data_hash(row) == reference_hash(row)
    odd: dict[str, Any] = {"a:b": 1, "a": 2, "ab": 3}  # a ':' in a name takes the general path
    assert data_hash(odd) == reference_hash(odd)


def test_built_rows_hash_and_serialise_as_defined() -> None:
    rng = random.Random(7)
    for i in range(300):
        ctx = PlayerContext(
            days_rest=rng.choice([None, 0, 1, 2, 4]),
            back_to_back=rng.choice([None, True, False]),
            games_in_last_7_days=rng.choice([None, 2, 4]),
            minutes_in_last_7_days=rng.choice([None, 150, 260]),
            avg_minutes_per_game_last_7=rng.choice([None, rng.uniform(5, 40)]),
            back_to_backs_last_14_days=rng.choice([None, 0, 1, 2]),
            player_age=rng.choice([None, 22, 31, 36]),
            projected_usage_rate=rng.choice([None, rng.uniform(10, 35)]),
            avg_usage_rate_last_7_games=rng.choice([None, 0.0, rng.uniform(10, 35)]),
            star_teammates_out=rng.choice([None, 0, 1, 2]),
            pace_differential=rng.choice([None, rng.uniform(-8, 8)]),
            opponent_pace_last_10=rng.choice([None, rng.uniform(95, 105)]),
        )
        row = build_row(
            player_lookup=f"p{i}",
            universal_player_id=None,
            game_id="0022200001",
            game_date=date(2023, 2, 23),
            data_source="UPCG",
            ctx=ctx,
            profile=None,
            defense=None,
            calculation_version="v1_4factors",
        )
        assert row["data_hash"] == reference_hash(row)
        for column in ("fatigue_context_json", "pace_context_json", "usage_context_json"):
            decoded = json.loads(str(row[column]))
            want = json.dumps(decoded, sort_keys=True, separators=(",", ":"), allow_nan=False)
            assert row[column] == want
    with pytest.raises(ValueError, match="JSON compliant"):
        context_json({"x": float("inf")})


# -- round_half_away: the float fast path equals the Decimal definition ------------------------
@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (0.15, 1, 0.2),  # a tie in repr (0.1499999… in binary): away from zero
        (-0.15, 1, -0.2),
        (2.675, 2, 2.68),  # float(2.675) < 2.675, round() alone would give 2.67
        (1.005, 2, 1.01),
        (0.125, 2, 0.13),  # an exact binary tie: round() alone would give 0.12 (half-even)
        (-2.5, 0, -3.0),
        (1.25, 1, 1.3),
        (0.7142857142857143, 1, 0.7),  # not a tie: the fast path
        (-3.3499999999999996, 1, -3.3),  # just below the tie -3.35
        (3.35, 1, 3.4),
        (-0.04, 1, 0.0),  # no negative zero
        (12.345, 2, 12.35),
        (99999999999.995, 2, 100000000000.0),  # large, still in the fast range
    ],
)
def test_round_half_away_worked_values(value: float, places: int, expected: float) -> None:
    assert repr(round_half_away(value, places)) == repr(expected)
    assert repr(round_half_away(value, places)) == repr(reference_round(value, places))


def test_round_half_away_equals_the_decimal_definition_on_ties_near_ties_and_random() -> None:
    rng = random.Random(13)
    values: list[tuple[float, int]] = []
    for _ in range(20_000):
        places = rng.choice([0, 1, 2, 3, 6])
        k = rng.randint(-(10**6), 10**6)
        tie = float(f"{k}5e-{places + 1}")  # a decimal tie at ``places``
        values += [(tie, places), (math.nextafter(tie, 0.0), places)]
        values.append((math.nextafter(tie, math.inf if tie < 0 else -math.inf), places))
        values.append((rng.uniform(-30, 30), places))
        values.append((float(Decimal(rng.randint(-(10**8), 10**8)).scaleb(-rng.randint(0, 9))), 1))
        values.append((rng.uniform(-1, 1) * 10 ** rng.randint(-9, 15), places))
    for value, places in values:
        assert repr(round_half_away(value, places)) == repr(reference_round(value, places)), (
            value,
            places,
        )


def test_round_half_away_outside_the_fast_range_uses_the_definition() -> None:
    assert round_half_away(1e20 + 2**20, 1) == reference_round(1e20 + 2**20, 1)
    assert round_half_away(5e-324, 2) == 0.0
    assert math.isnan(round_half_away(math.nan, 1))  # NaN stays NaN, as Decimal gives it
    with pytest.raises(InvalidOperation):
        round_half_away(math.inf, 1)


# -- context_json: the reused C encoder equals json's own encoder -------------------------------
REFERENCE_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def test_context_json_equals_json_encoder_on_many_inputs() -> None:
    rng = random.Random(5)
    words = ["paint", "mid_range", "", "é", 'naïve \u2028 \x00 "quoted" \\ /', "😀", "%s"]

    def leaf() -> object:
        return rng.choice(
            [
                None,
                True,
                False,
                rng.randint(-(10**20), 10**20),
                rng.uniform(-1e6, 1e6),
                -0.0,
                5e-324,
                1e300,
                rng.choice(words),
            ]
        )

    def tree(depth: int) -> object:
        if depth == 0 or rng.random() < 0.4:
            return leaf()
        if rng.random() < 0.5:
            return [tree(depth - 1) for _ in range(rng.randint(0, 4))]
        keys = rng.sample(["b", "a", "zone", "Z", "a_b", "é", "10", "2", "%d"], rng.randint(0, 6))
        return {k: tree(depth - 1) for k in keys}

    for _ in range(3000):
        context = {"root": tree(4), "x": leaf()}
        assert context_json(context) == REFERENCE_ENCODER.encode(context)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_context_json_rejects_non_finite_floats_like_json(bad: float) -> None:
    context = {"a": {"b": [1.0, bad]}}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        REFERENCE_ENCODER.encode(context)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        context_json(context)


def test_context_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        context_json({"when": date(2023, 2, 23)})
    mixed: dict[Any, Any] = {"a": 1, 2: "mixed key types cannot be sorted"}
    with pytest.raises(TypeError):
        REFERENCE_ENCODER.encode(mixed)
    with pytest.raises(TypeError):
        context_json(mixed)


# -- data_hash: remembered float texts ----------------------------------------------------------
def test_data_hash_float_texts_keep_zero_signs_and_types_apart() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 0.0, "b": -0.0, "c": 1},
        {"a": -0.0, "b": 0.0, "c": 1.0},
        {"a": 1, "b": True, "c": Decimal("1.0")},
        {"a": 1.0, "b": 1, "c": "1.0"},
        {"a": math.nan, "b": math.inf, "c": -math.inf},
        {"a": 0.1 + 0.2, "b": 0.30000000000000004, "c": None},
    ]
    for row in rows + rows:  # twice: the second pass renders floats from the remembered texts
        assert data_hash(row) == reference_hash(row)
    assert data_hash(rows[2]) != data_hash(rows[3])


# -- converters: exact-type fast paths ------------------------------------------------------
def test_player_context_from_row_equals_the_constructor() -> None:
    row = {
        "days_rest": 2,
        "back_to_back": False,
        "games_in_last_7_days": Decimal("3"),
        "minutes_in_last_7_days": 175.0,
        "avg_minutes_per_game_last_7": Decimal("29.166666667"),
        "back_to_backs_last_14_days": 0,
        "player_age": None,
        "projected_usage_rate": Decimal("NaN"),  # NaN spells NULL
        "avg_usage_rate_last_7_games": 24.5,
        "star_teammates_out": 1,
        "pace_differential": Decimal("-1.200000000"),
        "opponent_pace_last_10": float("nan"),
    }
    built = PlayerContext.from_row(row)
    want = PlayerContext(
        days_rest=2,
        back_to_back=False,
        games_in_last_7_days=3,
        minutes_in_last_7_days=175,
        avg_minutes_per_game_last_7=29.166666667,
        back_to_backs_last_14_days=0,
        player_age=None,
        projected_usage_rate=None,
        avg_usage_rate_last_7_games=24.5,
        star_teammates_out=1,
        pace_differential=-1.2,
        opponent_pace_last_10=None,
    )
    assert built == want
    assert hash(built) == hash(want)
    assert repr(built) == repr(want)
    assert replace(built, player_age=30).player_age == 30
    with pytest.raises(FrozenInstanceError):
        built.days_rest = 3  # type: ignore[misc]
    assert ShotZoneProfile.from_row({"paint_rate_last_10": Decimal("65.0")}) == ShotZoneProfile(
        paint_rate_last_10=65.0
    )
    assert ZoneDefense.from_row({"paint_defense_vs_league_avg": Decimal("4.3")}) == ZoneDefense(
        paint_defense_vs_league_avg=4.3
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("sNaN"), "pace_differential: expected a number, got Decimal('sNaN')"),
        (True, "pace_differential: expected a number, got bool True"),
        ("fast", "pace_differential: expected a number, got 'fast'"),
    ],
)
def test_float_columns_refuse_non_numbers(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        PlayerContext.from_row({"pace_differential": value})


def test_float_columns_keep_infinite_decimals_for_the_row_guard() -> None:
    ctx = PlayerContext.from_row({"pace_differential": Decimal("Infinity")})
    assert ctx.pace_differential == math.inf


# -- build_row: pace outputs remembered per input pair -------------------------------------
def _pace_row(ctx: PlayerContext) -> dict[str, object]:
    return build_row(
        player_lookup="p",
        universal_player_id=None,
        game_id="g",
        game_date=date(2023, 2, 23),
        data_source="UPCG",
        ctx=ctx,
        profile=None,
        defense=None,
        calculation_version="v1_4factors",
    )


@pytest.mark.parametrize(
    "pairs",
    [
        [(-0.0, 99.5), (0.0, 99.5), (-0.0, 99.5)],  # the sign of zero shows in the context
        [(3.6, -0.0), (3.6, 0.0)],
        [(4, 101), (4.0, 101.0), (Decimal("4.0"), 101.0)],  # equal inputs, one float value
        [(math.nan, 99.0), (None, 99.0), (math.nan, 99.0)],
        [(7.3, None), (7.3, None), (-7.3, None)],
    ],
)
def test_remembered_pace_outputs_equal_fresh_ones(pairs: list[tuple[Any, Any]]) -> None:
    for differential, opponent in pairs * 2:  # the second round finds remembered outputs
        ctx = PlayerContext(
            days_rest=1, pace_differential=differential, opponent_pace_last_10=opponent
        )
        fresh = pace(ctx)
        row = _pace_row(ctx)
        assert row["pace_context_json"] == context_json(fresh.context)
        assert repr(row["pace_score"]) == repr(round_half_away(fresh.score, 1))
        assert row["data_hash"] == reference_hash(row)


def test_remembered_pace_keeps_the_sign_of_zero() -> None:
    negative = _pace_row(PlayerContext(pace_differential=-0.0, opponent_pace_last_10=98.0))
    positive = _pace_row(PlayerContext(pace_differential=0.0, opponent_pace_last_10=98.0))
    assert '"pace_differential":-0.0' in str(negative["pace_context_json"])
    assert '"pace_differential":0.0' in str(positive["pace_context_json"])
    assert negative["data_hash"] != positive["data_hash"]
