"""Derive the six PCF input tables from a season folder of box-score files (RULES §6).

The folder format is the one of ``../shared/data/nba_2022_23`` (see its SOURCE.md); the
synthetic season writes the same format, so one loader serves both. Everything is pure
pandas/numpy: per-player and per-team histories are built with grouped shifts ("the k-th
previous game") and ``merge_asof`` ("the latest state strictly before D"), never with a Python
loop per player-date. Internally dates are integer day numbers (days since 1970-01-01), which
makes "D − 1" and "D − 14 … D − 1" plain integer arithmetic.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared.config import SCHEMA_DIR
from shared.warehouse.schemas import input_tables

Floats = npt.NDArray[np.float64]


# NBA "basic zones" in the shot-zone file, grouped into the three zones of RULES §6.1.
# Backcourt heaves are 3-point attempts, so they belong to the three-point zone.
RAW_ZONES = ("ra", "paint_nonra", "midrange", "lc3", "rc3", "atb3", "backcourt")
ZONE_GROUPS: dict[str, tuple[str, ...]] = {
    "paint": ("ra", "paint_nonra"),
    "mid": ("midrange",),
    "three": ("lc3", "rc3", "atb3", "backcourt"),
}
# TDZA names the weakest zone with the PSZA vocabulary (paint | mid_range | perimeter).
ZONE_NAMES = {"paint": "paint", "mid": "mid_range", "three": "perimeter"}

# Windows of RULES §2.3 / §6.1.
HISTORY_DAYS = 14
RECENT_DAYS = 7
USAGE_GAMES = 7
PACE_GAMES = 10
SHOT_GAMES = 10
DEFENSE_GAMES = 15
PROJECTION_MIN_GAMES = 3
STAR_MIN_GAMES = 10
STAR_MIN_POINTS = 20.0
STAR_DAYS_PER_BLOCK = 100  # memory only: star absences are counted this many days at a time

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "player_game_logs": (
        "game_id",
        "game_date",
        "team_abbr",
        "opp_abbr",
        "home_away",
        "player_id",
        "player_name",
        "played",
        "minutes",
        "usg_pct",
        "pts",
        "fga",
        "fg3a",
        "fta",
    ),
    "team_game_logs": ("game_id", "game_date", "team_abbr", "pace"),
    "schedule": (
        "game_id",
        "game_date",
        "home_team_id",
        "home_abbr",
        "away_team_id",
        "away_abbr",
    ),
    "player_shot_zones": (
        "game_id",
        "game_date",
        "team_id",
        "player_id",
        *(f"{kind}_{zone}" for zone in RAW_ZONES for kind in ("fga", "fgm")),
    ),
    "players": ("player_id", "player_name", "birthdate"),
}

# Read when present: birth dates in the logs, names in the shot file fill the players' gaps.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "player_game_logs": ("birthdate",),
    "player_shot_zones": ("player_name",),
}

_NON_ALNUM = re.compile(r"[^a-z0-9]")


class SeedError(Exception):
    """A season folder cannot be turned into the input tables; the message says what to fix."""


def player_lookup(name: str) -> str:
    """Fold a name to its key: NFKD→ASCII, lowercase, only [a-z0-9] (P.J. Tucker → pjtucker)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("", folded.lower())


def derive_tables(
    source_dir: Path,
    processed_at: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Derive the six input tables (by name, columns as infra/schemas) from a season folder."""
    tables = dict(iter_tables(source_dir, processed_at))
    return {table: tables[table] for table in input_tables()}


def iter_tables(
    source_dir: Path,
    processed_at: datetime | None = None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """The six input tables (as ``derive_tables``) one at a time, never two held at once.

    Every check that can reject the folder runs before the first table is yielded, so a caller
    loading tables as they come never loads part of a bad folder. The generator keeps no
    reference to a table it handed over, and drops each intermediate after the last table that
    needs it: a caller that drops each frame once loaded holds one output table at a time.
    """
    stamp = _utc_stamp(processed_at)
    raw = _read_season(Path(source_dir))
    people = _identities(raw["player_game_logs"], raw.pop("players"), raw["player_shot_zones"])
    # The shot file is only needed as zone sums: reduce it before the heavy PGS step.
    zones = _zone_frame(raw.pop("player_shot_zones"))
    games = _team_games(raw["schedule"])
    pgs = _pgs_rows(raw.pop("player_game_logs"), people)
    team_pace = _team_pace_state(raw.pop("team_game_logs"))
    schedule = _schedule_rows(raw.pop("schedule"))
    del raw
    yield "nba_schedule", _conform(schedule, "nba_schedule", stamp)
    del schedule
    yield "player_game_summary", _conform(pgs, "player_game_summary", stamp)
    upcg = _upcg_rows(pgs, people, team_pace)
    yield "upcoming_player_game_context", _conform(upcg, "upcoming_player_game_context", stamp)
    del upcg
    utcg = _utcg_rows(games, team_pace)
    del team_pace
    yield "upcoming_team_game_context", _conform(utcg, "upcoming_team_game_context", stamp)
    del utcg
    psza = _psza_rows(pgs, zones, people)
    del pgs, people
    yield "player_shot_zone_analysis", _conform(psza, "player_shot_zone_analysis", stamp)
    del psza
    tdza = _tdza_rows(games, zones)
    del games, zones
    yield "team_defense_zone_analysis", _conform(tdza, "team_defense_zone_analysis", stamp)


@contextmanager
def system_arrow_pool() -> Iterator[None]:
    """Arrow (pandas' strings) allocates with malloc inside the block, like numpy.

    pyarrow's default pool (mimalloc) keeps what a step frees for its own reuse, so numpy cannot
    reuse it and the process holds both allocators' peaks at once: tens of MiB on five seasons.
    The previous pool is restored on exit (buffers remember the pool that freed them).
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


# ---------------------------------------------------------------------------------------------
# Reading the folder
# ---------------------------------------------------------------------------------------------


def _read_season(source_dir: Path) -> dict[str, pd.DataFrame]:
    if not source_dir.exists():
        raise SeedError(
            f"season folder {source_dir} does not exist: point PCF_DATA_DIR at a folder in the "
            "nba_2022_23 format (player_game_logs_*, team_game_logs_*, schedule_*, "
            "player_shot_zones_*, players_*) or generate one with write_synthetic_season()"
        )
    if not source_dir.is_dir():
        raise SeedError(f"season folder {source_dir} is a file, not a folder: pass its folder")
    try:
        names = sorted(p.name for p in source_dir.iterdir())
    except OSError as exc:
        raise SeedError(
            f"season folder {source_dir} cannot be listed ({exc}): check its permissions"
        ) from exc

    def matching(prefix: str, suffix: str) -> list[Path]:
        return [source_dir / n for n in names if n.startswith(prefix) and n.endswith(suffix)]

    raw: dict[str, pd.DataFrame] = {}
    # The parquet holds the same rows as the CSV split of the player logs; prefer it (faster).
    parquet = matching("player_game_logs_", ".parquet")
    raw["player_game_logs"] = (
        _read_files(parquet, "player_game_logs")
        if parquet
        else _read_files(
            _required(
                matching("player_game_logs_", ".csv"),
                source_dir,
                "player_game_logs_*.csv (or .parquet)",
            ),
            "player_game_logs",
        )
    )
    for kind in ("team_game_logs", "schedule", "player_shot_zones", "players"):
        files = _required(matching(f"{kind}_", ".csv"), source_dir, f"{kind}_*.csv")
        raw[kind] = _read_files(files, kind)
    if raw["player_game_logs"].empty:
        raise SeedError(f"the player game logs in {source_dir} have no rows: nothing to seed")
    return raw


def _required(files: list[Path], source_dir: Path, pattern: str) -> list[Path]:
    if not files:
        raise SeedError(
            f"no {pattern} file in {source_dir}: the folder must hold player_game_logs_*, "
            "team_game_logs_*, schedule_*, player_shot_zones_* and players_* files "
            "(see SOURCE.md of the nba_2022_23 data set)"
        )
    return files


def _read_files(files: Sequence[Path], kind: str) -> pd.DataFrame:
    wanted = {*REQUIRED_COLUMNS[kind], *OPTIONAL_COLUMNS.get(kind, ())}
    frames = []
    for path in files:
        try:
            # Only the columns the derivation reads (a box-score file has dozens more).
            if path.suffix == ".parquet":
                names = pq.read_schema(path).names
                frame = pd.read_parquet(path, columns=[n for n in names if n in wanted])
            else:
                # game_id is zero-padded ("0022200001"); read as an int it would lose its zeros.
                frame = pd.read_csv(path, dtype={"game_id": str}, usecols=wanted.__contains__)
        except (OSError, ValueError, ImportError) as exc:
            raise SeedError(f"cannot read {path} ({exc}): check the file is intact") from exc
        missing = [c for c in REQUIRED_COLUMNS[kind] if c not in frame.columns]
        if missing:
            raise SeedError(
                f"{path} lacks required column(s) {', '.join(missing)}: a {kind} file needs "
                f"{', '.join(REQUIRED_COLUMNS[kind])}"
            )
        if "game_id" in frame:
            frame["game_id"] = frame["game_id"].astype(str)
        frames.append(frame.assign(_source=path.name))
    return pd.concat(frames, ignore_index=True)


def _days(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """Integer day numbers from an ISO date column; a bad value is a SeedError naming it."""
    parsed = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & frame[column].notna()
    if column == "game_date":
        bad |= frame[column].isna()
    if bad.any():
        row = frame[bad].iloc[0]
        raise SeedError(
            f"{what}: {column} {row[column]!r} in {row['_source']} is not a YYYY-MM-DD date; "
            "fix or remove that row"
        )
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    return pd.Series(np.where(parsed.isna(), -1, days), index=frame.index)


def _ids(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """Integer ids (player_id, team_id), identical across files whatever their parsed dtype."""
    ids = pd.to_numeric(frame[column], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        row = frame[ids.isna() | (ids % 1 != 0)].iloc[0]
        raise SeedError(
            f"{what}: {column} {row[column]!r} in {row['_source']} is not an integer id; "
            "fix or remove that row"
        )
    return ids.astype(np.int64)


def _as_bool(values: pd.Series) -> pd.Series:
    if values.dtype == bool:
        return values
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes", "y"])


def _number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Players and games
# ---------------------------------------------------------------------------------------------


def _first_rows(columns: dict[str, Any]) -> pd.DataFrame:
    """The rows of one identity source that can decide anything: per pid its first row, its
    first row with a name and its first with a birth date (in file order; the rest repeat)."""
    frame = pd.DataFrame(columns)
    keep = ~frame["pid"].duplicated().to_numpy()
    for column in ("name", "birthdate"):
        has = frame[column].notna().to_numpy()
        first = ~frame["pid"][has].duplicated().to_numpy()
        keep[np.flatnonzero(has)[first]] = True
    return frame[keep]


def _identities(logs: pd.DataFrame, players: pd.DataFrame, shots: pd.DataFrame) -> pd.DataFrame:
    """One row per player_id: name, player_lookup, universal_player_id, birth date parts."""
    # The players file is the reference for names and birth dates; the logs fill its gaps.
    names = pd.concat(
        [
            _first_rows(
                {
                    "pid": _ids(players, "player_id", "players"),
                    "name": players["player_name"],
                    "birthdate": players["birthdate"],
                }
            ),
            _first_rows(
                {
                    "pid": _ids(logs, "player_id", "player game logs"),
                    "name": logs["player_name"],
                    "birthdate": logs.get("birthdate", pd.Series(None, index=logs.index)),
                }
            ),
            _first_rows(
                {
                    "pid": _ids(shots, "player_id", "player shot zones"),
                    "name": shots.get("player_name", pd.Series(None, index=shots.index)),
                    "birthdate": None,
                }
            ),
        ],
        ignore_index=True,
    )
    first_name = names.dropna(subset=["name"]).drop_duplicates("pid")[["pid", "name"]]
    people = pd.DataFrame({"pid": names["pid"].drop_duplicates()}).merge(
        first_name, on="pid", how="left"
    )
    people["name"] = people["name"].fillna("").astype(str)
    unique_names = people["name"].unique()
    lookups = {n: player_lookup(n) for n in unique_names}
    people["player_lookup"] = people["name"].map(lookups)
    # An all-punctuation (or missing) name would give an empty key; fall back to the id.
    empty = people["player_lookup"] == ""
    people.loc[empty, "player_lookup"] = "player" + people.loc[empty, "pid"].astype(str)
    people = people.sort_values(["player_lookup", "pid"], kind="stable").reset_index(drop=True)
    suffix = people.groupby("player_lookup").cumcount() + 1
    people["universal_player_id"] = people["player_lookup"] + "_" + suffix.map("{:03d}".format)

    births = names.dropna(subset=["birthdate"]).drop_duplicates("pid")[["pid", "birthdate"]]
    births = births.assign(_source="players/player_game_logs")
    births["birth_day"] = _days(births, "birthdate", "birth dates")
    people = people.merge(births[["pid", "birth_day"]], on="pid", how="left")
    return people.set_index("pid")


def _team_games(schedule: pd.DataFrame) -> pd.DataFrame:
    """Two rows per scheduled game (one per team) with ids, abbreviations and home flag."""
    day = _days(schedule, "game_date", "schedule")
    home_id = _ids(schedule, "home_team_id", "schedule")
    away_id = _ids(schedule, "away_team_id", "schedule")
    common = {"game_id": schedule["game_id"], "day": day}
    home = pd.DataFrame(
        {
            **common,
            "team_id": home_id,
            "team": schedule["home_abbr"],
            "opp_id": away_id,
            "opp": schedule["away_abbr"],
            "home": True,
        }
    )
    away = pd.DataFrame(
        {
            **common,
            "team_id": away_id,
            "team": schedule["away_abbr"],
            "opp_id": home_id,
            "opp": schedule["home_abbr"],
            "home": False,
        }
    )
    games = pd.concat([home, away], ignore_index=True)
    games["team"] = games["team"].astype(str)
    games["opp"] = games["opp"].astype(str)
    return games.sort_values(["team", "day", "game_id"], kind="stable").reset_index(drop=True)


def _per_player(people: pd.DataFrame, column: str, pids: pd.Series) -> npt.NDArray[Any]:
    """``people.loc[pids, column].to_numpy()``, each player's value one shared object."""
    at = people.index.get_indexer(pd.Index(pids))
    if (at < 0).any():  # an unknown player: the KeyError .loc gives
        return people.loc[pids, column].to_numpy()  # type: ignore[no-any-return]
    values: npt.NDArray[Any] = people[column].to_numpy()[at]
    return values


def _season_year(day: pd.Series) -> pd.Series:
    stamp = pd.to_datetime(day.to_numpy().astype("datetime64[D]"))
    # Seasons start in October: a game from January to June belongs to the previous year's season.
    return pd.Series(np.where(stamp.month >= 7, stamp.year, stamp.year - 1), index=day.index)


def _schedule_rows(schedule: pd.DataFrame) -> pd.DataFrame:
    day = _days(schedule, "game_date", "schedule")
    out = pd.DataFrame(
        {
            "game_id": schedule["game_id"],
            "game_date": day,
            "season_year": _season_year(day),
            "home_team_abbr": schedule["home_abbr"],
            "away_team_abbr": schedule["away_abbr"],
            # The season files hold completed games only.
            "game_status": 3,
        }
    )
    return out.sort_values(["game_date", "game_id"], kind="stable")


def _pgs_rows(logs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """PGS rows (played and minutes > 0), sorted by player then date, with internal keys."""
    minutes = _number(logs["minutes"])
    played = logs[_as_bool(logs["played"]) & (minutes > 0)]
    played_minutes = minutes[played.index]
    # iter_tables hands its only reference to the logs over: free them before the rest.
    del logs, minutes
    pid = _ids(played, "player_id", "player game logs")
    pgs = pd.DataFrame(
        {
            "pid": pid,
            "day": _days(played, "game_date", "player game logs"),
            "game_id": played["game_id"],
            "team": played["team_abbr"].astype(str),
            "opp": played["opp_abbr"].astype(str),
            "home": played["home_away"].astype(str).str.upper().eq("H"),
            "minutes": played_minutes,
            # The box score gives usage as a fraction (0.14); PGS stores percent.
            "usage": _number(played["usg_pct"]) * 100.0,
            "pts": _number(played["pts"]),
            "fga": _number(played["fga"]),
            "fg3a": _number(played["fg3a"]),
            "fta": _number(played["fta"]),
        }
    )
    for key, what in ((["pid", "game_id"], "game"), (["pid", "day"], "date")):
        dup = pgs.duplicated(key, keep=False)
        if dup.any():
            row = played[dup.to_numpy()].iloc[0]
            raise SeedError(
                f"player {row['player_name']} ({row['player_id']}) has more than one played row "
                f"for the same {what} ({row['game_id']}, {row['game_date']}) in {row['_source']}: "
                "remove the duplicate rows"
            )
    del played
    # Sorted before the schema's copies of columns are added (they share the sorted data).
    pgs = pgs.sort_values(["pid", "day"], kind="stable").reset_index(drop=True)
    pgs["player_lookup"] = _per_player(people, "player_lookup", pgs["pid"])
    pgs["universal_player_id"] = _per_player(people, "universal_player_id", pgs["pid"])
    pgs["player_full_name"] = _per_player(people, "name", pgs["pid"])
    pgs["game_date"] = pgs["day"]
    pgs["season_year"] = _season_year(pgs["day"])
    pgs["team_abbr"] = pgs["team"]
    pgs["opponent_team_abbr"] = pgs["opp"]
    pgs["home_game"] = pgs["home"]
    pgs["minutes_played"] = pgs["minutes"]
    pgs["usage_rate"] = pgs["usage"]
    pgs["points"] = pgs["pts"]
    pgs["fg_attempts"] = pgs["fga"]
    pgs["three_pt_attempts"] = pgs["fg3a"]
    pgs["ft_attempts"] = pgs["fta"]
    return pgs


# ---------------------------------------------------------------------------------------------
# Vector helpers: "the k-th previous row of the group" and "latest state strictly before D"
# ---------------------------------------------------------------------------------------------


def _lagged(frame: pd.DataFrame, by: str, columns: Sequence[str], lags: range) -> dict[str, Floats]:
    """Per column a (rows × lags) matrix of the group's k-th earlier row (NaN before its start).

    ``frame`` must be sorted by ``by`` then time; lag 0 is the row itself.
    """
    grouped = frame.groupby(by, sort=False)[list(columns)]
    # Filled one lag at a time (not all shifted frames at once, then stacked): the same
    # C-ordered matrices, half the peak memory.
    out = {column: np.empty((len(frame), len(lags)), dtype=np.float64) for column in columns}
    for i, k in enumerate(lags):
        shifted = grouped.shift(k) if k else frame[list(columns)]
        for column in columns:
            out[column][:, i] = shifted[column].to_numpy(dtype=np.float64, na_value=np.nan)
        del shifted
    return out


def _as_of_before(
    left: pd.DataFrame, right: pd.DataFrame, by: str | None, columns: Sequence[str]
) -> pd.DataFrame:
    """Per ``left`` row, ``columns`` of the latest ``right`` row (same ``by``) before its day."""
    keys = ["day"] if by is None else [by, "day"]
    probe = left[keys].assign(_row=np.arange(len(left))).sort_values("day", kind="stable")
    state = right[[*keys, *columns]].sort_values("day", kind="stable")
    # Strictly before D: D's own games must never leak into D's context.
    joined = pd.merge_asof(probe, state, on="day", by=by, allow_exact_matches=False)
    return (
        joined.sort_values("_row")
        .reset_index(drop=True)[list(columns)]
        .set_axis(left.index, axis=0)
    )


def _nanmean(matrix: Floats) -> Floats:
    count = np.sum(~np.isnan(matrix), axis=1)
    total = np.nansum(matrix, axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _round_half_away(values: Floats) -> Floats:
    # Minutes carry 4 decimals; rounding the float sum to 6 first removes binary noise so a true
    # x.5 is rounded up instead of landing on 34.49999999.
    clean = np.round(values, 6)
    return np.sign(clean) * np.floor(np.abs(clean) + 0.5)


# ---------------------------------------------------------------------------------------------
# UPCG, UTCG
# ---------------------------------------------------------------------------------------------


def _team_pace_state(team_logs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per team (after each game) the last-10 and season-to-date pace; the league per day."""
    logs = (
        pd.DataFrame(
            {
                "team": team_logs["team_abbr"].astype(str),
                "day": _days(team_logs, "game_date", "team game logs"),
                "pace": _number(team_logs["pace"]),
            }
        )
        .sort_values(["team", "day"], kind="stable")
        .reset_index(drop=True)
    )
    logs["pace_last_10"] = _nanmean(_lagged(logs, "team", ["pace"], range(PACE_GAMES))["pace"])
    # Season-to-date mean over the games with a pace (a missing pace neither counts nor blanks).
    pace_sum = logs["pace"].fillna(0.0).groupby(logs["team"], sort=False).cumsum()
    has_pace = logs["pace"].notna().astype(np.int64).groupby(logs["team"], sort=False).cumsum()
    logs["pace_std"] = pace_sum / has_pace.where(has_pace > 0)
    league = logs.groupby("day")["pace"].agg(["sum", "count"]).sort_index().cumsum().reset_index()
    league["league_std"] = league["sum"] / league["count"].replace(0, np.nan)
    return {"team": logs, "league": league[["day", "league_std"]]}


def _upcg_rows(
    pgs: pd.DataFrame, people: pd.DataFrame, pace: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """UPCG: one row per PGS row on D, every quantity from the player's games before D."""
    # Each PGS row is a (player, D) roster entry; with one game per player per day the games in
    # D-14 … D-1 are among the 14 previous rows of the player.
    work = pgs[["pid", "day", "minutes", "usage"]].copy()
    prev_day = work.groupby("pid", sort=False)["day"].shift(1)
    work["follows_game"] = (work["day"] - prev_day == 1).astype(np.float64)
    # One (rows × 14) lag matrix at a time, each dropped once used (the same matrices).
    history = range(1, HISTORY_DAYS + 1)
    day = work["day"].to_numpy(dtype=np.float64)[:, None]
    delta = day - _lagged(work, "pid", ["day"], history)["day"]  # NaN: fewer earlier games
    in_14 = delta <= HISTORY_DAYS
    in_7 = delta <= RECENT_DAYS
    last = delta[:, 0]

    out = pgs[
        ["pid", "day", "game_id", "team", "opp", "player_lookup", "universal_player_id"]
    ].copy()
    out["game_date"] = out["day"]
    out["team_abbr"] = out["team"]
    out["opponent_team_abbr"] = out["opp"]
    out["days_rest"] = np.where(last <= HISTORY_DAYS, last - 1, HISTORY_DAYS)
    out["back_to_back"] = last == 1
    games_7 = in_7.sum(axis=1)
    minutes_7 = np.where(in_7, _lagged(work, "pid", ["minutes"], history)["minutes"], 0.0).sum(
        axis=1
    )
    out["games_in_last_7_days"] = games_7
    out["minutes_in_last_7_days"] = _round_half_away(minutes_7)
    out["avg_minutes_per_game_last_7"] = np.where(
        games_7 > 0, minutes_7 / np.maximum(games_7, 1), 0.0
    )
    follows = _lagged(work, "pid", ["follows_game"], history)["follows_game"]
    out["back_to_backs_last_14_days"] = np.where(in_14, follows, 0.0).sum(axis=1)
    del follows, delta, in_14, in_7, last  # the (rows × 14) matrices: free them before the rest

    usage_lag = _lagged(work, "pid", ["usage"], range(1, USAGE_GAMES + 1))["usage"]
    out["avg_usage_rate_last_7_games"] = _nanmean(usage_lag)
    grouped = work.groupby("pid", sort=False)
    games_before = grouped.cumcount()
    usage_sum = grouped["usage"].cumsum().fillna(0.0) - work["usage"].fillna(0.0)
    # cumsum skips NaN, so subtracting the row's own (filled) value leaves the sum before D.
    has_usage = work["usage"].notna().astype(np.int64)
    usage_n = has_usage.groupby(work["pid"], sort=False).cumsum() - has_usage
    out["projected_usage_rate"] = np.where(
        (games_before >= PROJECTION_MIN_GAMES) & (usage_n > 0),
        usage_sum / usage_n.clip(lower=1),
        np.nan,
    )
    out["player_age"] = _age_on(out["day"], people.loc[out["pid"], "birth_day"].to_numpy())
    out["star_teammates_out"] = _star_teammates_out(pgs, out)

    team_state = pace["team"]
    own = _as_of_before(out[["team", "day"]], team_state, "team", ["pace_std"])
    opp = _as_of_before(
        out[["opp", "day"]].rename(columns={"opp": "team"}),
        team_state,
        "team",
        ["pace_std", "pace_last_10"],
    )
    league = _as_of_before(out[["day"]], pace["league"], None, ["league_std"])
    out["pace_differential"] = (own["pace_std"] + opp["pace_std"]) / 2 - league["league_std"]
    out["opponent_pace_last_10"] = opp["pace_last_10"]
    return out.sort_values(["day", "player_lookup"], kind="stable").reset_index(drop=True)


def _age_on(day: pd.Series, birth_day: npt.NDArray[Any]) -> Floats:
    """Whole calendar years between birth and D (NaN when the birth date is unknown)."""
    on = pd.DatetimeIndex(day.to_numpy().astype("datetime64[D]"))
    birth_days = pd.to_numeric(pd.Series(birth_day), errors="coerce").to_numpy(dtype=np.float64)
    known = ~np.isnan(birth_days)
    born = pd.DatetimeIndex(np.where(known, birth_days, 0).astype("datetime64[D]"))
    before_birthday = (on.month < born.month) | ((on.month == born.month) & (on.day < born.day))
    years = (on.year - born.year - before_birthday.astype(int)).to_numpy(dtype=np.float64)
    return np.where(known, years, np.nan)


def _star_teammates_out(pgs: pd.DataFrame, roster: pd.DataFrame) -> Floats:
    """Count stars (≥ 10 games before D, ≥ 20 pts) absent on D whose last team is the player's."""
    history = pgs[["pid", "day", "team", "pts"]].copy()
    grouped = history.groupby("pid", sort=False)
    history["games"] = grouped.cumcount() + 1
    history["pts_sum"] = grouped["pts"].cumsum()
    history["pts_n"] = history["pts"].notna().groupby(history["pid"], sort=False).cumsum()

    # Every (D, player) pair, with the player's state after his last game strictly before D,
    # a block of days at a time (each day's count only needs its own pairs; five seasons of
    # days × players at once were ~40 MiB of grid and merge copies).
    days = np.sort(roster["day"].unique())
    players = np.sort(history["pid"].unique())
    played_on_d = pgs[["pid", "day"]].assign(_played=True)
    blocks = [
        _stars_out_on(block, players, history, played_on_d)
        for block in np.array_split(days, max(1, -(-len(days) // STAR_DAYS_PER_BLOCK)))
    ]
    counts = pd.concat([b for b in blocks if len(b)] or blocks[:1], ignore_index=True)
    joined = roster[["day", "team"]].merge(counts, on=["day", "team"], how="left")
    return joined["stars_out"].fillna(0).to_numpy(dtype=np.float64)


def _stars_out_on(
    days: npt.NDArray[np.int64],
    players: npt.NDArray[np.int64],
    history: pd.DataFrame,
    played_on_d: pd.DataFrame,
) -> pd.DataFrame:
    """Per (day, team) of ``days``: stars whose last team it is, absent that day."""
    grid = pd.DataFrame(
        {
            "day": np.repeat(days, len(players)),
            "pid": np.tile(players, len(days)),
        }
    )
    state = _as_of_before(grid, history, "pid", ["team", "games", "pts_sum", "pts_n"])
    grid = pd.concat([grid, state], axis=1)
    is_star = (grid["games"] >= STAR_MIN_GAMES) & (
        grid["pts_sum"] / grid["pts_n"].replace(0, np.nan) >= STAR_MIN_POINTS
    )
    stars = grid[is_star.fillna(False)]
    stars = stars.merge(played_on_d, on=["pid", "day"], how="left")
    absent = stars[stars["_played"].isna()]
    return absent.groupby(["day", "team"]).size().rename("stars_out").reset_index()


def _utcg_rows(games: pd.DataFrame, pace: dict[str, pd.DataFrame]) -> pd.DataFrame:
    out = games[["game_id", "day", "team", "opp", "home"]].copy()
    out["team_pace_last_10"] = _as_of_before(out, pace["team"], "team", ["pace_last_10"])[
        "pace_last_10"
    ]
    out["team_abbr"] = out["team"]
    out["opponent_team_abbr"] = out["opp"]
    out["game_date"] = out["day"]
    out["home_game"] = out["home"]
    # No betting lines in the box-score files.
    out["game_total"] = np.nan
    out["game_spread"] = np.nan
    return out.sort_values(["day", "game_id", "team"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# PSZA, TDZA
# ---------------------------------------------------------------------------------------------


def _zone_frame(shots: pd.DataFrame) -> pd.DataFrame:
    """Shot-zone rows with the three zone groups' attempts and makes (FGA = sum of the zones)."""
    zones = pd.DataFrame(
        {
            "pid": _ids(shots, "player_id", "player shot zones"),
            "team_id": _ids(shots, "team_id", "player shot zones"),
            "game_id": shots["game_id"],
            "day": _days(shots, "game_date", "player shot zones"),
        }
    )
    for group, raw in ZONE_GROUPS.items():
        for kind in ("fga", "fgm"):
            zones[f"{group}_{kind}"] = sum(
                (_number(shots[f"{kind}_{zone}"]).fillna(0.0) for zone in raw),
                start=pd.Series(0.0, index=shots.index),
            )
    zones["fga"] = zones[[f"{g}_fga" for g in ZONE_GROUPS]].sum(axis=1)
    return zones


def _psza_rows(pgs: pd.DataFrame, zones: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """PSZA for every player in PGS on D, pooled over his last 10 games with a shot before D."""
    zones = zones[zones["fga"] > 0].sort_values(["pid", "day"], kind="stable")
    zones = zones.reset_index(drop=True).assign(one=1.0)
    columns = ["paint_fga", "mid_fga", "three_fga", "fga", "one"]
    for column in columns:  # one (rows × 10) lag matrix at a time
        lag = _lagged(zones, "pid", [column], range(SHOT_GAMES))[column]
        zones[f"sum_{column}"] = np.nansum(lag, axis=1)
        del lag
    sums = [f"sum_{c}" for c in columns]

    roster = pgs[["pid", "day"]].drop_duplicates()
    state = _as_of_before(roster, zones, "pid", sums)
    out = pd.concat([roster, state], axis=1)
    out = out[out["sum_fga"] > 0].copy()  # no shot before D → no row
    fga = out["sum_fga"]
    out["paint_rate_last_10"] = 100.0 * out["sum_paint_fga"] / fga
    out["mid_range_rate_last_10"] = 100.0 * out["sum_mid_fga"] / fga
    out["three_pt_rate_last_10"] = 100.0 * out["sum_three_fga"] / fga
    out["primary_scoring_zone"] = np.select(
        [
            out["paint_rate_last_10"] >= 40,
            out["three_pt_rate_last_10"] >= 40,
            out["mid_range_rate_last_10"] >= 35,
        ],
        ["paint", "perimeter", "mid_range"],
        default="balanced",
    )
    out["games_in_sample"] = out["sum_one"]
    out["early_season_flag"] = out["sum_one"] < SHOT_GAMES
    out["player_lookup"] = _per_player(people, "player_lookup", out["pid"])
    out["analysis_date"] = out["day"]
    return out.sort_values(["day", "player_lookup"], kind="stable").reset_index(drop=True)


def _tdza_rows(games: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """TDZA per team on D: opponents' pooled FG% per zone over its last 15 games minus league's."""
    made = [f"{g}_{k}" for g in ZONE_GROUPS for k in ("fga", "fgm")]
    by_shooter = zones.groupby(["game_id", "team_id"], as_index=False)[made].sum()
    # Each team-game takes what its opponent shot in that game (every scheduled game counts,
    # even one the shot file happens to lack).
    defense = games.merge(
        by_shooter.rename(columns={"team_id": "opp_id"}), on=["game_id", "opp_id"], how="left"
    )
    defense[made] = defense[made].fillna(0.0)
    defense = defense.sort_values(["team", "day", "game_id"], kind="stable").reset_index(drop=True)
    defense = defense.assign(one=1.0)
    lag = _lagged(defense, "team", [*made, "one"], range(DEFENSE_GAMES))
    for column in [*made, "one"]:
        defense[f"sum_{column}"] = np.nansum(lag.pop(column), axis=1)

    league = zones.groupby("day")[made].sum().sort_index().cumsum().reset_index()
    today = games[["team", "day"]].drop_duplicates()
    team_state = _as_of_before(today, defense, "team", [f"sum_{c}" for c in [*made, "one"]])
    league_state = _as_of_before(today, league, None, made)
    out = pd.concat([today, team_state], axis=1)
    has_history = out["sum_one"] > 0  # no game before D → no row
    values = {}
    for group in ZONE_GROUPS:
        allowed = out[f"sum_{group}_fgm"] / out[f"sum_{group}_fga"].replace(0, np.nan)
        baseline = league_state[f"{group}_fgm"] / league_state[f"{group}_fga"].replace(0, np.nan)
        values[group] = 100.0 * (allowed - baseline)
    out["paint_defense_vs_league_avg"] = values["paint"]
    out["mid_range_defense_vs_league_avg"] = values["mid"]
    out["three_pt_defense_vs_league_avg"] = values["three"]
    matrix = np.column_stack([values[g].to_numpy(dtype=np.float64) for g in ZONE_GROUPS])
    any_value = ~np.all(np.isnan(matrix), axis=1)
    # Ties go to the first zone in paint, mid_range, perimeter order.
    best = np.argmax(np.where(np.isnan(matrix), -np.inf, matrix), axis=1)
    names = np.array([ZONE_NAMES[g] for g in ZONE_GROUPS], dtype=object)
    out["weakest_zone"] = pd.Series(names[best], index=out.index, dtype=object).where(any_value)
    out["games_in_sample"] = out["sum_one"]
    out["early_season_flag"] = out["sum_one"] < DEFENSE_GAMES
    out["team_abbr"] = out["team"]
    out["analysis_date"] = out["day"]
    out = out[has_history.to_numpy()]
    return out.sort_values(["day", "team"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Output typing
# ---------------------------------------------------------------------------------------------


@cache
def _schema(table: str) -> tuple[tuple[str, str], ...]:
    path = SCHEMA_DIR / f"{table}.json"
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))["schema"]
    except (OSError, ValueError, KeyError) as exc:
        raise SeedError(
            f"cannot read the table schema {path} ({exc}): restore infra/schemas"
        ) from exc
    return tuple((str(f["name"]), str(f["type"]).upper()) for f in fields)


def _conform(frame: pd.DataFrame, table: str, stamp: pd.Timestamp) -> pd.DataFrame:
    """Exactly the schema's columns, in order, with the agreed pandas dtypes."""
    columns: dict[str, pd.Series] = {}
    index = pd.RangeIndex(len(frame))
    for name, kind in _schema(table):
        if name == "processed_at":
            columns[name] = pd.Series(
                [stamp] * len(frame), index=index, dtype="datetime64[us, UTC]"
            )
            continue
        values = frame[name].reset_index(drop=True)
        if kind == "DATE":
            # One datetime.date object per distinct day, shared by its rows.
            distinct, inverse = np.unique(values.to_numpy(dtype=np.int64), return_inverse=True)
            dates = distinct.astype("datetime64[D]").astype(object)
            columns[name] = pd.Series(dates[inverse.reshape(-1)], index=index, dtype=object)
        elif kind in ("NUMERIC", "FLOAT", "FLOAT64", "BIGNUMERIC"):
            columns[name] = pd.to_numeric(values, errors="coerce").astype(np.float64)
        elif kind in ("INTEGER", "INT64"):
            number = pd.to_numeric(values, errors="coerce")
            columns[name] = number.round().astype("Int64")
        elif kind in ("BOOLEAN", "BOOL"):
            columns[name] = values.astype("boolean")
        elif kind == "STRING":
            columns[name] = pd.Series(_shared_objects(values), index=index, dtype=object)
        elif kind == "TIMESTAMP":
            columns[name] = pd.to_datetime(values, utc=True)
        else:  # pragma: no cover - a new schema type must be mapped here first
            raise SeedError(f"{table}.{name}: unsupported schema type {kind}")
    return pd.DataFrame(columns, index=index)


def _shared_objects(values: pd.Series) -> npt.NDArray[np.object_]:
    """``values`` as Python objects, None where missing, one object per distinct value.

    The same values as ``values.astype(object)``, but a team abbreviation or a game id repeated
    on thousands of rows is one string, not thousands (tens of MiB on five seasons).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    pool = np.empty(len(uniques) + 1, dtype=object)
    pool[: len(uniques)] = np.asarray(uniques, dtype=object)
    pool[-1] = None  # code -1: missing
    shared: npt.NDArray[np.object_] = pool[codes]
    return shared


def _utc_stamp(processed_at: datetime | None) -> pd.Timestamp:
    when = processed_at or datetime.now(UTC)
    # A naive datetime is taken as UTC (the warehouse stores UTC).
    stamp = pd.Timestamp(when)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.as_unit("us")
