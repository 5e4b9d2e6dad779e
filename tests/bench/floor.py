"""A set-based floor for the season benchmark: the same outputs in four DuckDB statements.

The project processes a backfill date by date (plan, context, Python factors, stage, MERGE,
ledger, gate). The floor computes the same rows for the whole range at once — the range plan
with the source decision (RULES §2.1–2.2), the UPCG context, the PGS-synthesized context
(RULES §2.3) and the four factors with their rounding and total (RULES §2.4) — straight in DuckDB
SQL, on a copy of the same seeded warehouse. It writes no ledger, checks no gate and builds no
JSON context or hash: it is what the computation costs with nothing around it, so the ratio
project / floor says how much of the project's time is orchestration.

``compare`` checks the floor's rows against the project's output on the numeric columns and the
source; ``python -m tests.bench.floor DB`` runs it on a seeded DuckDB file and prints the times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from shared.config import Settings
from shared.warehouse.schemas import get_schema

# Columns compared between the floor and the project (numbers and the source; not JSON/hash).
COMPARED = (
    "data_source",
    "fatigue_score",
    "shot_zone_mismatch_score",
    "pace_score",
    "usage_spike_score",
    "total_composite_adjustment",
    "data_completeness_pct",
)


def _names(settings: Settings) -> dict[str, str]:
    tables = (
        "nba_schedule",
        "player_game_summary",
        "upcoming_player_game_context",
        "player_shot_zone_analysis",
        "team_defense_zone_analysis",
        "player_composite_factors",
    )
    return {t: f"{settings.dataset(get_schema(t).dataset_key)}.{t}" for t in tables}


# 1. The plan of every day of the range: expected/UPCG players, season start, action, source.
PLAN = """
CREATE OR REPLACE TEMP TABLE floor_plan AS
WITH sched AS (
  SELECT game_date, COUNT(*) AS scheduled FROM {nba_schedule}
  WHERE game_date BETWEEN $start AND $end GROUP BY game_date
), pgs AS (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS expected FROM {player_game_summary}
  WHERE game_date BETWEEN $start AND $end GROUP BY game_date
), upcg AS (
  SELECT game_date, COUNT(DISTINCT player_lookup) AS upcg FROM {upcoming_player_game_context}
  WHERE game_date BETWEEN $start AND $end GROUP BY game_date
), seasons AS (
  SELECT season_year, MIN(game_date) AS season_start FROM {nba_schedule}
  WHERE game_date BETWEEN $start - INTERVAL 400 DAY AND $end GROUP BY season_year
), days AS (
  SELECT game_date FROM sched UNION SELECT game_date FROM pgs
), planned AS (
  SELECT d.game_date, COALESCE(p.expected, 0) AS expected, COALESCE(u.upcg, 0) AS upcg,
    (SELECT MAX(s.season_start) FROM seasons AS s WHERE s.season_start <= d.game_date)
      AS season_start
  FROM days AS d LEFT JOIN pgs AS p USING (game_date) LEFT JOIN upcg AS u USING (game_date)
)
SELECT game_date, expected, upcg,
  CASE
    WHEN $pinned = 'synthetic' THEN 'PGS_SYNTHETIC'
    WHEN $pinned = 'upcg' THEN 'UPCG'
    WHEN upcg = 0 THEN 'PGS_SYNTHETIC'
    WHEN expected > 0
      AND CAST(upcg AS DECIMAL(38, 9)) < CAST($threshold AS DECIMAL(38, 9)) * expected
      THEN 'PGS_SYNTHETIC'
    ELSE 'UPCG'
  END AS source
FROM planned
WHERE season_start IS NULL
  OR NOT (DATE_DIFF('day', season_start, game_date) BETWEEN 0 AND $bootstrap - 1)
"""

_CONTEXT_COLUMNS = """
  game_date, player_lookup, universal_player_id, game_id, opponent_team_abbr, data_source,
  days_rest, back_to_back, games_in_last_7_days, minutes_in_last_7_days,
  avg_minutes_per_game_last_7, back_to_backs_last_14_days, player_age, projected_usage_rate,
  avg_usage_rate_last_7_games, star_teammates_out, pace_differential
"""

# 2. UPCG context of every UPCG date (the latest row per player if stale duplicates exist).
CONTEXT_UPCG = (
    "CREATE OR REPLACE TEMP TABLE floor_ctx AS SELECT"
    + _CONTEXT_COLUMNS
    + """
FROM (
  SELECT u.game_date, u.player_lookup, u.universal_player_id, u.game_id, u.opponent_team_abbr,
    'UPCG' AS data_source, u.days_rest, u.back_to_back, u.games_in_last_7_days,
    u.minutes_in_last_7_days, CAST(u.avg_minutes_per_game_last_7 AS DOUBLE)
      AS avg_minutes_per_game_last_7,
    u.back_to_backs_last_14_days, u.player_age,
    CAST(u.projected_usage_rate AS DOUBLE) AS projected_usage_rate,
    CAST(u.avg_usage_rate_last_7_games AS DOUBLE) AS avg_usage_rate_last_7_games,
    u.star_teammates_out, CAST(u.pace_differential AS DOUBLE) AS pace_differential
  FROM {upcoming_player_game_context} AS u
  JOIN floor_plan AS p ON p.game_date = u.game_date AND p.source = 'UPCG'
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY u.game_date, u.player_lookup ORDER BY u.processed_at DESC, u.game_id
  ) = 1
)
"""
)

# 3. PGS-synthesized context of every fallback date (RULES §2.3), all dates in one pass.
CONTEXT_PGS = (
    "INSERT INTO floor_ctx SELECT"
    + _CONTEXT_COLUMNS
    + """
FROM (
  WITH roster AS (
    SELECT g.game_date AS d, g.player_lookup, g.universal_player_id, g.game_id,
      g.opponent_team_abbr
    FROM {player_game_summary} AS g
    JOIN floor_plan AS p ON p.game_date = g.game_date AND p.source = 'PGS_SYNTHETIC'
    QUALIFY ROW_NUMBER() OVER (PARTITION BY g.game_date, g.player_lookup ORDER BY g.game_id) = 1
  ), lagged AS (
    SELECT player_lookup, game_date, minutes_played,
      DATE_DIFF('day', LAG(game_date) OVER (PARTITION BY player_lookup ORDER BY game_date),
                game_date) AS gap_days
    FROM {player_game_summary}
  ), windows AS (
    SELECT r.d, r.player_lookup,
      MAX(CASE WHEN h.game_date >= r.d - INTERVAL 14 DAY THEN h.game_date END) AS last_game,
      COUNT(CASE WHEN h.game_date = r.d - INTERVAL 1 DAY THEN 1 END) > 0 AS back_to_back,
      COUNT(CASE WHEN h.game_date >= r.d - INTERVAL 7 DAY THEN 1 END) AS games_7,
      SUM(CASE WHEN h.game_date >= r.d - INTERVAL 7 DAY THEN h.minutes_played END) AS minutes_7,
      COUNT(CASE WHEN h.game_date >= r.d - INTERVAL 14 DAY AND h.gap_days = 1 THEN 1 END)
        AS b2b_14
    FROM roster AS r
    JOIN lagged AS h ON h.player_lookup = r.player_lookup
      AND h.game_date BETWEEN r.d - INTERVAL 15 DAY AND r.d - INTERVAL 1 DAY
    GROUP BY r.d, r.player_lookup
  ), usage AS (
    SELECT d, player_lookup, ROUND(AVG(usage_rate), 9) AS avg_usage_7
    FROM (
      SELECT r.d, r.player_lookup, h.usage_rate
      FROM roster AS r
      JOIN {player_game_summary} AS h ON h.player_lookup = r.player_lookup
        AND h.game_date BETWEEN r.d - INTERVAL 400 DAY AND r.d - INTERVAL 1 DAY
      QUALIFY ROW_NUMBER() OVER (PARTITION BY r.d, r.player_lookup ORDER BY h.game_date DESC)
        <= 7
    )
    GROUP BY d, player_lookup
  )
  SELECT r.d AS game_date, r.player_lookup, r.universal_player_id, r.game_id,
    r.opponent_team_abbr, 'PGS_SYNTHETIC' AS data_source,
    COALESCE(DATE_DIFF('day', w.last_game, r.d) - 1, 14) AS days_rest,
    COALESCE(w.back_to_back, FALSE) AS back_to_back,
    COALESCE(w.games_7, 0) AS games_in_last_7_days,
    CAST(COALESCE(ROUND(w.minutes_7), 0) AS BIGINT) AS minutes_in_last_7_days,
    CAST(CASE WHEN COALESCE(w.games_7, 0) = 0 THEN 0 ELSE w.minutes_7 / w.games_7 END AS DOUBLE)
      AS avg_minutes_per_game_last_7,
    COALESCE(w.b2b_14, 0) AS back_to_backs_last_14_days,
    CAST(NULL AS BIGINT) AS player_age,
    CAST(NULL AS DOUBLE) AS projected_usage_rate,
    CAST(u.avg_usage_7 AS DOUBLE) AS avg_usage_rate_last_7_games,
    0 AS star_teammates_out,
    CAST(NULL AS DOUBLE) AS pace_differential
  FROM roster AS r
  LEFT JOIN windows AS w ON w.d = r.d AND w.player_lookup = r.player_lookup
  LEFT JOIN usage AS u ON u.d = r.d AND u.player_lookup = r.player_lookup
)
"""
)


def _round(expr: str, places: int) -> str:
    """BigQuery ROUND on the value's shortest decimal form, half away from zero (as the rules)."""
    return (
        f"CAST(ROUND(CAST(CAST({expr} AS VARCHAR) AS DECIMAL(38, 17)), {places}) AS DECIMAL(38, 9))"
    )


# 4. The four factors, their rounding, the total and the completeness of every row.
FACTORS = f"""
CREATE OR REPLACE TEMP TABLE floor_pcf AS
WITH joined AS (
  SELECT c.*,
    z.player_lookup IS NOT NULL AS has_zone,
    t.team_abbr IS NOT NULL AS has_defense,
    LOWER(TRIM(COALESCE(z.primary_scoring_zone, ''))) AS zone_key,
    CAST(z.paint_rate_last_10 AS DOUBLE) AS paint_rate,
    CAST(z.mid_range_rate_last_10 AS DOUBLE) AS mid_rate,
    CAST(z.three_pt_rate_last_10 AS DOUBLE) AS three_rate,
    CAST(t.paint_defense_vs_league_avg AS DOUBLE) AS paint_def,
    CAST(t.mid_range_defense_vs_league_avg AS DOUBLE) AS mid_def,
    CAST(t.three_pt_defense_vs_league_avg AS DOUBLE) AS three_def
  FROM floor_ctx AS c
  LEFT JOIN {{player_shot_zone_analysis}} AS z
    ON z.analysis_date = c.game_date AND z.player_lookup = c.player_lookup
  LEFT JOIN {{team_defense_zone_analysis}} AS t
    ON t.analysis_date = c.game_date AND t.team_abbr = c.opponent_team_abbr
), fatigue AS (
  SELECT *, GREATEST(0, LEAST(100, 100
      + CASE WHEN COALESCE(back_to_back, FALSE) THEN -15
             WHEN COALESCE(days_rest, 1) >= 3 THEN 5 ELSE 0 END
      + CASE WHEN COALESCE(games_in_last_7_days, 3) >= 4 THEN -10 ELSE 0 END
      + CASE WHEN COALESCE(minutes_in_last_7_days, 200) > 240 THEN -10 ELSE 0 END
      + CASE WHEN COALESCE(avg_minutes_per_game_last_7, 30.0) > 35 THEN -8 ELSE 0 END
      + CASE WHEN COALESCE(back_to_backs_last_14_days, 0) >= 2 THEN -12
             WHEN COALESCE(back_to_backs_last_14_days, 0) = 1 THEN -5 ELSE 0 END
      + CASE WHEN COALESCE(player_age, 25) >= 35 THEN -10
             WHEN COALESCE(player_age, 25) >= 30 THEN -5 ELSE 0 END)) AS fatigue_score
  FROM joined
), zone AS (
  SELECT *,
    COALESCE(CASE zone_key WHEN 'mid_range' THEN mid_def WHEN 'perimeter' THEN three_def
             ELSE paint_def END, 0.0::DOUBLE)
    * LEAST(COALESCE(CASE zone_key WHEN 'mid_range' THEN mid_rate
                     WHEN 'perimeter' THEN three_rate ELSE paint_rate END, 50.0::DOUBLE)
            / 50.0::DOUBLE, 1.0::DOUBLE) AS zone_base
  FROM fatigue
), scored AS (
  SELECT *,
    (fatigue_score - 100) / 20.0::DOUBLE AS fatigue_adj,
    CASE WHEN has_zone AND has_defense THEN GREATEST(-10.0::DOUBLE, LEAST(10.0::DOUBLE,
      CASE WHEN ABS(zone_base) > 5.0::DOUBLE THEN zone_base * 1.2::DOUBLE ELSE zone_base END))
      ELSE 0.0::DOUBLE END AS zone_score,
    GREATEST(-3.0::DOUBLE, LEAST(3.0::DOUBLE,
      COALESCE(pace_differential, 0.0::DOUBLE) / 2.0::DOUBLE)) AS pace_raw,
    CASE
      WHEN projected_usage_rate IS NULL OR avg_usage_rate_last_7_games IS NULL
        OR avg_usage_rate_last_7_games = 0 THEN 0.0::DOUBLE
      ELSE GREATEST(-3.0::DOUBLE, LEAST(3.0::DOUBLE,
        ((projected_usage_rate - avg_usage_rate_last_7_games) * 0.3::DOUBLE)
        * CASE WHEN (projected_usage_rate - avg_usage_rate_last_7_games) * 0.3::DOUBLE > 0
               THEN CASE WHEN COALESCE(star_teammates_out, 0) >= 2 THEN 1.30::DOUBLE
                         WHEN COALESCE(star_teammates_out, 0) = 1 THEN 1.15::DOUBLE
                         ELSE 1.0::DOUBLE END
               ELSE 1.0::DOUBLE END))
    END AS usage_raw
  FROM zone
)
SELECT game_date, player_lookup, universal_player_id, game_id, data_source,
  CAST(fatigue_score AS BIGINT) AS fatigue_score,
  {_round("zone_score", 1)} AS shot_zone_mismatch_score,
  {_round("pace_raw", 1)} AS pace_score,
  {_round("usage_raw", 1)} AS usage_spike_score,
  {_round("fatigue_adj + zone_score + pace_raw + usage_raw", 2)} AS total_composite_adjustment,
  20.0::DOUBLE * ((days_rest IS NOT NULL)::INT + (projected_usage_rate IS NOT NULL)::INT
    + (pace_differential IS NOT NULL)::INT + has_zone::INT + has_defense::INT)
    AS data_completeness_pct
FROM scored
"""

STATEMENTS: tuple[tuple[str, str], ...] = (
    ("plan", PLAN),
    ("context_upcg", CONTEXT_UPCG),
    ("context_pgs", CONTEXT_PGS),
    ("factors", FACTORS),
)


@dataclass
class FloorRun:
    """One run of the floor: wall and CPU seconds, rows, statements."""

    seconds: float
    cpu_seconds: float
    rows: int
    statements: int


def run_floor(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start: date,
    end: date,
    pinned: str = "auto",
) -> FloorRun:
    """Compute the whole range's rows into the temp table ``floor_pcf``; time it."""
    names = _names(settings)
    params = {
        "start": start,
        "end": end,
        "pinned": pinned,
        "threshold": settings.fallback_threshold,
        "bootstrap": settings.bootstrap_days,
    }
    wall, cpu = time.perf_counter(), time.process_time()
    for _, text in STATEMENTS:
        sql = text.format(**names)
        wanted = {k: v for k, v in params.items() if f"${k}" in sql}
        con.execute(sql, wanted)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    row = con.execute("SELECT COUNT(*) FROM floor_pcf").fetchone()
    return FloorRun(seconds, cpu_seconds, int(row[0]) if row else 0, len(STATEMENTS))


def compare(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[int, int]:
    """(mismatched rows, project rows): a row mismatches when it is on one side only or any
    compared column differs."""
    project = _names(settings)["player_composite_factors"]
    differs = " OR ".join(f"f.{c} IS DISTINCT FROM p.{c}" for c in COMPARED)
    # Identifiers come from the schema registry, never from input.
    sql = f"""
    SELECT COUNT(*) FILTER (WHERE f.player_lookup IS NULL OR p.player_lookup IS NULL OR {differs}),
           COUNT(p.player_lookup)
    FROM floor_pcf AS f
    FULL OUTER JOIN {project} AS p
      ON p.game_date = f.game_date AND p.player_lookup = f.player_lookup
    """
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def season_bounds(con: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[date, date]:
    """First and last date with a final game."""
    table = _names(settings)["nba_schedule"]
    row = con.execute(
        f"SELECT MIN(game_date), MAX(game_date) FROM {table} WHERE game_status = 3"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def measure(db: Path, repeat: int = 5, pinned: str = "auto") -> dict[str, float | int]:
    """Run the floor ``repeat`` times on ``db`` (a copy the caller may discard); medians."""
    settings = Settings(warehouse=f"duckdb:///{db}")
    con = duckdb.connect(str(db))
    try:
        con.execute("SET TimeZone = 'UTC'")
        start, end = season_bounds(con, settings)
        runs = [run_floor(con, settings, start, end, pinned) for _ in range(repeat)]
        mismatches, project_rows = compare(con, settings)
    finally:
        con.close()
    return {
        "seconds": statistics.median(r.seconds for r in runs),
        "cpu_seconds": statistics.median(r.cpu_seconds for r in runs),
        "rows": runs[-1].rows,
        "statements": runs[-1].statements,
        "mismatches": mismatches,
        "project_rows": project_rows,
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the floor on a backfilled DuckDB file and print its time and the row check."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor", description=__doc__)
    parser.add_argument("db", type=Path, help="a DuckDB warehouse after a full backfill")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source", choices=["auto", "upcg", "synthetic"], default="auto")
    args = parser.parse_args(argv)
    out = measure(args.db, args.repeat, args.source)
    print(
        f"floor: {out['seconds']:.3f} s wall, {out['cpu_seconds']:.3f} s CPU (median of "
        f"{out['repeat']}), {out['statements']} statements, {out['rows']:,} rows; "
        f"{out['mismatches']} of {out['project_rows']:,} project rows differ"
    )
    return 0 if out["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
