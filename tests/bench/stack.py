"""Stack benchmark: a month of dates through Pub/Sub push, functions-framework and bqemulator.

Run from the repository root::

    python -m tests.bench.stack [--reuse] [--synthetic] [--start 2023-02-01 --end 2023-02-28]

Brings a private stack up in a temporary folder (dynamic ports, DEBUG logs so every BigQuery
call's duration is logged by the adapter) — or, with ``--reuse``, uses the healthy one of
``make stack-up`` — seeds the real 2022-23 season (a synthetic one when the data set is absent),
warms the three functions up with one date, then publishes one BackfillRequest for the range
and waits until every game date is final in the ledger.

Figures: dates/s end to end (publish → last ledger update, server clock) and, per date, where
the time went along its path: Pub/Sub (publish, push queueing and delivery between the steps),
processing in the functions (Python), and BigQuery calls (bq_seconds of the adapter's DEBUG
lines). Target: >= 1 processed game date per second. Exit 0 when met, 1 when missed or a date
did not succeed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from shared.app import App, build_app
from shared.bus.pubsub import PubSubPublisher
from shared.config import Settings
from shared.messages import BackfillRequest
from shared.rules import statuses
from shared.rules.planning import DatePlan
from shared.sql import processing as processing_sql
from shared.tools.seed.load import seed
from shared.tools.stack import (
    DEFAULT_STATE_DIR,
    StackConfig,
    StackInfo,
    down,
    load_stack_info,
    publisher_client,
    status,
    up,
)
from shared.usecases import ledger

TARGET_DATES_PER_S = 1.0
FUNCTIONS = ("dispatch_backfill", "process_date", "validate_coverage")
FINAL = {*statuses.FINAL_OK, *statuses.RETRYABLE}
WARMUP_DATE = date(2023, 1, 18)
POLL_S = 1.0  # the poll itself is a bqemulator query: keep its load small


@dataclass
class Span:
    """One handler invocation as its log lines show it."""

    function: str
    message_id: str
    game_date: str | None
    start: float
    end: float
    bq_seconds: float = 0.0
    bq_calls: int = 0

    @property
    def seconds(self) -> float:
        """Wall time of the invocation."""
        return self.end - self.start


@dataclass
class Breakdown:
    """Per-date path components, in seconds."""

    pubsub: list[float] = field(default_factory=list)
    to_dispatch: list[float] = field(default_factory=list)
    to_process: list[float] = field(default_factory=list)
    to_validate: list[float] = field(default_factory=list)
    python: list[float] = field(default_factory=list)
    bigquery: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def spans(
    info: StackInfo, run_id: str
) -> tuple[dict[str, list[Span]], dict[tuple[str, str], list[float]]]:
    """Handler invocations of ``run_id`` per function, and every BigQuery call's duration per
    (function, statement), from the function servers' JSON logs."""
    out: dict[str, list[Span]] = {}
    calls: dict[tuple[str, str], list[float]] = defaultdict(list)
    for fn in FUNCTIONS:
        by_message: dict[str, Span] = {}
        path = Path(info.service(f"fn-{fn}").log)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("run_id") != run_id or "message_id" not in rec:
                continue
            t = _parse_time(rec["time"])
            bq = float(rec.get("bq_seconds") or 0.0)
            key = str(rec["message_id"])
            span = by_message.get(key)
            if span is None:
                span = by_message[key] = Span(fn, key, rec.get("game_date"), t - bq, t)
            # A DEBUG line is written when the call ends: the call started bq_seconds earlier.
            span.start = min(span.start, t - bq)
            span.end = max(span.end, t)
            if "bq_seconds" in rec:
                span.bq_seconds += bq
                span.bq_calls += 1
                kind = str(rec.get("bq_call"))
                # Statements by name; table operations (load, delete_table, ...) by kind.
                name = str(rec.get("bq_name")) if kind in ("query", "execute") else kind
                calls[(fn, name)].append(bq)
        out[fn] = sorted(by_message.values(), key=lambda s: s.start)
    return out, calls


def breakdown(
    found: dict[str, list[Span]], published: float, finals: dict[str, float]
) -> Breakdown:
    """Split every processed date's path (request publish → final) into Pub/Sub/Python/BigQuery."""
    result = Breakdown()
    dispatch = found["dispatch_backfill"]
    if not dispatch:
        return result
    d = dispatch[0]
    process = {s.game_date: s for s in found["process_date"]}
    validate = {s.game_date: s for s in found["validate_coverage"]}
    for day, final in finals.items():
        p, v = process.get(day), validate.get(day)
        if p is None or v is None:
            continue
        handlers = [d, p, v]
        bq = sum(s.bq_seconds for s in handlers)
        python = sum(s.seconds for s in handlers) - bq
        total = max(final, v.end) - published
        result.bigquery.append(bq)
        result.python.append(python)
        result.pubsub.append(total - bq - python)
        result.total.append(total)
        result.to_dispatch.append(d.start - published)
        result.to_process.append(p.start - d.end)
        result.to_validate.append(v.start - p.end)
    return result


@contextmanager
def bench_stack(reuse: bool) -> Iterator[tuple[StackInfo, bool]]:
    """A stack to measure: the running default one (``--reuse``) or a private one."""
    if reuse:
        info = load_stack_info(DEFAULT_STATE_DIR)
        if info is None or not all(s.alive for s in status(DEFAULT_STATE_DIR)):
            raise SystemExit("--reuse: no healthy stack in .pcf/stack (make stack-up)")
        yield info, True
        return
    with tempfile.TemporaryDirectory(prefix="pcf-bench-stack-") as tmp:
        config = StackConfig(
            dynamic_ports=True,
            bigquery_persistent=False,
            startup_timeout=180,
            extra_env={"PCF_LOG_LEVEL": "DEBUG"},
        )
        started = time.perf_counter()
        info = up(Path(tmp), config)
        print(f"stack up in {time.perf_counter() - started:.1f}s (state {tmp})", flush=True)
        try:
            yield info, False
        finally:
            down(Path(tmp))


def app_on(info: StackInfo) -> App:
    """An App on the stack (BigQuery on bqemulator, publisher bound to the emulator)."""
    settings = Settings(
        project=info.project,
        warehouse=f"bigquery://{info.project}",
        bigquery_api_endpoint=info.bigquery_api_endpoint,
        bus="pubsub",
    )
    bus = PubSubPublisher(settings, client=publisher_client(info.pubsub_emulator_host))
    return build_app(settings, bus=bus)


def game_dates(app: App, start: date, end: date) -> list[date]:
    """Dates of the range process_date will process (one DATE_PLAN query)."""
    rows = app.warehouse.query(processing_sql.DATE_PLAN, {"start_date": start, "end_date": end})
    plans = [DatePlan.from_row(r, "backfill", app.settings.bootstrap_days) for r in rows]
    return [p.game_date for p in plans if p.action == "process"]


def backfill(app: App, start: date, end: date, expect: int, timeout: float) -> tuple[str, float]:
    """Publish one request, wait until ``expect`` dates are final; return (run_id, publish time)."""
    run_id = f"bench-{uuid.uuid4().hex[:10]}"
    request = BackfillRequest(
        start_date=start, end_date=end, rerun="all", requested_by="bench", run_id=run_id
    )
    published = time.time()
    app.bus.publish("backfill_requests", request)
    deadline = time.monotonic() + timeout
    while True:
        rows = ledger.latest_by_date(app.warehouse, start, end, run_id=run_id)
        final = [r for r in rows.values() if r["status"] in FINAL]
        if len(rows) >= expect and len(final) == len(rows):
            return run_id, published
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {len(final)}/{expect} dates final after {timeout:.0f}s")
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.stack", description=__doc__)
    parser.add_argument("--reuse", action="store_true", help="use the running make stack-up")
    parser.add_argument("--synthetic", action="store_true", help="synthetic season even if real")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2023, 2, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2023, 2, 28))
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.end < args.start:
        parser.error("--end is before --start")

    with bench_stack(args.reuse) as (info, _reused):
        app = app_on(info)
        try:
            return measure(app, info, args)
        finally:
            app.close()


def measure(app: App, info: StackInfo, args: argparse.Namespace) -> int:
    """Seed, warm up, run the measured backfill and print the figures."""
    data_dir = Settings().data_dir
    with tempfile.TemporaryDirectory(prefix="pcf-bench-season-") as tmp:
        if args.synthetic or not (data_dir / "schedule_2022_23.csv").exists():
            from shared.tools.seed import write_synthetic_season

            data_dir = write_synthetic_season(Path(tmp), seed=7)
            print(f"synthetic season in {data_dir}")
        started = time.perf_counter()
        seeded = seed(app, data_dir)
    print(
        f"seeded {sum(seeded.rows.values())} rows into bqemulator in "
        f"{time.perf_counter() - started:.1f}s (derive {seeded.derive_seconds:.1f}s, "
        f"load {seeded.load_seconds:.1f}s)",
        flush=True,
    )

    started = time.perf_counter()
    backfill(app, WARMUP_DATE, WARMUP_DATE, 1, args.timeout)
    print(f"warm-up (1 date, cold function servers): {time.perf_counter() - started:.1f}s")

    dates = game_dates(app, args.start, args.end)
    calendar = (args.end - args.start).days + 1
    print(
        f"backfill {args.start}..{args.end}: {calendar} dates, {len(dates)} game dates", flush=True
    )
    run_id, published = backfill(app, args.start, args.end, len(dates), args.timeout)
    rows = ledger.latest_by_date(app.warehouse, args.start, args.end, run_id=run_id)
    last = max(r["updated_at"] for r in rows.values()).timestamp()
    wall = last - published
    statuses: defaultdict[str, int] = defaultdict(int)
    for r in rows.values():
        statuses[r["status"]] += 1

    found, statements = spans(info, run_id)
    finals = {d.isoformat(): r["updated_at"].timestamp() for d, r in rows.items()}
    parts = breakdown(found, published, finals)
    rate = len(dates) / wall
    ok = rate >= TARGET_DATES_PER_S and statuses.get("succeeded", 0) == len(dates)

    print()
    print(f"run {run_id}: {dict(statuses)}")
    print(f"end to end          {wall:7.1f} s  (publish -> last ledger update)")
    print(f"game dates / s      {rate:7.2f}    target >= {TARGET_DATES_PER_S:.1f}")
    print(f"calendar dates / s  {calendar / wall:7.2f}    ({calendar} dates incl. off-days)")
    for fn, items in found.items():
        if not items:
            continue
        secs = [s.seconds for s in items]
        bq = [s.bq_seconds for s in items]
        calls = [s.bq_calls for s in items]
        print(
            f"{fn:<19} {len(items):3d} calls, median {statistics.median(secs):5.2f} s "
            f"(BigQuery {statistics.median(bq):5.2f} s in {statistics.median(calls):.0f} calls)"
        )
    if statements:
        print("BigQuery calls (function / statement: count, median, max):")
        for (fn, name), secs in sorted(statements.items(), key=lambda kv: -sum(kv[1])):
            print(
                f"  {fn:<18} {name:<34} {len(secs):3d}  {statistics.median(secs):5.3f} s"
                f"  {max(secs):5.3f} s"
            )
    timed = any(s.bq_calls for items in found.values() for s in items)
    if parts.total:
        total = sum(parts.total)
        print("per-date path (request publish -> final), share of time:")
        shares = [("Pub/Sub delivery + push queueing", parts.pubsub)]
        if timed:
            shares += [
                ("processing (Python in functions)", parts.python),
                ("BigQuery calls", parts.bigquery),
            ]
        else:
            # Without the adapter's DEBUG lines the functions' time cannot be split.
            both = [a + b for a, b in zip(parts.python, parts.bigquery, strict=True)]
            shares.append(("functions (BigQuery included)", both))
        for name, values in shares:
            share = 100 * sum(values) / total
            print(f"  {name:<34} {share:5.1f} %  (mean {statistics.mean(values):5.2f} s)")
        print(f"  mean path {statistics.mean(parts.total):.1f} s over {len(parts.total)} dates")
        print(
            "Pub/Sub hops (median): request -> dispatch "
            f"{statistics.median(parts.to_dispatch):.2f} s, dispatch -> process_date "
            f"{statistics.median(parts.to_process):.2f} s (queued: 2 pushes at a time), "
            f"process_date -> validate {statistics.median(parts.to_validate):.2f} s"
        )
    if not timed:
        print("no BigQuery timings: the stack logs at INFO (up --env PCF_LOG_LEVEL=DEBUG)")
    verdict = "OK" if ok else "MISSED"
    print(f"\n{verdict}: {rate:.2f} game dates/s (target >= {TARGET_DATES_PER_S:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
