"""Seed test fixtures: a deterministic synthetic season (the real one lives in tests/realdata)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from shared.tools.seed import derive_tables, write_synthetic_season

STAMP = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_season(tmp_path_factory.mktemp("synthetic"), seed=7)


@pytest.fixture(scope="session")
def synthetic_tables(synthetic_dir: Path) -> dict[str, pd.DataFrame]:
    return derive_tables(synthetic_dir, processed_at=STAMP)
