"""Embedded DuckDB adapter: BigQuery-dialect SQL transpiled by sqlglot, parameters bound."""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from typing_extensions import override

from shared import log
from shared.config import Settings, validate_identifier
from shared.rules.render import RowColumns
from shared.warehouse.base import (
    Row,
    Rows,
    Sql,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
)
from shared.warehouse.schemas import TableSchema, get_schema, load_schemas

# NUMERIC is DECIMAL(38, 9) in BigQuery; DuckDB's bare DECIMAL would be (18, 3).
_TYPES = {
    "STRING": "VARCHAR",
    "INTEGER": "BIGINT",
    "INT64": "BIGINT",
    "NUMERIC": "DECIMAL(38, 9)",
    "FLOAT": "DOUBLE",
    "FLOAT64": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMPTZ",
}
# Staged rows travel as Arrow; NUMERIC as float64 (DuckDB casts to DECIMAL on insert).
_ARROW = {
    "STRING": pa.string(),
    "INTEGER": pa.int64(),
    "INT64": pa.int64(),
    "NUMERIC": pa.float64(),
    "FLOAT": pa.float64(),
    "FLOAT64": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BOOL": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}
_T = TypeVar("_T")
_FETCH_ROWS = 2048
# The cap never grows past this (the Settings bound of PCF_DUCKDB_MEMORY_MB).
_MAX_MEMORY_MB = 1 << 20
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NUMERIC_CAST = re.compile(r"\bAS DECIMAL\)")
# The in-memory database that holds a file warehouse's staging tables until validate_coverage
# releases them (attached to the file's instance, so every connection of it sees them).
HELD_CATALOG = "pcf_held_staging"


@lru_cache(maxsize=512)
def transpile(text: str) -> str:
    """BigQuery SQL → DuckDB SQL (cached per statement text)."""
    out = sqlglot.transpile(text, read="bigquery", write="duckdb")
    if len(out) != 1:
        raise WarehouseError(f"expected one statement, got {len(out)}")
    # CAST(x AS NUMERIC) must keep BigQuery's NUMERIC precision.
    return _NUMERIC_CAST.sub("AS DECIMAL(38, 9))", out[0])


def _slot(name: str) -> str:
    """The stand-in identifier a ``{name}`` placeholder is transpiled as."""
    return f"pcf_slot_{name}_x"


@lru_cache(maxsize=512)
def transpile_template(text: str) -> str | None:
    """A statement transpiled once with its ``{placeholders}`` kept as stand-in identifiers.

    Identifiers change per call (staging tables carry a sequence number), values never appear in
    the text, so caching the template makes every repeat a hit. None when a stand-in does not
    survive transpilation verbatim, once per placeholder occurrence (then the caller transpiles
    the rendered text instead).
    """
    counts = Counter(f for _, f, _, _ in Formatter().parse(text) if f)
    if any(_slot(name) in text for name in counts):
        return None
    out = transpile(text.format(**{name: _slot(name) for name in counts}))
    if any(out.count(_slot(name)) != n for name, n in counts.items()):
        return None
    return out


def _utc(value: Any) -> Any:
    """A timestamp-like value as a UTC pandas Timestamp (naive values are UTC)."""
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def rows_to_frame(schema: TableSchema, rows: Rows) -> pd.DataFrame:
    """Rows (dicts or a DataFrame) as a DataFrame with exactly the schema's columns."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in schema.column_names if c not in frame.columns]
    for name in missing:
        frame[name] = None
    extra = [c for c in frame.columns if c not in schema.column_names]
    if extra:
        raise WarehouseError(f"columns {extra} are not in table {schema.name}")
    return frame[schema.column_names]


def arrow_schema(schema: TableSchema) -> pa.Schema:
    """Arrow schema used to stage rows of ``schema``."""
    return pa.schema([pa.field(c.name, _ARROW[c.type]) for c in schema.columns])


@lru_cache(maxsize=64)
def _arrow_schema_of(name: str) -> pa.Schema:
    return arrow_schema(get_schema(name))


def records_to_arrow(schema: TableSchema, rows: Sequence[Mapping[str, Any]]) -> pa.Table | None:
    """Records straight to Arrow (no pandas); None when a value needs the lenient frame path."""
    known = set(schema.column_names)
    extra = sorted({k for row in rows for k in row if k not in known})
    if extra:
        raise WarehouseError(f"columns {extra} are not in table {schema.name}")
    target = _arrow_schema_of(schema.name)
    try:
        table = pa.Table.from_pylist(rows, schema=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    return _nan_as_null(table, target)


def columns_to_arrow(schema: TableSchema, rows: RowColumns) -> pa.Table | None:
    """Rows kept by column straight to Arrow, one array per column (the values converted as
    ``records_to_arrow`` converts them); None when a value needs the lenient frame path."""
    extra = sorted(set(rows.columns) - set(schema.column_names))
    if extra:
        raise WarehouseError(f"columns {extra} are not in table {schema.name}")
    target = _arrow_schema_of(schema.name)
    try:
        arrays = [
            pa.array(rows.columns[f.name], type=f.type)
            if f.name in rows.columns
            else pa.nulls(len(rows), f.type)
            for f in target
        ]
        table = pa.Table.from_arrays(arrays, schema=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    return _nan_as_null(table, target)


def _nan_as_null(table: pa.Table, target: pa.Schema) -> pa.Table:
    """The frame path reads NaN as NULL (pandas' missing value); so do the Arrow paths."""
    for i, f in enumerate(target):
        if pa.types.is_floating(f.type):
            col = table.column(i)
            nan = pc.is_nan(col)
            if pc.any(nan).as_py():
                table = table.set_column(i, f, pc.if_else(nan, pa.scalar(None, f.type), col))
    return table


def to_arrow(schema: TableSchema, rows: Rows) -> pa.Table:
    """Rows as an Arrow table with the schema's columns and types."""
    if isinstance(rows, RowColumns):
        table = columns_to_arrow(schema, rows)
        if table is not None:
            return table
        rows = list(rows)
    if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        table = records_to_arrow(schema, rows)
        if table is not None:
            return table
    frame = rows_to_frame(schema, rows)
    target = arrow_schema(schema)
    arrays = []
    for f in target:
        col = frame[f.name]
        if pa.types.is_date32(f.type):
            values = [None if pd.isna(v) else pd.Timestamp(v).date() for v in col]
            arrays.append(pa.array(values, type=f.type))
        elif pa.types.is_timestamp(f.type):
            arrays.append(pa.array([_utc(v) for v in col], type=f.type))
        elif pa.types.is_floating(f.type):
            arrays.append(
                pa.array(
                    pd.to_numeric(col, errors="raise").astype("float64"),
                    type=f.type,
                    from_pandas=True,
                )
            )
        else:
            values = [
                None if (v is None or (not isinstance(v, str) and pd.isna(v))) else v for v in col
            ]
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=target)


class DuckDBWarehouse(Warehouse):
    """A DuckDB file (or ``:memory:``) standing in for BigQuery: datasets become schemas."""

    def __init__(self, settings: Settings, path: str) -> None:
        super().__init__(settings)
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = duckdb.connect(path)
        except duckdb.IOException as exc:
            raise WarehouseError(
                f"cannot open DuckDB warehouse {path}: {exc} "
                "(is another pcf process using it? wait for it or point PCF_WAREHOUSE elsewhere)"
            ) from exc
        self._root.execute("SET TimeZone = 'UTC'")
        # Without a cap DuckDB keeps up to 80 % of the RAM in cached blocks and writes not yet
        # checkpointed; with it, it evicts to the file or spills to ``<file>.tmp`` (64 MiB keeps
        # a five-season backfill under 400 MiB). A statement that needs more (a large chunk's
        # publish) fails with Out of Memory and is rolled back; the cap then grows by half and it
        # runs again (_roomy). Only a file can evict: an in-memory database keeps DuckDB's default.
        self._memory_mb: int | None = None
        self._memory_lock = threading.Lock()
        if path != ":memory:":
            self._set_memory_mb(int(settings.duckdb_memory_mb))
            # Staged rows are built as Arrow: let them come from malloc, like numpy's and
            # Python's, instead of pyarrow's mimalloc pool, which keeps what it frees for itself
            # (the process would hold both allocators' peaks; ~25 MiB on five seasons).
            pa.set_memory_pool(pa.system_memory_pool())
        self._local = threading.local()
        self._staging_seq = 0
        # Staging tables (names) held in HELD_CATALOG rather than in the file: a chunk's staged
        # rows are read three times within seconds (audit, publish, verify) and then not needed
        # once published, so writing them to the file (its WAL, then a checkpoint) was a third
        # of the DuckDB work of a backfill. release_staging drops a published chunk's table and
        # copies any other into the file (kept for inspection, as BigQuery keeps it until it
        # expires); close copies what was never released. Only a crash loses staged rows —
        # their dates stay `written` and show as `stalled` for `--rerun failed`, as after any
        # crash before the publish.
        self._held: set[str] = set()
        if path != ":memory:":
            self._root.execute(f"ATTACH ':memory:' AS {HELD_CATALOG}")
            self._root.execute(
                f"CREATE SCHEMA {HELD_CATALOG}.{validate_identifier(settings.dataset_staging)}"
            )
        # One mutating statement at a time, as BigQuery serializes DML on a table: without it
        # two concurrent MERGEs of the same empty partition both insert (duplicate rows).
        self._write_lock = threading.RLock()

    def _set_memory_mb(self, mb: int) -> None:
        self._root.execute(f"SET memory_limit = '{int(mb)}MiB'")
        self._memory_mb = mb

    def _roomy(self, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt``; on DuckDB's Out of Memory (the statement is rolled back: every
        statement here commits on its own) grow the cap by half and run it again."""
        while True:
            seen = self._memory_mb
            try:
                return attempt()
            except duckdb.OutOfMemoryException:
                if not self._grow_memory(seen):
                    raise

    def _grow_memory(self, seen: int | None) -> bool:
        """Double the cap (once per exhausted value, whichever thread hits it); False at the top."""
        with self._memory_lock:
            if self._memory_mb is None or self._memory_mb >= _MAX_MEMORY_MB:
                return False
            if self._memory_mb == seen:
                # By half, not double: a statement that just missed (a 50-date publish beside
                # a context query) gets 96 MiB, not 128 — the process's peak follows the cap.
                grown = min(self._memory_mb + self._memory_mb // 2, _MAX_MEMORY_MB)
                log.event(
                    "WARNING",
                    f"DuckDB needed more than {self._memory_mb} MiB for a statement: memory cap "
                    f"raised to {grown} MiB for this process (PCF_DUCKDB_MEMORY_MB sets the start)",
                    duckdb_memory_mb=grown,
                )
                self._set_memory_mb(grown)
            return True

    def _con(self) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            con = self._root.cursor()
            con.execute("SET TimeZone = 'UTC'")
            self._local.con = con
        return con

    def qualify(self, dataset: str, table: str) -> str:
        """``dataset.table`` — DuckDB schemas stand in for datasets (a staging table held in
        memory: ``{HELD_CATALOG}.dataset.table``)."""
        if table in self._held and dataset == self.settings.dataset_staging:
            return f"{HELD_CATALOG}.{dataset}.{table}"
        return f"{dataset}.{table}"

    def statement(self, sql: Sql, idents: Mapping[str, str] | None = None) -> str:
        """The DuckDB text of ``sql`` with its identifiers filled in (cached per template)."""
        template = transpile_template(sql.text)
        if template is None:
            return transpile(self.render(sql, idents))
        for name in sql.placeholders():
            value = idents[name] if idents and name in idents else self.table(name)
            template = template.replace(_slot(name), value)
        return template

    def _bind(
        self, sql: Sql, params: Mapping[str, Any] | None, idents: Mapping[str, str]
    ) -> tuple[str, dict[str, Any]]:
        """The DuckDB text of ``sql`` and the parameters it uses; an error names any missing."""
        text = self.statement(sql, idents)
        wanted = set(_PARAM.findall(text))
        given = dict(params or {})
        missing = wanted - set(given)
        if missing:
            raise WarehouseError(f"{sql.name}: missing parameters {sorted(missing)}")
        return text, {k: v for k, v in given.items() if k in wanted}

    def _run(self, sql: Sql, params: Mapping[str, Any] | None, idents: Mapping[str, str]) -> Any:
        text, bound = self._bind(sql, params, idents)
        self._count()
        try:
            return self._roomy(lambda: self._con().execute(text, bound))
        except duckdb.TransactionException as exc:
            # A write-write conflict with a concurrent delivery: a retry succeeds (like
            # BigQuery's concurrent-DML aborts), so it must not be acknowledged as permanent.
            raise TransientWarehouseError(f"{sql.name} conflicted on DuckDB: {exc}") from exc
        except duckdb.Error as exc:
            raise WarehouseError(f"{sql.name} failed on DuckDB: {exc}") from exc

    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Row]:
        """Run a SELECT and return rows as dicts."""
        if sql.numeric_as_float:
            return self._query_numeric_as_float(sql, params, idents)
        cur = self._run(sql, params, idents)
        names = [d[0] for d in cur.description]
        # In batches: a chunk's context rows are never held both as tuples and as dicts.
        rows: list[Row] = []
        while batch := cur.fetchmany(_FETCH_ROWS):
            rows.extend(dict(zip(names, row, strict=True)) for row in batch)
        return rows

    def _query_numeric_as_float(
        self, sql: Sql, params: Mapping[str, Any] | None, idents: Mapping[str, str]
    ) -> list[Row]:
        """Like ``query``, with DECIMAL columns as float: DuckDB renders the exact decimal and
        parses it correctly rounded, the value Python's ``float(Decimal)`` gives — without
        building a Decimal object per value (most of a context query's fetch time)."""
        text, bound = self._bind(sql, params, idents)
        self._count()
        try:
            rel = self._con().sql(text, params=bound)
            names = list(rel.columns)
            # Column names come from the statement's own result, quoted; no input reaches them.
            columns = ", ".join(
                f'CAST(CAST("{n}" AS VARCHAR) AS DOUBLE) AS "{n}"'
                if str(t).startswith("DECIMAL")
                else f'"{n}"'
                for n, t in zip(names, rel.types, strict=True)
            )
            rows = self._roomy(rel.project(columns).fetchall)
        except duckdb.Error as exc:
            raise WarehouseError(f"{sql.name} failed on DuckDB: {exc}") from exc
        return [dict(zip(names, row, strict=True)) for row in rows]

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        """Run DML/DDL; return affected rows."""
        with self._write_lock:
            cur = self._run(sql, params, idents)
            try:
                # fetchall, not fetchone: DuckDB 2 refuses other work (register) on a connection
                # whose result was not read to the end.
                rows = cur.fetchall()
            except duckdb.Error:
                return 0
        row = rows[0] if rows else None
        if row and isinstance(row[0], int):  # DML returns the affected-row count
            return int(row[0])
        return 0

    def insert_rows(self, table: str, rows: Rows) -> int:
        """Append rows to a pipeline table from an Arrow batch."""
        schema = get_schema(table)
        data = to_arrow(schema, rows)
        if data.num_rows == 0:
            return 0
        con = self._con()
        view = f"_pcf_load_{threading.get_ident()}"
        self._count()
        con.register(view, data)
        try:
            cols = ", ".join(schema.column_names)
            # Identifiers come from the validated schema registry, never from input.
            insert = f"INSERT INTO {self.table(table)} ({cols}) SELECT {cols} FROM {view}"  # noqa: S608
            with self._write_lock:
                self._roomy(lambda: con.execute(insert))
        except duckdb.TransactionException as exc:
            raise TransientWarehouseError(f"loading {table} conflicted on DuckDB: {exc}") from exc
        except duckdb.Error as exc:
            raise WarehouseError(f"loading {table} failed on DuckDB: {exc}") from exc
        finally:
            con.unregister(view)
        return int(data.num_rows)

    @override
    def stage_rows(self, like: str, rows: Rows, tag: str) -> str:
        """Register rows as a connection-local view; MERGE reads it by name."""
        data = to_arrow(get_schema(like), rows)
        with self._lock:
            self._staging_seq += 1
            name = f"_pcf_stage_{like}_{self._staging_seq}"
        self._count()
        self._con().register(name, data)
        return name

    def write_staging_table(self, like: str, name: str, rows: Rows) -> str:
        """CREATE OR REPLACE a table in the staging schema (every connection and worker thread
        of this process sees it). A file warehouse holds it in memory until ``release_staging``
        (or close) and then drops an older copy of the same name from the file: the new rows
        replace it, as on BigQuery (a statement writes one database, hence two)."""
        schema = get_schema(like)
        data = to_arrow(schema, rows)
        in_file = self._staging_in_file(name)
        held = self.path != ":memory:"
        target = f"{HELD_CATALOG}.{in_file}" if held else in_file
        con = self._con()
        view = f"_pcf_load_{threading.get_ident()}"
        # Identifiers come from the schema registry and a validated name, never from input.
        cols = ", ".join(f"CAST({c.name} AS {_TYPES[c.type]}) AS {c.name}" for c in schema.columns)
        ctas = f"CREATE OR REPLACE TABLE {target} AS SELECT {cols} FROM {view}"  # noqa: S608
        self._count()
        con.register(view, data)
        try:
            with self._write_lock:
                self._roomy(lambda: con.execute(ctas))
                if held:  # from now on the name means the held table; an older copy in the
                    with self._lock:  # file (kept from an earlier attempt) is replaced by it
                        self._held.add(name)
                    con.execute(f"DROP TABLE IF EXISTS {in_file}")
        except duckdb.TransactionException as exc:
            raise TransientWarehouseError(f"staging {name} conflicted on DuckDB: {exc}") from exc
        except duckdb.Error as exc:
            raise WarehouseError(f"staging {name} failed on DuckDB: {exc}") from exc
        finally:
            con.unregister(view)
        return target

    def _staging_in_file(self, name: str) -> str:
        """``dataset.name`` of staging table ``name`` in the file (held or not; name validated)."""
        return f"{self.settings.dataset_staging}.{validate_identifier(name, 'table name')}"

    @override
    def release_staging(self, name: str, *, keep: bool) -> None:
        """Drop a held staging table whose rows are all published; copy one with unpublished
        dates into the file (kept for inspection: DuckDB has no expiration). One statement."""
        with self._lock:
            if name not in self._held:
                return  # in the file already (or never staged here): nothing to do
        in_file = self._staging_in_file(name)
        con = self._con()
        self._count()
        try:
            with self._write_lock:
                if keep:
                    source = f"{HELD_CATALOG}.{in_file}"
                    copy = f"CREATE OR REPLACE TABLE {in_file} AS SELECT * FROM {source}"  # noqa: S608
                    self._roomy(lambda: con.execute(copy))
                with self._lock:
                    self._held.discard(name)
                con.execute(f"DROP TABLE IF EXISTS {HELD_CATALOG}.{in_file}")
        except duckdb.Error as exc:
            raise WarehouseError(f"releasing staging {name} failed on DuckDB: {exc}") from exc

    def drop_staging(self, qualified: str) -> None:
        """Unregister a staged view (no round trip: it is connection-local)."""
        with contextlib.suppress(duckdb.Error):
            self._con().unregister(qualified)

    @override
    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        """CREATE TABLE dataset.name AS <sql>: an existing table is an error (no expiration)."""
        target = self.dataset_table(dataset_key, name)
        self._con().execute(f"CREATE SCHEMA IF NOT EXISTS {self.settings.dataset(dataset_key)}")
        select = Sql(sql.name, f"CREATE TABLE {target} AS {sql.text}", sql.types)
        self._run(select, params, idents)
        return target

    def table_exists(self, dataset_key: str, name: str) -> bool:
        """Whether ``dataset.name`` exists (a staging table held in memory does)."""
        if dataset_key == "staging":
            with self._lock:
                if name in self._held:
                    return True
        self._count()
        row = (
            self._con()
            .execute(
                "SELECT COUNT(*) FROM information_schema.tables"
                " WHERE table_schema = ? AND table_name = ?",
                [self.settings.dataset(dataset_key), name],
            )
            .fetchall()
        )
        return bool(row and row[0][0])

    def create_all(self) -> list[str]:
        """Create every schema (dataset) and table from infra/schemas."""
        made = []
        con = self._con()
        keys = {s.dataset_key for s in load_schemas().values()} | {"staging", "backup"}
        for key in sorted(keys):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.settings.dataset(key)}")
        for schema in load_schemas().values():
            cols = ", ".join(
                f"{c.name} {_TYPES[c.type]}{' NOT NULL' if c.required else ''}"
                for c in schema.columns
            )
            con.execute(f"CREATE TABLE IF NOT EXISTS {self.table(schema.name)} ({cols})")
            made.append(self.table(schema.name))
        self._count()
        return made

    def close(self) -> None:
        """Copy staging tables never released into the file (kept, as after a block), then
        close the database file."""
        with self._lock:
            held = sorted(self._held)
        for name in held:
            try:
                self.release_staging(name, keep=True)
            except WarehouseError as exc:  # closing anyway: say what could not be kept
                log.event("WARNING", f"staged rows of {name} not kept: {exc}", staging_table=name)
        self._root.close()
