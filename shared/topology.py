"""The pipeline wiring (infra/topology.json, also read by Terraform): topics, functions, policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.config import TOPOLOGY_PATH, Settings


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry and dead-letter settings shared by every push subscription."""

    minimum_backoff_seconds: int
    maximum_backoff_seconds: int
    max_delivery_attempts: int
    ack_deadline_seconds: int
    dlq_suffix: str


@dataclass(frozen=True)
class FunctionDef:
    """One Cloud Function: its name and the topic keys that trigger it.

    A trigger is a topic key (``process_date``) or the dead-letter topic of one
    (``process_date-dlq``, the key plus ``delivery.dlq_suffix``).
    """

    name: str
    triggers: tuple[str, ...]

    @property
    def trigger_topic(self) -> str:
        """The first trigger (every function but the dead-letter consumer has exactly one)."""
        return self.triggers[0]


@dataclass(frozen=True)
class Topology:
    """Topic keys, functions and delivery policy as declared in topology.json."""

    topic_keys: tuple[str, ...]
    functions: tuple[FunctionDef, ...]
    delivery: DeliveryPolicy
    schedule: dict[str, Any]
    raw: dict[str, Any]

    def is_dead_letter(self, trigger: str) -> bool:
        """Whether a trigger names a dead-letter topic (``<key>-dlq``)."""
        return trigger.endswith(self.delivery.dlq_suffix)

    def topic_name(self, settings: Settings, trigger: str) -> str:
        """The topic a trigger names: ``Settings.topic_<key>``, plus the suffix for a DLQ."""
        key = trigger.removesuffix(self.delivery.dlq_suffix)
        name = settings.topic(key)
        return name + self.delivery.dlq_suffix if key != trigger else name


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"topology delivery.{key} must be an integer, got {value!r}")
    return value


@lru_cache(maxsize=4)
def load_topology(path: Path = TOPOLOGY_PATH) -> Topology:
    """Read and validate topology.json into a Topology."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    delivery_raw = raw["delivery"]
    delivery = DeliveryPolicy(
        minimum_backoff_seconds=_int(delivery_raw, "minimum_backoff_seconds"),
        maximum_backoff_seconds=_int(delivery_raw, "maximum_backoff_seconds"),
        max_delivery_attempts=_int(delivery_raw, "max_delivery_attempts"),
        ack_deadline_seconds=_int(delivery_raw, "ack_deadline_seconds"),
        dlq_suffix=str(delivery_raw["dlq_suffix"]),
    )
    topic_keys = tuple(str(k) for k in raw["topics"])
    functions: list[FunctionDef] = []
    for name, spec in raw["functions"].items():
        raw_triggers = spec.get("trigger_topics") or [spec.get("trigger_topic")]
        triggers = tuple(str(t) for t in raw_triggers)
        for trigger in triggers:
            if trigger.removesuffix(delivery.dlq_suffix) not in topic_keys:
                raise ValueError(f"function {name!r} triggers on unknown topic key {trigger!r}")
        functions.append(FunctionDef(name=str(name), triggers=triggers))
    return Topology(
        topic_keys=topic_keys,
        functions=tuple(functions),
        delivery=delivery,
        schedule=dict(raw.get("schedule") or {}),
        raw=raw,
    )
