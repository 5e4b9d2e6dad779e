"""The DuckDB adapter runs every named statement of the SQL module (BigQuery dialect)."""

from __future__ import annotations

import pytest

from shared.app import App
from shared.tools.duckdb_warehouse import transpile
from shared.warehouse import Sql
from tests.sql_catalog import EXPECTED_NAMES, STATEMENTS, check_sample_run, run_sample


def test_the_sql_module_is_collected() -> None:
    names = {s.name for s in STATEMENTS}
    assert names >= EXPECTED_NAMES


@pytest.mark.parametrize("sql", STATEMENTS, ids=lambda s: s.name)
def test_statement_runs_on_duckdb(app: App, sql: Sql) -> None:
    transpile(app.warehouse.render(sql, {p: "t" for p in sql.placeholders()}))  # parses
    check_sample_run(sql, run_sample(app.warehouse, sql, tag="t"))
