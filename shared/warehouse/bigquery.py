"""BigQuery adapter: the real google-cloud-bigquery client (also used against bqemulator)."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from shared import log
from shared.config import Settings, validate_identifier
from shared.warehouse.base import (
    Row,
    Rows,
    Sql,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
    check_columns,
    json_value,
    records,
)
from shared.warehouse.schemas import TableSchema, get_schema, load_schemas

_TRANSIENT = (
    gexc.ServerError,
    gexc.TooManyRequests,
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    ConnectionError,
    TimeoutError,
)

# BigQuery aborts one of two conflicting mutating DML statements (or transactions) on the same
# table with a 400 whose message says so; the statement did nothing and a redelivery succeeds —
# the same contract as DuckDB's write-write conflicts in the local warehouse.
_CONCURRENT_UPDATE_MARKERS = (
    "could not serialize access",
    "due to concurrent update",
    "aborted due to concurrent update",
)


def is_concurrent_update(exc: BaseException) -> bool:
    """True for BigQuery's concurrent-DML abort (400 "Could not serialize access …")."""
    if not isinstance(exc, gexc.GoogleAPICallError) or exc.code not in (400, 409):
        return False
    texts = [str(exc.message or ""), str(exc)]
    for error in exc.errors or ():
        if isinstance(error, Mapping):
            texts.append(str(error.get("message", "")))
    joined = " ".join(texts).lower()
    return any(marker in joined for marker in _CONCURRENT_UPDATE_MARKERS)


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, Decimal):
        return "NUMERIC"
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    return "STRING"


def query_parameters(
    params: Mapping[str, Any], types: Mapping[str, str]
) -> list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter]:
    """Typed BigQuery parameters: declared types first, else inferred from the value."""
    out: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
    for name, value in params.items():
        declared = types.get(name)
        if isinstance(value, (list, tuple)):
            element = (
                declared.removeprefix("ARRAY<").removesuffix(">")
                if declared
                else (_param_type(value[0]) if value else "STRING")
            )
            out.append(bigquery.ArrayQueryParameter(name, element, list(value)))
        else:
            out.append(bigquery.ScalarQueryParameter(name, declared or _param_type(value), value))
    return out


def _schema_fields(schema: TableSchema) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description or "")
        for c in schema.columns
    ]


class BigQueryWarehouse(Warehouse):
    """Google BigQuery through ``google-cloud-bigquery``; batch loads, never streaming."""

    def __init__(self, settings: Settings, project: str, client: Any | None = None) -> None:
        super().__init__(settings)
        self.project = project
        if client is None:
            options: dict[str, Any] = {}
            kwargs: dict[str, Any] = {}
            if settings.bigquery_api_endpoint:
                from google.auth.credentials import AnonymousCredentials

                options["api_endpoint"] = settings.bigquery_api_endpoint
                kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
            client = bigquery.Client(
                project=project,
                location=settings.bigquery_location,
                client_options=options or None,
                **kwargs,
            )
        self.client = client

    def qualify(self, dataset: str, table: str) -> str:
        """Backticked ``project.dataset.table``."""
        return f"`{self.project}.{dataset}.{table}`"

    def _table_id(self, dataset: str, table: str) -> str:
        return f"{self.project}.{dataset}.{table}"

    @contextmanager
    def _call(self, kind: str, name: str) -> Iterator[dict[str, Any]]:
        """Count one round trip, map Google errors to ours, log its duration at DEBUG."""
        self._count()
        facts: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield facts
        except _TRANSIENT as exc:
            raise TransientWarehouseError(f"{name}: {exc}") from exc
        except gexc.GoogleAPIError as exc:
            if is_concurrent_update(exc):
                raise TransientWarehouseError(
                    f"{name} conflicted with a concurrent update on BigQuery (retried): {exc}"
                ) from exc
            raise WarehouseError(f"{name} failed on BigQuery: {exc}") from exc
        finally:
            seconds = time.perf_counter() - started
            # One line per call: how long the warehouse took (benchmarks add these up).
            log.event(
                "DEBUG",
                f"bigquery {kind} {name} took {seconds:.3f}s",
                bq_call=kind,
                bq_name=name,
                bq_seconds=round(seconds, 4),
                **facts,
            )

    def _run(
        self, sql: Sql, params: Mapping[str, Any] | None, idents: Mapping[str, str]
    ) -> tuple[Any, Any]:
        """Insert a query job and wait for it; return the job and its row iterator."""
        text = self.render(sql, idents)
        config = bigquery.QueryJobConfig(
            query_parameters=query_parameters(params or {}, sql.types),
            labels={"pcf_query": sql.name.lower().replace(".", "_")[:63]},
        )
        # jobs.insert + getQueryResults, not query_and_wait (jobs.query): bqemulator's
        # jobs.query answers a failing statement (missing table, syntax error) with an empty
        # result and no error, which would turn a broken query into "no rows".
        job = self.client.query(text, job_config=config)
        return job, job.result()

    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Row]:
        """Run a SELECT and return rows as dicts."""
        with self._call("query", sql.name) as facts:
            rows = [dict(row.items()) for row in self._run(sql, params, idents)[1]]
            facts["rows"] = len(rows)
        return rows

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        """Run DML/DDL; return affected rows."""
        with self._call("execute", sql.name) as facts:
            job, _ = self._run(sql, params, idents)
            affected = int(job.num_dml_affected_rows or 0)
            facts["rows"] = affected
        return affected

    def _load(self, table_id: str, schema: TableSchema, rows: Rows, truncate: bool) -> int:
        batch = records(rows)
        check_columns(schema, batch)
        if not batch:
            return 0
        buf = io.BytesIO()
        names = schema.column_names
        for row in batch:
            obj = {n: json_value(row.get(n)) for n in names}
            buf.write(json.dumps(obj, default=str).encode("utf-8"))
            buf.write(b"\n")
        buf.seek(0)
        config = bigquery.LoadJobConfig(
            schema=_schema_fields(schema),
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            write_disposition=(
                bigquery.WriteDisposition.WRITE_TRUNCATE
                if truncate
                else bigquery.WriteDisposition.WRITE_APPEND
            ),
        )
        with self._call("load", f"load into {table_id}") as facts:
            # A file-object load takes the resumable path; load_table_from_json's multipart
            # upload is rejected by bqemulator (and both work on BigQuery).
            job = self.client.load_table_from_file(buf, table_id, job_config=config, rewind=True)
            job.result()
            facts["rows"] = len(batch)
        return len(batch)

    def insert_rows(self, table: str, rows: Rows) -> int:
        """Append rows with a batch load job."""
        schema = get_schema(table)
        dataset = self.settings.dataset(schema.dataset_key)
        return self._load(self._table_id(dataset, table), schema, rows, truncate=False)

    def stage_rows(self, like: str, rows: Rows, tag: str) -> str:
        """Load rows into a fresh staging table (it expires with the dataset default)."""
        name = f"{like}__{tag}__{uuid.uuid4().hex[:8]}"
        dataset = self.settings.dataset_staging
        table_id = self._table_id(dataset, name)
        schema = get_schema(like)
        if not self._load(table_id, schema, rows, truncate=True):
            # Nothing was loaded, but the staged table must exist: a MERGE will read it.
            with self._call("create_table", table_id):
                self.client.create_table(bigquery.Table(table_id, schema=_schema_fields(schema)))
        return self.qualify(dataset, name)

    def write_staging_table(self, like: str, name: str, rows: Rows) -> str:
        """Load ``rows`` into staging table ``name`` with WRITE_TRUNCATE (one load job); the
        staging dataset's default expiration (a day) removes it."""
        dataset = self.settings.dataset_staging
        table_id = self._table_id(dataset, validate_identifier(name, "table name"))
        schema = get_schema(like)
        if not self._load(table_id, schema, rows, truncate=True):
            # No load job is sent for zero rows: (re)create the table empty instead.
            with self._call("delete_table", table_id):
                self.client.delete_table(table_id, not_found_ok=True)
            table = bigquery.Table(table_id, schema=_schema_fields(schema))
            table.expires = datetime.now(UTC) + timedelta(days=1)
            with self._call("create_table", table_id):
                self.client.create_table(table)
        return self.qualify(dataset, name)

    def drop_staging(self, qualified: str) -> None:
        """Delete a staging table (missing is fine)."""
        with self._call("delete_table", qualified.strip("`")):
            self.client.delete_table(qualified.strip("`"), not_found_ok=True)

    def release_staging(self, name: str, *, keep: bool) -> None:
        """Nothing to do: the staging dataset's expiration (a day) removes the table either way,
        and a late duplicate delivery can still audit it meanwhile."""

    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        """CREATE TABLE … AS SELECT (an existing table is an error), then set its expiration."""
        target = self.dataset_table(dataset_key, name)
        ctas = Sql(sql.name, f"CREATE TABLE {target} AS {sql.text}", sql.types)
        self.execute(ctas, params, **idents)
        if expiration_days:
            # A PATCH of the one field (no read first). CTAS `OPTIONS(expiration_timestamp=…)`
            # would save this call but bqemulator cannot parse it; bqemulator also accepts and
            # ignores `expires` (never stored or enforced), real BigQuery honours it.
            table = bigquery.Table(target.strip("`"))
            table.expires = datetime.now(UTC) + timedelta(days=expiration_days)
            with self._call("update_table", target.strip("`")):
                self.client.update_table(table, ["expires"])
        return target

    def table_exists(self, dataset_key: str, name: str) -> bool:
        """Whether ``dataset.name`` exists."""
        table_id = self._table_id(self.settings.dataset(dataset_key), name)
        with self._call("get_table", table_id):
            try:
                self.client.get_table(table_id)
            except gexc.NotFound:
                return False
        return True

    def create_all(self) -> list[str]:
        """Create datasets and tables from infra/schemas (exists_ok)."""
        schemas = load_schemas()
        keys = {s.dataset_key for s in schemas.values()} | {"staging", "backup"}
        for key in sorted(keys):
            ds = bigquery.Dataset(f"{self.project}.{self.settings.dataset(key)}")
            ds.location = self.settings.bigquery_location
            if key == "staging":
                ds.default_table_expiration_ms = 24 * 3600 * 1000
            if key == "backup":
                ds.default_table_expiration_ms = (
                    self.settings.backup_expiration_days * 24 * 3600 * 1000
                )
            with self._call("create_dataset", ds.dataset_id):
                self.client.create_dataset(ds, exists_ok=True)
        made = []
        for schema in schemas.values():
            dataset = self.settings.dataset(schema.dataset_key)
            table = bigquery.Table(
                self._table_id(dataset, schema.name), schema=_schema_fields(schema)
            )
            if schema.partition_field:
                table.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=schema.partition_field
                )
            if schema.clustering:
                table.clustering_fields = list(schema.clustering)
            table.description = schema.description
            with self._call("create_table", schema.name):
                self.client.create_table(table, exists_ok=True)
            made.append(self.table(schema.name))
        return made

    def close(self) -> None:
        """Close the HTTP session."""
        self.client.close()
