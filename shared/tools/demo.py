"""``make demo``: the incident replay on a synthetic season, on the embedded default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.tools.cli.main import main as pcf

STALE_DATES = ("2023-02-23", "2023-02-24")
RANGE = ("2023-02-15", "2023-03-05")
EXAMPLE_SQL = (
    "SELECT data_source, COUNT(*) AS n FROM nba_precompute.player_composite_factors "
    "WHERE game_date = '2023-02-23' GROUP BY 1"
)

LIVE_SQL = (
    "SELECT game_date, data_source, COUNT(*) AS live_players "
    "FROM nba_precompute.player_composite_factors "
    "WHERE game_date IN ('2023-02-23', '2023-02-24') GROUP BY 1, 2 ORDER BY 1"
)


def _step(title: str, command: list[str]) -> int:
    print(f"\n=== {title}\n$ pcf {' '.join(command)}", flush=True)
    code = pcf([*command])
    print(f"(exit code {code})", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Seed a synthetic season with stale UPCG, backfill, hit the gate, force it, report."""
    parser = argparse.ArgumentParser(prog="python -m shared.tools.demo")
    parser.add_argument("--warehouse", default="duckdb:///.pcf/demo.duckdb")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report", default=".pcf/demo-report.html", help="where the page goes")
    args = parser.parse_args(argv)
    if args.warehouse.startswith("duckdb:///") and not args.warehouse.startswith("duckdb:////"):
        Path(args.warehouse.removeprefix("duckdb:///")).unlink(missing_ok=True)
    wh = ["--warehouse", args.warehouse]
    quiet = ["--log-level", "WARNING"]
    print(
        "PCF demo: a synthetic season in an embedded DuckDB warehouse, stale UPCG rows on "
        f"{' and '.join(STALE_DATES)} (the 2023 incident), and the safeguards that catch it.\n"
        "Logs are readable lines at a terminal and JSON lines (what Cloud Logging receives) "
        "when piped; PCF_LOG_FORMAT=text|json picks one."
    )
    steps: list[tuple[str, list[str], int]] = [
        (
            "1. Seed a synthetic season; keep only 1 and 30 UPCG players on the two dates",
            [
                *quiet,
                "seed",
                "--synthetic",
                "--seed",
                str(args.seed),
                "--stale-upcg",
                f"{STALE_DATES[0]}=1",
                "--stale-upcg",
                f"{STALE_DATES[1]}=30",
                *wh,
            ],
            0,
        ),
        (
            "2. Dry run: the grouped pre-flight plan (expected players, UPCG players, source)",
            [
                *quiet,
                "backfill",
                "--start-date",
                RANGE[0],
                "--end-date",
                RANGE[1],
                "--dry-run",
                *wh,
            ],
            0,
        ),
        (
            "3. Backfill the range: the data-source check logs UPCG vs PGS for every date, the "
            "fallback fires on the stale dates, every date passes the coverage gate",
            [*quiet, "backfill", "--start-date", RANGE[0], "--end-date", RANGE[1], *wh],
            0,
        ),
        (
            "4. The old behaviour: pin --source upcg on the stale dates → the coverage gate "
            "BLOCKS them (not checkpointed, alert raised, exit 1)",
            [
                *quiet,
                "backfill",
                "--dates",
                ",".join(STALE_DATES),
                "--source",
                "upcg",
                "--rerun",
                "all",
                *wh,
            ],
            1,
        ),
        (
            "4b. The blocked dates' live rows were never replaced: still the full rosters of "
            "step 3 (write → audit → publish: the 1- and 30-player rows stay staged)",
            [*quiet, "sql", LIVE_SQL, *wh],
            0,
        ),
        (
            "5. An operator overrides the gate on purpose: --force needs a --reason (audited)",
            [
                *quiet,
                "backfill",
                "--dates",
                ",".join(STALE_DATES),
                "--source",
                "upcg",
                "--rerun",
                "failed",
                "--force",
                "--reason",
                "demo: accepting partial UPCG knowingly",
                "--requested-by",
                "demo-operator",
                *wh,
            ],
            0,
        ),
        (
            "6. Put the good rows back: rerun the forced dates with the automatic fallback",
            [*quiet, "backfill", "--dates", ",".join(STALE_DATES), "--rerun", "all", *wh],
            0,
        ),
        (
            "7. The ledger: latest status per date (run ids, forced audit, coverage)",
            ["status", "--start-date", RANGE[0], "--end-date", RANGE[1], *wh],
            0,
        ),
        (
            "8. Why is 2023-02-23 what it is? Every run in order: blocked → forced → fixed",
            ["explain", STALE_DATES[0], *wh],
            0,
        ),
        (
            "9. A report worth opening: calendar, chart, per-date history (self-contained HTML)",
            [
                "report",
                "--start-date",
                RANGE[0],
                "--end-date",
                RANGE[1],
                "--out",
                args.report,
                *wh,
            ],
            0,
        ),
    ]
    for title, command, expected in steps:
        code = _step(title, command)
        if code != expected:
            print(f"demo step failed: expected exit {expected}, got {code}", file=sys.stderr)
            return 1
    url = absolute_url(args.warehouse)
    print(
        f"\nDone. Open {args.report} in a browser.\n"
        "The demo used its own warehouse, not the CLI default (.pcf/warehouse.duckdb). To point "
        "every pcf command at it, from any folder:\n"
        f"  export PCF_WAREHOUSE={url}\n"
        "then e.g.\n"
        f"  pcf explain {STALE_DATES[1]}\n"
        f"  pcf status --start-date {RANGE[0]} --end-date {RANGE[1]}\n"
        f'  pcf sql "{EXAMPLE_SQL}"'
    )
    return 0


def absolute_url(url: str) -> str:
    """``duckdb:///relative.duckdb`` → ``duckdb:////absolute/relative.duckdb`` (others as is)."""
    if url.startswith("duckdb:///") and not url.startswith("duckdb:////"):
        rel = url.removeprefix("duckdb:///")
        if rel != ":memory:":
            return "duckdb:///" + str(Path(rel).resolve())
    return url


if __name__ == "__main__":
    sys.exit(main())
