"""Warehouse port and adapters (DuckDB embedded default, BigQuery)."""

from __future__ import annotations

from shared.config import Settings, validate_identifier
from shared.warehouse.base import (
    Row,
    Rows,
    Sql,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
)
from shared.warehouse.schemas import TableSchema, UnknownTable, get_schema, load_schemas

__all__ = [
    "Row",
    "Rows",
    "Sql",
    "TableSchema",
    "TransientWarehouseError",
    "UnknownTable",
    "Warehouse",
    "WarehouseError",
    "get_schema",
    "load_schemas",
    "open_warehouse",
]


def open_warehouse(settings: Settings, url: str | None = None) -> Warehouse:
    """Open the warehouse named by ``url`` (default ``settings.warehouse``).

    ``duckdb:///path/file.duckdb`` (relative path), ``duckdb:////abs/path``, ``duckdb://:memory:``
    or ``bigquery://PROJECT``.
    """
    target = url or settings.warehouse
    if target.startswith("duckdb://"):
        from shared.warehouse.duckdb_adapter import DuckDBWarehouse

        path = target.removeprefix("duckdb://")
        path = path.removeprefix("/") if not path.startswith("//") else path[1:]
        return DuckDBWarehouse(settings, path or ":memory:")
    if target.startswith("bigquery://"):
        from shared.warehouse.bigquery_adapter import BigQueryWarehouse

        project = target.removeprefix("bigquery://").strip("/") or settings.project
        return BigQueryWarehouse(settings, validate_identifier(project, "project"))
    raise ValueError(
        f"unknown warehouse {target!r}: use duckdb:///path/file.duckdb or bigquery://PROJECT"
    )
