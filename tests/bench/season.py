"""Season benchmark: seed, per-date processing (issue 2) and a full-season backfill (issue 3).

Run from the repository root::

    python -m tests.bench.season [--synthetic] [--workers N] [--keep DIR]

The real 2022-23 season is used when ``Settings().data_dir`` holds it, else a synthetic season
is generated into a temporary folder. Each phase runs in its own child process, so the peak RSS
(``ru_maxrss``) printed for it is that phase's own. Exit status: 0 when every target is met,
1 when one is missed (or a date ends in the wrong state), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from typing_extensions import override

from shared.app import App, build_app
from shared.config import REPO_ROOT, Settings
from shared.tools import render_pool
from shared.tools.local_bus import LocalBus
from shared.warehouse import Sql, Warehouse
from tests.bench.fingerprint import windows
from tests.fakes import DelegatingWarehouse

GIB = 1024**3
TARGETS = {
    "seed_s": 60.0,  # seed the season: < 60 s
    "process_trips": 8.0,  # issue 2: warehouse round trips per processed date
    "backfill_s": 30.0,  # issue 3: all game dates of the season through the bus
    "backfill_trips": 10.0,  # issue 3: round trips per processed date, end to end
    "rss_bytes": float(GIB),  # every phase
}

GAME_DATES = Sql(
    "bench.game_dates",
    """
SELECT DISTINCT game_date
FROM {nba_schedule}
WHERE game_date BETWEEN @start_date AND @end_date AND game_status = 3
ORDER BY game_date
""",
    {"start_date": "DATE", "end_date": "DATE"},
)


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def open_app(db: Path, bus: LocalBus | None = None) -> App:
    """An App on the DuckDB file ``db`` with an (unwired) local bus."""
    app = build_app(Settings(warehouse=f"duckdb:///{db}"), bus=bus or LocalBus(workers=1))
    return render_pool.install(app)  # as `pcf` renders: in worker processes


def game_dates(app: App) -> list[date]:
    """Every date of the seeded schedule with a final game."""
    rows = app.warehouse.query(
        GAME_DATES, {"start_date": date(1990, 1, 1), "end_date": date(2100, 1, 1)}
    )
    return [r["game_date"] for r in rows]


class ThreadTally(DelegatingWarehouse):
    """Our Warehouse port around a real adapter, counting the round trips of one thread."""

    def __init__(self, inner: Warehouse, thread: threading.Thread) -> None:
        super().__init__(inner)
        self.thread = thread
        self.thread_trips = 0

    @override
    def observe(self, operation: str, sql: Sql | None = None) -> None:
        """Tally calls made from the measured thread."""
        if threading.current_thread() is self.thread:
            self.thread_trips += 1


class TimingBus(LocalBus):
    """The local bus, adding up each game date's delivery CPU time (process + validate).

    CPU time of the delivering thread (Python and the DuckDB work it runs), not wall time: wall
    time per delivery also counts waits for the write lock and for other processes on the
    machine, which vary with what runs concurrently rather than with the date's own cost.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.per_date: defaultdict[str, float] = defaultdict(float)
        self._timing_lock = threading.Lock()
        self.renderer: Any = None  # the App's; its worker processes' CPU counts too

    def _cpu(self) -> float:
        worker_cpu = getattr(self.renderer, "worker_cpu", None)
        return time.thread_time() + (worker_cpu() if callable(worker_cpu) else 0.0)

    def _deliver(self, item: Any) -> None:
        started = self._cpu()
        try:
            super()._deliver(item)
        finally:
            # A message may carry a chunk of dates: share its CPU among them.
            days = getattr(item.message, "game_dates", None) or [
                getattr(item.message, "game_date", None)
            ]
            spent = (self._cpu() - started) / len(days)
            with self._timing_lock:
                for day in days:
                    if day is not None:
                        self.per_date[day.isoformat()] += spent


def season_of(day: date) -> int:
    """NBA season start year of a date (October starts a season)."""
    return day.year if day.month >= 8 else day.year - 1


def cost_per_season(per_date: Mapping[str, float]) -> dict[int, float]:
    """Median delivery CPU seconds per processed date, per season start year.

    The median, not the mean: a DuckDB checkpoint is paid by whichever statement crosses the WAL
    threshold, so a few chunks carry a checkpoint's cost wherever it falls; the last/first ratio
    of means swung from 0.86 to 1.52 between identical five-season runs."""
    by: dict[int, list[float]] = {}
    for day, seconds in per_date.items():
        by.setdefault(season_of(date.fromisoformat(day)), []).append(seconds)
    return {year: statistics.median(v) for year, v in sorted(by.items())}


# -- phases (each in its own child process) -----------------------------------------------------
def phase_seed(db: Path, data_dir: Path | None, scratch: Path, seasons: int = 1) -> dict[str, Any]:
    """Seed the season into ``db`` (generating ``seasons`` synthetic ones when ``data_dir`` is
    None)."""
    from shared.tools.seed.load import seed

    generate_s = 0.0
    if data_dir is None:
        from shared.tools.seed import write_synthetic_season

        started = time.perf_counter()
        data_dir = write_synthetic_season(scratch / f"synthetic{seasons}", seed=7, seasons=seasons)
        generate_s = time.perf_counter() - started
    app = open_app(db)
    try:
        started = time.perf_counter()
        result = seed(app, data_dir)
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return {
        "seconds": seconds,
        "generate_s": generate_s,
        "derive_s": result.derive_seconds,
        "load_s": result.load_seconds,
        "rows": sum(result.rows.values()),
        "rss": peak_rss_bytes(),
    }


def phase_process(db: Path) -> dict[str, Any]:
    """Issue 2: process_date on every game date, no bus wiring (just the processing)."""
    from shared.entrypoint import Delivery
    from shared.messages import ProcessDate
    from shared.usecases.process_date import process_date

    app = open_app(db)
    try:
        dates = game_dates(app)
        wh = app.warehouse
        trips: dict[str, int] = {}
        written_trips: list[int] = []
        statuses: Counter[str] = Counter()
        rows = 0
        wrong: list[str] = []
        started = time.perf_counter()
        for day in dates:
            before = wh.round_trips
            result = process_date(
                app,
                ProcessDate(run_id="bench-process", game_date=day),
                Delivery(f"bench-{day}", 1, None, {}),
            )
            trips[day.isoformat()] = wh.round_trips - before
            statuses[result.status] += 1
            if result.status == "written":
                written_trips.append(trips[day.isoformat()])
                rows += result.rows_written
                if result.rows_written != result.expected_players:
                    wrong.append(f"{day}: {result.rows_written}/{result.expected_players} rows")
        seconds = time.perf_counter() - started
        published = len(app.bus.messages("validate_coverage"))  # type: ignore[attr-defined]
    finally:
        app.close()
    return {
        "dates": len(dates),
        "statuses": dict(statuses),
        "rows": rows,
        "seconds": seconds,
        "trips": trips,
        "written_trips": written_trips,
        "handoffs": published,
        "wrong": wrong,
        "rss": peak_rss_bytes(),
    }


def phase_backfill(db: Path, workers: int) -> dict[str, Any]:
    """Issue 3: the whole season through dispatch → process → validate on the local bus."""
    from shared.entrypoint import Delivery
    from shared.messages import BackfillRequest
    from shared.tools.registry import wire_local_bus
    from shared.usecases import ledger
    from shared.usecases.dispatch_backfill import dispatch_backfill

    bus = TimingBus(workers=workers)
    plain = open_app(db, bus=bus)
    tally = ThreadTally(plain.warehouse, threading.current_thread())
    app = App(settings=plain.settings, warehouse=tally, bus=bus, renderer=plain.renderer)
    bus.renderer = app.renderer
    wire_local_bus(app, bus)
    render_pool.warm(app)  # as `pcf backfill` does
    try:
        dates = game_dates(app)
        trips_before, tally.thread_trips = tally.round_trips, 0
        started, cpu_started = time.perf_counter(), time.process_time()
        lines = sent = 0
        # A multi-season range is longer than one request may be: split it like an operator.
        for start, end in windows(dates[0], dates[-1], app.settings.max_dates_per_request):
            result = dispatch_backfill(
                app,
                BackfillRequest(
                    start_date=start,
                    end_date=end,
                    requested_by="bench",
                    run_id="bench-season",
                ),
                Delivery(None, None, None, {}),
            )
            lines += len(result.lines)
            sent += len(result.sent)
        dispatch_s = time.perf_counter() - started
        dispatch_trips = tally.thread_trips
        bus.drain()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        total_trips = tally.round_trips - trips_before
        latest = ledger.latest_by_date(app.warehouse, dates[0], dates[-1], run_id="bench-season")
        statuses = Counter(str(r["status"]) for r in latest.values())
        wrong = [
            f"{d}: {r['status']} {r['actual_players']}/{r['expected_players']} players"
            for d, r in latest.items()
            if r["status"] != "skipped_bootstrap"
            and (r["status"] != "succeeded" or r["actual_players"] != r["expected_players"])
        ]
        if len(latest) != len(dates):
            wrong.append(f"{len(dates) - len(latest)} game dates have no ledger row")
        dead = len(bus.dead_letters())
    finally:
        app.close()  # also stops the render workers: their CPU is in RUSAGE_CHILDREN now
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_worker_rss = getattr(app.renderer, "peak_worker_rss", None)
    return {
        "game_dates": len(dates),
        "calendar_dates": lines,
        "sent": sent,
        "statuses": dict(statuses),
        "seconds": seconds,
        # This process and its render worker processes (their start-up included).
        "cpu_seconds": cpu_seconds + children.ru_utime + children.ru_stime,
        # From each worker's own VmHWM (RUSAGE_CHILDREN's ru_maxrss counts a child's pages
        # between fork and exec, i.e. this process's size).
        "worker_rss": peak_worker_rss() if callable(peak_worker_rss) else 0,
        "render_processes": getattr(app.renderer, "processes", 1),
        "season_cost": cost_per_season(bus.per_date),
        "dispatch_s": dispatch_s,
        "trips": total_trips,
        "dispatch_trips": dispatch_trips,
        "dead_letters": dead,
        "wrong": wrong,
        "rss": peak_rss_bytes(),
    }


def phase_floor(db: Path, repeat: int) -> dict[str, Any]:
    """The set-based floor on a backfilled copy: median time and the row check."""
    from tests.bench.floor import measure

    out = dict(measure(db, repeat=repeat))
    out["rss"] = peak_rss_bytes()
    return out


# -- orchestration ------------------------------------------------------------------------------
def _child(phase: str, out: Path, **options: Any) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.bench.season", "--phase", phase, "--out", str(out)]
    for key, value in options.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(cmd, cwd=REPO_ROOT, check=True, env=os.environ.copy())
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def _mib(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def report(
    source: str,
    workers: int,
    seed: Mapping[str, Any],
    proc: Mapping[str, Any],
    bf: Mapping[str, Any],
) -> list[str]:
    """Print the results table; return the missed targets (and correctness problems)."""
    lines: list[tuple[str, str, str, str, bool | None]] = []

    def row(phase: str, metric: str, value: str, target: str = "", ok: bool | None = None) -> None:
        lines.append((phase, metric, value, target, ok))

    row("seed", "seconds", f"{seed['seconds']:.1f}", "< 60", seed["seconds"] < TARGETS["seed_s"])
    row("seed", "derive / load seconds", f"{seed['derive_s']:.1f} / {seed['load_s']:.1f}")
    if seed["generate_s"]:
        row("seed", "synthetic generation seconds", f"{seed['generate_s']:.1f}")
    row("seed", "input rows", f"{seed['rows']:,}")
    row("seed", "peak RSS", _mib(seed["rss"]), "<= 1 GiB", seed["rss"] <= TARGETS["rss_bytes"])

    written = proc["written_trips"]
    n_written = proc["statuses"].get("written", 0)
    all_trips = list(proc["trips"].values())
    p = "process (issue 2)"
    skipped = proc["dates"] - n_written
    row(p, "game dates (written / skipped)", f"{proc['dates']} ({n_written} / {skipped})")
    row(p, "total seconds", f"{proc['seconds']:.1f}")
    row(p, "dates/s", f"{proc['dates'] / proc['seconds']:.1f}")
    row(p, "player-rows/s", f"{proc['rows'] / proc['seconds']:,.0f} ({proc['rows']:,} rows)")
    row(
        p,
        "round trips/date: max",
        str(max(written)),
        "<= 8",
        max(written) <= TARGETS["process_trips"],
    )
    row(p, "round trips/date: mean", f"{statistics.mean(written):.2f}", "<= 8")
    row(p, "round trips/skipped date", f"{min(all_trips)}")
    row(p, "peak RSS", _mib(proc["rss"]), "<= 1 GiB", proc["rss"] <= TARGETS["rss_bytes"])

    b = "backfill (issue 3)"
    processed = bf["statuses"].get("succeeded", 0) + bf["statuses"].get("warned", 0)
    per_date = bf["trips"] / max(processed, 1)
    row(b, "game dates (calendar days)", f"{bf['game_dates']} ({bf['calendar_dates']})")
    row(b, "statuses", ", ".join(f"{k} {v}" for k, v in sorted(bf["statuses"].items())))
    row(
        b,
        f"wall seconds, all {bf['game_dates']} game dates",
        f"{bf['seconds']:.1f}",
        "<= 30",
        bf["seconds"] <= TARGETS["backfill_s"],
    )
    row(b, "dates/s", f"{bf['game_dates'] / bf['seconds']:.1f}")
    row(
        b,
        "round trips/processed date",
        f"{per_date:.2f} ({bf['trips']} / {processed})",
        "<= 10",
        per_date <= TARGETS["backfill_trips"],
    )
    row(
        b,
        "  of which dispatch",
        f"{bf['dispatch_trips'] / max(processed, 1):.3f} ({bf['dispatch_trips']} trips total, "
        f"{bf['dispatch_s']:.2f} s)",
    )
    row(b, "dead letters", str(bf["dead_letters"]), "0", bf["dead_letters"] == 0)
    row(b, "peak RSS", _mib(bf["rss"]), "<= 1 GiB", bf["rss"] <= TARGETS["rss_bytes"])

    texts = [r[:4] for r in lines]
    widths = [max(len(t[i]) for t in texts) for i in range(4)]
    header = ("phase", "metric", "value", "target")
    print(f"PCF season benchmark — {source}; {os.cpu_count()} CPUs; {workers} bus workers")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  ok")
    print("  ".join("-" * w for w in widths) + "  ----")
    for r in lines:
        ok = "" if r[4] is None else ("yes" if r[4] else "MISSED")
        print("  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + f"  {ok}")

    missed = [f"{r[0]}: {r[1]} = {r[2]} (target {r[3]})" for r in lines if r[4] is False]
    missed += [f"process: {w}" for w in proc["wrong"]]
    missed += [f"backfill: {w}" for w in bf["wrong"]]
    if proc["handoffs"] != n_written:
        missed.append(f"process: {proc['handoffs']} ValidateCoverage for {n_written} dates")
    return missed


def backfills(base: Path, tmp: Path, name: str, workers: int, repeat: int) -> list[dict[str, Any]]:
    """``repeat`` backfills of ``base``, each on a fresh copy and each followed at once by one
    floor run on that copy (``floor_seconds``: the pair sees the same machine load, so their ratio
    holds while this shared machine's speed drifts); the last copy stays for the floor."""
    runs = []
    db = tmp / f"{name}.duckdb"
    for _ in range(repeat):
        shutil.copy(base, db)
        run = _child("backfill", tmp / f"{name}.json", db=db, workers=workers)
        run["floor_seconds"] = _child("floor", tmp / f"{name}_floor.json", db=db, repeat=1)[
            "seconds"
        ]
        runs.append(run)
    return runs


# Issue 13's targets for the embedded backfill (checked, MISSED when not met).
FLOOR_RATIO = 3.0  # project wall / set-based floor wall
WALL_ONE_SEASON_S = 4.0
WALL_SEASONS_S = 15.0  # the multi-season run
TRIPS_PER_DATE = 1.5
RSS_BYTES = 400.0 * 1024**2
SEASON_COST = (0.90, 1.10)  # cost per date, last season / first season


def throughput_report(
    label: str,
    runs: list[dict[str, Any]],
    floor: Mapping[str, Any],
    seed: Mapping[str, Any],
    wall_target: float,
) -> list[str]:
    """Print issue 13's figures for one data set; return the missed targets and problems."""
    wall = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    last = runs[-1]
    processed = last["statuses"].get("succeeded", 0) + last["statuses"].get("warned", 0)
    # The target is the backfill's (the embedded run with validation); seeding and the floor
    # are printed beside it.
    rss = max(r["rss"] for r in runs)
    worker_rss = max(r.get("worker_rss", 0) for r in runs)
    # Per season, the median over the runs (JSON keys are str).
    costs = {
        int(year): statistics.median(r["season_cost"][year] for r in runs)
        for year in last["season_cost"]
    }
    trips = last["trips"] / max(processed, 1)
    # Each backfill against the floor run right after it, on the same copy: the median ratio.
    ratio = statistics.median(r["seconds"] / r["floor_seconds"] for r in runs)
    missed: list[str] = []

    def check(ok: bool, what: str) -> str:
        if not ok:
            missed.append(f"{label}: {what}")
        return "" if ok else "  MISSED"

    print(f"\n{label}: {processed} processed dates, {floor['project_rows']:,} rows")
    print(
        f"  project backfill   {wall:7.2f} s wall  {cpu:7.2f} s CPU  (median of {len(runs)}; "
        f"target <= {wall_target:g} s)" + check(wall <= wall_target, f"wall {wall:.2f} s")
    )
    print(
        f"  set-based floor    {floor['seconds']:7.2f} s wall  {floor['cpu_seconds']:7.2f} s CPU  "
        f"(median of {floor['repeat']}, {floor['statements']} statements: every output column "
        f"incl. JSON contexts and data_hash, written; the numbers alone "
        f"{floor['compute_seconds']:.2f} s)"
    )
    print(
        f"  ratio project/floor {ratio:6.2f}x wall  (median of {len(runs)} pairs, each backfill "
        f"and a floor run right after it; target <= {FLOOR_RATIO:g}x)"
        + check(ratio <= FLOOR_RATIO, f"project/floor {ratio:.2f}x")
    )
    print(
        f"  floor rows = project rows on the numeric columns: {floor['mismatches']} mismatches "
        f"of {floor['project_rows']:,}"
    )
    print(
        f"  round trips        {trips:7.2f} per processed date (target <= {TRIPS_PER_DATE:g})"
        + check(trips <= TRIPS_PER_DATE, f"{trips:.2f} round trips per date")
    )
    print(
        f"  peak RSS, backfill {_mib(rss):>9}   (target <= {_mib(RSS_BYTES)}; "
        f"seeding {_mib(seed['rss'])}, the floor {_mib(floor['rss'])})"
        + check(rss <= RSS_BYTES, f"peak RSS {_mib(rss)}")
    )
    if last.get("render_processes", 1) > 1:
        print(
            f"  render workers     {last['render_processes']} processes, peak RSS "
            f"{_mib(worker_rss)} each (CPU above includes theirs)"
        )
    if len(costs) > 1:
        years = sorted(costs)
        first, final = costs[years[0]], costs[years[-1]]
        per = ", ".join(f"{y}-{(y + 1) % 100:02d} {c * 1000:.0f} ms" for y, c in costs.items())
        low, high = SEASON_COST
        print(f"  delivery CPU per date by season (median): {per}")
        print(
            f"  cost per date, last season / first season: {final / first:.2f} "
            f"(target: flat, {low:.2f}-{high:.2f})"
            + check(low <= final / first <= high, f"cost per date x{final / first:.2f}")
        )
    missed += [f"{label}: {w}" for w in last["wrong"]]
    if floor["mismatches"]:
        missed.append(f"{label}: {floor['mismatches']} rows differ from the set-based floor")
    return missed


def run_all(synthetic: bool, workers: int, keep: Path | None, repeat: int, seasons: int) -> int:
    """Seed once, then run the phases on private copies; print the tables."""
    settings = Settings()
    real = settings.data_dir if (settings.data_dir / "schedule_2022_23.csv").is_file() else None
    if synthetic:
        real = None
    with tempfile.TemporaryDirectory(prefix="pcf-bench-") as tmp_name:
        tmp = keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        base = tmp / "season.duckdb"
        for stale in (base, tmp / "process.duckdb", tmp / "backfill.duckdb"):
            stale.unlink(missing_ok=True)
        seed = _child("seed", tmp / "seed.json", db=base, data_dir=real, scratch=tmp, seasons=1)
        shutil.copy(base, tmp / "process.duckdb")
        proc = _child("process", tmp / "process.json", db=tmp / "process.duckdb")
        runs = backfills(base, tmp, "backfill", workers, repeat)
        bf = runs[-1]
        floor = _child("floor", tmp / "floor.json", db=tmp / "backfill.duckdb", repeat=5)
        source = f"real 2022-23 season ({real})" if real else "synthetic season (seed 7)"
        missed = report(source, workers, seed, proc, bf)
        print("\nThroughput (issue 13)")
        missed += throughput_report(source, runs, floor, seed, WALL_ONE_SEASON_S)
        if seasons > 1:
            multi = tmp / f"seasons{seasons}.duckdb"
            multi.unlink(missing_ok=True)
            seed_n = _child(
                "seed", tmp / "seed_n.json", db=multi, data_dir=None, scratch=tmp, seasons=seasons
            )
            runs_n = backfills(multi, tmp, f"backfill{seasons}", workers, repeat)
            floor_n = _child(
                "floor", tmp / "floor_n.json", db=tmp / f"backfill{seasons}.duckdb", repeat=3
            )
            print(
                f"  ({seasons} synthetic seasons generated in {seed_n['generate_s']:.1f} s, "
                f"seeded in {seed_n['seconds']:.1f} s)"
            )
            missed += throughput_report(
                f"{seasons} synthetic seasons (seed 7)",
                runs_n,
                floor_n,
                seed_n,
                WALL_SEASONS_S,
            )
    if missed:
        print("\nMISSED:")
        for m in missed:
            print(f"  - {m}")
        return 1
    print("\nall targets met")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run one phase (child) or the whole benchmark."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.season", description=__doc__)
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic season")
    parser.add_argument(
        "--workers", type=int, default=Settings().local_workers, help="local bus workers"
    )
    parser.add_argument("--keep", type=Path, help="keep the DuckDB files in this folder")
    parser.add_argument(
        "--repeat", type=int, default=3, help="full-season backfills to take the median of"
    )
    parser.add_argument(
        "--seasons", type=int, default=5, help="synthetic seasons for the scaling run (1: skip)"
    )
    parser.add_argument(
        "--phase", choices=["seed", "process", "backfill", "floor"], help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.repeat < 1 or args.seasons < 1:
        parser.error("--repeat and --seasons must be at least 1")
    if args.phase is None:
        return run_all(args.synthetic, args.workers, args.keep, args.repeat, args.seasons)

    from shared import log

    log.configure("ERROR")  # the pipeline's INFO/WARNING lines would drown the table
    if args.phase == "seed":
        result = phase_seed(args.db, args.data_dir, args.scratch, args.seasons)
    elif args.phase == "process":
        result = phase_process(args.db)
    elif args.phase == "floor":
        result = phase_floor(args.db, args.repeat)
    else:
        result = phase_backfill(args.db, args.workers)
    args.out.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
