"""DuckDB adapter fast paths (issue 13): template transpile cache and Arrow staging without pandas.

Each fast path must give exactly what the general path gives; the general path stays the
definition (render then transpile; rows through a DataFrame).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from shared.app import App
from shared.tools.duckdb_warehouse import (
    DuckDBWarehouse,
    records_to_arrow,
    rows_to_frame,
    to_arrow,
    transpile,
    transpile_template,
)
from shared.warehouse import Sql, WarehouseError
from shared.warehouse.schemas import get_schema
from tests.sql_catalog import STATEMENTS


def _idents(app: App, sql: Sql, staging: str) -> dict[str, str]:
    wh = app.warehouse
    out = {}
    for name in sql.placeholders():
        if name == "staging":
            out[name] = staging
        elif name in ("target", "table"):
            out[name] = wh.table("upcoming_player_game_context")
        elif name in ("backup",):
            out[name] = wh.dataset_table("backup", "upcg_backup_20230223")
        else:
            out[name] = wh.table(name)
    return out


@pytest.mark.parametrize("sql", STATEMENTS, ids=lambda s: s.name)
def test_template_statement_equals_render_then_transpile(app: App, sql: Sql) -> None:
    wh = app.warehouse
    assert isinstance(wh, DuckDBWarehouse)
    for staging in ("_pcf_stage_player_composite_factors_1", "_pcf_stage_x_12345"):
        idents = _idents(app, sql, staging)
        assert wh.statement(sql, idents) == transpile(wh.render(sql, idents))


def test_staging_names_do_not_defeat_the_cache(app: App) -> None:
    merge = next(s for s in STATEMENTS if s.name == "coverage.publish")
    assert transpile_template(merge.text) is not None  # the stand-ins survive transpilation
    transpile_template.cache_clear()
    wh = app.warehouse
    assert isinstance(wh, DuckDBWarehouse)
    for n in range(25):
        wh.statement(merge, {"staging": f"_pcf_stage_player_composite_factors_{n}"})
    info = transpile_template.cache_info()
    assert (info.misses, info.hits) == (1, 24)


def test_a_stand_in_already_in_the_text_takes_the_general_path() -> None:
    assert transpile_template("SELECT pcf_slot_t_x FROM {t}") is None


PCF = get_schema("player_composite_factors")


def _row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "player_lookup": "a",
        "game_date": date(2023, 2, 23),
        "fatigue_score": 85,
        "pace_score": 1.5,
        "total_composite_adjustment": -0.25,
        "has_warnings": False,
        "processed_at": datetime(2023, 2, 23, 12, tzinfo=UTC),
    }
    row.update(over)
    return row


def _frame_path(rows: list[dict[str, Any]]) -> pa.Table:
    return to_arrow(PCF, rows_to_frame(PCF, rows))  # a DataFrame always takes the frame path


@pytest.mark.parametrize(
    "rows",
    [
        [_row(), _row(player_lookup="b", pace_score=None, warning_details="EXTREME_FATIGUE")],
        [_row(pace_score=math.nan)],  # NaN is NULL on both paths
        [_row(processed_at=datetime(2023, 2, 23, 12))],  # naive is UTC
        [_row(pace_score=2)],  # an int in a NUMERIC column
        [_row(game_date=datetime(2023, 2, 23, 5))],
    ],
)
def test_records_to_arrow_equals_the_frame_path(rows: list[dict[str, Any]]) -> None:
    fast = records_to_arrow(PCF, rows)
    assert fast is not None
    assert fast.equals(_frame_path(rows))


def test_values_arrow_cannot_take_fall_back_to_the_frame_path() -> None:
    rows = [_row(game_date="2023-02-23")]  # a date as text: pandas parses it
    assert records_to_arrow(PCF, rows) is None
    assert to_arrow(PCF, rows).column("game_date").to_pylist() == [date(2023, 2, 23)]


def test_an_unknown_column_is_refused_on_the_fast_path() -> None:
    with pytest.raises(WarehouseError, match=r"\['nope'\] are not in table"):
        records_to_arrow(PCF, [_row(nope=1)])


_NUMERIC = Sql(
    "test.numeric_values",
    """
SELECT v AS exact, CAST(v AS STRING) AS text, n
FROM UNNEST([
  NUMERIC '25.3', NUMERIC '17.433333333', NUMERIC '-2.108892115', NUMERIC '0.000000001',
  NUMERIC '12345678.123456789', NUMERIC '-99999999999.999999999', NULL
]) AS v WITH OFFSET AS n
ORDER BY n
""",
)


def test_numeric_as_float_equals_float_of_the_decimal(app: App) -> None:
    """The hint hands over float(Decimal) exactly, even where a binary cast would round twice
    (12345678.123456789 has 17 significant digits; its unscaled integer is beyond 2**53)."""
    wh = app.warehouse
    exact = wh.query(_NUMERIC)
    fast = wh.query(replace(_NUMERIC, numeric_as_float=True))
    assert [r["n"] for r in fast] == [r["n"] for r in exact]  # order, other columns kept
    assert len(fast) == 7
    assert [r["text"] for r in fast] == [r["text"] for r in exact]
    assert all(type(r["exact"]) is float for r in fast[:-1])
    assert fast[-1]["exact"] is None
    assert [r["exact"] for r in fast[:-1]] == [float(r["exact"]) for r in exact[:-1]]
    assert fast[4]["exact"] == float(Decimal("12345678.123456789"))
    assert fast[0]["exact"] == 25.3


def test_context_queries_read_numerics_as_floats() -> None:
    """Both context queries carry the hint (their consumers convert with float())."""
    from shared.sql import processing

    assert processing.CONTEXT_FROM_UPCG.numeric_as_float
    assert processing.CONTEXT_FROM_PGS.numeric_as_float
