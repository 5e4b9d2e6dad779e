"""A deterministic synthetic NBA season in the file format of ``nba_2022_23`` (RULES §6).

Everything comes from one ``numpy.random.Generator`` seeded by the caller, drawn in a fixed
order, so a seed always gives byte-identical files. The box scores are generated as dense
(team-game × roster slot) matrices, so a whole season takes well under a second of numpy work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.tools.seed.derive import player_lookup, system_arrow_pool

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

SEASON_START = date(2022, 10, 18)
SEASON_END = date(2023, 4, 9)
ALL_STAR_BREAK = (date(2023, 2, 17), date(2023, 2, 22))
# The real season's other off-days (election day, Thanksgiving, Christmas Eve, a late-season gap).
OFF_DAYS = (date(2022, 11, 8), date(2022, 11, 24), date(2022, 12, 24), date(2023, 4, 3))
TRADE_DEADLINE = date(2023, 2, 9)
SUFFIX = "synthetic"

# (team_id, abbreviation, nickname); East first, then West, so neighbours share a conference.
TEAMS: tuple[tuple[int, str, str], ...] = (
    (1610612737, "ATL", "Hawks"),
    (1610612738, "BOS", "Celtics"),
    (1610612751, "BKN", "Nets"),
    (1610612766, "CHA", "Hornets"),
    (1610612741, "CHI", "Bulls"),
    (1610612739, "CLE", "Cavaliers"),
    (1610612765, "DET", "Pistons"),
    (1610612754, "IND", "Pacers"),
    (1610612748, "MIA", "Heat"),
    (1610612749, "MIL", "Bucks"),
    (1610612752, "NYK", "Knicks"),
    (1610612753, "ORL", "Magic"),
    (1610612755, "PHI", "76ers"),
    (1610612761, "TOR", "Raptors"),
    (1610612764, "WAS", "Wizards"),
    (1610612742, "DAL", "Mavericks"),
    (1610612743, "DEN", "Nuggets"),
    (1610612744, "GSW", "Warriors"),
    (1610612745, "HOU", "Rockets"),
    (1610612746, "LAC", "Clippers"),
    (1610612747, "LAL", "Lakers"),
    (1610612763, "MEM", "Grizzlies"),
    (1610612750, "MIN", "Timberwolves"),
    (1610612740, "NOP", "Pelicans"),
    (1610612760, "OKC", "Thunder"),
    (1610612756, "PHX", "Suns"),
    (1610612757, "POR", "Trail Blazers"),
    (1610612758, "SAC", "Kings"),
    (1610612759, "SAS", "Spurs"),
    (1610612762, "UTA", "Jazz"),
)
N_TEAMS = len(TEAMS)
ROSTER = 15
# Extra pairings beyond home-and-home with everyone: a circulant graph (each team meets its
# 2 × 6 neighbours twice more) gives 29 × 2 + 12 × 2 = 82 games, 41 at home.
EXTRA_NEIGHBOURS = 6

# Per roster slot: 0 = star, 1 = second option, 2-4 starters, 5-9 rotation, 10-14 bench.
SLOT_MINUTES = np.array(
    [34.5, 32.5, 30.5, 29.0, 27.5, 24.0, 21.5, 19.0, 17.0, 14.5, 11.0, 8.5, 6.5, 5.0, 4.0]
)
SLOT_USAGE = np.array(
    [0.34, 0.27, 0.21, 0.20, 0.19, 0.20, 0.19, 0.18, 0.18, 0.17, 0.17, 0.17, 0.16, 0.16, 0.16]
)
SLOT_DNP = np.array([0, 0, 0, 0, 0, 0, 0, 0.02, 0.06, 0.15, 0.35, 0.55, 0.70, 0.80, 0.88])

# Shot profiles over the basic zones (ra, paint_nonra, midrange, lc3, rc3, atb3, backcourt).
PROFILES = {
    "G": [0.24, 0.16, 0.11, 0.045, 0.04, 0.401, 0.004],
    "F": [0.30, 0.19, 0.115, 0.06, 0.055, 0.278, 0.002],
    "C": [0.52, 0.26, 0.09, 0.015, 0.015, 0.10, 0.0],
    "M": [0.24, 0.19, 0.30, 0.035, 0.03, 0.203, 0.002],  # mid-range scorer
}
ZONE_FG = np.array([0.665, 0.445, 0.42, 0.385, 0.385, 0.354, 0.025])
ZONE_GROUP = np.array([0, 0, 1, 2, 2, 2, 2])  # paint, mid, three (for team defence)
ZONES = ("ra", "paint_nonra", "midrange", "lc3", "rc3", "atb3", "backcourt")
POSITIONS = {"G": "Guard", "F": "Forward", "C": "Center", "M": "Guard-Forward"}

FIRST_NAMES = (
    "Marcus",
    "Jalen",
    "Tyrese",
    "Devin",
    "Jordan",
    "Anthony",
    "Chris",
    "Kevin",
    "Darius",
    "Isaiah",
    "Malik",
    "Cameron",
    "Trey",
    "Andre",
    "Keegan",
    "Dillon",
    "Aaron",
    "Brandon",
    "Caleb",
    "Derrick",
    "Elijah",
    "Garrett",
    "Harrison",
    "Josh",
    "Kendall",
    "Lamar",
    "Miles",
    "Nate",
    "Quentin",
    "Reggie",
    "Terrance",
    "Victor",
    "Xavier",
    "Zach",
    "Nikola",
    "Luka",
    "Dāvis",
    "Bogdan",
    "Jusuf",
    "Théo",
    "Álex",
    "Domantas",
    "Jonas",
    "Dario",
    "Šarūnas",
    "Vasilije",
    "Goran",
    "Ömer",
    "Killian",
    "Jokūbas",
    "P.J.",
    "T.J.",
    "D'Andre",
    "De'Aaron",
    "Ja'Marr",
    "O.G.",
    "Karl-Henrik",
    "Kristaps",
    "Dennis",
    "Bojan",
)
LAST_NAMES = (
    "Walker",
    "Thompson",
    "Harris",
    "Mitchell",
    "Bramlett",
    "Coleman",
    "Bennett",
    "Carter",
    "Dawson",
    "Ellis",
    "Fleming",
    "Grant",
    "Haskins",
    "Inman",
    "Jenkins",
    "Knoll",
    "Lowell",
    "Maddox",
    "Nolan",
    "Owens",
    "Pierce",
    "Quarles",
    "Reyes",
    "Sutton",
    "Tate",
    "Upshaw",
    "Vance",
    "Whitfield",
    "Younger",
    "Zimmer",
    "Petrović",
    "Jokanović",
    "Dončević",
    "Šimić",
    "Ozoliņš",
    "Kalniņš",
    "Žukauskas",
    "Hadžić",
    "Marković",
    "Müller",
    "Gómez",
    "Hernández",
    "Fournier-Lévy",
    "O'Connell",
    "O'Hara",
    "Smith-Jones",
    "St. Clair",
    "McAllister",
    "DeRozier",
    "LaVell",
    "Lefèvre",
    "Kairys",
    "Papadakis",
    "Köhler",
    "Çelik",
    "Yıldız",
    "Diop",
    "Okonkwo",
    "Adeyemi",
    "Mbeki",
)
# Surnames chosen not to recreate real players' names with the first names above.
COUNTRIES = {
    "Petrović": "Serbia",
    "Jokanović": "Serbia",
    "Dončević": "Slovenia",
    "Šimić": "Croatia",
    "Ozoliņš": "Latvia",
    "Kalniņš": "Latvia",
    "Žukauskas": "Lithuania",
    "Hadžić": "Bosnia and Herzegovina",
    "Marković": "Serbia",
    "Müller": "Germany",
    "Köhler": "Germany",
    "Gómez": "Spain",
    "Hernández": "Spain",
    "Fournier-Lévy": "France",
    "Lefèvre": "France",
    "Çelik": "Turkey",
    "Yıldız": "Turkey",
    "Diop": "Senegal",
    "Mbeki": "South Africa",
    "Kairys": "Lithuania",
    "Papadakis": "Greece",
    "Okonkwo": "Nigeria",
    "Adeyemi": "Nigeria",
}

PLAYER_LOG_COLUMNS = (
    "game_id",
    "game_date",
    "team_id",
    "team_abbr",
    "opp_abbr",
    "home_away",
    "matchup",
    "player_id",
    "player_name",
    "birthdate",
    "age_years",
    "start_position",
    "dnp_comment",
    "played",
    "min_raw",
    "minutes",
    "fgm",
    "fga",
    "fg_pct",
    "fg3m",
    "fg3a",
    "fg3_pct",
    "ftm",
    "fta",
    "ft_pct",
    "oreb",
    "dreb",
    "reb",
    "ast",
    "stl",
    "blk",
    "tov",
    "pf",
    "pts",
    "plus_minus",
    "usg_pct",
    "pace",
    "poss",
    "off_rating",
    "def_rating",
    "ts_pct",
)
COUNT_STATS = (
    "fgm",
    "fga",
    "fg3m",
    "fg3a",
    "ftm",
    "fta",
    "oreb",
    "dreb",
    "reb",
    "ast",
    "stl",
    "blk",
    "tov",
    "pf",
    "pts",
)


@dataclass(frozen=True)
class _Players:
    """Per-player attributes, indexed by player number (team * 15 + slot at season start)."""

    ids: Ints
    names: list[str]
    position: list[str]  # G, F, C or M (mid-range wing)
    birth: list[date | None]
    minutes: Floats
    usage: Floats
    profile: Floats  # (players × 7 zones)
    skill: Floats
    ft_pct: Floats
    ft_rate: Floats
    ast_rate: Floats
    reb_rate: Floats
    injuries: Ints  # (players × spells × 2): [start day, end day) as day offsets
    height: list[str]
    weight: Floats
    country: list[str]
    draft: list[tuple[str, str, str]]


MAX_SEASONS = 20


def write_synthetic_season(out_dir: Path, seed: int = 7, seasons: int = 1) -> Path:
    """Write a deterministic synthetic 2022-23-like season, or ``seasons`` consecutive ones.

    The last season is always 2022-23, drawn exactly as a single-season call draws it (so all
    seasons stay in the past and can be backfilled). The k-th season before it is the same league
    k years earlier: the same players, a new schedule and new box scores drawn from
    ``default_rng([seed, k])``, every date moved back k years and game ids numbered
    ``002{22-k}NNNNN`` like the NBA's. All seasons go into one file per kind, oldest first, in the
    format of the real season.
    """
    if not 1 <= seasons <= MAX_SEASONS:
        raise ValueError(f"seasons must be between 1 and {MAX_SEASONS}, got {seasons}")
    with system_arrow_pool():
        return _write_seasons(Path(out_dir), seed, seasons)


def _write_seasons(out_dir: Path, seed: int, seasons: int) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dates = _game_dates()
    schedule = _schedule(rng, dates)
    players = _players(rng)
    # One season in memory at a time, appended oldest first: the same bytes as writing the
    # concatenation (every season's frames have the same columns and dtypes), a fifth of the
    # memory for five seasons. The 2022-23 box scores come last from ``rng``, which nothing
    # else draws from in between, so they are the numbers a single-season call draws.
    tally = _PlayerTally()
    for k in range(seasons - 1, -1, -1):
        if k:
            earlier = np.random.default_rng([seed, k])
            schedule_k = _schedule(earlier, dates)
            logs, teams, shots = _box_scores(earlier, schedule_k, players)
            sched = _schedule_file(schedule_k, teams)
            logs, teams, sched, shots = (_earlier_season(f, k) for f in (logs, teams, sched, shots))
        else:
            logs, teams, shots = _box_scores(rng, schedule, players)
            sched = _schedule_file(schedule, teams)
        tally.add(logs)
        first = k == seasons - 1
        for kind, frame in (
            ("player_game_logs", logs),
            ("team_game_logs", teams),
            ("schedule", sched),
            ("player_shot_zones", shots),
        ):
            _write_csv(frame, out / f"{kind}_{SUFFIX}.csv", first)
        del logs, teams, sched, shots
    _write_csv(_players_file(players, tally), out / f"players_{SUFFIX}.csv", True)
    return out


def _write_csv(frame: pd.DataFrame, path: Path, first: bool) -> None:
    """Write (``first``) or append a frame; "\n" endings and no index: identical bytes."""
    frame.to_csv(path, mode="w" if first else "a", header=first, index=False, lineterminator="\n")


class _PlayerTally:
    """What the players file needs of every season's logs, added season by season."""

    def __init__(self) -> None:
        self.listed: dict[int, int] = {}
        self.played: dict[int, int] = {}
        self.teams: dict[int, dict[str, None]] = {}

    def add(self, logs: pd.DataFrame) -> None:
        """Count listed and played games and the teams (in order of first listing)."""
        listed = logs.groupby("player_id", sort=False).size()
        played = logs[logs["played"] & (logs["minutes"] > 0)].groupby("player_id").size()
        for counts, into in ((listed, self.listed), (played, self.played)):
            for pid, n in zip(counts.index.tolist(), counts.tolist(), strict=True):
                into[int(pid)] = into.get(int(pid), 0) + int(n)
        for pid, team in zip(logs["player_id"].to_numpy(), logs["team_abbr"], strict=True):
            self.teams.setdefault(int(pid), {})[team] = None


def _earlier_season(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """A 2022-23 frame moved k seasons back: ISO game dates - k years, game ids 002{22-k}…."""
    out = frame.copy()
    moved = {
        day: date.fromisoformat(day).replace(year=date.fromisoformat(day).year - k).isoformat()
        for day in out["game_date"].unique()
    }
    out["game_date"] = out["game_date"].map(moved)
    out["game_id"] = f"002{22 - k:02d}" + out["game_id"].str.slice(5)
    return out


# ---------------------------------------------------------------------------------------------
# Calendar and schedule
# ---------------------------------------------------------------------------------------------


def _game_dates() -> list[date]:
    days = []
    current = SEASON_START
    while current <= SEASON_END:
        in_break = ALL_STAR_BREAK[0] <= current <= ALL_STAR_BREAK[1]
        if not in_break and current not in OFF_DAYS:
            days.append(current)
        current += timedelta(days=1)
    return days


def _pairings() -> Ints:
    """(home, away) team numbers of all 1,230 games."""
    games = []
    for i in range(N_TEAMS):
        for j in range(i + 1, N_TEAMS):
            games += [(i, j), (j, i)]
        for k in range(1, EXTRA_NEIGHBOURS + 1):
            j = (i + k) % N_TEAMS
            games += [(i, j), (j, i)]
    return np.array(games, dtype=np.int64)


def _schedule(rng: np.random.Generator, dates: list[date]) -> pd.DataFrame:
    """Assign every pairing to a date: one game per team per day, no three games in three days."""
    games = _pairings()
    games = games[rng.permutation(len(games))]
    n_dates = len(dates)
    date_of = np.full(len(games), -1, dtype=np.int64)
    left = np.bincount(games.ravel(), minlength=N_TEAMS).astype(np.float64)
    last = np.full(N_TEAMS, -10, dtype=np.int64)
    before_last = np.full(N_TEAMS, -10, dtype=np.int64)
    # The greedy pass walks the calendar once; each day takes the most "behind schedule" teams
    # first (games left / days left), so the season ends with every team at 82 games.
    for d in range(n_dates):
        open_games = np.flatnonzero(date_of < 0)
        days_left = n_dates - d
        target = (
            2
            if d == 0
            else int(np.clip(round(len(open_games) / days_left + rng.normal(0, 1.6)), 1, 14))
        )
        urgency = left / days_left
        tired = (last == d - 1) & (before_last == d - 2)
        home, away = games[open_games, 0], games[open_games, 1]
        # Back-to-backs happen (about 12 per team; 13 in the real season) but are not preferred.
        priority = (
            urgency[home]
            + urgency[away]
            + rng.random(len(open_games)) * 0.35
            - 0.12 * ((last[home] == d - 1).astype(float) + (last[away] == d - 1).astype(float))
        )
        allowed = ~tired[home] & ~tired[away]
        order = open_games[allowed][np.argsort(-priority[allowed], kind="stable")]
        busy = np.zeros(N_TEAMS, dtype=bool)
        taken = 0
        for g in order:
            h, a = games[g]
            if busy[h] or busy[a]:
                continue
            busy[h] = busy[a] = True
            date_of[g] = d
            taken += 1
            if taken >= target:
                break
        played = np.flatnonzero(busy)
        before_last[played] = last[played]
        last[played] = d
        left[played] -= 1
    # Rare stragglers go to the latest day on which both teams are free.
    for g in np.flatnonzero(date_of < 0):
        h, a = games[g]
        busy_days = set(date_of[(games[:, 0] == h) | (games[:, 1] == h)].tolist())
        busy_days |= set(date_of[(games[:, 0] == a) | (games[:, 1] == a)].tolist())
        free = [d for d in range(n_dates - 1, -1, -1) if d not in busy_days]
        if not free:  # pragma: no cover - never seen; fail loudly rather than double-book
            raise RuntimeError(f"synthetic schedule: no free day for game {h} vs {a}")
        date_of[g] = free[0]
    frame = pd.DataFrame({"day": date_of, "home": games[:, 0], "away": games[:, 1]})
    frame["home_abbr"] = [TEAMS[t][1] for t in frame["home"]]
    frame = frame.sort_values(["day", "home_abbr"], kind="stable").reset_index(drop=True)
    frame["game_id"] = [f"00222{n:05d}" for n in range(1, len(frame) + 1)]
    frame["game_date"] = [dates[d] for d in frame["day"]]
    frame["ot"] = np.where(
        rng.random(len(frame)) < 0.058, np.where(rng.random(len(frame)) < 0.15, 2, 1), 0
    )
    return frame.drop(columns="home_abbr")


# ---------------------------------------------------------------------------------------------
# Players
# ---------------------------------------------------------------------------------------------


def _names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
        last = LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
        roll = rng.random()
        suffix = " Jr." if roll < 0.04 else " III" if roll < 0.05 else ""
        name = f"{first} {last}{suffix}"
        key = player_lookup(name)
        # Distinct lookups: two players sharing one would share a PCF key downstream.
        if key not in seen:
            seen.add(key)
            names.append(name)
    return names


def _players(rng: np.random.Generator) -> _Players:
    count = N_TEAMS * ROSTER
    slot = np.tile(np.arange(ROSTER), N_TEAMS)
    # Each team starts two guards, two forwards and a centre in some order; the bench is mixed.
    position: list[str] = []
    for _ in range(N_TEAMS):
        starters = list(rng.permutation(["G", "G", "F", "F", "C"]))
        bench = list(rng.choice(["G", "F", "C", "M"], size=ROSTER - 5, p=[0.42, 0.3, 0.16, 0.12]))
        position += [str(p) for p in starters + bench]
    # Some starting wings are mid-range scorers.
    position = [("M" if p == "F" and rng.random() < 0.25 else p) for p in position]

    minutes = SLOT_MINUTES[slot] + rng.normal(0, 1.5, count)
    usage = np.clip(SLOT_USAGE[slot] + rng.normal(0, 0.02, count), 0.11, 0.38)
    base = np.array([PROFILES[p] for p in position])
    noise = rng.dirichlet(np.ones(len(ZONES) - 1), size=count)
    profile = base.copy()
    # Personal variety over the six real zones; backcourt heaves stay rare for everyone.
    profile[:, :6] = base[:, :6] * 0.85 + noise * 0.15 * base[:, :6].sum(axis=1, keepdims=True)
    profile /= profile.sum(axis=1, keepdims=True)
    skill = rng.normal(0, 0.025, count) + np.where(slot < 2, 0.02, 0.0)
    ft_pct = np.clip(rng.normal(0.77, 0.07, count), 0.45, 0.95)
    ft_rate = np.where(slot < 2, 1.6, 1.0) * np.where(np.array(position) == "C", 1.25, 1.0)
    ast_rate = np.where(np.array(position) == "G", 1.8, 0.8) * rng.uniform(0.7, 1.3, count)
    reb_rate = np.where(
        np.array(position) == "C", 2.2, np.where(np.array(position) == "G", 0.6, 1.0)
    )
    reb_rate = reb_rate * rng.uniform(0.8, 1.2, count)

    # Injury spells as day offsets: most are a few games, some are long; stars included.
    spells = 4
    start = rng.integers(0, 180, size=(count, spells))
    length = rng.geometric(0.12, size=(count, spells)) * np.where(
        rng.random((count, spells)) < 0.1, 4, 1
    )
    has = rng.random((count, spells)) < np.array([0.55, 0.35, 0.2, 0.1])
    injuries = np.stack([start, np.where(has, start + length, start)], axis=2).astype(np.int64)

    age = np.clip(rng.normal(26.3, 4.2, count), 19.2, 39.5)
    birth_offset = np.round(age * 365.25).astype(int)
    known = rng.random(count) >= 0.08
    birth = [
        (SEASON_START - timedelta(days=int(b))) if k else None
        for b, k in zip(birth_offset, known, strict=True)
    ]
    names = _names(rng, count)
    inches = np.round(
        np.where(np.array(position) == "C", 83.5, np.where(np.array(position) == "G", 76.5, 79.5))
        + rng.normal(0, 1.3, count)
    ).astype(int)
    weight = np.round(inches * 6.6 - 305 + rng.normal(0, 12, count)).astype(float)
    draft_year = np.clip(np.round(2022 - (age - 20.5) + rng.normal(0, 0.6, count)), 2003, 2022)
    undrafted = rng.random(count) < 0.15
    pick = rng.integers(1, 61, count)
    draft = [
        ("Undrafted", "Undrafted", "Undrafted")
        if u
        else (str(int(y)), "1" if p <= 30 else "2", str(int(p)))
        for y, u, p in zip(draft_year, undrafted, pick, strict=True)
    ]
    country = [COUNTRIES.get(n.split(" ")[1], "USA") for n in names]
    return _Players(
        ids=(1_900_000 + np.arange(count) * 7).astype(np.int64),
        names=names,
        position=position,
        birth=birth,
        minutes=minutes,
        usage=usage,
        profile=profile,
        skill=skill,
        ft_pct=ft_pct,
        ft_rate=ft_rate,
        ast_rate=ast_rate,
        reb_rate=reb_rate,
        injuries=injuries,
        height=[f"{i // 12}-{i % 12}" for i in inches],
        weight=weight,
        country=country,
        draft=draft,
    )


# ---------------------------------------------------------------------------------------------
# Box scores
# ---------------------------------------------------------------------------------------------


def _split(rng: np.random.Generator, totals: Ints, weights: Floats) -> Ints:
    """Split each row's total over the columns in proportion to weights (multinomial)."""
    share = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return rng.multinomial(totals, share).astype(np.int64)


def _seconds(plan: Floats, total: Ints, cap: Floats) -> Ints:
    """Integer seconds per slot summing exactly to the team's total, no one above the cap."""
    seconds = plan * (total / plan.sum(axis=1))[:, None]
    for _ in range(4):  # push minutes above the cap to the rest of the rotation
        over = np.clip(seconds - cap[:, None], 0, None)
        seconds = np.minimum(seconds, cap[:, None])
        room = np.where((seconds > 0) & (seconds < cap[:, None]), seconds, 0.0)
        seconds += (
            over.sum(axis=1, keepdims=True)
            * room
            / np.maximum(room.sum(axis=1, keepdims=True), 1e-9)
        )
    whole = np.floor(seconds).astype(np.int64)
    short = total - whole.sum(axis=1)
    # Largest remainders get the missing seconds, so the team total is exact.
    rank = np.argsort(np.argsort(-(seconds - whole), axis=1, kind="stable"), axis=1)
    extra = (rank < short[:, None]) & (seconds > 0)
    result: Ints = (whole + extra).astype(np.int64)
    return result


def _box_scores(
    rng: np.random.Generator, schedule: pd.DataFrame, players: _Players
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n_games = len(schedule)
    # Team-games: rows 0..n-1 are the home sides, n..2n-1 the away sides.
    team = np.concatenate([schedule["home"], schedule["away"]]).astype(np.int64)
    opp = np.concatenate([schedule["away"], schedule["home"]]).astype(np.int64)
    home = np.arange(2 * n_games) < n_games
    mate = np.concatenate([np.arange(n_games, 2 * n_games), np.arange(n_games)])
    game_dates = pd.to_datetime(pd.Series(list(schedule["game_date"]) * 2))
    offset = (game_dates - pd.Timestamp(SEASON_START)).dt.days.to_numpy()
    ot = np.concatenate([schedule["ot"], schedule["ot"]]).astype(np.int64)

    # Rosters: player number = team * 15 + slot; a few same-slot swaps at the trade deadline,
    # one of them between two stars.
    roster = np.arange(N_TEAMS * ROSTER).reshape(N_TEAMS, ROSTER)
    traded = roster.copy()
    swaps = rng.permutation(N_TEAMS)[:8].reshape(4, 2)
    for (a, b), s in zip(swaps, (0, 3, 6, 9), strict=True):
        traded[a, s], traded[b, s] = roster[b, s], roster[a, s]
    after = (offset >= (TRADE_DEADLINE - SEASON_START).days)[:, None]
    pid = np.where(after, traded[team], roster[team])  # (team-games × slots) player numbers
    slot = np.broadcast_to(np.arange(ROSTER), pid.shape)

    spells = players.injuries[pid]  # (tg, slot, spell, 2)
    day = offset[:, None, None]
    injured: Bools = np.asarray(((spells[..., 0] <= day) & (day < spells[..., 1])).any(axis=2))
    coach = rng.random(pid.shape) < SLOT_DNP[slot]
    healthy = ~injured
    # At least eight healthy players dress and play, whatever the coach's rotation says.
    depth = np.cumsum(healthy, axis=1)
    plays = healthy & (~coach | (depth <= 8))

    # A few deep-bench players check in at 0:00 ("played" with no minutes), as in the real logs.
    ghost = plays & (slot >= 10) & (rng.random(pid.shape) < 0.003)
    periods_sec = (48 + 5 * ot) * 60
    plan = (
        np.where(
            plays & ~ghost,
            np.clip(players.minutes[pid] + rng.normal(0, 3.2, pid.shape), 2, None),
            0.0,
        )
        * 60.0
    )
    seconds = _seconds(plan, periods_sec * 5, ((44 + 5 * ot) * 60).astype(np.float64))
    plays &= seconds > 0  # from here on "plays" means "got minutes"

    # Pace: team tendencies plus game noise; both sides of a game share it (± a little).
    team_pace = rng.normal(99.8, 2.6, N_TEAMS)
    game_pace = np.clip(
        (team_pace[schedule["home"]] + team_pace[schedule["away"]]) / 2
        + rng.normal(0, 4.0, n_games),
        87.0,
        115.5,
    )
    pace = np.round(np.concatenate([game_pace, game_pace]) + rng.normal(0, 0.3, 2 * n_games), 1)
    poss = np.round(pace * (48 + 5 * ot) / 48).astype(np.int64)
    team_fga = np.round(poss * rng.uniform(0.82, 0.93, 2 * n_games)).astype(np.int64)
    team_fta = rng.poisson(0.266 * team_fga).astype(np.int64)
    team_tov = rng.poisson(13.4 * poss / 100).astype(np.int64)

    usage = players.usage[pid]
    load = seconds * usage
    fga = _split(rng, team_fga, load)
    fta = _split(rng, team_fta, load * players.ft_rate[pid])
    tov = _split(rng, team_tov, load)

    # Zones: each player's profile; makes depend on his skill and the opponent's zone defence.
    defence = rng.normal(0, 0.022, (N_TEAMS, 3))
    zone_fga = rng.multinomial(fga, players.profile[pid]).astype(np.int64)  # (tg, slot, 7)
    chance = np.clip(
        ZONE_FG + players.skill[pid][..., None] + defence[opp][:, None, ZONE_GROUP], 0.01, 0.95
    )
    chance[..., 6] = 0.025  # heaves stay heaves
    zone_fgm = rng.binomial(zone_fga, chance).astype(np.int64)
    fgm = zone_fgm.sum(axis=2)
    fg3a = zone_fga[..., 3:].sum(axis=2)
    fg3m = zone_fgm[..., 3:].sum(axis=2)
    ftm = rng.binomial(fta, players.ft_pct[pid]).astype(np.int64)
    pts = 2 * (fgm - fg3m) + 3 * fg3m + ftm

    # No ties: the home side's first scorer gets one more made free throw.
    team_pts = pts.sum(axis=1)
    tie = np.flatnonzero(home & (team_pts == team_pts[mate]))
    first = np.argmax(plays[tie], axis=1)
    fta[tie, first] += 1
    ftm[tie, first] += 1
    pts[tie, first] += 1
    team_pts = pts.sum(axis=1)

    minutes_share = seconds / 60.0
    oreb = _split(rng, rng.poisson(10.4, 2 * n_games), minutes_share * players.reb_rate[pid])
    dreb = _split(rng, rng.poisson(33.0, 2 * n_games), minutes_share * players.reb_rate[pid])
    ast = _split(
        rng,
        np.round(fgm.sum(axis=1) * rng.uniform(0.5, 0.7, 2 * n_games)).astype(np.int64),
        minutes_share * players.ast_rate[pid],
    )
    stl = _split(rng, rng.poisson(7.4, 2 * n_games), minutes_share)
    blk = _split(rng, rng.poisson(4.7, 2 * n_games), minutes_share * players.reb_rate[pid])
    pf = _split(rng, rng.poisson(19.8, 2 * n_games), minutes_share)
    margin = team_pts - team_pts[mate]
    plus_minus = np.round(
        margin[:, None] * seconds / periods_sec[:, None]
        + rng.normal(0, 4, pid.shape) * np.sqrt(minutes_share / 48)
    ).astype(int)

    tg_sec = (periods_sec * 5).astype(np.float64)[:, None]
    usage_load = fga + 0.44 * fta + tov
    team_load = usage_load.sum(axis=1, keepdims=True)
    usg = np.where(seconds > 0, usage_load * (tg_sec / 5) / np.maximum(seconds * team_load, 1), 0)
    player_pace = np.round(pace[:, None] + rng.normal(0, 2.5, pid.shape), 2)
    player_poss = np.round(player_pace * seconds / 2880).astype(np.int64)
    team_poss = poss.astype(np.float64)
    off_rating = np.round(100 * team_pts / team_poss, 1)
    def_rating = np.round(100 * team_pts[mate] / team_poss[mate], 1)

    # Listing: healthy players are listed (DNP when benched); an injured one only sometimes.
    injured_listed = injured & (rng.random(pid.shape) < 0.3)
    listed = healthy | injured_listed
    top5: Bools = np.argsort(np.argsort(-seconds, axis=1, kind="stable"), axis=1) < 5

    tg_idx, slot_idx = np.nonzero(listed)
    rows = pd.DataFrame({"tg": tg_idx, "slot": slot_idx})
    p_num = pid[tg_idx, slot_idx]
    pick = (tg_idx, slot_idx)
    did_play = plays[pick]
    is_ghost = ghost[pick]
    played_flag = did_play | is_ghost
    sec = np.where(did_play, seconds[pick], 0)

    game_idx = tg_idx % n_games
    g_date = schedule["game_date"].to_numpy()[game_idx]
    t_abbr = np.array([t[1] for t in TEAMS])
    t_ids = np.array([t[0] for t in TEAMS], dtype=np.int64)
    births = [players.birth[p] for p in p_num]
    rows = pd.DataFrame(
        {
            "game_id": schedule["game_id"].to_numpy()[game_idx],
            "game_date": [d.isoformat() for d in g_date],
            "team_id": t_ids[team[tg_idx]],
            "team_abbr": t_abbr[team[tg_idx]],
            "opp_abbr": t_abbr[opp[tg_idx]],
            "home_away": np.where(home[tg_idx], "H", "A"),
        }
    )
    rows["matchup"] = np.where(
        home[tg_idx],
        rows["team_abbr"] + " vs. " + rows["opp_abbr"],
        rows["team_abbr"] + " @ " + rows["opp_abbr"],
    )
    rows["player_id"] = players.ids[p_num]
    rows["player_name"] = [players.names[p] for p in p_num]
    rows["birthdate"] = [b.isoformat() if b else None for b in births]
    rows["age_years"] = [
        round((d - b).days / 365.25, 3) if b else np.nan
        for d, b in zip(g_date, births, strict=True)
    ]
    # Mid-range wings start as forwards.
    letters = [{"M": "F"}.get(players.position[p], players.position[p]) for p in p_num]
    rows["start_position"] = pd.Series(letters, dtype=object).where(did_play & top5[pick])
    reasons = np.where(injured[pick], "DND - Injury/Illness", "DNP - Coach's Decision")
    rows["dnp_comment"] = pd.Series(reasons, dtype=object).where(~played_flag)
    rows["played"] = played_flag
    clock = [f"{s // 60}:{s % 60:02d}" for s in sec]
    rows["min_raw"] = pd.Series(clock, dtype=object).where(played_flag)
    rows["minutes"] = np.where(played_flag, np.round(sec / 60, 4), np.nan)

    def stat(matrix: npt.NDArray[np.int64]) -> pd.Series:
        values = np.where(did_play, matrix[pick], 0)
        return pd.Series(values, dtype="Int64").where(played_flag, pd.NA)

    def ratio(num: npt.NDArray[np.int64], den: npt.NDArray[np.int64]) -> pd.Series:
        n, d = stat(num).astype("Float64"), stat(den).astype("Float64")
        return (n / d.where(d > 0)).fillna(0.0).round(3).where(played_flag).astype(np.float64)

    counts = {
        "fgm": fgm,
        "fga": fga,
        "fg3m": fg3m,
        "fg3a": fg3a,
        "ftm": ftm,
        "fta": fta,
        "oreb": oreb,
        "dreb": dreb,
        "reb": oreb + dreb,
        "ast": ast,
        "stl": stl,
        "blk": blk,
        "tov": tov,
        "pf": pf,
        "pts": pts,
    }
    for name in ("fgm", "fga"):
        rows[name] = stat(counts[name])
    rows["fg_pct"] = ratio(fgm, fga)
    for name in ("fg3m", "fg3a"):
        rows[name] = stat(counts[name])
    rows["fg3_pct"] = ratio(fg3m, fg3a)
    for name in ("ftm", "fta"):
        rows[name] = stat(counts[name])
    rows["ft_pct"] = ratio(ftm, fta)
    for name in ("oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf", "pts"):
        rows[name] = stat(counts[name])
    rows["plus_minus"] = stat(plus_minus.astype(np.int64))
    rows["usg_pct"] = np.where(did_play, np.round(usg[pick], 3), 0.0)
    rows["pace"] = np.where(did_play, player_pace[pick], np.where(is_ghost, 0.0, np.nan))
    rows["poss"] = np.where(did_play, player_poss[pick], 0)
    rows["off_rating"] = np.where(did_play, off_rating[tg_idx], 0.0)
    rows["def_rating"] = np.where(did_play, def_rating[tg_idx], 0.0)
    attempts = (fga + 0.44 * fta)[pick]
    true_shooting = pts[pick] / (2 * np.maximum(attempts, 1e-9))
    rows["ts_pct"] = np.where(
        played_flag, np.round(np.where(did_play & (attempts > 0), true_shooting, 0.0), 3), np.nan
    )
    logs = rows.sort_values(["game_id", "team_abbr", "player_id"], kind="stable")
    logs = logs.reset_index(drop=True)[list(PLAYER_LOG_COLUMNS)]

    # Team logs: the sums of what the players did.
    live = np.where(plays, 1, 0)
    total = {name: (matrix * live).sum(axis=1) for name, matrix in counts.items()}
    opp_total = {name: values[mate] for name, values in total.items()}
    teams = pd.DataFrame(
        {
            "game_id": schedule["game_id"].to_numpy()[np.arange(2 * n_games) % n_games],
            "game_date": [d.isoformat() for d in list(schedule["game_date"]) * 2],
            "team_id": t_ids[team],
            "team_abbr": t_abbr[team],
            "team_name": np.array([t[2] for t in TEAMS])[team],
            "opp_abbr": t_abbr[opp],
            "home_away": np.where(home, "H", "A"),
            "wl": np.where(total["pts"] > opp_total["pts"], "W", "L"),
            "pts": total["pts"],
            "opp_pts": opp_total["pts"],
            "minutes": (periods_sec * 5 / 60).astype(np.float64),
        }
    )
    for name in ("fgm", "fga"):
        teams[name] = total[name]
    teams["fg_pct"] = np.round(total["fgm"] / np.maximum(total["fga"], 1), 3)
    for name in ("fg3m", "fg3a"):
        teams[name] = total[name]
    teams["fg3_pct"] = np.round(total["fg3m"] / np.maximum(total["fg3a"], 1), 3)
    for name in ("ftm", "fta"):
        teams[name] = total[name]
    teams["ft_pct"] = np.round(total["ftm"] / np.maximum(total["fta"], 1), 3)
    for name in ("oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf"):
        teams[name] = total[name]
    teams["plus_minus"] = (total["pts"] - opp_total["pts"]).astype(np.float64)
    teams["pace"] = pace
    teams["poss"] = poss
    teams["off_rating"] = np.round(100 * total["pts"] / poss, 1)
    teams["def_rating"] = np.round(100 * opp_total["pts"] / poss[mate], 1)
    teams["net_rating"] = np.round(teams["off_rating"] - teams["def_rating"], 1)
    teams["efg_pct"] = np.round((total["fgm"] + 0.5 * total["fg3m"]) / total["fga"], 3)
    teams["ts_pct"] = np.round(total["pts"] / (2 * (total["fga"] + 0.44 * total["fta"])), 3)
    teams["tm_tov_pct"] = np.round(100 * total["tov"] / poss, 1)
    for mine, theirs in (("oreb", "dreb"), ("dreb", "oreb")):
        chances = np.maximum(total[mine] + opp_total[theirs], 1)
        teams[f"{mine}_pct"] = np.round(total[mine] / chances, 3)
    teams = teams.sort_values(["game_id", "home_away"], kind="stable").reset_index(drop=True)

    # Shot zones: one row per player-game with at least one attempt; zones sum to box FGA.
    shot_pick = np.nonzero(plays & (fga > 0))
    s_tg, s_slot = shot_pick
    s_num = pid[s_tg, s_slot]
    shots = pd.DataFrame(
        {
            "game_id": schedule["game_id"].to_numpy()[s_tg % n_games],
            "game_date": [d.isoformat() for d in schedule["game_date"].to_numpy()[s_tg % n_games]],
            "team_id": t_ids[team[s_tg]],
            "player_id": players.ids[s_num],
            "player_name": [players.names[p] for p in s_num],
            "fga_total": fga[shot_pick],
            "fg3a_total": fg3a[shot_pick],
        }
    )
    for z, zone in enumerate(ZONES):
        shots[f"fga_{zone}"] = zone_fga[s_tg, s_slot, z]
        shots[f"fgm_{zone}"] = zone_fgm[s_tg, s_slot, z]
    shots = shots.sort_values(["game_id", "team_id", "player_id"], kind="stable")
    return logs, teams, shots.reset_index(drop=True)


def _schedule_file(schedule: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    side = teams.set_index(["game_id", "home_away"])
    t_abbr = np.array([t[1] for t in TEAMS])
    t_ids = np.array([t[0] for t in TEAMS], dtype=np.int64)
    home = side.xs("H", level="home_away").loc[schedule["game_id"]]
    away = side.xs("A", level="home_away").loc[schedule["game_id"]]
    return pd.DataFrame(
        {
            "game_id": schedule["game_id"].to_numpy(),
            "game_date": [d.isoformat() for d in schedule["game_date"]],
            "home_team_id": t_ids[schedule["home"]],
            "home_abbr": t_abbr[schedule["home"]],
            "home_pts": home["pts"].to_numpy(),
            "away_team_id": t_ids[schedule["away"]],
            "away_abbr": t_abbr[schedule["away"]],
            "away_pts": away["pts"].to_numpy(),
            "game_pace": np.round((home["pace"].to_numpy() + away["pace"].to_numpy()) / 2, 2),
            "overtime_periods": schedule["ot"].to_numpy(),
        }
    )


def _players_file(players: _Players, tally: _PlayerTally) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "player_id": players.ids,
            "player_name": players.names,
        }
    )
    listed = pd.Series(tally.listed, dtype=np.int64)
    played = pd.Series(tally.played, dtype=np.int64)
    team_list = pd.Series(
        {pid: "|".join(teams) for pid, teams in tally.teams.items()}, dtype=object
    )
    frame["games_listed"] = frame["player_id"].map(listed).fillna(0).astype(int)
    frame["games_played"] = frame["player_id"].map(played).fillna(0).astype(int)
    frame["team_abbrs"] = frame["player_id"].map(team_list)
    frame["birthdate"] = [b.isoformat() if b else None for b in players.birth]
    frame["height"] = players.height
    frame["weight"] = players.weight
    frame["position"] = [POSITIONS[p] for p in players.position]
    frame["country"] = players.country
    frame["draft_year"] = [d[0] for d in players.draft]
    frame["draft_round"] = [d[1] for d in players.draft]
    frame["draft_number"] = [d[2] for d in players.draft]
    return frame.sort_values("player_id", kind="stable").reset_index(drop=True)
