"""Bad inputs end in a SeedError that says what is wrong and what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from shared.tools.seed import SeedError, derive_tables


@pytest.fixture
def season(synthetic_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic season that a test may break."""
    copy = tmp_path / "season"
    shutil.copytree(synthetic_dir, copy)
    return copy


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SeedError, match="does not exist") as info:
        derive_tables(missing)
    assert str(missing) in str(info.value)
    assert "PCF_DATA_DIR" in str(info.value)


def test_file_instead_of_folder(season: Path) -> None:
    with pytest.raises(SeedError, match="is a file, not a folder"):
        derive_tables(season / "schedule_synthetic.csv")


def test_missing_file(season: Path) -> None:
    (season / "schedule_synthetic.csv").unlink()
    with pytest.raises(SeedError, match=r"no schedule_\*\.csv file in .*season"):
        derive_tables(season)


def test_missing_player_logs(season: Path) -> None:
    (season / "player_game_logs_synthetic.csv").unlink()
    with pytest.raises(SeedError, match=r"player_game_logs_\*\.csv \(or \.parquet\)"):
        derive_tables(season)


def test_missing_column(season: Path) -> None:
    path = season / "team_game_logs_synthetic.csv"
    pd.read_csv(path).drop(columns="pace").to_csv(path, index=False)
    with pytest.raises(SeedError, match=r"lacks required column.*pace") as info:
        derive_tables(season)
    assert "team_game_logs_synthetic.csv" in str(info.value)


def test_bad_date_value(season: Path) -> None:
    path = season / "schedule_synthetic.csv"
    schedule = pd.read_csv(path, dtype={"game_id": str})
    schedule.loc[3, "game_date"] = "23/02/2023"
    schedule.to_csv(path, index=False)
    with pytest.raises(SeedError, match=r"'23/02/2023' in schedule_synthetic.csv is not a YYYY"):
        derive_tables(season)


def test_empty_file(season: Path) -> None:
    (season / "players_synthetic.csv").write_text("")
    with pytest.raises(SeedError, match=r"cannot read .*players_synthetic\.csv"):
        derive_tables(season)
