"""Background services with PID files: start in their own process group, wait, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.1


class StackError(RuntimeError):
    """A stack service could not be started, reached or stopped."""


@dataclass(frozen=True)
class Spawned:
    """A service process just started: its pid (= process group id) and identity."""

    name: str
    pid: int
    start_ticks: int | None
    log: Path
    popen: subprocess.Popen[bytes]


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is index 0), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (identifies it across PID reuse)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _reap(pid: int) -> None:
    # Our own children linger as zombies until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, when given, started at ``start_ticks``."""
    if pid <= 0:
        return False
    _reap(pid)
    fields = _stat_fields(pid)
    if fields is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return start_ticks is None
    if fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or process_start_ticks(pid) == start_ticks


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if fields and len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(pid)
    return members


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    pid_file: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> Spawned:
    """Start ``argv`` detached in a new session, output to ``log``, pid to ``pid_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(cwd),
                env=dict(env),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {name}: {argv[0]}: {exc}") from exc
    ticks = process_start_ticks(popen.pid)
    pid_file.write_text(f"{popen.pid} {ticks if ticks is not None else ''}\n", encoding="utf-8")
    return Spawned(name=name, pid=popen.pid, start_ticks=ticks, log=log, popen=popen)


def read_pid_file(pid_file: Path) -> tuple[int, int | None] | None:
    """(pid, start_ticks) recorded in ``pid_file``, or None if missing or malformed."""
    try:
        parts = pid_file.read_text(encoding="utf-8").split()
    except OSError:
        return None
    if not parts or not parts[0].isdigit():
        return None
    ticks = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return int(parts[0]), ticks


def log_tail(log: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty string if unreadable)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _failure(proc: Spawned, what: str) -> StackError:
    return StackError(
        f"{proc.name} (pid {proc.pid}) {what}; last lines of {proc.log}:\n{log_tail(proc.log)}"
    )


def wait_until(proc: Spawned, ready: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll ``ready`` until true; fail fast if ``proc`` exits; return the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if ready():
            return time.monotonic() - started
        code = proc.popen.poll()
        if code is not None:
            raise _failure(proc, f"exited with code {code} before {what}")
        if time.monotonic() >= deadline:
            raise _failure(proc, f"did not reach '{what}' within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def log_contains(log: Path, pattern: str) -> Callable[[], bool]:
    """Readiness probe: the log file matches the regular expression ``pattern``."""
    regex = re.compile(pattern)

    def probe() -> bool:
        try:
            return regex.search(log.read_text(encoding="utf-8", errors="replace")) is not None
        except OSError:
            return False

    return probe


def http_ok(url: str) -> Callable[[], bool]:
    """Readiness probe: GET ``url`` answers 2xx."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return probe


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """Readiness probe: a TCP connection to ``host:port`` succeeds."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    return probe


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (it can be bound now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: TIME_WAIT leftovers of a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", avoid: frozenset[int] = frozenset()) -> int:
    """A TCP port the OS reports free now (not in ``avoid``)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise StackError("could not find a free TCP port")


def _signal_group(pgid: int, members: list[int], sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _members_left(pgids: list[int]) -> dict[int, list[int]]:
    for pgid in pgids:
        _reap(pgid)
    left = {pgid: group_members(pgid) for pgid in pgids}
    return {pgid: members for pgid, members in left.items() if members}


def _wait_gone(pgids: list[int], timeout: float) -> dict[int, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        left = _members_left(pgids)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_SECONDS)


def stop_groups(recorded: Sequence[tuple[int, int | None]], *, grace: float = 10.0) -> list[int]:
    """Stop the process groups led by each (pid, start_ticks): TERM all, wait, then KILL.

    Returns the pids whose group had live processes. A live leader whose start time differs
    from the recorded one is a reused PID and is left alone; orphaned members of a group whose
    leader is gone are still stopped.
    """
    running: dict[int, list[int]] = {}
    for pid, start_ticks in recorded:
        if is_alive(pid) and start_ticks is not None and process_start_ticks(pid) != start_ticks:
            continue
        members = group_members(pid)
        if members:
            running[pid] = members
        else:
            _reap(pid)
    for pgid, members in running.items():
        _signal_group(pgid, members, signal.SIGTERM)
    left = _wait_gone(list(running), grace)
    if left:
        for pgid, members in left.items():
            _signal_group(pgid, members, signal.SIGKILL)
        left = _wait_gone(list(left), 5.0)
        if left:
            raise StackError(f"processes survived SIGKILL: {left}")
    return list(running)
