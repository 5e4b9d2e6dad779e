"""RowColumns: rendered rows kept by column (how render workers send them back) read exactly as
the row dicts they hold, and load into Arrow exactly as those dicts do."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.rules.render import RowColumns, join, stamp
from shared.tools.duckdb_warehouse import to_arrow
from shared.warehouse import WarehouseError
from shared.warehouse.schemas import get_schema

D = date(2023, 2, 23)


def rows() -> list[dict[str, Any]]:
    return [
        {"player_lookup": "a", "game_date": D, "fatigue_score": 91, "pace_score": 1.5},
        {"player_lookup": "b", "game_date": D, "fatigue_score": 48, "pace_score": math.nan},
        {"player_lookup": "c", "game_date": D, "fatigue_score": 100, "pace_score": None},
    ]


def test_it_reads_as_the_rows_it_holds() -> None:
    columns = RowColumns.of(rows())
    assert columns is not None
    assert columns.columns["player_lookup"] == ["a", "b", "c"]
    assert columns.columns["fatigue_score"] == [91, 48, 100]
    assert len(columns) == 3
    assert columns[0] == rows()[0]
    assert columns[-1]["player_lookup"] == "c"
    assert [r["player_lookup"] for r in columns[1:]] == ["b", "c"]
    assert [r["fatigue_score"] for r in columns] == [91, 48, 100]
    with pytest.raises(IndexError):
        columns[3]
    assert columns[:1] == rows()[:1]
    assert columns == rows()  # (math.nan is one object: equal to itself, as in lists)
    assert columns != rows()[:2]
    assert columns != [*rows()[:2], {**rows()[2], "fatigue_score": 99}]


def test_rows_of_different_columns_travel_as_they_are() -> None:
    assert RowColumns.of([]) is None
    assert RowColumns.of([{"a": 1, "b": 2}, {"b": 2, "a": 1}]) is None  # another order
    assert RowColumns.of([{"a": 1}, {"a": 1, "b": 2}]) is None
    with pytest.raises(ValueError, match="different lengths"):
        RowColumns({"a": [1, 2], "b": [1]})


def test_stamp_and_join_give_the_same_rows_either_way() -> None:
    at = datetime(2023, 2, 24, 12, tzinfo=UTC)
    by_row = join([stamp(rows(), run_id="r1", processed_at=at), stamp(rows()[:1], run_id="r1")])
    first, second = RowColumns.of(rows()), RowColumns.of(rows()[:1])
    assert first is not None
    assert second is not None
    stamp(first, run_id="r1", processed_at=at)
    stamp(second, run_id="r1", processed_at=at)
    joined = join([first, second])
    assert isinstance(joined, RowColumns)
    assert len(joined) == 4
    assert [r["run_id"] for r in joined] == ["r1"] * 4
    assert [r["player_lookup"] for r in joined] == [r["player_lookup"] for r in by_row]
    # A date without rows (every player rejected) does not turn the chunk into row dicts.
    assert isinstance(join([first, [], second]), RowColumns)
    assert join([first, [], second]) == list(joined)
    assert join([[], []]) == []
    # Blocks of other columns (a part rendered in process, say) join as row dicts.
    mixed = join([first, rows()])
    assert isinstance(mixed, list)
    assert [r["player_lookup"] for r in mixed] == ["a", "b", "c", "a", "b", "c"]
    assert "run_id" in mixed[0]
    assert "run_id" not in mixed[3]


def test_they_load_into_arrow_exactly_as_the_row_dicts() -> None:
    schema = get_schema("player_composite_factors")
    columns = RowColumns.of(rows())
    assert columns is not None
    from_columns, from_rows = to_arrow(schema, columns), to_arrow(schema, rows())
    assert from_columns.equals(from_rows)
    assert from_columns.schema == from_rows.schema
    # NaN reads as NULL on both paths; absent columns are NULL.
    assert from_columns.column("pace_score").to_pylist() == [1.5, None, None]
    assert from_columns.column("run_id").null_count == 3

    with pytest.raises(WarehouseError, match="not in table"):
        to_arrow(schema, RowColumns({"player_lookup": ["a"], "nope": [1]}))
