"""``pcf explain DATE``: every run of one date and why, who is missing, what to do next."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from shared.config import Settings, validate_identifier
from shared.rules.statuses import CHECKPOINTED, IN_FLIGHT, SKIPPED
from shared.sql import explain as sql
from shared.tools.cli.common import (
    add_warehouse_arg,
    human,
    iso_date,
    open_app,
    print_json,
    print_table,
)

RUN_FIELDS = (
    "run_id",
    "status",
    "mode",
    "dispatched_at",
    "created_at",
    "updated_at",
    "expected_players",
    "upcg_players",
    "actual_players",
    "coverage_pct",
    "missing_players",
    "data_source",
    "source_reason",
    "forced",
    "force_reason",
    "requested_by",
    "attempts",
    "error",
    "staging_table",
    "calculation_version",
)
MISSING_SHOWN = 25


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``explain``."""
    p = sub.add_parser(
        "explain",
        help="everything about one date: every run and why, missing players, what to do next",
        description=(
            "The ledger history of every run of DATE in dispatch order (status, counts, "
            "coverage, source and why it was chosen, force audit, attempts, errors), the "
            "players expected (PGS) but missing from the live table, and what to do next. "
            "Read-only."
        ),
    )
    p.add_argument("date", type=iso_date, metavar="DATE", help="the game date, YYYY-MM-DD")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_explain)


def run_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ledger row as explain shows it (missing columns and NULLs as None).

    ``missing_players`` falls back to expected - actual when the ledger did not record it.
    """
    view = {k: row.get(k) for k in RUN_FIELDS}
    if view["missing_players"] is None and view["actual_players"] is not None:
        expected = view["expected_players"]
        if expected is not None:
            view["missing_players"] = max(0, int(expected) - int(view["actual_players"]))
    return view


def derived_reason(row: Mapping[str, Any], settings: Settings) -> str | None:
    """Why the row's source was chosen, re-derived from its counts by the source rule.

    For ledger rows written before ``source_reason`` was recorded: when the rule (auto) would
    have picked another source than the row used, the source was pinned.
    """
    from shared.rules.source import Mode, decide_source

    source, upcg, expected = (
        row.get("data_source"),
        row.get("upcg_players"),
        row.get("expected_players"),
    )
    if source is None or upcg is None or expected is None:
        return None
    mode: Mode = "daily" if row.get("mode") == "daily" else "backfill"
    auto = decide_source(
        upcg_players=int(upcg),
        expected_players=int(expected),
        mode=mode,
        threshold=settings.fallback_threshold,
    )
    if auto.source != source:
        return f"pinned to {source}: {auto.message}"
    return f"{auto.reason}: {auto.message}"


def next_steps(
    day: date,
    runs: Sequence[Mapping[str, Any]],
    games: int,
    expected: int,
    live: int,
    settings: Settings,
) -> list[str]:
    """What an operator should do about ``day``, from its latest run and the live table."""
    d = day.isoformat()
    latest = runs[-1] if runs else None
    status = str(latest["status"]) if latest else None
    if latest is None:
        if games == 0 and expected == 0:
            return ["nothing to do: no games were scheduled on this date (off-day)"]
        return [f"never run: pcf backfill --dates {d}"]
    if status in SKIPPED:
        why = "no games scheduled" if status == "skipped_no_games" else "season bootstrap window"
        return [f"nothing to do: {status} ({why})"]
    if status == "blocked":
        cov = human(latest.get("coverage_pct"))
        return [
            f"coverage {cov} % is below the gate ({human(settings.coverage_block_pct)} %): "
            "nothing was checkpointed and the live table keeps its previous rows",
            f"rerun with the automatic source fallback: pcf backfill --dates {d} --rerun failed",
            f"or accept it knowingly (audited): pcf backfill --dates {d} --rerun failed --force "
            '--reason "why"',
        ]
    if status == "failed":
        return [
            f"the run failed: {latest.get('error') or 'see the error above'}",
            f"fix the cause, then: pcf backfill --dates {d} --rerun failed",
        ]
    if status in IN_FLIGHT:
        return [
            f"run {latest['run_id']} is {status}: wait for it; if it was interrupted (or older "
            f"than {settings.stall_lease_minutes} min) resume with: pcf backfill --dates {d} "
            "--rerun missing"
        ]
    if status == "forced":
        return [
            f"checkpointed with the gate overridden ({latest.get('force_reason') or 'no reason'}"
            f"): {expected - live} of {expected} expected players are not in the live table",
            f"restore full coverage: pcf backfill --dates {d} --rerun all",
        ]
    if status in CHECKPOINTED and live < expected:
        return [
            f"{status}: {expected - live} of {expected} expected players are not in the live "
            f"table; if that matters rerun: pcf backfill --dates {d} --rerun all"
        ]
    if status in CHECKPOINTED:
        return [f"nothing to do: {status}, all {expected} expected players are live"]
    return [f"latest status {status}: see `pcf status --run-id {latest['run_id']}`"]


def explain_date(app: Any, day: date) -> dict[str, Any]:
    """Everything ``pcf explain`` shows about ``day`` (a plain dict, also the JSON data)."""
    wh = app.warehouse
    window = {"start_date": day, "end_date": day}
    runs = [run_view(r) for r in wh.query(sql.HISTORY, window)]
    # The append-only ledger keeps every step of every run: how each got to its state.
    steps: dict[str, list[dict[str, Any]]] = {}
    for row in wh.query(sql.STEPS, window):
        steps.setdefault(row["run_id"], []).append(
            {k: row.get(k) for k in ("status", "attempts", "updated_at", "error")}
        )
    for run in runs:
        run["source_reason_derived"] = (
            None if run["source_reason"] else derived_reason(run, app.settings)
        )
        run["steps"] = steps.get(run["run_id"], [])
    games = sum(int(r["games"]) for r in wh.query(sql.GAMES_BY_DATE, window))
    players = wh.query(sql.PLAYERS_BY_DATE, window)
    expected = int(players[0]["expected_players"]) if players else 0
    live = int(players[0]["live_players"]) if players else 0
    missing = wh.query(sql.MISSING_LIVE, {"game_date": day})
    staged = _missing_staged(app, day, runs)
    return {
        "game_date": day,
        "games": games,
        "expected_players": expected,
        "live_players": live,
        "live_by_run": wh.query(sql.LIVE_BY_RUN, {"game_date": day}),
        "runs": runs,
        "missing_live": missing,
        "missing_staged": staged,
        "next": next_steps(day, runs, games, expected, live, app.settings),
    }


def _missing_staged(app: Any, day: date, runs: Sequence[Mapping[str, Any]]) -> Any:
    """Players missing from the latest run's staging table, when it still exists."""
    for run in reversed(runs):
        qualified = run.get("staging_table")
        if not qualified:
            continue
        name = str(qualified).replace("`", "").split(".")[-1]
        try:
            validate_identifier(name, "table name")
        except ValueError:
            return None
        if not app.warehouse.table_exists("staging", name):
            return {"run_id": run["run_id"], "table": qualified, "exists": False, "players": []}
        rows = app.warehouse.query(
            sql.MISSING_STAGED,
            {"game_date": day},
            staging=app.warehouse.dataset_table("staging", name),
        )
        return {"run_id": run["run_id"], "table": qualified, "exists": True, "players": rows}
    return None


def cmd_explain(args: argparse.Namespace) -> int:
    """Print everything about one date (read-only)."""
    app = open_app(args, read_only=True)
    try:
        doc = explain_date(app, args.date)
    finally:
        app.close()
    print_json(doc)
    print_explain(doc)
    return 0


def _when(run: Mapping[str, Any]) -> str:
    value: Any = run.get("dispatched_at") or run.get("created_at")
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else human(value)


def print_explain(doc: Mapping[str, Any]) -> None:
    """The human view of ``explain_date``."""
    runs = doc["runs"]
    print(
        f"{doc['game_date']}: {doc['games']} games, {doc['expected_players']} players expected "
        f"(PGS), {doc['live_players']} in the live table; {len(runs)} run(s)"
    )
    if runs:
        print()
        table = []
        for i, r in enumerate(runs, 1):
            forced = f"yes: {r['force_reason']}" if r.get("forced") else "no"
            table.append(
                {
                    "#": i,
                    "dispatched": _when(r),
                    "run_id": r["run_id"],
                    "status": r["status"],
                    "source": r.get("data_source"),
                    "why this source": r.get("source_reason")
                    or (
                        f"{r['source_reason_derived']} (derived)"
                        if r.get("source_reason_derived")
                        else "(not recorded)"
                    ),
                    "expected": r.get("expected_players"),
                    "upcg": r.get("upcg_players"),
                    "actual": r.get("actual_players"),
                    "coverage %": r.get("coverage_pct"),
                    "missing": r.get("missing_players"),
                    "forced": forced,
                    "by": r.get("requested_by"),
                    "attempts": r.get("attempts"),
                }
            )
        print_table(table)
        for i, r in enumerate(runs, 1):
            if r.get("error"):
                print(f"  run #{i} error: {r['error']}")
        for i, r in enumerate(runs, 1):
            if r.get("steps"):
                print(f"  run #{i} steps: " + " → ".join(s["status"] for s in r["steps"]))
    live_by_run = doc["live_by_run"]
    if live_by_run:
        parts = [f"{x['players']} from run {x['run_id']} ({x['data_source']})" for x in live_by_run]
        print("\nlive rows: " + "; ".join(parts))
    missing = doc["missing_live"]
    print(f"\nmissing from the live table: {len(missing)} of {doc['expected_players']} expected")
    if missing:
        shown = ", ".join(
            f"{m['player_full_name'] or m['player_lookup']} ({m['team_abbr']})"
            for m in missing[:MISSING_SHOWN]
        )
        more = f" … and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        print(f"  {shown}{more}")
    staged = doc.get("missing_staged")
    if staged and staged["exists"]:
        print(f"missing from the staged rows of run {staged['run_id']}: {len(staged['players'])}")
    print("\nnext:")
    for step in doc["next"]:
        print(f"  - {step}")
