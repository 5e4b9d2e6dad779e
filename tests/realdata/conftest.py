"""Real-season fixtures: the 2022-23 box scores derived by the seed loader, and the raw logs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shared.tools.seed import derive_tables
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
