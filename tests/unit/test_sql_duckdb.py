"""The DuckDB adapter runs every named statement of the SQL module (BigQuery dialect)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.app import App
from shared.tools.duckdb_warehouse import transpile
from shared.warehouse import Sql
from tests.sql_catalog import SAMPLE, STAGED_LIKE, STATEMENTS


def test_the_sql_module_is_collected() -> None:
    names = {s.name for s in STATEMENTS}
    assert {
        "processing.date_plan",
        "coverage.publish",
        "ledger.upsert",
        "coverage.audit",
    } <= names


@pytest.mark.parametrize("sql", STATEMENTS, ids=lambda s: s.name)
def test_statement_runs_on_duckdb(app: App, sql: Sql) -> None:
    transpile(app.warehouse.render(sql, {p: "t" for p in sql.placeholders()}))  # parses
    params: dict[str, Any] = {name: SAMPLE[kind] for name, kind in sql.types.items()}
    idents: dict[str, str] = {}
    for placeholder in sql.placeholders():
        if placeholder == "staging":
            like = STAGED_LIKE[sql.name]
            idents["staging"] = app.warehouse.stage_rows(like, [], tag="t")
        elif placeholder == "target":
            idents["target"] = app.warehouse.table("upcoming_player_game_context")
        elif placeholder == "backup":
            from shared.sql.cleanup import STALE_ROWS

            idents["backup"] = app.warehouse.copy_rows_to_new_table(
                STALE_ROWS,
                {"cutoff": SAMPLE["DATE"]},
                "backup",
                "t_backup",
                None,
                target=app.warehouse.table("upcoming_player_game_context"),
            )
    if sql.name in ("ledger.upsert", "ledger.mark_dead_lettered"):
        params.update(status="queued", attempt_increment=0)
    text = sql.text.lstrip().upper()
    if text.startswith(("SELECT", "WITH")):
        rows = app.warehouse.query(sql, params, **idents)
        assert isinstance(rows, list)
    else:
        assert app.warehouse.execute(sql, params, **idents) >= 0
