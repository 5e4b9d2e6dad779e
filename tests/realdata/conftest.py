"""Real-season fixtures: the 2022-23 box scores derived by the seed loader, and the raw logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shared.app import App
from shared.tools.duckdb_warehouse import DuckDBWarehouse
from shared.tools.seed import derive_tables
from shared.tools.seed.load import inject_stale_upcg
from tests.season_facts import INCIDENT, NEXT, STALE
from tests.unit.seed.conftest import STAMP

__all__ = ["STAMP"]


@pytest.fixture(scope="session")
def real_dir(real_data_dir: Path) -> Path:
    """The real-season folder (the root conftest skips with a reason when it is absent)."""
    return real_data_dir


@pytest.fixture(scope="session")
def real_tables(real_dir: Path) -> dict[str, pd.DataFrame]:
    return derive_tables(real_dir, processed_at=STAMP)


@pytest.fixture(scope="session")
def real_logs(real_dir: Path) -> pd.DataFrame:
    """The raw player logs, read independently of the loader (CSV split, not the parquet)."""
    files = sorted(real_dir.glob("player_game_logs_*.csv"))
    return pd.concat([pd.read_csv(f, dtype={"game_id": str}) for f in files], ignore_index=True)


@pytest.fixture(autouse=True)
def restore_pcf_logger() -> Iterator[None]:
    """``main()`` installs a stderr JSON handler on the pcf logger: remove it afterwards."""
    logger = logging.getLogger("pcf")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def incident(real_app: App) -> App:
    """The real season with the incident's stale UPCG (1 of 187, 68 of 175)."""
    assert inject_stale_upcg(real_app, STALE) == {INCIDENT: (187, 1), NEXT: (175, 68)}
    return real_app


@pytest.fixture
def incident_url(incident: App) -> str:
    """The incident warehouse, closed so the CLI can open it (one process-level connection)."""
    assert isinstance(incident.warehouse, DuckDBWarehouse)
    url = f"duckdb:///{incident.warehouse.path}"
    incident.close()
    return url
