"""The local stack: Pub/Sub emulator, bqemulator and one functions-framework server per function."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.config import REPO_ROOT, Settings
from shared.tools.stack.process import (
    Spawned,
    StackError,
    free_port,
    http_ok,
    is_alive,
    log_contains,
    port_free,
    port_open,
    read_pid_file,
    spawn,
    stop_groups,
    wait_until,
)
from shared.tools.stack.pubsub import SubscriptionInfo, plan_pubsub, provision_pubsub
from shared.topology import Topology, load_topology

HOST = "127.0.0.1"
DEFAULT_STATE_DIR = REPO_ROOT / ".pcf" / "stack"
STACK_FILE = "stack.json"
PUBSUB = "pubsub"
BIGQUERY = "bigquery"
FUNCTION_PREFIX = "fn-"
# Installs DuckDB's spatial extension from the duckdb-extension-spatial wheel (bqemulator
# runs `INSTALL spatial` at boot and cannot download it); a no-op once installed.
_SPATIAL_SCRIPT = """
import pathlib, duckdb, duckdb_extension_spatial as pkg
con = duckdb.connect()
row = con.execute(
    "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'"
).fetchone()
if not (row and row[0]):
    ext = pathlib.Path(pkg.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    ext = ext / "spatial.duckdb_extension"
    con.execute("INSTALL '" + str(ext).replace("'", "''") + "'")
con.execute("LOAD spatial")
"""


@dataclass(frozen=True)
class StackConfig:
    """How to start the stack: ports (0 = pick a free one), binaries, timeouts, extras."""

    pubsub_port: int = 8085
    bigquery_port: int = 9050
    bigquery_grpc_port: int = 9060
    functions_base_port: int = 8181
    dynamic_ports: bool = False
    bigquery_persistent: bool = True
    bigquery_log_level: str = "warning"
    startup_timeout: float = 120.0
    functions: tuple[str, ...] | None = None
    function_sources: Mapping[str, Path] = field(default_factory=dict)
    function_target: str = "handle"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    sdk_root: Path | None = None
    bqemulator_bin: Path | None = None
    functions_framework_bin: Path | None = None
    repo_root: Path = REPO_ROOT
    topology_path: Path | None = None


@dataclass(frozen=True)
class ServiceInfo:
    """One running service as recorded in stack.json."""

    name: str
    pid: int
    port: int
    log: str
    start_ticks: int | None = None
    function: str | None = None
    url: str | None = None
    startup_seconds: float | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """Liveness of one recorded service."""

    service: str
    pid: int
    port: int | None
    alive: bool


@dataclass(frozen=True)
class StackInfo:
    """How to reach a running stack; written to ``<state_dir>/stack.json``."""

    project: str
    state_dir: str
    started_at: str
    pubsub_emulator_host: str
    bigquery_api_endpoint: str
    bigquery_grpc_port: int
    services: tuple[ServiceInfo, ...]
    topics: tuple[str, ...]
    subscriptions: tuple[SubscriptionInfo, ...]

    def service(self, name: str) -> ServiceInfo:
        """The recorded service called ``name`` (KeyError if absent)."""
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (the stack.json content)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StackInfo:
        """Rebuild a StackInfo from ``to_dict`` output."""
        return cls(
            project=str(raw["project"]),
            state_dir=str(raw["state_dir"]),
            started_at=str(raw["started_at"]),
            pubsub_emulator_host=str(raw["pubsub_emulator_host"]),
            bigquery_api_endpoint=str(raw["bigquery_api_endpoint"]),
            bigquery_grpc_port=int(raw["bigquery_grpc_port"]),
            services=tuple(ServiceInfo(**s) for s in raw["services"]),
            topics=tuple(str(t) for t in raw["topics"]),
            subscriptions=tuple(SubscriptionInfo(**s) for s in raw["subscriptions"]),
        )


def resolve_state_dir(state_dir: Path | str | None = None) -> Path:
    """The stack's state directory (default ``<repo>/.pcf/stack``), absolute."""
    return Path(state_dir).resolve() if state_dir is not None else DEFAULT_STATE_DIR


def _client_env(project: str, pubsub_host: str, bigquery_endpoint: str) -> dict[str, str]:
    return {
        "PUBSUB_EMULATOR_HOST": pubsub_host,
        "PCF_BUS": "pubsub",
        "PCF_PROJECT": project,
        "PCF_WAREHOUSE": f"bigquery://{project}",
        "PCF_BIGQUERY_API_ENDPOINT": bigquery_endpoint,
    }


def stack_env(info: StackInfo) -> dict[str, str]:
    """Environment variables a client process needs to use the running stack."""
    return _client_env(info.project, info.pubsub_emulator_host, info.bigquery_api_endpoint)


def load_stack_info(state_dir: Path | str | None = None) -> StackInfo | None:
    """The recorded StackInfo of ``state_dir`` or None if no stack was started there."""
    path = resolve_state_dir(state_dir) / STACK_FILE
    try:
        return StackInfo.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_sdk_root() -> Path:
    """The Google Cloud SDK root holding the Pub/Sub emulator launcher."""
    launcher = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    gcloud = shutil.which("gcloud")
    if gcloud:
        guess = Path(gcloud).resolve().parent.parent
        if (guess / launcher).is_file():
            return guess
        try:
            out = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and (Path(out) / launcher).is_file():
            return Path(out)
    raise StackError(
        "Pub/Sub emulator not found: install the gcloud SDK component 'pubsub-emulator' "
        "(apt package google-cloud-cli-pubsub-emulator) and Java 17+"
    )


def status(state_dir: Path | str | None = None) -> list[ServiceStatus]:
    """Liveness of every service recorded in ``state_dir`` (stack.json, else PID files)."""
    root = resolve_state_dir(state_dir)
    info = load_stack_info(root)
    if info is not None:
        return [
            ServiceStatus(s.name, s.pid, s.port, is_alive(s.pid, s.start_ticks))
            for s in info.services
        ]
    out: list[ServiceStatus] = []
    for pid_file in sorted(root.glob("*.pid")):
        recorded = read_pid_file(pid_file)
        if recorded:
            out.append(ServiceStatus(pid_file.stem, recorded[0], None, is_alive(*recorded)))
    return out


def down(state_dir: Path | str | None = None, *, wipe: bool = False) -> list[ServiceStatus]:
    """Stop every recorded service (whole process groups); idempotent. Returns what ran."""
    root = resolve_state_dir(state_dir)
    info = load_stack_info(root)
    ports = {s.name: s.port for s in info.services} if info else {}
    pid_files = sorted(root.glob("*.pid"))
    recorded = {f.stem: read_pid_file(f) for f in pid_files}
    ran = set(stop_groups([r for r in recorded.values() if r is not None]))
    stopped = [
        ServiceStatus(name, r[0], ports.get(name), False)
        for name, r in recorded.items()
        if r is not None and r[0] in ran
    ]
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    (root / STACK_FILE).unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(root / "bigquery-data", ignore_errors=True)
    return stopped


def _child_env(overrides: Mapping[str, str], pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)  # children inherit the caller's environment, then ours wins
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p
        )
    env.update(overrides)
    return env


def _pick_ports(config: StackConfig, functions: list[str]) -> dict[str, int]:
    wanted = {
        PUBSUB: config.pubsub_port,
        BIGQUERY: config.bigquery_port,
        "bigquery-grpc": config.bigquery_grpc_port,
    }
    for i, fn in enumerate(functions):
        wanted[FUNCTION_PREFIX + fn] = (
            config.functions_base_port + i if config.functions_base_port else 0
        )
    chosen: dict[str, int] = {}
    for name, port in wanted.items():
        if config.dynamic_ports or port == 0:
            chosen[name] = free_port(HOST, frozenset(chosen.values()))
        elif not port_free(port, HOST):
            raise StackError(
                f"port {port} for {name} is in use (a stack already running elsewhere? "
                "stop it, pass another port, or use dynamic ports)"
            )
        else:
            chosen[name] = port
    return chosen


def _function_sources(config: StackConfig, topology: Topology) -> dict[str, Path]:
    names = [f.name for f in topology.functions]
    selected = list(config.functions) if config.functions is not None else names
    unknown = sorted(set(selected) - set(names))
    if unknown:
        raise StackError(f"unknown functions {unknown}; topology has {names}")
    sources = {
        fn: Path(config.function_sources.get(fn, config.repo_root / "functions" / fn / "main.py"))
        for fn in selected
    }
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise StackError(f"function sources not found: {missing}")
    return sources


def _ensure_spatial(bqemulator_bin: Path) -> None:
    python = bqemulator_bin.parent / "python"
    try:
        subprocess.run(
            [str(python), "-c", _SPATIAL_SCRIPT],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = str(getattr(exc, "stderr", "") or exc)
        raise StackError(
            f"cannot install DuckDB spatial for bqemulator from its wheel ({python}); "
            f"reinstall: {python} -m pip install -r requirements-bqemulator.txt\n{detail}"
        ) from exc


def _healthy(info: StackInfo) -> bool:
    return all(is_alive(s.pid, s.start_ticks) for s in info.services)


def up(
    state_dir: Path | str | None = None,
    config: StackConfig | None = None,
    settings: Settings | None = None,
) -> StackInfo:
    """Start (or reuse, if all alive) the stack, provision Pub/Sub, record stack.json."""
    config = config or StackConfig()
    settings = settings or Settings()
    root = resolve_state_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    topology = load_topology(config.topology_path) if config.topology_path else load_topology()
    project = settings.project

    existing = load_stack_info(root)
    if existing is not None and existing.project == project and _healthy(existing):
        ports = {s.function: s.port for s in existing.services if s.function}
        plan = plan_pubsub(settings, topology, ports, project=project, host=HOST)
        provision_pubsub(existing.pubsub_emulator_host, project, plan)
        return existing
    down(root)  # stale or partial: clean slate

    sources = _function_sources(config, topology)
    sdk_root = config.sdk_root or find_sdk_root()
    bq_bin = config.bqemulator_bin or config.repo_root / ".venv-bqemu" / "bin" / "bqemulator"
    if not bq_bin.is_file():
        raise StackError(
            f"bqemulator not found at {bq_bin}: python3 -m venv .venv-bqemu && "
            ".venv-bqemu/bin/pip install -r requirements-bqemulator.txt"
        )
    ff_bin = config.functions_framework_bin or Path(sys.executable).parent / "functions-framework"
    if not ff_bin.is_file():
        ff_bin = config.repo_root / ".venv" / "bin" / "functions-framework"
    _ensure_spatial(bq_bin)
    ports = _pick_ports(config, list(sources))

    pubsub_host = f"{HOST}:{ports[PUBSUB]}"
    bq_endpoint = f"http://{HOST}:{ports[BIGQUERY]}"
    client_env = _client_env(project, pubsub_host, bq_endpoint)
    started: list[tuple[Spawned, int, str | None, str | None]] = []
    timings: dict[str, float] = {}
    try:
        t0 = time.monotonic()
        pubsub_proc = spawn(
            PUBSUB,
            [
                str(sdk_root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
                f"--host={HOST}",
                f"--port={ports[PUBSUB]}",
            ],
            log=root / f"{PUBSUB}.log",
            pid_file=root / f"{PUBSUB}.pid",
            env=_child_env({}),
            cwd=root,
        )
        started.append((pubsub_proc, ports[PUBSUB], None, pubsub_host))
        bq_argv = [
            str(bq_bin),
            "start",
            f"--rest-host={HOST}",
            f"--rest-port={ports[BIGQUERY]}",
            f"--grpc-host={HOST}",
            f"--grpc-port={ports['bigquery-grpc']}",
            f"--project={project}",
            "--log-format=json",
            f"--log-level={config.bigquery_log_level}",
        ]
        if config.bigquery_persistent:
            data_dir = root / "bigquery-data"
            data_dir.mkdir(exist_ok=True)
            bq_argv += ["--persistent", f"--data-dir={data_dir}"]
        else:
            bq_argv.append("--ephemeral")
        bq_proc = spawn(
            BIGQUERY,
            bq_argv,
            log=root / f"{BIGQUERY}.log",
            pid_file=root / f"{BIGQUERY}.pid",
            env=_child_env(
                {
                    # Avro is the only other extension it tries to fetch; we load no Avro.
                    "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
                    # Every write snapshots the whole table for time travel (which we never
                    # query); expire them at once so the GC (every minute) keeps a long-lived
                    # persistent stack from growing by a table copy per write for 7 days.
                    "BQEMU_TIME_TRAVEL_RETENTION_DAYS": "0",
                }
            ),
            cwd=root,
        )
        started.append((bq_proc, ports[BIGQUERY], None, bq_endpoint))
        fn_env = {
            **client_env,
            "GOOGLE_CLOUD_PROJECT": project,
            "PYTHONUNBUFFERED": "1",
            **config.extra_env,
        }
        for fn, source in sources.items():
            name = FUNCTION_PREFIX + fn
            port = ports[name]
            proc = spawn(
                name,
                [
                    str(ff_bin),
                    f"--target={config.function_target}",
                    "--signature-type=cloudevent",
                    f"--source={source}",
                    f"--host={HOST}",
                    f"--port={port}",
                ],
                log=root / f"{name}.log",
                pid_file=root / f"{name}.pid",
                env=_child_env(fn_env, pythonpath=config.repo_root),
                cwd=config.repo_root,
            )
            started.append((proc, port, fn, f"http://{HOST}:{port}"))

        timeout = config.startup_timeout
        wait_until(
            pubsub_proc,
            log_contains(pubsub_proc.log, r"Server started"),
            timeout=timeout,
            what="Server started",
        )
        timings[PUBSUB] = time.monotonic() - t0
        wait_until(bq_proc, http_ok(f"{bq_endpoint}/readyz"), timeout=timeout, what="/readyz OK")
        timings[BIGQUERY] = time.monotonic() - t0
        for proc, port, served, _ in started:
            if served is not None:
                wait_until(proc, port_open(port, HOST), timeout=timeout, what=f"port {port} open")
                timings[proc.name] = time.monotonic() - t0

        function_ports = {served: port for _, port, served, _ in started if served is not None}
        plan = plan_pubsub(settings, topology, function_ports, project=project, host=HOST)
        provision_pubsub(pubsub_host, project, plan)
    except BaseException:
        down(root)
        raise

    info = StackInfo(
        project=project,
        state_dir=str(root),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        pubsub_emulator_host=pubsub_host,
        bigquery_api_endpoint=bq_endpoint,
        bigquery_grpc_port=ports["bigquery-grpc"],
        services=tuple(
            ServiceInfo(
                name=proc.name,
                pid=proc.pid,
                port=port,
                log=str(proc.log),
                start_ticks=proc.start_ticks,
                function=fn,
                url=url,
                startup_seconds=round(timings.get(proc.name, 0.0), 2),
            )
            for proc, port, fn, url in started
        ),
        topics=plan.topics,
        subscriptions=plan.subscriptions,
    )
    tmp = root / f".{STACK_FILE}.tmp"
    tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(root / STACK_FILE)
    return info
