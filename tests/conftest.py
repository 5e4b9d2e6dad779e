"""Shared fixtures: embedded apps (in-memory and seeded real season), log capture and the one
pcf-logger reset every test gets."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import shared.tools  # noqa: F401  (registers the DuckDB warehouse and the local bus)
from shared.app import App, build_app
from shared.config import Settings
from shared.tools.local_bus import LocalBus
from shared.tools.registry import wire_local_bus


def make_app(warehouse: str, workers: int = 2, wire: bool = True) -> App:
    """An App on ``warehouse`` with a local bus (wired to every function when ``wire``)."""
    bus = LocalBus(workers=workers, min_backoff_s=0.001, max_backoff_s=0.01)
    app = build_app(Settings(warehouse=warehouse), bus=bus)
    if wire:
        wire_local_bus(app, bus)
    return app


@pytest.fixture
def app() -> Iterator[App]:
    """An empty in-memory warehouse with every table, on a wired local bus."""
    a = make_app("duckdb://:memory:")
    a.warehouse.create_all()
    yield a
    a.close()


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real 2022-23 season (PCF_DATA_DIR, default ../shared/data/nba_2022_23)."""
    path = Settings().data_dir
    if not (path / "schedule_2022_23.csv").exists():
        pytest.skip(
            f"real-season data not found at {path}: set PCF_DATA_DIR to the nba_2022_23 folder "
            "(CI has it beside the clone)"
        )
    return path


@pytest.fixture(scope="session")
def real_seeded_file(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file seeded once per session with the untouched real season."""
    from shared.tools.seed.load import seed

    path = tmp_path_factory.mktemp("real") / "season.duckdb"
    a = make_app(f"duckdb:///{path}", wire=False)
    try:
        seed(a, real_data_dir)
    finally:
        a.close()
    return path


@pytest.fixture
def real_app(real_seeded_file: Path, tmp_path: Path) -> Iterator[App]:
    """A private copy of the seeded real season, on a wired local bus."""
    path = tmp_path / "season.duckdb"
    shutil.copy(real_seeded_file, path)
    a = make_app(f"duckdb:///{path}")
    yield a
    a.close()


class JsonLogs:
    """Structured log records captured from the ``pcf`` logger."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every pcf record as the JSON object it is logged as."""
        from shared.log import JsonFormatter

        fmt = JsonFormatter()
        out: list[dict[str, Any]] = []
        for r in self.caplog.records:
            if r.name == "pcf":
                out.append(json.loads(fmt.format(r)))
        return out

    def find(self, severity: str | None = None, contains: str = "") -> list[dict[str, Any]]:
        """Records with ``severity`` whose message contains ``contains``."""
        return [
            r
            for r in self.records
            if (severity is None or r["severity"] == severity) and contains in r["message"]
        ]


@pytest.fixture(autouse=True)
def reset_pcf_logger() -> Iterator[None]:
    """Put the ``pcf`` logger back as it was: ``pcf`` (main) and the entry point install a stderr
    JSON handler and set a level, which must not outlive the test that caused it."""
    logger = logging.getLogger("pcf")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> JsonLogs:
    """Capture pcf logs at DEBUG and read them back as JSON objects."""
    caplog.set_level(logging.DEBUG, logger="pcf")
    return JsonLogs(caplog)
