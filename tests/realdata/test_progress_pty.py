"""A full real-season backfill at a 200×50 terminal: a moving bar with rate and ETA, then Ctrl-C.

Driven through a pseudo-terminal (the stdlib ``pty``), as an operator would see it: the bar
counts dates that reached a final state, Ctrl-C stops within 2 s with exit code 130, the dates not
started stay ``queued`` and the printed resume command plans exactly the unfinished dates.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.config import REPO_ROOT, Settings
from shared.rules.statuses import FINAL_OK
from shared.sql import ledger as ledger_sql
from shared.tools.cli.main import main
from shared.warehouse import Sql

pytestmark = pytest.mark.realdata

SEASON = Sql(
    "test.season",
    "SELECT MIN(game_date) AS a, MAX(game_date) AS b FROM {nba_schedule}",
)
# Dates per state (the latest row of each of the run's dates: the ledger is append-only).
LEDGER = Sql(
    "test.run_statuses",
    f"WITH state AS ({ledger_sql.states('game_date IS NOT NULL AND run_id = @run_id')}) "
    "SELECT status, COUNT(*) AS n FROM state GROUP BY status",
    {"run_id": "STRING"},
)
BAR = re.compile(r"(\d+)/(\d+) dates\s+(\d+\.\d) dates/s\s+ETA\s+(\d+:\d\d:\d\d|-:--:--)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Cursor up / erase line: what rich.live sends before it redraws the bar.
CURSOR = re.compile(r"\x1b\[\d*[AK]")
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d INFO    \d{4}-\d\d-\d\d ")


class Terminal:
    """A child process on a pty of a given size; output read with bounded waits."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 200, rows: int = 50):
        pid, fd = os.forkpty()
        if pid == 0:  # the child: becomes the session leader with the pty as its terminal
            try:
                os.chdir(REPO_ROOT)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        self.pid, self.fd, self.text = pid, fd, ""
        self.status: int | None = None

    def read_until(self, predicate: Callable[[str], object], timeout: float) -> bool:
        """Read output until ``predicate(text)`` holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not predicate(self.text):
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return bool(predicate(self.text))
        return True

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], min(timeout, 0.2))
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return False
            if not chunk:
                return False
            self.text += chunk.decode("utf-8", "replace")
        return True

    def wait(self, timeout: float) -> int | None:
        """Exit code once the child ended within ``timeout`` seconds, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self._read(0.05)
                return self.status
            self._read(0.02)
        return None

    def close(self) -> None:
        """Kill the child if still running, close the terminal."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


def bar_counts(text: str) -> list[int]:
    """Every ``done`` count the bar showed, in order."""
    return [int(m.group(1)) for m in BAR.finditer(ANSI.sub("", text))]


def plan_dates(text: str) -> range:
    """1..total of the bar."""
    bar = BAR.search(text)
    assert bar, f"no progress bar in {text[-200:]!r}"
    return range(1, int(bar.group(2)) + 1)


def eta_shown(text: str) -> list[str]:
    """The ETAs the bar showed once it had a rate."""
    return [m.group(4) for m in BAR.finditer(ANSI.sub("", text)) if m.group(4) != "-:--:--"]


def test_full_season_bar_then_ctrl_c(real_seeded_file: Path, tmp_path: Path) -> None:
    from shared.app import build_app
    from shared.tools.local_bus import LocalBus

    path = tmp_path / "season.duckdb"
    shutil.copy(real_seeded_file, path)
    url = f"duckdb:///{path}"
    app = build_app(Settings(warehouse=url), bus=LocalBus(workers=1))
    try:
        [season] = app.warehouse.query(SEASON)
    finally:
        app.close()
    start, end = season["a"].isoformat(), season["b"].isoformat()
    run_id = "pty-run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCF_") or k == "PCF_DATA_DIR"}
    # Chunks of 10 dates: 15 chunks for the season, so when Ctrl-C arrives after the first ones
    # finished, some have not started (with the default 50 both workers already hold the rest).
    env.update({"TERM": "xterm-256color", "PCF_LOG_LEVEL": "INFO", "PCF_CHUNK_SIZE": "10"})
    argv = [sys.executable, "-m", "shared.tools.cli", "backfill", "--start-date", start,
            "--end-date", end, "--run-id", run_id, "--warehouse", url]  # fmt: skip
    term = Terminal(argv, env)
    try:
        # The bar moves from the first seconds: a rate and an ETA, and a count that grows.
        assert term.read_until(lambda t: any(n > 0 for n in bar_counts(t)), 60), term.text[-2000:]
        first = max(bar_counts(term.text))
        assert term.read_until(lambda t: max(bar_counts(t)) > first, 30), term.text[-2000:]
        plain = ANSI.sub("", term.text)
        total = {int(m.group(2)) for m in BAR.finditer(plain)}
        assert len(total) == 1
        assert total.pop() == (season["b"] - season["a"]).days + 1
        # An ETA once a date is done (rate > 0).
        assert term.read_until(lambda t: bool(eta_shown(t)), 10), term.text[-2000:]

        os.write(term.fd, b"\x03")  # Ctrl-C, as typed: SIGINT to the foreground group
        sent = time.monotonic()
        code = term.wait(timeout=2.0)  # bounded: back at the prompt within 2 s, or fail
        assert code == 130, (code, term.text[-3000:])
        print(f"Ctrl-C to exit: {time.monotonic() - sent:.2f}s")
    finally:
        term.close()
    print(ANSI.sub("", term.text)[-1500:])  # what the operator saw last (pytest -s)

    out = ANSI.sub("", term.text)
    # Readable log lines (not JSON) above the bar, one per event, within the 200 columns. The
    # live bar is redrawn in place (carriage returns, cursor moves, line erases), so in the
    # captured byte stream a log line can follow the bar it replaced: a log line is what starts
    # at its timestamp.
    screen = ANSI.sub("", CURSOR.sub("\n", term.text))
    logs = [
        line[m.start() :]
        for line in screen.splitlines()
        if (m := LOG_LINE.search(line)) is not None
    ]
    assert any("data source check: UPCG has" in line for line in logs), out[-3000:]
    assert all(len(line) <= 200 for line in logs), [line for line in logs if len(line) > 200][:3]
    assert '{"severity"' not in out
    assert "interrupted: run pty-run stopped" in out
    [resume] = re.findall(r"resume the unfinished dates:\s+(pcf backfill .*--rerun missing)", out)
    assert "--rerun failed" in out
    assert f"pcf status --run-id {run_id}" in out

    app = build_app(Settings(warehouse=url), bus=LocalBus(workers=1))
    try:
        statuses = {r["status"]: r["n"] for r in app.warehouse.query(LEDGER, {"run_id": run_id})}
    finally:
        app.close()
    finished = sum(n for s, n in statuses.items() if s in ("succeeded", "warned"))
    assert finished > 0
    assert max(bar_counts(out)) <= len(plan_dates(out))
    assert statuses.get("queued", 0) > 0  # dates never started stay queued
    unfinished = sum(n for s, n in statuses.items() if s not in FINAL_OK)

    # The resume hint plans exactly the unfinished dates (dry run: nothing sent).
    args = shlex.split(resume)[1:]
    done = subprocess.run(
        [sys.executable, "-m", "shared.tools.cli", *args, "--dry-run", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["data"]["plan"]
    assert sum(1 for line in plan if line["action"] == "send") == unfinished
    assert callable(main)  # the in-process CLI is the same program (imported for type checkers)
