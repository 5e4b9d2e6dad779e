"""Render a chunk's rows in worker processes (local tools only; the functions render in process).

Row rendering is pure Python (``shared.rules.render``) and holds the GIL, so on a laptop a
backfill otherwise uses one core while DuckDB, which releases the GIL, waits its turn. This
renderer splits a chunk's dates into one contiguous part per worker process and renders the
parts with the very same function, so every row is the one the in-process renderer makes.

- Small jobs (a single date, a test's few rows) render in the calling process: shipping them
  to a worker costs more than rendering them.
- Workers are plain child processes (``python -P .../shared/tools/render_worker.py``) fed
  through their stdin: nothing of the caller is re-imported or forked (the caller holds DuckDB
  threads), a worker whose parent goes away sees its stdin end and exits, and workers ignore
  Ctrl-C, which the CLI handles in the parent. The file runs as a script, not as
  ``-m shared.tools.render_worker``: importing the ``shared.tools`` package registers the local
  backends, which imports the runtime's messages and settings (pydantic) — 0.4 s of CPU and
  ~35 MiB per worker that rendering never uses, and that start-up ran on the same two cores as
  the backfill's first chunk.
- Several callers (bus workers) share the workers without deadlock: a caller waits for a free
  worker only while it holds none; otherwise it reuses its own.
- A worker that dies (killed, out of memory) or fails: its part is rendered in process, with
  a WARNING, and a fresh worker replaces it; after ``MAX_POOL_FAILURES`` failures in a row this
  process renders in process for good. Nothing is lost: the rows of a chunk are only written
  once all its dates are rendered.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import shared
from shared import log
from shared.app import App
from shared.config import Settings
from shared.rules.render import Rendered, RenderJob, render
from shared.tools.render_worker import read_frame, write_frame

# Below this many context rows a job renders in the calling process (one date is ~170 rows;
# shipping rows both ways costs ~10 % of rendering them).
MIN_POOLED_ROWS = 1000
MAX_POOL_FAILURES = 3
_MAX_AUTO_PROCESSES = 4
_STOP_TIMEOUT_S = 5.0
_WAKE_UPS = 64  # more than any number of callers (bus workers) waiting at close
# What a worker runs (after the interpreter): the worker module as a script; -P keeps its folder
# (shared/tools) off sys.path, where its modules would shadow top-level names.
WORKER_ARGS = ("-P", str(Path(__file__).with_name("render_worker.py")))


def processes_for(settings: Settings) -> int:
    """Worker processes for ``PCF_RENDER_PROCESSES`` (0: one per CPU, at most 4)."""
    if settings.render_processes:
        return settings.render_processes
    return max(1, min(os.cpu_count() or 1, _MAX_AUTO_PROCESSES))


def split(jobs: Sequence[RenderJob], parts: int) -> list[list[RenderJob]]:
    """Contiguous parts of ``jobs`` (order kept) of about equal context rows each."""
    total = sum(len(j.context_rows) for j in jobs)
    out: list[list[RenderJob]] = [[]]
    done = 0
    for job in jobs:
        size = len(job.context_rows)
        # A new part once this job's middle lies past the current part's share of the rows.
        if out[-1] and len(out) < parts and done + size / 2 > total * len(out) / parts:
            out.append([])
        out[-1].append(job)
        done += size
    return out


class WorkerFailed(Exception):
    """A worker died or could not render its part."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        root = str(Path(shared.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.proc = subprocess.Popen(  # our own interpreter and module
            [sys.executable, *WORKER_ARGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def send(self, jobs: Sequence[RenderJob]) -> None:
        assert self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, pickle.dumps(list(jobs), pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError) as exc:  # a broken pipe, or a pipe already closed
            raise WorkerFailed(f"worker {self.proc.pid} is gone ({exc})") from exc

    def receive(self) -> tuple[list[Rendered], float]:
        assert self.proc.stdout is not None
        try:
            payload = read_frame(self.proc.stdout)
        except OSError as exc:
            raise WorkerFailed(f"worker {self.proc.pid} is gone ({exc})") from exc
        if payload is None:
            raise WorkerFailed(f"worker {self.proc.pid} exited ({self.proc.poll()})")
        reply = pickle.loads(payload)  # our own child's reply
        if reply[0] != "ok":
            raise WorkerFailed(f"worker {self.proc.pid} failed: {reply[1]}")
        return reply[1], reply[2]

    def peak_rss(self) -> int:
        """The worker's peak resident set size in bytes (Linux; 0 where unknown)."""
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the worker sees its stdin end and exits
        try:
            self.proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            if self.proc.stdout is not None:
                self.proc.stdout.close()


class ProcessPoolRenderer:
    """A RowRenderer that renders large chunks in ``processes`` worker processes."""

    def __init__(self, processes: int, min_rows: int = MIN_POOLED_ROWS) -> None:
        if processes < 2:
            raise ValueError("a process pool renderer needs at least 2 processes")
        self.processes = processes
        self.min_rows = min_rows
        # Idle workers; None wakes up a caller waiting for one (a slot freed by a retirement).
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._failures = 0  # failed parts in a row
        self._local = threading.local()
        self._peak_rss = 0

    def _take(self, block: bool) -> _Worker | None:
        """An idle worker, a new one while under ``processes``, else (``block``) the next one
        freed; None when not blocking and none is free, when the renderer is closed, or when a
        worker cannot be started (the caller then renders in process)."""
        while True:
            while True:  # idle workers first, skipping retired ones and wake-ups
                try:
                    idle = self._idle.get_nowait()
                except queue.Empty:
                    break
                if idle is not None and idle in self._workers:
                    return idle
            with self._lock:
                if self._closed:
                    return None
                if len(self._workers) < self.processes:
                    try:
                        worker = _Worker()
                    except OSError as exc:  # e.g. no more processes allowed
                        failure: WorkerFailed | None = WorkerFailed(f"cannot start ({exc})")
                    else:
                        self._workers.append(worker)
                        return worker
                else:
                    failure = None
            if failure is not None:
                self._failed(failure)
                return None
            if not block:
                return None
            # Wait for a worker to be freed, or retired (a wake-up: a slot to start one in).
            freed = self._idle.get()
            if freed is not None and freed in self._workers:
                return freed

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            self._peak_rss = max(self._peak_rss, worker.peak_rss())
        worker.proc.kill()
        worker.stop()
        self._idle.put(None)

    def _failed(self, exc: WorkerFailed) -> None:
        with self._lock:
            self._failures += 1
            give_up = self._failures >= MAX_POOL_FAILURES
        log.event(
            "WARNING",
            f"row rendering in a worker process failed ({exc}); rendering that part in process"
            + (
                f", and every later chunk ({MAX_POOL_FAILURES} failures in a row)"
                if give_up
                else ", with a fresh worker next time"
            ),
            render_pool_failures=self._failures,
        )

    def __call__(self, jobs: Sequence[RenderJob]) -> list[Rendered]:
        """Render ``jobs`` in order: in the worker processes when large, else here."""
        if (
            len(jobs) < 2
            or self._failures >= MAX_POOL_FAILURES
            or sum(len(j.context_rows) for j in jobs) < self.min_rows
        ):
            return render(jobs)
        parts = split(jobs, self.processes)
        results: list[list[Rendered] | None] = [None] * len(parts)
        held: list[tuple[int, _Worker]] = []  # parts in flight, oldest first
        cpu = 0.0
        ok = True

        def collect() -> _Worker | None:
            """Wait for the oldest part in flight; its worker if it is still usable."""
            nonlocal cpu, ok
            index, worker = held.pop(0)
            try:
                results[index], spent = worker.receive()
            except WorkerFailed as exc:
                ok = False
                self._failed(exc)
                self._retire(worker)
                return None
            cpu += spent
            return worker

        try:
            for index, part in enumerate(parts):
                worker = self._take(block=not held)
                if worker is None and held:  # none free: reuse this call's oldest
                    worker = collect()
                if worker is None:  # closed, failed: this part renders below, in process
                    continue
                try:
                    worker.send(part)
                except WorkerFailed as exc:
                    ok = False
                    self._failed(exc)
                    self._retire(worker)
                    continue
                held.append((index, worker))
            while held:
                worker = collect()
                if worker is not None:
                    self._idle.put(worker)
        finally:
            for _, worker in held:  # only on an unexpected error: never reuse a busy worker
                self._retire(worker)
        if ok:
            with self._lock:
                self._failures = 0
        self._local.worker_cpu = self.worker_cpu() + cpu
        out: list[Rendered] = []
        for part, rendered in zip(parts, results, strict=True):
            out.extend(rendered if rendered is not None else render(part))
        return out

    def start(self) -> None:
        """Start every worker now (they import while the caller plans and queries), instead of
        on the first large chunk. A closed renderer starts nothing."""
        taken: list[_Worker] = []
        while (worker := self._take(block=False)) is not None:
            taken.append(worker)
        for worker in taken:  # only those taken here: a busy worker stays its caller's
            self._idle.put(worker)

    def worker_cpu(self) -> float:
        """CPU seconds the workers spent on the calling thread's jobs so far (benchmarks add it
        to the thread's own CPU time)."""
        return float(getattr(self._local, "worker_cpu", 0.0))

    def peak_worker_rss(self) -> int:
        """The largest peak RSS of any worker so far, in bytes (Linux; 0 where unknown)."""
        with self._lock:
            live = [w.peak_rss() for w in self._workers]
            return max([self._peak_rss, *live])

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        with self._lock:
            workers, self._workers, self._closed = self._workers, [], True
            for worker in workers:
                self._peak_rss = max(self._peak_rss, worker.peak_rss())
        for _ in range(_WAKE_UPS):  # callers waiting for a worker render in process instead
            self._idle.put(None)
        for worker in workers:
            worker.stop()


def warm(app: App) -> None:
    """Start the App's render workers now, if it has any (a backfill is about to run)."""
    start = getattr(app.renderer, "start", None)
    if callable(start):
        start()


def install(app: App) -> App:
    """Give a local App the process-pool renderer when more than one process is configured."""
    processes = processes_for(app.settings)
    if processes > 1:
        app.renderer = ProcessPoolRenderer(processes)
    return app
