"""Seed test fixtures: the real 2022-23 season (skipped when absent) and a synthetic one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from shared.seed import derive_tables, write_synthetic_season

STAMP = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)


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


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_season(tmp_path_factory.mktemp("synthetic"), seed=7)


@pytest.fixture(scope="session")
def synthetic_tables(synthetic_dir: Path) -> dict[str, pd.DataFrame]:
    return derive_tables(synthetic_dir, processed_at=STAMP)
