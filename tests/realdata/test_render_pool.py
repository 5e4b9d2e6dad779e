"""The local tools' process-pool renderer makes exactly the rows the in-process renderer makes
(real 2022-23 contexts), keeps small jobs in process, and survives a dead worker."""

from __future__ import annotations

import os
import signal
import threading
from datetime import date, timedelta

import pytest

from shared.app import App
from shared.config import Settings
from shared.rules.render import RenderedRows, RenderJob, RowColumns, render
from shared.tools import render_pool
from shared.tools.render_pool import ProcessPoolRenderer, split
from shared.usecases.process_date import load_contexts
from tests.conftest import JsonLogs

pytestmark = pytest.mark.realdata

# A 30-date chunk of the real season (the default chunk size), all with UPCG context.
FIRST = date(2022, 11, 1)
CHUNK = [FIRST + timedelta(days=i) for i in range(30)]


def _jobs(app: App) -> list[RenderJob]:
    contexts = load_contexts(app, {"UPCG": CHUNK})
    version = app.settings.calculation_version
    return [RenderJob(contexts[d], d, "UPCG", version) for d in CHUNK if contexts[d]]


def test_pool_renders_every_row_of_a_chunk_exactly_as_in_process(real_app: App) -> None:
    jobs = _jobs(real_app)
    rows = sum(len(j.context_rows) for j in jobs)
    assert len(jobs) == 28  # no games on 2022-11-08 (Election Day) and 2022-11-24
    assert rows == 4699
    renderer = ProcessPoolRenderer(2)
    try:
        pooled = renderer(jobs)
        assert len(renderer._workers) == 2  # it really went to the workers
        assert renderer.worker_cpu() > 0
        assert renderer.peak_worker_rss() > 0
    finally:
        renderer.close()
    local = render(jobs)
    # Back by column (cheap to load), the very rows rendered in process, in order.
    assert all(isinstance(r.rows, RowColumns) for r in pooled)
    assert [list(r.rows) for r in pooled] == [r.rows for r in local]
    assert [r.rejected for r in pooled] == [r.rejected for r in local]
    assert sum(len(r.rows) for r in pooled) == 4699


def test_small_jobs_render_in_process_without_starting_workers(real_app: App) -> None:
    jobs = _jobs(real_app)[:5]  # five dates, under MIN_POOLED_ROWS context rows
    assert sum(len(j.context_rows) for j in jobs) < render_pool.MIN_POOLED_ROWS
    renderer = ProcessPoolRenderer(2)
    try:
        assert [r.rows for r in renderer(jobs)] == [r.rows for r in render(jobs)]
        assert renderer._workers == []
    finally:
        renderer.close()


def test_a_dead_worker_falls_back_in_process_then_a_fresh_one(
    real_app: App, logs: JsonLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(real_app)
    expected = [r.rows for r in render(jobs)]
    renderer = ProcessPoolRenderer(2)
    try:
        assert [r.rows for r in renderer(jobs)] == expected
        first = {w.proc.pid for w in renderer._workers}
        os.kill(renderer._workers[0].proc.pid, signal.SIGKILL)
        assert [r.rows for r in renderer(jobs)] == expected  # that part rendered in process
        assert logs.find("WARNING", "with a fresh worker next time")
        assert [r.rows for r in renderer(jobs)] == expected
        now = {w.proc.pid for w in renderer._workers}
        assert len(now) == 2
        assert len(now - first) == 1  # the dead one was replaced
        # Workers that die at start every time: after MAX_POOL_FAILURES failures in a row,
        # in process for good (no more workers are started).
        for worker in list(renderer._workers):
            renderer._retire(worker)
        monkeypatch.setattr(render_pool, "WORKER_ARGS", ("-c", "raise SystemExit(3)"))
        for _ in range(2):
            assert [r.rows for r in renderer(jobs)] == expected
        assert logs.find("WARNING", "and every later chunk (3 failures in a row)")
        started = len(renderer._workers)
        assert [r.rows for r in renderer(jobs)] == expected
        assert len(renderer._workers) == started
    finally:
        renderer.close()
    renderer.close()  # idempotent
    closed = ProcessPoolRenderer(2)
    closed.close()
    assert [r.rows for r in closed(jobs)] == expected  # in process, no worker started
    assert closed._workers == []


def test_warm_starts_every_worker_before_the_first_chunk(real_app: App) -> None:
    renderer = ProcessPoolRenderer(3)
    real_app.renderer = renderer
    try:
        render_pool.warm(real_app)
        pids = {w.proc.pid for w in renderer._workers}
        assert len(pids) == 3
        assert [r.rows for r in renderer(_jobs(real_app))] == [
            r.rows for r in render(_jobs(real_app))
        ]
        assert {w.proc.pid for w in renderer._workers} == pids  # the warm ones did the work
    finally:
        renderer.close()
    render_pool.warm(real_app)  # closed: nothing to start, no error
    real_app.renderer = render
    render_pool.warm(real_app)  # in process: nothing to start


def test_a_caller_waiting_for_a_worker_at_close_renders_in_process(real_app: App) -> None:
    """Close while a caller waits for a worker (both held by another caller): it is woken and
    renders in process — no hang, no error."""
    jobs = _jobs(real_app)
    expected = [r.rows for r in render(jobs)]
    renderer = ProcessPoolRenderer(2)
    held = [renderer._take(block=False), renderer._take(block=False)]  # another caller's
    assert all(w is not None for w in held)
    got: list[RenderedRows] = []
    caller = threading.Thread(target=lambda: got.extend(r.rows for r in renderer(jobs)))
    caller.start()
    caller.join(timeout=0.5)
    assert caller.is_alive()  # waiting for a free worker
    renderer.close()
    caller.join(timeout=30)
    assert not caller.is_alive()
    assert got == expected


def test_a_worker_that_cannot_start_renders_in_process(
    real_app: App, logs: JsonLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_worker: object) -> None:
        raise OSError("Resource temporarily unavailable")

    jobs = _jobs(real_app)
    monkeypatch.setattr(render_pool._Worker, "__init__", refuse)
    renderer = ProcessPoolRenderer(2)
    try:
        assert [r.rows for r in renderer(jobs)] == [r.rows for r in render(jobs)]
        assert logs.find("WARNING", "cannot start (Resource temporarily unavailable)")
    finally:
        renderer.close()


def test_workers_exit_when_their_parent_goes(real_app: App) -> None:
    """A worker's stdin is its parent's alone: when it closes (the parent exits or is
    killed), the worker exits instead of lingering as an orphan."""
    renderer = ProcessPoolRenderer(2)
    try:
        renderer(_jobs(real_app))
        worker = renderer._workers[0]
        assert worker.proc.stdin is not None
        worker.proc.stdin.close()
        assert worker.proc.wait(timeout=10) == 0
    finally:
        renderer.close()


def test_split_keeps_order_and_balances_rows(real_app: App) -> None:
    jobs = _jobs(real_app)
    parts = split(jobs, 2)
    assert [j for part in parts for j in part] == jobs
    sizes = [sum(len(j.context_rows) for j in part) for part in parts]
    assert len(parts) == 2
    assert abs(sizes[0] - sizes[1]) <= 250
    assert split(jobs[:1], 4) == [jobs[:1]]
    assert [len(p) for p in split(jobs[:3], 4)] == [1, 1, 1]


def test_install_follows_the_setting(real_app: App) -> None:
    assert render_pool.processes_for(Settings(render_processes=3)) == 3
    assert render_pool.processes_for(Settings(render_processes=0)) == max(
        1, min(os.cpu_count() or 1, 4)
    )
    real_app.settings = Settings(render_processes=1)
    assert render_pool.install(real_app).renderer is render
    real_app.settings = Settings(render_processes=2)
    renderer = render_pool.install(real_app).renderer
    assert isinstance(renderer, ProcessPoolRenderer)
    assert renderer.processes == 2
    with pytest.raises(ValueError, match="at least 2"):
        ProcessPoolRenderer(1)


def test_concurrent_callers_share_the_workers(real_app: App) -> None:
    """Four bus threads render at once through two workers: every caller gets its own rows,
    and none waits forever (a caller waits for a worker only while it holds none)."""
    jobs = _jobs(real_app)
    halves = [jobs[:14], jobs[14:]]
    expected = [[r.rows for r in render(h)] for h in halves]
    renderer = ProcessPoolRenderer(2, min_rows=100)
    got: dict[int, list[RenderedRows]] = {}

    def call(i: int) -> None:
        got[i] = [r.rows for r in renderer(halves[i % 2])]

    try:
        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert len(renderer._workers) == 2  # never more than configured
    finally:
        renderer.close()
    assert [got[i] for i in range(4)] == [expected[0], expected[1], expected[0], expected[1]]
