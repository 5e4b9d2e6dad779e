"""Seeding one season / one table at a time (issue 13, memory): the same files and tables as the
whole-history implementation it replaced, with at most one derived table alive at a time.

The reference numbers were taken from the previous implementation (main at 9f051c7, which wrote
every season from one concatenated frame and derived all six tables before loading any) on the
2-season synthetic run with seed 7: SHA-256 prefixes of the files, and per table the row count
and an order-independent checksum (the wrapping sum of pandas' per-row hashes, which hash every
float by its bits, so a changed last digit changes the sum).
"""

from __future__ import annotations

import gc
import hashlib
import weakref
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.tools.seed import SeedError, derive_tables, write_synthetic_season
from shared.tools.seed.derive import iter_tables
from shared.tools.seed.load import seed
from shared.warehouse.schemas import input_tables
from tests.conftest import make_app

STAMP = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

FILES = {
    "player_game_logs_synthetic.csv": "3346344545422f25",
    "player_shot_zones_synthetic.csv": "2fb5a8786743b03f",
    "players_synthetic.csv": "64bcc448ecc97a3b",
    "schedule_synthetic.csv": "48e0e1b48c8c9d49",
    "team_game_logs_synthetic.csv": "6fddcb0919a03888",
}
TABLES = {
    "nba_schedule": (2460, 16027823409062488911),
    "player_game_summary": (53300, 17838845456136001874),
    "player_shot_zone_analysis": (52796, 10146665978227445344),
    "team_defense_zone_analysis": (4890, 13272996943901130317),
    "upcoming_player_game_context": (53300, 9690663508140120144),
    "upcoming_team_game_context": (4920, 2147066402856221982),
}


def checksum(frame: pd.DataFrame) -> int:
    """Order-independent: the uint64 sum (wrapping) of the rows' hashes."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return int(hashes.sum(dtype=np.uint64))


@pytest.fixture(scope="module")
def two_seasons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_season(tmp_path_factory.mktemp("stream"), seed=7, seasons=2)


def test_seasons_written_one_at_a_time_are_the_same_files(two_seasons: Path) -> None:
    got = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted(two_seasons.iterdir())
    }
    assert got == FILES


def test_derived_tables_are_the_same_rows(two_seasons: Path) -> None:
    tables = derive_tables(two_seasons, processed_at=STAMP)
    assert list(tables) == list(input_tables())
    assert {t: (len(f), checksum(f)) for t, f in tables.items()} == TABLES


def test_a_checksum_sees_one_changed_value(two_seasons: Path) -> None:
    frame = derive_tables(two_seasons, processed_at=STAMP)["upcoming_player_game_context"]
    before = checksum(frame)
    column = "avg_usage_rate_last_7_games"
    values = frame[column].to_numpy(dtype=np.float64, copy=True)
    row = int(np.flatnonzero(~np.isnan(values))[0])
    values[row] = np.nextafter(values[row], np.inf)  # one ulp
    frame[column] = values
    assert checksum(frame) != before
    # ... but not the order of the rows.
    assert checksum(frame.iloc[::-1]) == checksum(frame)


def test_tables_come_one_at_a_time_and_are_not_kept(two_seasons: Path) -> None:
    """The generator keeps no reference to a table it handed over: once the caller drops it,
    it is gone before the next table is built."""
    seen: list[str] = []
    previous: weakref.ref[pd.DataFrame] | None = None
    for table, frame in iter_tables(two_seasons, processed_at=STAMP):
        if previous is not None:
            assert previous() is None, f"{seen[-1]} was still alive when {table} came"
        seen.append(table)
        assert (len(frame), checksum(frame)) == TABLES[table]
        previous = weakref.ref(frame)
        del frame
        gc.collect()
    assert sorted(seen) == sorted(TABLES)


def test_a_bad_folder_loads_nothing(two_seasons: Path, tmp_path: Path) -> None:
    """Every check runs before the first table is handed over: a bad shot file (read last)
    stops the seed before the schedule is replaced."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in two_seasons.iterdir():
        (bad / path.name).write_bytes(path.read_bytes())
    shots = bad / "player_shot_zones_synthetic.csv"
    lines = shots.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("game_date")] = "2022-13-45"
    lines[1] = ",".join(cells)
    shots.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tables = iter_tables(bad, processed_at=STAMP)
    with pytest.raises(SeedError, match="2022-13-45"):
        next(tables)


def test_seed_loads_the_reference_row_counts(two_seasons: Path, tmp_path: Path) -> None:
    app = make_app(f"duckdb:///{tmp_path / 'wh.duckdb'}", wire=False)
    try:
        result = seed(app, two_seasons)
    finally:
        app.close()
    assert result.rows == {t: n for t, (n, _) in TABLES.items()}
    assert list(result.rows) == list(input_tables())
