"""Every named statement of shared/sql, with sample values and one runner for the adapter tiers.

The unit tier (DuckDB, tests/unit/test_sql_duckdb.py) and the emulator tier (BigQuery via
bqemulator, tests/integration/test_bigquery_adapter.py) run the same catalog the same way.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import shared.sql
from shared.warehouse import Row, Sql, Warehouse

SAMPLE_DATE = date(2023, 2, 23)
SAMPLE_DATES = [SAMPLE_DATE, date(2023, 2, 24)]
# One sample value per declared BigQuery parameter type.
SAMPLE: dict[str, object] = {
    "DATE": SAMPLE_DATE,
    "INT64": 1,
    "STRING": "x",
    "NUMERIC": Decimal("1.5"),
    "BOOL": False,
    "FLOAT64": 1.5,
    "TIMESTAMP": datetime(2023, 2, 23, tzinfo=UTC),
    "ARRAY<DATE>": SAMPLE_DATES,
}
# Placeholders that are not pipeline tables: the table a staged one is shaped like.
STAGED_LIKE = {
    "coverage.audit": "player_composite_factors",
    "coverage.publish": "player_composite_factors",
    "coverage.verify": "player_composite_factors",
    "ledger.queue_many": "backfill_ledger",
    "ledger.append_many": "backfill_ledger",
    "explain.missing_staged": "player_composite_factors",
}


def all_statements() -> list[Sql]:
    """Every named Sql constant of shared/sql/*.py, sorted by name."""
    found: dict[str, Sql] = {}
    for info in pkgutil.iter_modules(shared.sql.__path__):
        module = importlib.import_module(f"shared.sql.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Sql):
                found[value.name] = value
    return [found[k] for k in sorted(found)]


STATEMENTS = all_statements()

# Statements both tiers expect to find in the catalog (a renamed or lost one fails the check).
EXPECTED_NAMES = frozenset(
    {
        "processing.date_plan",
        "coverage.publish",
        "ledger.append",
        "ledger.queue_many",
        "coverage.audit",
        "cleanup.take_lease",
    }
)
# Aggregates that return exactly one row even on empty tables.
ONE_ROW = frozenset({"processing.date_plan", "cleanup.table_stats"})
# One row per date of @game_dates, even on empty tables.
ROW_PER_DATE = frozenset({"coverage.audit", "coverage.verify"})


def is_query(sql: Sql) -> bool:
    """Whether ``sql`` returns rows (SELECT/WITH) rather than an affected-row count."""
    return sql.text.lstrip().upper().startswith(("SELECT", "WITH"))


def sample_params(sql: Sql) -> dict[str, Any]:
    """A sample value for every declared parameter (the ledger writes also need a status)."""
    params: dict[str, Any] = {name: SAMPLE[kind] for name, kind in sql.types.items()}
    if sql.name in ("ledger.append", "ledger.mark_dead_lettered"):
        params.update(status="queued", attempt_increment=0)
    return params


def run_sample(
    wh: Warehouse, sql: Sql, tag: str, staged_rows: Mapping[str, Row] | None = None
) -> list[Row] | int:
    """Run ``sql`` on ``wh`` with sample parameters and every placeholder filled in.

    ``{staging}`` is a staged table shaped like ``STAGED_LIKE[sql.name]`` holding
    ``staged_rows[like]`` (empty when not given), ``{target}`` the UPCG table and ``{backup}`` a
    backup made by the cleanup's copy statement. Returns a query's rows or a statement's
    affected-row count; the staged tables are dropped afterwards.
    """
    from shared.sql.cleanup import STALE_ROWS

    idents: dict[str, str] = {}
    staged: list[str] = []
    placeholders = sql.placeholders()
    try:
        if "staging" in placeholders:
            like = STAGED_LIKE[sql.name]
            rows = [staged_rows[like]] if staged_rows and like in staged_rows else []
            idents["staging"] = wh.stage_rows(like, rows, tag=tag)
            staged.append(idents["staging"])
        if "target" in placeholders:
            idents["target"] = wh.table("upcoming_player_game_context")
        if "backup" in placeholders:
            idents["backup"] = wh.copy_rows_to_new_table(
                STALE_ROWS,
                {"cutoff": SAMPLE_DATE},
                "backup",
                f"{tag}_backup_{sql.name.replace('.', '_')}",
                None,
                target=wh.table("upcoming_player_game_context"),
            )
        if is_query(sql):
            return wh.query(sql, sample_params(sql), **idents)
        return wh.execute(sql, sample_params(sql), **idents)
    finally:
        for name in staged:
            wh.drop_staging(name)


def check_sample_run(sql: Sql, result: list[Row] | int) -> None:
    """What every tier asserts of ``run_sample``: rows for a query, one row for an aggregate,
    a non-negative count for a statement."""
    if is_query(sql):
        assert isinstance(result, list), sql.name
        if sql.name in ONE_ROW:
            assert len(result) == 1, (sql.name, result)  # one row even on empty tables
        if sql.name in ROW_PER_DATE:
            assert len(result) == len(SAMPLE_DATES), (sql.name, result)
    else:
        assert isinstance(result, int), sql.name
        assert result >= 0, (sql.name, result)
