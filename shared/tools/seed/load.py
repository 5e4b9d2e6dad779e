"""Use case ``seed``: derive the input tables from box-score files and load them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared import log
from shared.app import App
from shared.errors import PermanentError
from shared.sql import seed as sql
from shared.warehouse.schemas import input_tables

LOAD_SLICE_ROWS = 40_000


@dataclass
class SeedResult:
    """Rows loaded per table, stale injections applied and timings."""

    source_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    stale: dict[date, tuple[int, int]] = field(default_factory=dict)
    derive_seconds: float = 0.0
    load_seconds: float = 0.0


def seed(app: App, source_dir: Path, stale_upcg: Mapping[date, int] | None = None) -> SeedResult:
    """Replace every input table with what ``source_dir`` derives to, then inject stale UPCG."""
    from shared.tools.seed.derive import system_arrow_pool

    with system_arrow_pool():
        result = _seed(app, source_dir)
    if stale_upcg:
        result.stale = inject_stale_upcg(app, stale_upcg)
    log.event(
        "INFO",
        f"seeded {sum(result.rows.values())} rows from {source_dir}",
        rows=result.rows,
        derive_seconds=round(result.derive_seconds, 2),
        load_seconds=round(result.load_seconds, 2),
    )
    return result


def _seed(app: App, source_dir: Path) -> SeedResult:
    from shared.tools.seed.derive import iter_tables

    result = SeedResult(source_dir=source_dir)
    # One table at a time: derived, loaded, dropped (a five-season history held whole as six
    # frames took hundreds of MiB). The folder is fully checked before the first table comes.
    tables = iter_tables(source_dir)
    started = time.perf_counter()
    pending = next(tables, None)
    result.derive_seconds += time.perf_counter() - started
    started = time.perf_counter()
    app.warehouse.create_all()
    result.load_seconds += time.perf_counter() - started
    while pending is not None:
        table, frame = pending
        pending = None
        started = time.perf_counter()
        app.warehouse.execute(sql.EMPTY_TABLE, {}, target=app.warehouse.table(table))
        # In slices: the rows are converted for loading a slice at a time (same rows, same order).
        result.rows[table] = sum(
            app.warehouse.insert_rows(table, frame.iloc[start : start + LOAD_SLICE_ROWS])
            for start in range(0, len(frame), LOAD_SLICE_ROWS)
        )
        del frame
        result.load_seconds += time.perf_counter() - started
        started = time.perf_counter()
        pending = next(tables, None)
        result.derive_seconds += time.perf_counter() - started
    result.rows = {table: result.rows[table] for table in input_tables()}
    return result


def inject_stale_upcg(app: App, stale_upcg: Mapping[date, int]) -> dict[date, tuple[int, int]]:
    """Keep only N UPCG players on each date; return {date: (before, after)}."""
    done: dict[date, tuple[int, int]] = {}
    for game_date, keep in sorted(stale_upcg.items()):
        if keep < 0:
            raise PermanentError(f"--stale-upcg {game_date}={keep}: N must be 0 or more")
        before = int(
            app.warehouse.query(sql.UPCG_PLAYERS_ON, {"game_date": game_date})[0]["players"]
        )
        if before == 0:
            raise PermanentError(
                f"--stale-upcg {game_date}={keep}: UPCG has no rows on {game_date} "
                "(is it a game date of the seeded season?)"
            )
        if keep > before:
            raise PermanentError(
                f"--stale-upcg {game_date}={keep}: only {before} UPCG players on that date"
            )
        app.warehouse.execute(sql.KEEP_FIRST_UPCG, {"game_date": game_date, "keep": keep})
        done[game_date] = (before, keep)
        log.event(
            "WARNING",
            f"injected stale UPCG on {game_date}: kept {keep} of {before} players",
            game_date=game_date,
            upcg_before=before,
            upcg_after=keep,
        )
    return done
