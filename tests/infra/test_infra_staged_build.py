"""The staged build (infra/build.sh) runs on its own: each build/<function>/ serves under
functions-framework exactly as Cloud Functions starts it, and acks a malformed message with an
ERROR JSON log line (ARCHITECTURE §Contracts: bad input is logged and acknowledged, not retried)."""

from __future__ import annotations

import base64
import filecmp
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.infra_helpers import REPO_ROOT, TOPOLOGY_PATH

BUILD_SH = REPO_ROOT / "infra" / "build.sh"
FUNCTIONS = list(json.loads(TOPOLOGY_PATH.read_text(encoding="utf-8"))["functions"])
PRESENT = [fn for fn in FUNCTIONS if (REPO_ROOT / "functions" / fn / "main.py").is_file()]
FF_BIN = Path(sys.executable).parent / "functions-framework"
READY_TIMEOUT_S = 90.0


def _requires(fn: str) -> Any:
    return pytest.param(
        fn,
        marks=pytest.mark.skipif(
            fn not in PRESENT, reason=f"functions/{fn}/main.py does not exist yet"
        ),
    )


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """infra/build.sh output for every function that exists, in a temporary BUILD_DIR."""
    if not PRESENT:
        pytest.skip("no functions/<name>/main.py exists yet")
    build_dir = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [str(BUILD_SH), *PRESENT],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "BUILD_DIR": str(build_dir), "PYTHON": sys.executable},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return build_dir


def _isolated_env(source: Path, tmp: Path) -> dict[str, str]:
    """Only the staged folder on the path (never the repo), a throwaway embedded warehouse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCF_", "PYTHON"))}
    env.update(
        PYTHONPATH=str(source),
        PYTHONDONTWRITEBYTECODE="1",  # keep the staged folder (and its zip hash) clean
        PYTHONUNBUFFERED="1",
        PCF_WAREHOUSE=f"duckdb:///{tmp / 'wh.duckdb'}",
    )
    return env


@pytest.mark.parametrize("fn", [_requires(fn) for fn in FUNCTIONS])
def test_staged_folder_is_self_contained(staged: Path, fn: str) -> None:
    source = staged / fn
    assert filecmp.cmp(source / "main.py", REPO_ROOT / "functions" / fn / "main.py", shallow=False)
    assert filecmp.cmp(source / "requirements.txt", REPO_ROOT / "requirements.txt", shallow=False)
    assert (source / "infra" / "topology.json").is_file()
    schemas = sorted(p.name for p in (REPO_ROOT / "infra" / "schemas").glob("*.json"))
    assert sorted(p.name for p in (source / "infra" / "schemas").glob("*.json")) == schemas
    # Exactly the import closure of main.py in shared/ (shared.tools never ships).
    closure = subprocess.run(
        [sys.executable, "-m", "shared.tools.closure", fn],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout.split()
    staged_py = {p.relative_to(source) for p in (source / "shared").rglob("*.py")}
    assert staged_py == {Path(rel) for rel in closure if rel.endswith(".py")}
    assert not (source / "shared" / "tools").exists()
    assert not list(source.rglob("__pycache__"))
    assert not list(source.rglob("test_*.py"))


@pytest.mark.parametrize("fn", [_requires(fn) for fn in FUNCTIONS])
def test_staged_code_finds_its_data_files(staged: Path, fn: str, tmp_path: Path) -> None:
    """shared/ resolves infra/ next to itself: the staged copy must load schemas + topology."""
    source = staged / fn
    probe = (
        "import json, shared\n"
        "from shared.warehouse.schemas import load_schemas\n"
        "from shared.topology import load_topology\n"
        "print(json.dumps({'shared': shared.__file__, 'tables': sorted(load_schemas()),"
        " 'functions': sorted(f.name for f in load_topology().functions)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=source,
        env=_isolated_env(source, tmp_path),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["shared"]).resolve().is_relative_to(source.resolve())
    assert found["tables"] == sorted(
        p.stem for p in (REPO_ROOT / "infra" / "schemas").glob("*.json")
    )
    assert found["functions"] == sorted(FUNCTIONS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    fn: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _wait_ready(server: Server) -> None:
    """Bounded polling: any HTTP answer means the server is up."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    delay = 0.05
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"{server.fn} server exited {server.proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    pytest.fail(f"{server.fn} not ready after {READY_TIMEOUT_S}s:\n{server.output()}")


@pytest.fixture(scope="module")
def servers(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """One functions-framework server per staged function, started together."""
    if not FF_BIN.exists():
        pytest.skip(f"functions-framework not installed in {FF_BIN.parent}")
    started: dict[str, Server] = {}
    try:
        for fn in PRESENT:
            tmp = tmp_path_factory.mktemp(f"ff-{fn}")
            source = staged / fn
            port = _free_port()
            log_path = tmp / "server.log"
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(
                    [
                        str(FF_BIN),
                        "--target=handle",
                        "--signature-type=cloudevent",
                        f"--source={source / 'main.py'}",
                        "--host=127.0.0.1",
                        f"--port={port}",
                    ],
                    cwd=source,
                    env=_isolated_env(source, tmp),
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            started[fn] = Server(fn, port, proc, log_path)
        for server in started.values():
            _wait_ready(server)
        yield started
    finally:
        for server in started.values():
            server.proc.terminate()
        for server in started.values():
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=10)


def _malformed_event(fn: str, topic: str) -> bytes:
    """A structured-mode Pub/Sub CloudEvent whose message data is not JSON."""
    message_id = f"malformed-{fn}"
    event = {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": f"//pubsub.googleapis.com/projects/pcf-local/topics/{topic}",
        "id": message_id,
        "time": "2026-01-13T09:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "message": {
                "data": base64.b64encode(b"not json").decode(),
                "messageId": message_id,
                "publishTime": "2026-01-13T09:00:00Z",
                "attributes": {},
            },
            "subscription": f"projects/pcf-local/subscriptions/{topic}-test",
        },
    }
    return json.dumps(event).encode()


def _error_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("severity") == "ERROR":
            lines.append(entry)
    return lines


@pytest.mark.parametrize("fn", [_requires(fn) for fn in FUNCTIONS])
def test_malformed_message_is_acked_with_an_error_log(
    servers: dict[str, Server], fn: str, topology: dict[str, Any]
) -> None:
    server = servers[fn]
    cfg = topology["functions"][fn]
    trigger = (cfg.get("trigger_topics") or [cfg.get("trigger_topic")])[0]
    suffix = topology["delivery"]["dlq_suffix"]
    topic = topology["topics"][trigger.removesuffix(suffix)] + suffix * trigger.endswith(suffix)
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/",
        data=_malformed_event(fn, topic),
        headers={"Content-Type": "application/cloudevents+json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    output = server.output()
    assert 200 <= status < 300, f"{fn} answered {status} (a non-2xx is a retry):\n{output}"

    # The handler logs before it returns, and the server is unbuffered: poll the file briefly.
    deadline = time.monotonic() + 5
    errors = _error_lines(output)
    while not errors and time.monotonic() < deadline:
        time.sleep(0.1)
        output = server.output()
        errors = _error_lines(output)
    assert errors, f"{fn}: no ERROR JSON log line for the malformed message:\n{output}"
    assert any(f"malformed-{fn}" in json.dumps(e) for e in errors), (
        f"{fn}: the ERROR log line does not carry the message id:\n{output}"
    )
