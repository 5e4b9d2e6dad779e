"""Table schemas loaded from infra/schemas/*.json (the single source for DDL and Terraform)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.config import SCHEMA_DIR


class UnknownTable(ValueError):
    """A table name that is not one of the pipeline's tables."""


@dataclass(frozen=True)
class Column:
    """One column: BigQuery type and mode."""

    name: str
    type: str
    mode: str = "NULLABLE"
    description: str | None = None

    @property
    def required(self) -> bool:
        """True when the column is NOT NULL."""
        return self.mode == "REQUIRED"


@dataclass(frozen=True)
class TableSchema:
    """A pipeline table: its dataset key, columns, partitioning and clustering."""

    name: str
    dataset_key: str
    description: str
    columns: tuple[Column, ...]
    partition_field: str | None
    clustering: tuple[str, ...]
    deletion_protection: bool
    owner: str = "pcf"

    @property
    def column_names(self) -> list[str]:
        """Column names in schema order."""
        return [c.name for c in self.columns]


def _parse(doc: dict[str, Any]) -> TableSchema:
    part = doc.get("time_partitioning") or {}
    return TableSchema(
        name=doc["table"],
        dataset_key=doc["dataset"],
        description=doc.get("description", ""),
        columns=tuple(
            Column(f["name"], f["type"], f.get("mode", "NULLABLE"), f.get("description"))
            for f in doc["schema"]
        ),
        partition_field=part.get("field"),
        clustering=tuple(doc.get("clustering") or ()),
        deletion_protection=bool(doc.get("deletion_protection", False)),
        owner=str(doc.get("owner", "pcf")),
    )


@lru_cache(maxsize=4)
def load_schemas(directory: Path = SCHEMA_DIR) -> dict[str, TableSchema]:
    """All table schemas keyed by table name."""
    if not directory.is_dir():
        raise FileNotFoundError(f"schema folder {directory} not found (expected infra/schemas)")
    schemas = {}
    for path in sorted(directory.glob("*.json")):
        schema = _parse(json.loads(path.read_text(encoding="utf-8")))
        schemas[schema.name] = schema
    return schemas


def get_schema(name: str) -> TableSchema:
    """The schema of ``name``; raise UnknownTable listing the known tables."""
    schemas = load_schemas()
    if name not in schemas:
        raise UnknownTable(f"unknown table {name!r}; known tables: {', '.join(sorted(schemas))}")
    return schemas[name]


def input_tables() -> tuple[str, ...]:
    """The upstream tables the pipeline reads (``"owner": "upstream"`` in their schema file)."""
    return tuple(sorted(n for n, s in load_schemas().items() if s.owner == "upstream"))
