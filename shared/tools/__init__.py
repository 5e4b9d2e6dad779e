"""Local tools (never deployed): CLI, seed data, DuckDB and local-bus adapters, stack, demo, report.

Importing any ``shared.tools`` module registers the embedded backends (``duckdb://`` warehouses
and the in-process ``local`` bus) with the runtime, which does not know them otherwise.
"""

from __future__ import annotations

from shared.app import register_bus
from shared.bus.base import Publisher
from shared.config import Settings
from shared.warehouse import Warehouse, register_warehouse


def duckdb_path(url: str) -> str:
    """The file path of a ``duckdb://`` URL (``duckdb:///rel``, ``duckdb:////abs``, memory)."""
    path = url.removeprefix("duckdb://")
    path = path.removeprefix("/") if not path.startswith("//") else path[1:]
    return path or ":memory:"


def _open_duckdb(settings: Settings, url: str) -> Warehouse:
    from shared.tools.duckdb_warehouse import DuckDBWarehouse

    return DuckDBWarehouse(settings, duckdb_path(url))


def _open_local_bus(settings: Settings) -> Publisher:
    from shared.tools.local_bus import LocalBus

    return LocalBus(workers=settings.local_workers)


register_warehouse("duckdb", _open_duckdb)
register_bus("local", _open_local_bus)
