"""Typed view of ``infra/topology.json``: topics, functions and the delivery policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import REPO_ROOT

TOPOLOGY_PATH = REPO_ROOT / "infra" / "topology.json"


@dataclass(frozen=True)
class Delivery:
    """Retry and dead-letter settings shared by every push subscription."""

    minimum_backoff_seconds: int
    maximum_backoff_seconds: int
    max_delivery_attempts: int
    ack_deadline_seconds: int
    dlq_suffix: str


@dataclass(frozen=True)
class FunctionDef:
    """One Cloud Function: its name and the topic key that triggers it."""

    name: str
    trigger_topic: str


@dataclass(frozen=True)
class Topology:
    """Topic keys, functions and delivery policy as declared in topology.json."""

    topic_keys: tuple[str, ...]
    functions: tuple[FunctionDef, ...]
    delivery: Delivery


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"topology delivery.{key} must be an integer, got {value!r}")
    return value


def load_topology(path: Path = TOPOLOGY_PATH) -> Topology:
    """Read and validate topology.json into a Topology."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    delivery_raw = raw["delivery"]
    delivery = Delivery(
        minimum_backoff_seconds=_int(delivery_raw, "minimum_backoff_seconds"),
        maximum_backoff_seconds=_int(delivery_raw, "maximum_backoff_seconds"),
        max_delivery_attempts=_int(delivery_raw, "max_delivery_attempts"),
        ack_deadline_seconds=_int(delivery_raw, "ack_deadline_seconds"),
        dlq_suffix=str(delivery_raw["dlq_suffix"]),
    )
    topic_keys = tuple(str(k) for k in raw["topics"])
    functions: list[FunctionDef] = []
    for name, spec in raw["functions"].items():
        trigger = str(spec["trigger_topic"])
        if trigger not in topic_keys:
            raise ValueError(f"function {name!r} triggers on unknown topic key {trigger!r}")
        functions.append(FunctionDef(name=str(name), trigger_topic=trigger))
    return Topology(topic_keys=topic_keys, functions=tuple(functions), delivery=delivery)
