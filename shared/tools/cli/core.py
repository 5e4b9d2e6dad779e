"""``pcf init``, ``pcf seed``, ``pcf process`` and ``pcf sql``."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from shared.errors import PermanentError
from shared.messages import ProcessDate, new_run_id
from shared.rules.statuses import FAILING
from shared.tools.cli.common import (
    UsageError,
    add_warehouse_arg,
    iso_date,
    open_app,
    print_json,
    print_table,
    settings_from,
    stale_spec,
)
from shared.warehouse import Sql


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add init, seed, process and sql."""
    p = sub.add_parser("init", help="create datasets and tables from infra/schemas")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "seed",
        help="load input tables from box-score files (real season or synthetic)",
        description=(
            "Derive schedule, PGS, UPCG, UTCG, PSZA and TDZA from box-score files and replace "
            "the input tables. With only --stale-upcg, inject stale UPCG into what is loaded."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--from",
        dest="source_dir",
        type=Path,
        metavar="DIR",
        help="a season folder in the format of ../shared/data/nba_2022_23",
    )
    src.add_argument(
        "--real", action="store_true", help="the real 2022-23 season from PCF_DATA_DIR"
    )
    src.add_argument(
        "--synthetic",
        action="store_true",
        help="generate a deterministic synthetic season and load it",
    )
    p.add_argument("--seed", type=int, default=7, help="synthetic generator seed (default 7)")
    p.add_argument(
        "--seasons",
        type=int,
        default=None,
        metavar="N",
        help="with --synthetic: N consecutive seasons ending with 2022-23 (default 1)",
    )
    p.add_argument(
        "--stale-upcg",
        type=stale_spec,
        action="append",
        default=[],
        metavar="DATE=N",
        help="keep only N UPCG players on DATE (repeatable)",
    )
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("process", help="process one date now (in-process)")
    p.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument(
        "--source",
        choices=["auto", "upcg", "synthetic"],
        default="auto",
        help="pin the context source (default auto: fallback rules)",
    )
    p.add_argument("--mode", choices=["backfill", "daily"], default="backfill")
    p.add_argument("--run-id", help="ledger run id (default: a new one)")
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("sql", help="run a BigQuery-dialect query against the warehouse")
    p.add_argument(
        "query",
        help='SQL, e.g. "SELECT COUNT(*) AS n FROM nba_precompute.'
        "player_composite_factors WHERE game_date = '2023-02-23'\"",
    )
    add_warehouse_arg(p)
    p.set_defaults(func=cmd_sql)


def cmd_init(args: argparse.Namespace) -> int:
    """Create datasets and tables."""
    app = open_app(args)
    try:
        tables = app.warehouse.create_all()
    finally:
        app.close()
    print_json({"tables": tables})
    for name in tables:
        print(f"ok  {name}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    """Seed the input tables (and/or inject stale UPCG)."""
    from shared.tools.seed import load as seeding
    from shared.tools.seed.synthetic import MAX_SEASONS

    stale = dict(args.stale_upcg)
    if len(stale) != len(args.stale_upcg):
        raise UsageError("--stale-upcg names the same date twice")
    settings = settings_from(args)
    source_dir: Path | None = args.source_dir
    if args.real:
        source_dir = settings.data_dir
    if source_dir is not None and not source_dir.is_dir():
        raise UsageError(
            f"seed folder {source_dir} does not exist or is not a folder "
            "(point --from at a season folder like ../shared/data/nba_2022_23)"
        )
    if args.seasons is not None and not args.synthetic:
        raise UsageError("--seasons goes with --synthetic (the real data set is one season)")
    seasons = 1 if args.seasons is None else args.seasons
    if not 1 <= seasons <= MAX_SEASONS:
        raise UsageError(f"--seasons {seasons}: give a number of seasons from 1 to {MAX_SEASONS}")
    if source_dir is None and not args.synthetic and not stale:
        raise UsageError("say what to seed: --real, --from DIR, --synthetic or --stale-upcg")
    app = open_app(args)
    try:
        with tempfile.TemporaryDirectory(prefix="pcf-synthetic-") as tmp:
            if args.synthetic:
                from shared.tools.seed import write_synthetic_season

                source_dir = write_synthetic_season(Path(tmp), seed=args.seed, seasons=seasons)
            if source_dir is not None:
                try:
                    result = seeding.seed(app, source_dir, stale)
                except PermanentError:
                    raise
                except Exception as exc:
                    from shared.tools.seed import SeedError

                    if isinstance(exc, SeedError):
                        raise UsageError(str(exc)) from exc
                    raise
                rows: list[dict[str, Any]] = [
                    {"table": t, "rows": n} for t, n in result.rows.items()
                ]
                stale_done = result.stale
                timing = (
                    f"derived in {result.derive_seconds:.1f}s, loaded in {result.load_seconds:.1f}s"
                )
            else:
                rows, timing = [], ""
                stale_done = seeding.inject_stale_upcg(app, stale)
    finally:
        app.close()
    stale_rows = [
        {"game_date": d, "upcg_before": b, "upcg_after": a} for d, (b, a) in stale_done.items()
    ]
    if args.json:
        print_json({"tables": rows, "stale_upcg": stale_rows})
        return 0
    if rows:
        print_table(rows, ["table", "rows"])
        print(timing)
    if stale_rows:
        print("stale UPCG injected (the incident):")
        print_table(stale_rows, ["game_date", "upcg_before", "upcg_after"])
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    """Process one date through the local bus (validation runs when subscribed)."""
    from shared.entrypoint import Delivery
    from shared.tools.local_bus import LocalBus
    from shared.tools.registry import wire_local_bus
    from shared.usecases import ledger
    from shared.usecases.process_date import process_date

    bus = LocalBus()
    app = open_app(args, bus=bus)
    try:
        wire_local_bus(app, bus)  # the ValidateCoverage hand-off runs the gate in-process
        msg = ProcessDate(
            run_id=args.run_id or new_run_id(),
            game_date=args.date,
            mode=args.mode,
            source=args.source,
            requested_by="pcf process",
        )
        result = process_date(app, msg, Delivery("cli", 1, None, {}))
        bus.drain()
        final = ledger.latest_by_date(app.warehouse, args.date, args.date, run_id=msg.run_id)
    finally:
        app.close()
    status = str(final[args.date]["status"]) if args.date in final else result.status
    out = {
        "run_id": msg.run_id,
        "game_date": result.game_date,
        "status": status,
        "expected_players": result.expected_players,
        "upcg_players": result.upcg_players,
        "data_source": result.data_source,
        "reason": result.reason,
        "rows_written": result.rows_written,
        "rows_rejected": result.rows_rejected,
    }
    if args.json:
        print_json(out)
    else:
        print_table([out], list(out))
    return 1 if result.rows_rejected or status in FAILING else 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run an ad-hoc BigQuery-dialect query (the warehouse must exist)."""
    app = open_app(args, must_exist=True)
    try:
        # Braces in ad-hoc SQL are literal text, not table placeholders.
        text = args.query.replace("{", "{{").replace("}", "}}")
        rows = app.warehouse.query(Sql("adhoc", text))
    finally:
        app.close()
    print_json(rows)
    if not args.json:
        print_table(rows)
    return 0
