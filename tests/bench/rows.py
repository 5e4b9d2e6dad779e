"""Row-building benchmark (issue 13): ``build_rows`` now vs the implementation it replaced.

Run from the repository root::

    python -m tests.bench.rows [--synthetic] [--db FILE] [--repeat N]

Seeds the real 2022-23 season when ``Settings().data_dir`` holds it (else a synthetic season,
seed 7) into a temporary DuckDB file — or copies ``--db``, an already seeded one, and never
writes to the original — then loads every game date's context rows from both sources (UPCG and
the PGS-synthesized fallback, whose NULL usage/pace take other paths) with ``load_contexts``.
On those same contexts, in the same process, it runs the current ``build_rows`` and the frozen
copy of the previous one (``tests.bench.rows_baseline``) once each and compares every row
(values, types, key order, JSON contexts, ``data_hash``) and every rejection; then it times
them alternately ``--repeat`` times and prints the median wall µs per row of each. Exit status
1 if a single row or rejection differs, else 0 (the speed-up is a ratio measured in one run: the
machine is shared, so absolute µs vary).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.rules.render import build_rows
from shared.rules.row import DEFAULT_CALCULATION_VERSION
from shared.usecases.process_date import load_contexts
from tests.bench import rows_baseline
from tests.bench.season import game_dates, open_app

SOURCES = ("UPCG", "PGS_SYNTHETIC")

Contexts = dict[date, list[dict[str, Any]]]
BuildRows = Callable[[list[dict[str, Any]], date, str, str], tuple[list[dict[str, Any]], list[str]]]


def seed_warehouse(db: Path, scratch: Path, synthetic: bool) -> str:
    """Seed ``db`` with the real season (or a synthetic one); return a label of the data."""
    from shared.tools.seed.load import seed

    settings = Settings()
    real = settings.data_dir if (settings.data_dir / "schedule_2022_23.csv").is_file() else None
    if synthetic or real is None:
        from shared.tools.seed import write_synthetic_season

        data_dir = write_synthetic_season(scratch / "synthetic", seed=7, seasons=1)
        label = "synthetic season (seed 7)"
    else:
        data_dir, label = real, f"real 2022-23 season ({real})"
    app = open_app(db)
    try:
        seed(app, data_dir)
    finally:
        app.close()
    return label


def load_all(db: Path) -> dict[str, Contexts]:
    """Every game date's context rows, from each source."""
    app = open_app(db)
    try:
        dates = game_dates(app)
        return {source: load_contexts(app, {source: dates}) for source in SOURCES}
    finally:
        app.close()


def run(build: BuildRows, contexts: Contexts, source: str, keep: bool) -> tuple[float, list[Any]]:
    """Build every date's rows once; (seconds, the outputs in date order if ``keep``).

    Outputs are kept only for the checked run: a season of rows held across the timed runs
    would make the garbage collector's passes, not the row building, dominate the noise."""
    outputs: list[Any] = []
    gc.collect()
    started = time.perf_counter()
    for day, rows in contexts.items():
        built = build(rows, day, source, DEFAULT_CALCULATION_VERSION)
        if keep:
            outputs.append(built)
    return time.perf_counter() - started, outputs


def differences(before: list[Any], after: list[Any]) -> list[str]:
    """Rows or rejections that differ (repr compares values, their types and the key order)."""
    found: list[str] = []
    for (rows_a, rejected_a), (rows_b, rejected_b) in zip(before, after, strict=True):
        if rejected_a != rejected_b:
            found.append(f"rejections differ: {rejected_a[:3]} vs {rejected_b[:3]}")
        if len(rows_a) != len(rows_b):
            found.append(f"row counts differ: {len(rows_a)} vs {len(rows_b)}")
            continue
        for row_a, row_b in zip(rows_a, rows_b, strict=True):
            if repr(row_a) != repr(row_b):
                keys = [k for k in row_a if repr(row_a.get(k)) != repr(row_b.get(k))]
                found.append(f"{row_a.get('game_date')} {row_a.get('player_lookup')}: {keys}")
    return found


def compare(contexts: Contexts, source: str, repeat: int) -> dict[str, Any]:
    """Time both implementations on the same contexts (alternating) and check every row."""
    n_rows = sum(len(rows) for rows in contexts.values())
    before_s: list[float] = []
    after_s: list[float] = []
    outputs: dict[str, list[Any]] = {}
    for name, build in (("before", rows_baseline.build_rows), ("after", build_rows)):
        outputs[name] = run(build, contexts, source, keep=True)[1]  # checked, and a warm-up
    problems = differences(outputs["before"], outputs["after"])
    written = sum(len(rows) for rows, _ in outputs["after"])
    del outputs
    for i in range(repeat):
        # Alternate which one runs first, so neither always inherits the other's warm caches.
        order = [("before", rows_baseline.build_rows), ("after", build_rows)]
        if i % 2:
            order.reverse()
        for name, build in order:
            seconds = run(build, contexts, source, keep=False)[0]
            (before_s if name == "before" else after_s).append(seconds)
    return {
        "rows": n_rows,
        "written": written,
        "before_us": statistics.median(before_s) / max(n_rows, 1) * 1e6,
        "after_us": statistics.median(after_s) / max(n_rows, 1) * 1e6,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    """Seed (or copy) a warehouse, compare both implementations per source, print the table."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.rows", description=__doc__)
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic season")
    parser.add_argument("--db", type=Path, help="an already seeded DuckDB file (copied first)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (median)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.db is not None and not args.db.is_file():
        parser.error(f"--db {args.db}: no such file; give a seeded DuckDB warehouse file")

    with tempfile.TemporaryDirectory(prefix="pcf-bench-rows-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "season.duckdb"
        if args.db is not None:
            shutil.copy(args.db, db)
            label = f"seeded warehouse {args.db} (a copy)"
        else:
            label = seed_warehouse(db, tmp, args.synthetic)
        contexts = load_all(db)

    print(f"Row building (issue 13) on the {label}; median of {args.repeat} runs each")
    print(
        f"{'source':<15}{'rows':>8}{'written':>9}{'before µs/row':>15}{'now µs/row':>12}"
        f"{'speed-up':>10}  identical"
    )
    failed = False
    for source in SOURCES:
        out = compare(contexts[source], source, args.repeat)
        identical = not out["problems"]
        failed |= not identical
        print(
            f"{source:<15}{out['rows']:>8,}{out['written']:>9,}{out['before_us']:>15.1f}"
            f"{out['after_us']:>12.1f}{out['before_us'] / max(out['after_us'], 1e-9):>9.2f}×"
            f"  {'yes' if identical else 'NO'}"
        )
        for problem in out["problems"][:10]:
            print(f"    differs: {problem}")
    if failed:
        print("FAILED: the current build_rows does not reproduce the previous rows exactly")
        return 1
    print("every row and rejection identical to the previous implementation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
