"""The Warehouse port: named BigQuery-dialect SQL in, rows out; adapters implement it."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from string import Formatter
from typing import Any

from shared.config import Settings, validate_identifier
from shared.errors import PermanentError, TransientError
from shared.warehouse.schemas import TableSchema, get_schema

Row = dict[str, Any]
# Records (dicts). The local tools' DuckDB adapter also takes a pandas DataFrame; the runtime never
# builds one (pandas is not deployed), so a frame is accepted by duck typing (``to_dict``).
Rows = Sequence[Mapping[str, Any]] | Any


@dataclass(frozen=True)
class Sql:
    """A named query in BigQuery dialect: ``{table}`` placeholders, ``@name`` parameters."""

    name: str
    text: str
    types: Mapping[str, str] = field(default_factory=dict)
    # The consumer reads every NUMERIC result with float(): an adapter may hand NUMERIC values
    # over as that same float (correctly rounded, never approximated) instead of a Decimal.
    numeric_as_float: bool = False

    def placeholders(self) -> set[str]:
        """The ``{...}`` identifiers the text refers to."""
        return {f for _, f, _, _ in Formatter().parse(self.text) if f}


class WarehouseError(PermanentError):
    """A warehouse call failed permanently (bad SQL, missing table, ...)."""


class TransientWarehouseError(TransientError):
    """A warehouse call failed in a way a retry may fix (5xx, rate limit, lock)."""


class Warehouse(ABC):
    """Port to the warehouse; every call counts as one round trip."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._trips = 0
        self._lock = threading.Lock()

    # -- round trips -------------------------------------------------------------------------
    @property
    def round_trips(self) -> int:
        """Number of warehouse calls made so far by this instance."""
        return self._trips

    def _count(self) -> None:
        with self._lock:
            self._trips += 1

    # -- identifiers ---------------------------------------------------------------------------
    @abstractmethod
    def qualify(self, dataset: str, table: str) -> str:
        """Render a dataset.table reference in this backend's SQL."""

    def table(self, name: str) -> str:
        """Qualified reference of a pipeline table (validated)."""
        schema = get_schema(name)
        return self.qualify(self.settings.dataset(schema.dataset_key), validate_identifier(name))

    def dataset_table(self, dataset_key: str, name: str) -> str:
        """Qualified reference of an ad-hoc table (staging, backup) in a dataset key."""
        return self.qualify(
            self.settings.dataset(dataset_key), validate_identifier(name, "table name")
        )

    def render(self, sql: Sql, idents: Mapping[str, str] | None = None) -> str:
        """Fill ``{table}`` placeholders: pipeline tables by name, others from ``idents``."""
        values: dict[str, str] = {}
        for name in sql.placeholders():
            if idents and name in idents:
                values[name] = idents[name]
            else:
                values[name] = self.table(name)
        return sql.text.format(**values)

    # -- operations ----------------------------------------------------------------------------
    @abstractmethod
    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Row]:
        """Run a SELECT and return rows as dicts."""

    @abstractmethod
    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        """Run DML/DDL; return affected rows (0 when not applicable)."""

    @abstractmethod
    def insert_rows(self, table: str, rows: Rows) -> int:
        """Append rows to a pipeline table (batch load, never streaming); return rows loaded."""

    @abstractmethod
    def stage_rows(self, like: str, rows: Rows, tag: str) -> str:
        """Load rows into a staging table shaped like ``like``; return its qualified name."""

    @abstractmethod
    def write_staging_table(self, like: str, name: str, rows: Rows) -> str:
        """Create or replace staging table ``name`` (shaped like ``like``) holding exactly
        ``rows``; it expires with the staging dataset (a day). Return its qualified name."""

    @abstractmethod
    def drop_staging(self, qualified: str) -> None:
        """Drop a staging table made by ``stage_rows`` (missing is fine)."""

    @abstractmethod
    def release_staging(self, name: str, *, keep: bool) -> None:
        """``validate_coverage`` is done with staging table ``name`` (made by
        ``write_staging_table``): ``keep`` False when every date it holds was published (its rows
        are live now), True when some were not (blocked, failed, superseded: the staged rows stay
        until expiry for inspection)."""

    @abstractmethod
    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        """Create ``dataset.name`` from a SELECT (create-only: an existing one is an error)."""

    @abstractmethod
    def table_exists(self, dataset_key: str, name: str) -> bool:
        """Whether an ad-hoc table exists."""

    @abstractmethod
    def create_all(self) -> list[str]:
        """Create every dataset and pipeline table that is missing; return what exists."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def records(rows: Rows) -> list[Mapping[str, Any]]:
    """Rows as a list of mappings (a DataFrame from the local tools via its ``to_dict``)."""
    if hasattr(rows, "to_dict") and not isinstance(rows, Mapping):
        return list(rows.to_dict("records"))
    return list(rows)


def check_columns(schema: TableSchema, rows: Sequence[Mapping[str, Any]]) -> None:
    """Raise WarehouseError when a row carries a column the table does not have."""
    known = set(schema.column_names)
    extra = sorted({k for row in rows for k in row if k not in known})
    if extra:
        raise WarehouseError(f"columns {extra} are not in table {schema.name}")


def json_value(value: Any) -> Any:
    """A value as it goes into newline-delimited JSON for a load job (NaN/NaT → NULL)."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN is NULL
        return None
    if isinstance(value, datetime):
        if value != value:  # pandas NaT compares unequal to itself
            return None
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    return value
