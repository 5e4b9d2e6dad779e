"""The schema file is the single column list: every output column is computed and written."""

from __future__ import annotations

from datetime import date

from shared.rules import PlayerContext
from shared.rules.row import build_row
from shared.sql import coverage, processing
from shared.warehouse import get_schema

SCHEMA = get_schema("player_composite_factors").column_names


def test_build_row_fills_every_schema_column_but_the_run_stamp() -> None:
    row = build_row(
        player_lookup="nikolajokic",
        universal_player_id="nikolajokic_001",
        game_id="0022200900",
        game_date=date(2023, 2, 23),
        data_source="UPCG",
        ctx=PlayerContext.from_row({}),
        profile=None,
        defense=None,
        calculation_version="v1_4factors",
    )
    # run_id and processed_at are stamped by process_date for the whole date.
    assert set(row) | {"run_id", "processed_at"} == set(SCHEMA)


def test_written_column_list_is_the_schema_file() -> None:
    assert processing.PCF_COLUMNS == SCHEMA
    publish = next(
        s for s in vars(coverage).values() if getattr(s, "name", "") == "coverage.publish"
    )
    for column in SCHEMA:
        assert f"S.{column}" in publish.text, column
