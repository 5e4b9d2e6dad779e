"""A set-based floor for the season benchmark: the same outputs in five DuckDB statements.

The project processes a backfill in chunks of dates (plan, context, Python factors, stage, audit,
fenced publish, verify, ledger). The floor computes the same rows for the whole range at once —
the range plan with the source decision (RULES §2.1–2.2), the UPCG context, the PGS-synthesized
context (RULES §2.3), the four factors with their rounding and total (RULES §2.4), and every
output column: the four JSON contexts (same keys and values; DuckDB's key order and float
spelling, so not byte-identical), warnings, missing fields and a SHA-256 ``data_hash`` — straight
in DuckDB SQL, written to a table, on a copy of the same seeded warehouse. It writes no ledger and
checks no gate: it is what producing the outputs costs with nothing around it, so the ratio
project / floor says how much of the project's time is orchestration. The time of the numbers
alone (statements 1-4) is reported too.

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


# 4. The four factors with every intermediate the contexts explain (inputs after defaults,
# penalties, zone pair, weights, differentials), their rounding, the total and the completeness.
FACTORS = """
CREATE OR REPLACE TEMP TABLE floor_scored AS
WITH joined AS (
  SELECT c.*,
    z.player_lookup IS NOT NULL AS has_zone,
    t.team_abbr IS NOT NULL AS has_defense,
    z.primary_scoring_zone,
    LOWER(TRIM(COALESCE(z.primary_scoring_zone, ''))) AS zone_key,
    CAST(z.paint_rate_last_10 AS DOUBLE) AS paint_rate,
    CAST(z.mid_range_rate_last_10 AS DOUBLE) AS mid_rate,
    CAST(z.three_pt_rate_last_10 AS DOUBLE) AS three_rate,
    CAST(t.paint_defense_vs_league_avg AS DOUBLE) AS paint_def,
    CAST(t.mid_range_defense_vs_league_avg AS DOUBLE) AS mid_def,
    CAST(t.three_pt_defense_vs_league_avg AS DOUBLE) AS three_def
  FROM floor_ctx AS c
  LEFT JOIN {player_shot_zone_analysis} AS z
    ON z.analysis_date = c.game_date AND z.player_lookup = c.player_lookup
  LEFT JOIN {team_defense_zone_analysis} AS t
    ON t.analysis_date = c.game_date AND t.team_abbr = c.opponent_team_abbr
), used AS (
  SELECT *,
    COALESCE(days_rest, 1) AS u_days_rest,
    COALESCE(back_to_back, FALSE) AS u_b2b,
    COALESCE(games_in_last_7_days, 3) AS u_games_7,
    COALESCE(minutes_in_last_7_days, 200) AS u_minutes_7,
    COALESCE(avg_minutes_per_game_last_7, 30.0) AS u_avg_minutes,
    COALESCE(back_to_backs_last_14_days, 0) AS u_b2b_14,
    COALESCE(player_age, 25) AS u_age
  FROM joined
), fatigue AS (
  SELECT *,
    CASE WHEN u_b2b THEN -15 END AS p_b2b,
    CASE WHEN NOT u_b2b AND u_days_rest >= 3 THEN 5 END AS b_rest,
    CASE WHEN u_games_7 >= 4 THEN -10 END AS p_games,
    CASE WHEN u_minutes_7 > 240 THEN -10 END AS p_minutes,
    CASE WHEN u_avg_minutes > 35 THEN -8 END AS p_avg,
    CASE WHEN u_b2b_14 >= 2 THEN -12 END AS p_b2b14_2,
    CASE WHEN u_b2b_14 = 1 THEN -5 END AS p_b2b14_1,
    CASE WHEN u_age >= 35 THEN -10 END AS p_age35,
    CASE WHEN u_age >= 30 AND u_age < 35 THEN -5 END AS p_age30
  FROM used
), fatigue_score AS (
  SELECT *,
    100 + COALESCE(p_b2b, 0) + COALESCE(b_rest, 0) + COALESCE(p_games, 0)
      + COALESCE(p_minutes, 0) + COALESCE(p_avg, 0) + COALESCE(p_b2b14_2, 0)
      + COALESCE(p_b2b14_1, 0) + COALESCE(p_age35, 0) + COALESCE(p_age30, 0) AS raw_score
  FROM fatigue
), zone AS (
  SELECT *,
    GREATEST(0, LEAST(100, raw_score)) AS fatigue_score,
    CASE zone_key WHEN 'mid_range' THEN 'mid_range' WHEN 'perimeter' THEN 'three_pt'
         ELSE 'paint' END AS zone_used,
    COALESCE(CASE zone_key WHEN 'mid_range' THEN mid_rate WHEN 'perimeter' THEN three_rate
             ELSE paint_rate END, 50.0::DOUBLE) AS zone_rate,
    COALESCE(CASE zone_key WHEN 'mid_range' THEN mid_def WHEN 'perimeter' THEN three_def
             ELSE paint_def END, 0.0::DOUBLE) AS zone_def
  FROM fatigue_score
), zone_base AS (
  SELECT *, LEAST(zone_rate / 50.0::DOUBLE, 1.0::DOUBLE) AS zone_weight,
    zone_def * LEAST(zone_rate / 50.0::DOUBLE, 1.0::DOUBLE) AS zone_base
  FROM zone
)
SELECT *,
  (fatigue_score - 100) / 20.0::DOUBLE AS fatigue_adj,
  ABS(zone_base) > 5.0::DOUBLE AS zone_amplified,
  CASE WHEN has_zone AND has_defense THEN GREATEST(-10.0::DOUBLE, LEAST(10.0::DOUBLE,
    CASE WHEN ABS(zone_base) > 5.0::DOUBLE THEN zone_base * 1.2::DOUBLE ELSE zone_base END))
    ELSE 0.0::DOUBLE END AS zone_score,
  COALESCE(pace_differential, 0.0::DOUBLE) AS pace_used,
  GREATEST(-3.0::DOUBLE, LEAST(3.0::DOUBLE,
    COALESCE(pace_differential, 0.0::DOUBLE) / 2.0::DOUBLE)) AS pace_raw,
  projected_usage_rate - avg_usage_rate_last_7_games AS usage_diff,
  CASE WHEN (projected_usage_rate - avg_usage_rate_last_7_games) * 0.3::DOUBLE > 0
       THEN CASE WHEN COALESCE(star_teammates_out, 0) >= 2 THEN 1.30::DOUBLE
                 WHEN COALESCE(star_teammates_out, 0) = 1 THEN 1.15::DOUBLE
                 ELSE 1.0::DOUBLE END
       ELSE 1.0::DOUBLE END AS usage_multiplier,
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
FROM zone_base
"""


def _label(expr: str, high: str, low: str, neutral: str) -> str:
    """The context label of a value: ``high`` above +2, ``low`` below -2, else ``neutral``."""
    return (
        f"CASE WHEN {expr} > 2.0 THEN '{high}' WHEN {expr} < -2.0 THEN '{low}' ELSE '{neutral}' END"
    )


def _defaults(*pairs: tuple[str, str]) -> str:
    """The JSON list of the names whose input was NULL (a default applied)."""
    items = ", ".join(f"CASE WHEN {col} IS NULL THEN '{name}' END" for col, name in pairs)
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


_FATIGUE_INPUTS = (
    ("days_rest", "u_days_rest"),
    ("back_to_back", "u_b2b"),
    ("games_in_last_7_days", "u_games_7"),
    ("minutes_in_last_7_days", "u_minutes_7"),
    ("avg_minutes_per_game_last_7", "u_avg_minutes"),
    ("back_to_backs_last_14_days", "u_b2b_14"),
    ("player_age", "u_age"),
)
_PENALTIES = (
    ("back_to_back", "p_b2b"),
    ("games_in_last_7_days_4_plus", "p_games"),
    ("minutes_in_last_7_days_over_240", "p_minutes"),
    ("avg_minutes_per_game_last_7_over_35", "p_avg"),
    ("back_to_backs_last_14_days_2_plus", "p_b2b14_2"),
    ("back_to_backs_last_14_days_1", "p_b2b14_1"),
    ("player_age_35_plus", "p_age35"),
    ("player_age_30_plus", "p_age30"),
)
_FATIGUE_JSON = (
    "json_object('inputs', json_object("
    + ", ".join(f"'{k}', {v}" for k, v in _FATIGUE_INPUTS)
    + "), 'defaults_applied', "
    + _defaults(*((k, k) for k, _ in _FATIGUE_INPUTS))
    + ", 'penalties', json_object("
    + ", ".join(f"'{k}', {v}" for k, v in _PENALTIES)
    + "), 'bonuses', json_object('days_rest_3_plus', b_rest), 'raw_score', raw_score, "
    "'final_score', fatigue_score, 'adjustment', fatigue_adj)"
)
_ZONE_JSON = f"""CASE WHEN has_zone AND has_defense THEN json_object(
  'primary_scoring_zone', primary_scoring_zone, 'zone_used', zone_used,
  'player_zone_rate', zone_rate, 'opponent_defense_vs_league', zone_def,
  'defaults_applied', list_filter([CASE WHEN zone_rate IS NULL THEN 'rate' END,
    CASE WHEN zone_def IS NULL THEN 'defense' END], lambda x: x IS NOT NULL),
  'zone_weight', zone_weight, 'base_mismatch', zone_base, 'amplified', zone_amplified,
  'extreme_matchup', ABS(zone_score) > 8.0,
  'mismatch_type', {_label("zone_score", "favorable", "unfavorable", "neutral")},
  'final_score', zone_score)
ELSE json_object('missing', list_filter([CASE WHEN NOT has_zone THEN 'player_shot_zone' END,
  CASE WHEN NOT has_defense THEN 'team_defense_zone' END], lambda x: x IS NOT NULL),
  'mismatch_type', 'neutral', 'final_score', 0.0) END"""
_PACE_DEFAULTS = _defaults(("pace_differential", "pace_differential"))
_PACE_JSON = f"""json_object('pace_differential', pace_used,
  'opponent_pace_last_10', NULL, 'defaults_applied', {_PACE_DEFAULTS},
  'pace_environment', {_label("pace_used", "fast", "slow", "normal")}, 'final_score', pace_raw)"""
_USAGE_JSON = f"""json_object('projected_usage_rate', projected_usage_rate,
  'avg_usage_last_7', avg_usage_rate_last_7_games,
  'star_teammates_out', COALESCE(star_teammates_out, 0),
  'defaults_applied', {_defaults(("star_teammates_out", "star_teammates_out"))},
  'usage_differential', usage_diff, 'boost_multiplier', usage_multiplier,
  'usage_boost_applied', usage_multiplier <> 1.0,
  'usage_trend', {_label("usage_diff", "spike", "drop", "stable")}, 'final_score', usage_raw)"""

# 5. Every output column — the four JSON contexts, warnings, missing fields, data_hash — written
# to a table: the same outputs the project writes, so project/floor compares like with like.
OUTPUTS = f"""
CREATE OR REPLACE TABLE floor_pcf AS
WITH rounded AS (
  SELECT *,
    {_round("zone_score", 1)} AS shot_zone_mismatch_score,
    {_round("pace_raw", 1)} AS pace_score,
    {_round("usage_raw", 1)} AS usage_spike_score,
    {_round("fatigue_adj + zone_score + pace_raw + usage_raw", 2)} AS total_composite_adjustment,
    20.0::DOUBLE * ((days_rest IS NOT NULL)::INT + (projected_usage_rate IS NOT NULL)::INT
      + (pace_differential IS NOT NULL)::INT + has_zone::INT + has_defense::INT)
      AS data_completeness_pct,
    concat_ws(', ', CASE WHEN days_rest IS NULL THEN 'days_rest' END,
      CASE WHEN projected_usage_rate IS NULL THEN 'projected_usage_rate' END,
      CASE WHEN pace_differential IS NULL THEN 'pace_differential' END,
      CASE WHEN NOT has_zone THEN 'player_shot_zone' END,
      CASE WHEN NOT has_defense THEN 'team_defense_zone' END) AS missing_fields,
    concat_ws('; ', CASE WHEN fatigue_score < 50 THEN 'EXTREME_FATIGUE' END,
      CASE WHEN ABS(zone_score) > 8.0 THEN 'EXTREME_MATCHUP' END,
      CASE WHEN ABS(fatigue_adj + zone_score + pace_raw + usage_raw) > 12.0
           THEN 'EXTREME_ADJUSTMENT' END) AS warnings,
    {_FATIGUE_JSON} AS fatigue_context_json,
    {_ZONE_JSON} AS shot_zone_context_json,
    {_PACE_JSON} AS pace_context_json,
    {_USAGE_JSON} AS usage_context_json
  FROM floor_scored
), complete AS (
  SELECT player_lookup, universal_player_id, game_id, game_date, 'floor' AS run_id, data_source,
    CAST(fatigue_score AS BIGINT) AS fatigue_score, shot_zone_mismatch_score, pace_score,
    usage_spike_score, 0.0 AS referee_favorability_score, 0.0 AS look_ahead_pressure_score,
    0.0 AS travel_impact_score, 0.0 AS opponent_strength_score, total_composite_adjustment,
    CAST(fatigue_context_json AS VARCHAR) AS fatigue_context_json,
    CAST(shot_zone_context_json AS VARCHAR) AS shot_zone_context_json,
    CAST(pace_context_json AS VARCHAR) AS pace_context_json,
    CAST(usage_context_json AS VARCHAR) AS usage_context_json,
    $version AS calculation_version, data_completeness_pct,
    NULLIF(missing_fields, '') AS missing_data_fields, warnings <> '' AS has_warnings,
    NULLIF(warnings, '') AS warning_details
  FROM rounded
)
SELECT *,
  LEFT(sha256(concat_ws('|', {{hashed}})), 16) AS data_hash,
  CURRENT_TIMESTAMP AS processed_at
FROM complete
"""

STATEMENTS: tuple[tuple[str, str], ...] = (
    ("plan", PLAN),
    ("context_upcg", CONTEXT_UPCG),
    ("context_pgs", CONTEXT_PGS),
    ("factors", FACTORS),
    ("outputs", OUTPUTS),
)


@dataclass
class FloorRun:
    """One run of the floor: wall and CPU seconds, rows, statements."""

    seconds: float
    cpu_seconds: float
    rows: int
    statements: int
    # Statements 1-4 only (the numbers, no JSON contexts/hash/write), for comparison.
    compute_seconds: float


def _hashed_columns() -> str:
    """``name:value`` of every hashed column in name order, like ``data_hash`` renders them."""
    skip = {"run_id", "processed_at", "data_hash"}
    names = sorted(c for c in get_schema("player_composite_factors").column_names if c not in skip)
    return ", ".join(f"'{n}:' || COALESCE(CAST({n} AS VARCHAR), 'NULL')" for n in names)


def run_floor(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start: date,
    end: date,
    pinned: str = "auto",
) -> FloorRun:
    """Compute the whole range's rows, every output column, into the table ``floor_pcf``."""
    names = {**_names(settings), "hashed": _hashed_columns()}
    params = {
        "version": settings.calculation_version,
        "start": start,
        "end": end,
        "pinned": pinned,
        "threshold": settings.fallback_threshold,
        "bootstrap": settings.bootstrap_days,
    }
    wall, cpu = time.perf_counter(), time.process_time()
    compute_seconds = 0.0
    for name, text in STATEMENTS:
        sql = text.format(**names)
        wanted = {k: v for k, v in params.items() if f"${k}" in sql}
        if name == "outputs":
            compute_seconds = time.perf_counter() - wall
        con.execute(sql, wanted)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    row = con.execute("SELECT COUNT(*) FROM floor_pcf").fetchone()
    rows = int(row[0]) if row else 0
    return FloorRun(seconds, cpu_seconds, rows, len(STATEMENTS), compute_seconds)


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
        "compute_seconds": statistics.median(r.compute_seconds for r in runs),
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
        f"floor: {out['seconds']:.3f} s wall ({out['compute_seconds']:.3f} s the numbers alone), "
        f"{out['cpu_seconds']:.3f} s CPU (median of "
        f"{out['repeat']}), {out['statements']} statements, {out['rows']:,} rows; "
        f"{out['mismatches']} of {out['project_rows']:,} project rows differ"
    )
    return 0 if out["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
