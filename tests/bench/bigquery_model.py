"""A cost/latency model of a backfill on BigQuery + Pub/Sub (a benchmark, not a test).

Run from the repository root (``make bench-bigquery-model``)::

    python -m tests.bench.bigquery_model [--seasons 1 5] [--job-latency 1.0] [--instances N]

How it works, in two steps:

1. **Trace.** A real backfill runs on the embedded DuckDB warehouse wrapped in
   ``BigQueryModelWarehouse``: every port call is classified as the BigQuery work it becomes in
   ``shared/warehouse/bigquery.py`` (a query job, a mutating DML job on a table, a load job, or
   a plain API call such as ``delete_table``), with the tables it references and an estimate of
   the bytes it scans. A ``TracingBus`` records which delivery made which call and published
   which message, so every delivery becomes a list of steps.
2. **Replay in simulated time.** Each function gets ``max_instances`` instances from
   infra/topology.json (Pub/Sub pushes a message to a free instance; the rest wait). Each
   instance keeps its own simulated clock and runs its delivery's steps in order: a job takes
   ``--job-latency`` seconds (1 s default: BigQuery's typical small-job latency), an API call
   ``--api-latency``. Nothing sleeps: the whole day-long backfill is replayed in well under a
   second of wall time, i.e. latency is scaled down to zero in wall time.

BigQuery's published limits that the model enforces (cloud.google.com/bigquery/quotas):

- at most 2 mutating DML statements (UPDATE, DELETE, MERGE) running per table, up to 20 more
  queued; a statement arriving at a full queue fails (quota error). The failing delivery raises,
  Pub/Sub redelivers it after the subscription's backoff (10 s minimum, doubling) and it runs
  again from the start; after max_delivery_attempts it is dead-lettered;
- INSERT DML is not mutating: the first 1,500 INSERT statements on a table in a day run
  immediately; after that at most 10 run per table with up to 100 queued, and one arriving at a
  full queue fails the same way (cloud.google.com/bigquery/docs/data-manipulation-language);
- 1,500 table operations (load jobs, jobs writing a destination table) per table per day and
  100,000 load jobs per project per day: exceeding either is a quota error;
- billing: every query/DML job bills at least 10 MB per referenced table (on-demand pricing),
  or the estimated bytes scanned when larger. Load jobs and API calls are free.

It prints modelled wall time, jobs by kind, DML queue peaks per table, quota errors, billed
bytes per processed date, the extrapolation to the origin's 918-date backfill, and the ledger
statements per chunk: the ledger is append-only, so a chunk must run 0 mutating DML on it (the
run exits 1 otherwise).
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from shared.app import App, build_app
from shared.config import REPO_ROOT, Settings
from shared.messages import Message
from shared.tools.local_bus import LocalBus, Published
from shared.tools.registry import wire_local_bus
from shared.warehouse import Rows, Sql, Warehouse
from shared.warehouse.schemas import load_schemas
from tests.bench.fingerprint import full_backfill
from tests.fakes import DelegatingWarehouse

MB = 1_000_000
MIN_BILLED_PER_TABLE = 10 * MB
DML_RUNNING_PER_TABLE = 2
DML_QUEUED_PER_TABLE = 20
INSERTS_IMMEDIATE_PER_TABLE_PER_DAY = 1_500
INSERT_RUNNING_PER_TABLE = 10
INSERT_QUEUED_PER_TABLE = 100
LEDGER = "backfill_ledger"
TABLE_OPERATIONS_PER_DAY = 1_500
LOAD_JOBS_PER_PROJECT_PER_DAY = 100_000
ORIGIN_DATES = 918  # the origin system's backfill (7.65 hours at 30-47 s per date)
TYPE_BYTES = {"STRING": 24, "INTEGER": 8, "INT64": 8, "NUMERIC": 16, "FLOAT": 8, "FLOAT64": 8}
TYPE_BYTES |= {"BOOLEAN": 1, "BOOL": 1, "DATE": 8, "TIMESTAMP": 8}

_MUTATING = re.compile(r"^\s*(?:MERGE(?:\s+INTO)?|UPDATE|DELETE(?:\s+FROM)?)\s+\{(\w+)\}", re.I)
_INSERT = re.compile(r"^\s*INSERT(?:\s+INTO)?\s+\{(\w+)\}", re.I)
_DDL = re.compile(r"^\s*(?:CREATE|DROP|ALTER|TRUNCATE)\b", re.I)


# -- 1. trace ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One BigQuery job or API call a port call becomes."""

    kind: str  # query | dml | insert_dml | ddl | load | api
    name: str
    target: str | None  # the table a dml/load job writes
    billed: int  # bytes billed (0 for loads and API calls)


@dataclass(frozen=True)
class Publish:
    """A message published by a delivery (it starts when that step is reached)."""

    topic: str
    message_id: str


@dataclass
class Trace:
    """The steps of one delivery."""

    topic: str
    message_id: str
    steps: list[Job | Publish] = field(default_factory=list)


class Recorder:
    """Which delivery the current thread is running, and every delivery's steps."""

    ROOT = "root"

    def __init__(self) -> None:
        self.local = threading.local()
        self.traces: dict[str, Trace] = {self.ROOT: Trace("backfill_requests", self.ROOT)}
        self.lock = threading.Lock()

    def current(self) -> Trace:
        """The trace of the delivery this thread is in (the root request outside deliveries)."""
        return self.traces[getattr(self.local, "message_id", self.ROOT)]

    def add(self, step: Job | Publish) -> None:
        """Append a step to the current delivery."""
        with self.lock:
            self.current().steps.append(step)


class TracingBus(LocalBus):
    """The local bus, recording which delivery published which message."""

    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        """Publish and record the step in the publishing delivery."""
        publisher = self.recorder.current()
        message_id = super().publish(topic_key, message, attributes)
        if topic_key in self.handlers:
            with self.recorder.lock:
                self.recorder.traces.setdefault(message_id, Trace(topic_key, message_id))
                publisher.steps.append(Publish(topic_key, message_id))
        return message_id

    def _deliver(self, item: Published) -> None:
        with self.recorder.lock:
            self.recorder.traces.setdefault(item.message_id, Trace(item.topic_key, item.message_id))
        self.recorder.local.message_id = item.message_id
        try:
            super()._deliver(item)
        finally:
            self.recorder.local.message_id = Recorder.ROOT


@dataclass
class TableStats:
    """Size of a pipeline table, to estimate bytes scanned by a date-filtered statement."""

    total_bytes: int
    dates: int


class BigQueryModelWarehouse(DelegatingWarehouse):
    """The Warehouse port on DuckDB, recording each call as the BigQuery job it would be."""

    def __init__(self, inner: Warehouse, recorder: Recorder, stats: dict[str, TableStats]) -> None:
        super().__init__(inner)
        self.recorder = recorder
        self.stats = stats

    def _billed(self, sql: Sql, params: Mapping[str, Any] | None) -> int:
        params = params or {}
        if "game_date" in params:
            span = 1
        elif isinstance(params.get("start_date"), date) and isinstance(
            params.get("end_date"), date
        ):
            span = (params["end_date"] - params["start_date"]).days + 1
        else:
            span = None
        billed = 0
        for name in sql.placeholders():
            stats = self.stats.get(name)
            scanned = 0
            if stats is not None:
                share = 1.0 if span is None else min(1.0, span / max(stats.dates, 1))
                scanned = int(stats.total_bytes * share)
            billed += max(MIN_BILLED_PER_TABLE, scanned)
        return billed

    def _job(self, sql: Sql, params: Mapping[str, Any] | None, idents: Mapping[str, str]) -> Job:
        text = sql.text
        billed = self._billed(sql, params)
        if m := _MUTATING.match(text):
            return Job("dml", sql.name, idents.get(m.group(1), m.group(1)), billed)
        if m := _INSERT.match(text):
            return Job("insert_dml", sql.name, idents.get(m.group(1), m.group(1)), billed)
        if _DDL.match(text):
            return Job("ddl", sql.name, None, billed)
        return Job("query", sql.name, None, billed)

    def query(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> list[Any]:
        """A query job."""
        self.recorder.add(self._job(sql, params, idents))
        return super().query(sql, params, **idents)

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None, **idents: str) -> int:
        """A DML (or DDL) query job."""
        self.recorder.add(self._job(sql, params, idents))
        return super().execute(sql, params, **idents)

    def insert_rows(self, table: str, rows: Rows) -> int:
        """A load job into ``table``."""
        self.recorder.add(Job("load", f"load.{table}", table, 0))
        return super().insert_rows(table, rows)

    def stage_rows(self, like: str, rows: Rows, tag: str) -> str:
        """A load job into a new staging table."""
        name = super().stage_rows(like, rows, tag)
        self.recorder.add(Job("load", f"stage.{like}", name, 0))
        return name

    def drop_staging(self, qualified: str) -> None:
        """A delete_table API call."""
        self.recorder.add(Job("api", "delete_table", None, 0))
        super().drop_staging(qualified)

    def table_exists(self, dataset_key: str, name: str) -> bool:
        """A get_table API call."""
        self.recorder.add(Job("api", "get_table", None, 0))
        return super().table_exists(dataset_key, name)

    def copy_rows_to_new_table(
        self,
        sql: Sql,
        params: Mapping[str, Any],
        dataset_key: str,
        name: str,
        expiration_days: int | None,
        **idents: str,
    ) -> str:
        """A query job with a destination table (a table operation)."""
        job = self._job(sql, params, idents)
        self.recorder.add(Job("load", sql.name, name, job.billed))
        return super().copy_rows_to_new_table(
            sql, params, dataset_key, name, expiration_days, **idents
        )


def table_stats(app: App) -> dict[str, TableStats]:
    """Row counts × schema row width of every pipeline table with a date column."""
    out = {}
    for schema in load_schemas().values():
        width = sum(TYPE_BYTES.get(c.type, 8) for c in schema.columns)
        column = next((c for c in ("game_date", "analysis_date") if c in schema.column_names), None)
        if column is None:
            continue
        text = f"SELECT COUNT(*) AS n, COUNT(DISTINCT {column}) AS dates FROM {{{schema.name}}}"
        row = app.warehouse.query(Sql("bench.table_stats", text))[0]
        out[schema.name] = TableStats(int(row["n"]) * width, int(row["dates"]))
    return out


PROCESSED_DATES = Sql(
    "bench.processed_dates",
    "SELECT COUNT(DISTINCT game_date) AS n FROM {backfill_ledger} "
    "WHERE run_id = @run_id AND status NOT IN ('skipped_no_games', 'skipped_bootstrap')",
    {"run_id": "STRING"},
)


def trace_backfill(db: Path) -> tuple[dict[str, Trace], int, float]:
    """Run a full backfill on ``db`` through the recording wrappers; (traces, dates, seconds)."""
    from shared import log

    log.configure("ERROR")
    recorder = Recorder()
    bus = TracingBus(recorder, workers=1)
    plain = build_app(Settings(warehouse=f"duckdb:///{db}"), bus=bus)
    stats = table_stats(plain)
    app = App(
        settings=plain.settings,
        warehouse=BigQueryModelWarehouse(plain.warehouse, recorder, stats),
        bus=bus,
    )
    wire_local_bus(app, bus)
    started = time.perf_counter()
    try:
        full_backfill(app, run_id="bq-model")
        elapsed = time.perf_counter() - started
        # A delivery may carry a chunk of dates: count the dates the run processed (not skipped)
        # from the ledger, not the validate_coverage deliveries.
        [row] = plain.warehouse.query(PROCESSED_DATES, {"run_id": "bq-model"})
        processed = int(row["n"])
    finally:
        app.close()
    return recorder.traces, processed, elapsed


# -- 2. replay in simulated time -----------------------------------------------------------------
@dataclass
class Limits:
    """Model settings."""

    job_latency: float = 1.0
    api_latency: float = 0.2
    pubsub_latency: float = 0.1
    min_backoff: float = 10.0
    max_backoff: float = 600.0
    max_attempts: int = 5
    instances: dict[str, int] = field(default_factory=dict)
    inserts_immediate_per_day: int = INSERTS_IMMEDIATE_PER_TABLE_PER_DAY


@dataclass
class Result:
    """What the replay measured."""

    wall_s: float = 0.0
    jobs: Counter[str] = field(default_factory=Counter)
    billed: int = 0
    dml_queue_peak: dict[str, int] = field(default_factory=dict)
    dml_running_peak: dict[str, int] = field(default_factory=dict)
    insert_queue_peak: dict[str, int] = field(default_factory=dict)
    insert_running_peak: dict[str, int] = field(default_factory=dict)
    inserts_per_table_day_peak: int = 0
    quota_errors: Counter[str] = field(default_factory=Counter)
    table_ops_peak: int = 0
    load_jobs: int = 0
    redeliveries: int = 0
    dead_letters: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)


def topology_instances() -> tuple[dict[str, int], dict[str, str]]:
    """(max_instances per function, function per trigger topic key) from infra/topology.json."""
    raw = json.loads((REPO_ROOT / "infra" / "topology.json").read_text(encoding="utf-8"))
    caps, by_topic = {}, {}
    for name, spec in raw["functions"].items():
        caps[name] = int(spec.get("max_instances", 1))
        for topic in spec.get("trigger_topics") or [spec.get("trigger_topic")]:
            by_topic[topic] = name
    return caps, by_topic


def _table_key(target: str | None) -> str:
    """Staging tables are all distinct tables; the pipeline tables keep their names."""
    return target or "?"


def replay(traces: Mapping[str, Trace], limits: Limits) -> Result:
    """Discrete-event replay: instances per function, DML slots/queues per table, retries."""
    caps, by_topic = topology_instances()
    caps |= limits.instances
    res = Result()
    seq = 0
    events: list[tuple[float, int, str, Any]] = []

    def push(t: float, kind: str, payload: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, payload))

    free = dict(caps)
    waiting: dict[str, deque[tuple[str, int]]] = defaultdict(deque)  # fn → (message, attempt)
    # (kind, table) → statements running / deliveries waiting for a slot: mutating DML ("dml")
    # and, past the day's immediate ones, INSERT DML ("insert_dml") each have their own.
    running: dict[tuple[str, str], int] = defaultdict(int)
    queued: dict[tuple[str, str], deque[Any]] = defaultdict(deque)
    slots = {
        "dml": (DML_RUNNING_PER_TABLE, DML_QUEUED_PER_TABLE),
        "insert_dml": (INSERT_RUNNING_PER_TABLE, INSERT_QUEUED_PER_TABLE),
    }
    running_peak = {"dml": res.dml_running_peak, "insert_dml": res.insert_running_peak}
    queue_peak = {"dml": res.dml_queue_peak, "insert_dml": res.insert_queue_peak}
    table_ops: Counter[tuple[str, int]] = Counter()
    inserts_day: Counter[tuple[str, int]] = Counter()
    load_jobs_day: Counter[int] = Counter()

    @dataclass
    class Run:
        message_id: str
        fn: str
        attempt: int
        step: int = 0
        holding: tuple[str, str] | None = None

    def start(fn: str, t: float) -> None:
        while free[fn] and waiting[fn]:
            message_id, attempt = waiting[fn].popleft()
            free[fn] -= 1
            res.deliveries[fn] += 1
            push(t, "step", Run(message_id, fn, attempt))

    def arrive(message_id: str, t: float, attempt: int = 1) -> None:
        fn = by_topic[traces[message_id].topic] if message_id != Recorder.ROOT else "root"
        if fn == "root":
            push(t, "step", Run(message_id, "root", 1))
            return
        waiting[fn].append((message_id, attempt))
        start(fn, t)

    def finish(run: Run, t: float) -> None:
        if run.fn != "root":
            free[run.fn] += 1
            start(run.fn, t)

    def fail(run: Run, t: float, why: str) -> None:
        res.quota_errors[why] += 1
        finish(run, t)
        if run.attempt >= limits.max_attempts:
            res.dead_letters += 1
            return
        res.redeliveries += 1
        backoff = min(limits.max_backoff, limits.min_backoff * 2 ** (run.attempt - 1))
        push(t + backoff, "arrive", (run.message_id, run.attempt + 1))

    def occupy(slot: tuple[str, str]) -> None:
        running[slot] += 1
        peaks = running_peak[slot[0]]
        peaks[slot[1]] = max(peaks.get(slot[1], 0), running[slot])

    def release(slot: tuple[str, str], t: float) -> None:
        running[slot] -= 1
        if queued[slot]:
            nxt = queued[slot].popleft()
            occupy(slot)
            push(t + limits.job_latency, "dml_done", nxt)

    arrive(Recorder.ROOT, 0.0)
    while events:
        t, _, kind, payload = heapq.heappop(events)
        res.wall_s = max(res.wall_s, t)
        if kind == "arrive":
            arrive(payload[0], t, payload[1])
            continue
        run: Run = payload
        if kind == "dml_done":
            assert run.holding is not None
            slot, run.holding = run.holding, None
            release(slot, t)
            run.step += 1
        steps = traces[run.message_id].steps
        if run.step >= len(steps):
            finish(run, t)
            continue
        step = steps[run.step]
        if isinstance(step, Publish):
            push(t + limits.pubsub_latency, "arrive", (step.message_id, 1))
            run.step += 1
            push(t, "step", run)
            continue
        res.jobs[step.kind] += 1
        res.billed += step.billed
        day = int(t // 86_400)
        if step.kind == "load" and step.target:
            table_ops[(step.target, day)] += 1
            load_jobs_day[day] += 1
            res.load_jobs += 1
            res.table_ops_peak = max(res.table_ops_peak, table_ops[(step.target, day)])
            if table_ops[(step.target, day)] > TABLE_OPERATIONS_PER_DAY:
                fail(run, t, f"table operations/day on {step.target}")
                continue
            if load_jobs_day[day] > LOAD_JOBS_PER_PROJECT_PER_DAY:
                fail(run, t, "load jobs/day per project")
                continue
        limited = step.kind == "dml"
        if step.kind == "insert_dml":
            # The day's first INSERTs on a table run at once, like any query; then slots.
            key = (_table_key(step.target), day)
            inserts_day[key] += 1
            res.inserts_per_table_day_peak = max(res.inserts_per_table_day_peak, inserts_day[key])
            limited = inserts_day[key] > limits.inserts_immediate_per_day
        if limited:
            slot = (step.kind, _table_key(step.target))
            most_running, most_queued = slots[step.kind]
            what = "DML" if step.kind == "dml" else "INSERT"
            if running[slot] < most_running:
                occupy(slot)
                run.holding = slot
                push(t + limits.job_latency, "dml_done", run)
            elif len(queued[slot]) < most_queued:
                run.holding = slot
                queued[slot].append(run)
                peaks = queue_peak[step.kind]
                peaks[slot[1]] = max(peaks.get(slot[1], 0), len(queued[slot]))
            else:
                fail(run, t, f"{what} queue full on {slot[1]}")
            continue
        latency = limits.api_latency if step.kind == "api" else limits.job_latency
        run.step += 1
        push(t + latency, "step", run)
    return res


def ledger_dml_per_chunk(traces: Mapping[str, Trace]) -> list[tuple[int, int]]:
    """(mutating DML, INSERT DML) statements on the ledger per chunk: one process_date
    delivery and the validate_coverage deliveries it handed its dates to."""
    out = []
    for trace in traces.values():
        if trace.topic != "process_date":
            continue
        ids = [trace.message_id] + [
            s.message_id
            for s in trace.steps
            if isinstance(s, Publish) and s.topic == "validate_coverage"
        ]
        jobs = [
            step
            for i in ids
            if i in traces
            for step in traces[i].steps
            if isinstance(step, Job) and (step.target or "").split(".")[-1] == LEDGER
        ]
        out.append((sum(j.kind == "dml" for j in jobs), sum(j.kind == "insert_dml" for j in jobs)))
    return out


# -- report --------------------------------------------------------------------------------------
def seeded_copy(seasons: int, tmp: Path) -> tuple[Path, str]:
    """A seeded DuckDB file: the real season for 1 (when present), else synthetic seasons."""
    from shared.tools.seed import write_synthetic_season
    from shared.tools.seed.load import seed

    settings = Settings()
    real = settings.data_dir if (settings.data_dir / "schedule_2022_23.csv").is_file() else None
    db = tmp / f"seasons{seasons}.duckdb"
    if seasons == 1 and real is not None:
        source, label = real, "real 2022-23 season"
    else:
        source = write_synthetic_season(tmp / f"synthetic{seasons}", seed=7, seasons=seasons)
        label = f"{seasons} synthetic season(s), seed 7"
    app = build_app(Settings(warehouse=f"duckdb:///{db}"), bus=LocalBus(workers=1))
    try:
        seed(app, source)
    finally:
        app.close()
    return db, label


def report(
    label: str,
    processed: int,
    res: Result,
    limits: Limits,
    trace_s: float,
    chunks: list[tuple[int, int]],
) -> None:
    """Print one model run (``chunks``: the ledger statements per chunk)."""
    per_date = res.wall_s / max(processed, 1)
    jobs = sum(v for k, v in res.jobs.items() if k != "api")
    caps = topology_instances()[0] | limits.instances
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(res.jobs.items()))
    peaks = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(res.dml_queue_peak.items()))
    running = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(res.dml_running_peak.items()))
    errors = ", ".join(f"{k}: {v}" for k, v in res.quota_errors.items()) or "none"
    inserts = ", ".join(
        f"{k.split('.')[-1]} {v}/{res.insert_queue_peak.get(k, 0)}"
        for k, v in sorted(res.insert_running_peak.items())
    )
    mutating = [m for m, _ in chunks]
    appends = [n for _, n in chunks]
    rows = [
        (
            "modelled wall time",
            f"{res.wall_s / 60:.1f} min",
            f"{processed / res.wall_s:.2f} dates/s",
        ),
        ("jobs (API calls apart)", f"{jobs}", f"{jobs / max(processed, 1):.2f} per date; {kinds}"),
        ("DML running peak/table", f"{max(res.dml_running_peak.values(), default=0)}", running),
        ("DML queue peak/table", f"{max(res.dml_queue_peak.values(), default=0)}", peaks or "-"),
        (
            "quota errors",
            f"{sum(res.quota_errors.values())}",
            f"{errors}; redeliveries {res.redeliveries}, dead letters {res.dead_letters}",
        ),
        (
            "INSERT DML/table/day peak",
            f"{res.inserts_per_table_day_peak}",
            f"immediate up to {limits.inserts_immediate_per_day:,}, then 10 running + 100 "
            f"queued: running/queued peak {inserts or '-'}",
        ),
        (
            "ledger DML per chunk",
            f"{max(mutating, default=0)}",
            f"mutating (must be 0) in each of {len(chunks)} chunks; INSERT "
            f"{min(appends, default=0)}-{max(appends, default=0)} per chunk",
        ),
        ("load jobs", f"{res.load_jobs}", f"peak operations/table/day {res.table_ops_peak}"),
        (
            "billed bytes",
            f"{res.billed / MB:,.0f} MB",
            f"{res.billed / MB / max(processed, 1):.1f} MB per date (target <= 15)",
        ),
        (
            f"{ORIGIN_DATES} dates at this rate",
            f"{per_date * ORIGIN_DATES / 60:.1f} min",
            "target <= 10 min with 0 quota errors",
        ),
    ]
    print(f"\n== {label}: {processed} processed dates (traced in {trace_s:.1f} s real time)")
    print(
        f"   job latency {limits.job_latency:g} s, API call {limits.api_latency:g} s, "
        "max_instances " + ", ".join(f"{k}={v}" for k, v in sorted(caps.items()))
    )
    for name, value, note in rows:
        print(f"   {name:<26}{value:>12}   {note}")


def main(argv: list[str] | None = None) -> int:
    """Trace a backfill of 1 and 5 seasons and replay it through the BigQuery model."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bigquery_model", description=__doc__
    )
    parser.add_argument("--seasons", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--job-latency", type=float, default=1.0, help="seconds per BigQuery job")
    parser.add_argument("--api-latency", type=float, default=0.2, help="seconds per API call")
    parser.add_argument(
        "--instances",
        action="append",
        default=[],
        metavar="FUNCTION=N",
        help="override a function's max_instances (repeatable)",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for spec in args.instances:
        name, _, n = spec.partition("=")
        if not n.isdigit() or int(n) < 1:
            parser.error(f"--instances {spec}: use FUNCTION=N with N >= 1")
        overrides[name] = int(n)
    limits = Limits(job_latency=args.job_latency, api_latency=args.api_latency, instances=overrides)
    mutating = 0
    with tempfile.TemporaryDirectory(prefix="pcf-bqmodel-") as tmp_name:
        tmp = Path(tmp_name)
        for seasons in args.seasons:
            db, label = seeded_copy(seasons, tmp)
            traces, processed, trace_s = trace_backfill(db)
            res = replay(traces, limits)
            chunks = ledger_dml_per_chunk(traces)
            mutating += sum(m for m, _ in chunks)
            report(label, processed, res, limits, trace_s, chunks)
            shutil.rmtree(tmp / f"synthetic{seasons}", ignore_errors=True)
            db.unlink(missing_ok=True)
    if mutating:
        print(f"FAIL: {mutating} mutating DML statement(s) on the ledger; it must be append-only")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
