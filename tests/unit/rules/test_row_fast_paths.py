"""The fast row-building paths equal their definitions exactly (issue 13: outputs identical).

Each reference below is the definition the fast path replaced, kept here verbatim, so a future
"optimisation" that changes a single rounded value, hash or context byte fails.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.rules import PlayerContext, build_row, data_hash, round_half_away
from shared.rules.row import RUN_COLUMNS, context_json


def reference_hash_value(value: object) -> str:
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
