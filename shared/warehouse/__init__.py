"""Warehouse port and adapters (DuckDB embedded default, BigQuery)."""

from __future__ import annotations

from collections.abc import Callable

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
    "register_warehouse",
]

WarehouseOpener = Callable[[Settings, str], Warehouse]
_OPENERS: dict[str, WarehouseOpener] = {}


def register_warehouse(scheme: str, opener: WarehouseOpener) -> None:
    """Make a URL scheme available (the local tools register ``duckdb``)."""
    _OPENERS[scheme] = opener


def open_warehouse(settings: Settings, url: str | None = None) -> Warehouse:
    """Open the warehouse named by ``url`` (default ``settings.warehouse``).

    ``duckdb:///path/file.duckdb`` (relative path), ``duckdb:////abs/path``, ``duckdb://:memory:``
    or ``bigquery://PROJECT``.
    """
    target = url or settings.warehouse
    scheme = target.partition("://")[0]
    if scheme in _OPENERS:
        return _OPENERS[scheme](settings, target)
    if target.startswith("bigquery://"):
        from shared.warehouse.bigquery import BigQueryWarehouse

        project = target.removeprefix("bigquery://").strip("/") or settings.project
        return BigQueryWarehouse(settings, validate_identifier(project, "project"))
    if scheme == "duckdb":
        raise ValueError(
            f"warehouse {target!r} is the local embedded default, not part of the deployed "
            "runtime: run through `pcf` (pip install 'pcf-pipeline[local]') or use bigquery://"
        )
    raise ValueError(
        f"unknown warehouse {target!r}: use duckdb:///path/file.duckdb or bigquery://PROJECT"
    )
