"""``python -m shared.tools.stack up|down|status|env``: manage the local emulator stack."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from shared.tools.stack.core import (
    ServiceStatus,
    StackConfig,
    StackInfo,
    down,
    load_stack_info,
    resolve_state_dir,
    stack_env,
    status,
    up,
)
from shared.tools.stack.process import StackError


def _parser() -> argparse.ArgumentParser:
    defaults = StackConfig()
    parser = argparse.ArgumentParser(
        prog="python -m shared.tools.stack",
        description="Local emulator stack: Pub/Sub emulator, bqemulator, functions-framework.",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="PID files, logs, stack.json (.pcf/stack)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_up = sub.add_parser("up", help="start the stack (reuses a healthy running one)")
    p_up.add_argument("--dynamic-ports", action="store_true", help="pick free ports")
    p_up.add_argument("--pubsub-port", type=int, default=defaults.pubsub_port)
    p_up.add_argument("--bigquery-port", type=int, default=defaults.bigquery_port)
    p_up.add_argument("--bigquery-grpc-port", type=int, default=defaults.bigquery_grpc_port)
    p_up.add_argument(
        "--functions-port",
        type=int,
        default=defaults.functions_base_port,
        help="first function port; the others follow topology order",
    )
    p_up.add_argument(
        "--ephemeral", action="store_true", help="in-memory bqemulator (default: persistent)"
    )
    p_up.add_argument("--timeout", type=float, default=defaults.startup_timeout)
    p_up.add_argument(
        "--function",
        action="append",
        dest="functions",
        metavar="NAME",
        help="serve only these functions (repeatable; default: all in topology.json)",
    )
    p_up.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the function servers (repeatable)",
    )
    p_up.add_argument("--json", action="store_true", help="print stack.json")

    p_down = sub.add_parser("down", help="stop every recorded service (idempotent)")
    p_down.add_argument("--wipe", action="store_true", help="also delete bqemulator data")
    p_down.add_argument("--json", action="store_true")

    p_status = sub.add_parser("status", help="show services; exit 1 unless all are alive")
    p_status.add_argument("--json", action="store_true")

    sub.add_parser("env", help="print `export` lines for a client shell (eval them)")
    return parser


def _table(rows: Sequence[ServiceStatus]) -> str:
    lines = [f"{'service':<28} {'pid':>8} {'port':>6}  alive"]
    for r in rows:
        lines.append(f"{r.service:<28} {r.pid:>8} {r.port or '-':>6}  {'yes' if r.alive else 'NO'}")
    return "\n".join(lines)


def _print_info(info: StackInfo) -> None:
    print(_table([ServiceStatus(s.name, s.pid, s.port, True) for s in info.services]))
    print(f"state: {info.state_dir}")
    for key, value in stack_env(info).items():
        print(f"export {key}={shlex.quote(value)}")


def _extra_env(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stack CLI; return the process exit code."""
    args = _parser().parse_args(argv)
    state_dir = resolve_state_dir(args.state_dir)
    try:
        if args.command == "up":
            config = replace(
                StackConfig(),
                pubsub_port=args.pubsub_port,
                bigquery_port=args.bigquery_port,
                bigquery_grpc_port=args.bigquery_grpc_port,
                functions_base_port=args.functions_port,
                dynamic_ports=args.dynamic_ports,
                bigquery_persistent=not args.ephemeral,
                startup_timeout=args.timeout,
                functions=tuple(args.functions) if args.functions else None,
                extra_env=_extra_env(args.env),
            )
            info = up(state_dir, config)
            if args.json:
                print(json.dumps(info.to_dict(), indent=2))
            else:
                _print_info(info)
            return 0
        if args.command == "down":
            stopped = down(state_dir, wipe=args.wipe)
            if args.json:
                print(json.dumps([asdict(s) for s in stopped], indent=2))
            else:
                print(
                    f"stopped {len(stopped)} service(s)"
                    + "".join(f"\n  {s.service} (pid {s.pid})" for s in stopped)
                )
            return 0
        if args.command == "status":
            rows = status(state_dir)
            if args.json:
                print(json.dumps([asdict(s) for s in rows], indent=2))
            elif rows:
                print(_table(rows))
            else:
                print(f"no stack recorded in {state_dir}")
            return 0 if rows and all(r.alive for r in rows) else 1
        if args.command == "env":
            recorded = load_stack_info(state_dir)
            if recorded is None:
                print(f"no stack recorded in {state_dir}", file=sys.stderr)
                return 1
            for key, value in stack_env(recorded).items():
                print(f"export {key}={shlex.quote(value)}")
            return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
