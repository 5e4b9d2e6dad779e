"""Every named statement of shared/sql, with sample parameter values (for the adapter tiers)."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime
from decimal import Decimal

import shared.sql
from shared.warehouse import Sql

# One sample value per declared BigQuery parameter type.
SAMPLE = {
    "DATE": date(2023, 2, 23),
    "INT64": 1,
    "STRING": "x",
    "NUMERIC": Decimal("1.5"),
    "BOOL": False,
    "FLOAT64": 1.5,
    "TIMESTAMP": datetime(2023, 2, 23, tzinfo=UTC),
    "ARRAY<DATE>": [date(2023, 2, 23), date(2023, 2, 24)],
}
# Placeholders that are not pipeline tables: the table a staged one is shaped like.
STAGED_LIKE = {
    "coverage.audit": "player_composite_factors",
    "coverage.publish": "player_composite_factors",
    "coverage.verify": "player_composite_factors",
    "ledger.queue_many": "backfill_ledger",
    "ledger.upsert_many": "backfill_ledger",
    "explain.missing_staged": "player_composite_factors",
}


def all_statements() -> list[Sql]:
    """Every named Sql constant of shared/sql/*.py, sorted by name."""
    found: dict[str, Sql] = {}
    for info in pkgutil.iter_modules(shared.sql.__path__):
        module = importlib.import_module(f"shared.sql.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Sql):
                found[value.name] = value
    return [found[k] for k in sorted(found)]


STATEMENTS = all_statements()
