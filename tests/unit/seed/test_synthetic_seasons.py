"""Several synthetic seasons (`pcf seed --synthetic --seasons N`, issue 13): deterministic,
2022-23 unchanged and last (every season is in the past), earlier seasons a year apart each with
their own schedule, loadable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from shared.tools.cli.main import main
from shared.tools.seed import derive_tables, write_synthetic_season
from shared.warehouse import Sql
from tests.conftest import make_app

KINDS = ("player_game_logs", "team_game_logs", "schedule", "player_shot_zones", "players")
SEASON_SPAN = (date(2022, 10, 18), date(2023, 4, 9))


def _read(folder: Path, kind: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{kind}_synthetic.csv", dtype={"game_id": str})


@pytest.fixture(scope="module")
def two_seasons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_season(tmp_path_factory.mktemp("two"), seed=7, seasons=2)


def test_two_seasons_are_deterministic(two_seasons: Path, tmp_path: Path) -> None:
    again = write_synthetic_season(tmp_path / "again", seed=7, seasons=2)
    for kind in KINDS:
        name = f"{kind}_synthetic.csv"
        assert (again / name).read_bytes() == (two_seasons / name).read_bytes(), kind


def test_the_last_season_is_the_single_season(two_seasons: Path, synthetic_dir: Path) -> None:
    for kind in ("player_game_logs", "team_game_logs", "schedule", "player_shot_zones"):
        one = _read(synthetic_dir, kind)
        last = _read(two_seasons, kind).tail(len(one)).reset_index(drop=True)
        pd.testing.assert_frame_equal(last, one, check_dtype=False)


def test_the_earlier_season_is_a_year_before_with_its_own_schedule(two_seasons: Path) -> None:
    sched = _read(two_seasons, "schedule")
    assert len(sched) == 2 * 1230
    assert sched["game_id"].is_unique
    earlier = sched[sched["game_id"].str.startswith("00221")]
    assert len(earlier) == 1230
    assert list(earlier.index) == list(range(1230))
    days = pd.to_datetime(earlier["game_date"]).dt.date
    assert (days.min(), days.max()) == (date(2021, 10, 18), date(2022, 4, 9))
    # Every team plays 82 games in the earlier season too.
    games = pd.concat([earlier["home_abbr"], earlier["away_abbr"]]).value_counts()
    assert set(games) == {82}
    assert len(games) == 30
    # Its own draw: not 2022-23's pairings moved a year.
    last = sched[sched["game_id"].str.startswith("00222")]
    assert list(last["home_abbr"]) != list(earlier["home_abbr"])


def test_players_carry_over_and_age(two_seasons: Path) -> None:
    players = _read(two_seasons, "players")
    assert players["player_id"].is_unique
    assert len(players) == 450
    logs = _read(two_seasons, "player_game_logs")
    seasons = logs["game_id"].str.slice(0, 5)
    per_player = logs.groupby("player_id")["game_id"].agg(lambda s: s.str.slice(0, 5).nunique())
    assert (per_player == 2).mean() > 0.9  # most players appear in both seasons
    assert set(seasons) == {"00221", "00222"}


def test_two_seasons_derive_and_plan_per_season(two_seasons: Path, tmp_path: Path) -> None:
    tables = derive_tables(two_seasons)
    assert set(tables["nba_schedule"]["season_year"]) == {2021, 2022}
    assert len(tables["nba_schedule"]) == 2460

    app = make_app(f"duckdb:///{tmp_path / 'wh.duckdb'}", wire=False)
    try:
        from shared.tools.seed.load import seed

        seed(app, two_seasons)
        starts = app.warehouse.query(
            Sql(
                "t.season_starts",
                "SELECT season_year, MIN(game_date) AS first_day FROM {nba_schedule}"
                " GROUP BY season_year ORDER BY season_year",
            )
        )
    finally:
        app.close()
    assert [(r["season_year"], r["first_day"]) for r in starts] == [
        (2021, date(2021, 10, 18)),
        (2022, date(2022, 10, 18)),
    ]


@pytest.mark.parametrize("seasons", [0, 21])
def test_an_impossible_season_count_is_refused(seasons: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="seasons must be between 1 and 20"):
        write_synthetic_season(tmp_path, seasons=seasons)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--synthetic", "--seasons", "0"], "--seasons 0: give a number of seasons from 1 to 20"),
        (["--real", "--seasons", "2"], "--seasons goes with --synthetic"),
    ],
)
def test_seasons_usage_errors_exit_2(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code = main(["seed", *args, "--warehouse", f"duckdb:///{db}"])
    out = capsys.readouterr()
    assert code == 2
    assert needle in out.out + out.err
    assert not db.exists()


def test_cli_seeds_two_synthetic_seasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "wh.duckdb"
    code = main(
        ["seed", "--synthetic", "--seasons", "2", "--json", "--warehouse", f"duckdb:///{db}"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert '"table": "nba_schedule"' in out
    assert '"rows": 2460' in out
