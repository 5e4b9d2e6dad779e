"""Test doubles at our own ports (never library internals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.app import App
from shared.messages import Alert
from shared.tools.local_bus import LocalBus
from shared.warehouse import Row, Rows, Sql, Warehouse


def local_bus(app: App) -> LocalBus:
    """The in-process bus of an embedded test App (typed: drain, messages, published)."""
    assert isinstance(app.bus, LocalBus), f"expected a LocalBus, got {type(app.bus).__name__}"
    return app.bus


def published_alerts(app: App) -> list[Alert]:
    """Every alert published on an embedded test App's local bus, in order."""
    found = local_bus(app).messages("alerts")
    alerts = [m for m in found if isinstance(m, Alert)]
    assert alerts == found, f"not an Alert on the alerts topic: {found}"
    return alerts


class DelegatingWarehouse(Warehouse):
    """Forwards every call to a real adapter; subclasses override the one step they break or
    observe (``observe`` runs before every call that is a round trip)."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner.settings)
        self.inner = inner

    @property
    def round_trips(self) -> int:
        """The inner adapter's round trips."""
        return self.inner.round_trips

    def observe(self, operation: str, sql: Sql | None = None) -> None:
        """Hook called before each delegated round trip."""

    def qualify(self, dataset: str, table: str) -> str:
        return self.inner.qualify(dataset, table)

    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Row]:
        self.observe("query", sql)
        return self.inner.query(sql, params, **idents)

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        self.observe("execute", sql)
        return self.inner.execute(sql, params, **idents)

    def insert_rows(self, table: str, rows: Rows) -> int:
        self.observe("insert_rows")
        return self.inner.insert_rows(table, rows)

    def stage_rows(self, like: str, rows: Rows, tag: str) -> str:
        self.observe("stage_rows")
        return self.inner.stage_rows(like, rows, tag)

    def write_staging_table(self, like: str, name: str, rows: Rows) -> str:
        self.observe("write_staging_table")
        return self.inner.write_staging_table(like, name, rows)

    def drop_staging(self, qualified: str) -> None:
        self.inner.drop_staging(qualified)

    def release_staging(self, name: str, *, keep: bool) -> None:
        self.inner.release_staging(name, keep=keep)

    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        self.observe("copy_rows_to_new_table", sql)
        return self.inner.copy_rows_to_new_table(
            sql, params, dataset_key, name, expiration_days, **idents
        )

    def table_exists(self, dataset_key: str, name: str) -> bool:
        self.observe("table_exists")
        return self.inner.table_exists(dataset_key, name)

    def create_all(self) -> list[str]:
        return self.inner.create_all()

    def close(self) -> None:
        self.inner.close()
