"""Cleanup fixtures: an empty embedded warehouse with every table, a local bus, row helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from shared.app import App, build_app
from shared.config import Settings
from shared.tools.local_bus import LocalBus
from shared.warehouse import Sql, Warehouse

UPCG = "upcoming_player_game_context"
UTCG = "upcoming_team_game_context"


def make_app(**settings: Any) -> App:
    """An in-memory DuckDB warehouse with every table and a local bus nobody subscribes to."""
    app = build_app(Settings(warehouse="duckdb://:memory:", **settings), bus=LocalBus())
    app.warehouse.create_all()
    return app


@pytest.fixture
def app() -> Iterator[App]:
    a = make_app()
    yield a
    a.close()


def add_upcg(wh: Warehouse, days: dict[date, int], prefix: str = "p") -> None:
    """N UPCG players on each date (player_lookup ``<prefix><i>``)."""
    rows = [
        {"player_lookup": f"{prefix}{i}", "game_date": d, "team_abbr": "BOS", "days_rest": i}
        for d, n in days.items()
        for i in range(n)
    ]
    wh.insert_rows(UPCG, rows)


def add_utcg(wh: Warehouse, days: dict[date, int]) -> None:
    """N UTCG teams on each date."""
    rows = [{"team_abbr": f"T{i:02d}", "game_date": d} for d, n in days.items() for i in range(n)]
    wh.insert_rows(UTCG, rows)


def per_date(wh: Warehouse, table: str) -> dict[date, int]:
    """Rows per game_date of ``table`` (or of any qualified table name)."""
    target = wh.table(table) if "." not in table else table
    rows = wh.query(
        Sql(
            "test.per_date",
            "SELECT game_date, COUNT(*) AS n FROM {t} WHERE game_date IS NOT NULL "
            "GROUP BY game_date ORDER BY game_date",
        ),
        t=target,
    )
    return {r["game_date"]: int(r["n"]) for r in rows}


def runs(wh: Warehouse) -> list[dict[str, Any]]:
    """Every cleanup_runs row, oldest first."""
    return wh.query(
        Sql(
            "test.runs",
            "SELECT * FROM {cleanup_runs} WHERE run_date IS NOT NULL "
            "ORDER BY started_at, table_name",
        )
    )


def backups(app: App) -> list[str]:
    """Every table of the (embedded) backup dataset, by name."""
    rows = app.warehouse.query(
        Sql(
            "test.backups",
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'nba_backup' "
            "ORDER BY table_name",
        )
    )
    return [r["table_name"] for r in rows]


def all_rows(wh: Warehouse, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table (every column, in schema order), sorted: a multiset to compare."""
    from shared.warehouse import get_schema

    cols = get_schema(table).column_names
    rows = wh.query(Sql("test.all_rows", f"SELECT {', '.join(cols)} FROM {{t}}"), t=wh.table(table))
    return sorted((tuple(r[c] for c in cols) for r in rows), key=repr)
