"""The local bus finishes a date before starting the next, and stops handing out work on Ctrl-C."""

from __future__ import annotations

import base64
import json
import threading
from datetime import date
from typing import Any

from shared.messages import ProcessDate, ValidateCoverage
from shared.tools.local_bus import LocalBus


def _day(body: dict[str, Any]) -> str:
    return str(json.loads(base64.b64decode(body["message"]["data"]))["game_date"])


def test_a_dates_next_step_runs_before_the_next_date() -> None:
    bus = LocalBus(workers=1)
    order: list[tuple[str, str]] = []

    def process(body: dict[str, Any]) -> None:
        order.append(("process", _day(body)))
        day = date.fromisoformat(_day(body))
        bus.publish("validate_coverage", ValidateCoverage(run_id="r", game_date=day))

    def validate(body: dict[str, Any]) -> None:
        order.append(("validate", _day(body)))

    bus.subscribe("process_date", process)
    bus.subscribe("validate_coverage", validate)
    for d in (1, 2, 3):
        bus.publish("process_date", ProcessDate(run_id="r", game_date=date(2023, 2, d)))
    assert bus.drain(timeout=10)
    bus.close()
    # FIFO would give process 1, 2, 3 then validate 1, 2, 3: a bar counting finished dates
    # would sit at 0 until the very end.
    assert order == [
        ("process", "2023-02-01"),
        ("validate", "2023-02-01"),
        ("process", "2023-02-02"),
        ("validate", "2023-02-02"),
        ("process", "2023-02-03"),
        ("validate", "2023-02-03"),
    ]


def test_stop_leaves_queued_dates_undelivered_and_finishes_started_ones() -> None:
    bus = LocalBus(workers=1)
    started = threading.Event()
    release = threading.Event()
    seen: list[tuple[str, str]] = []

    def process(body: dict[str, Any]) -> None:
        seen.append(("process", _day(body)))
        started.set()
        assert release.wait(10)
        day = date.fromisoformat(_day(body))
        bus.publish("validate_coverage", ValidateCoverage(run_id="r", game_date=day))

    bus.subscribe("process_date", process)
    bus.subscribe("validate_coverage", lambda body: seen.append(("validate", _day(body))))
    for d in range(1, 11):
        bus.publish("process_date", ProcessDate(run_id="r", game_date=date(2023, 2, d)))
    assert started.wait(10)
    assert bus.stop() == 9  # dates 2..10 were waiting
    release.set()
    assert bus.drain(timeout=10)
    bus.close()
    # The date under way finished its chain; no other date was started.
    assert seen == [("process", "2023-02-01"), ("validate", "2023-02-01")]
    cancelled = [p for p in bus.published if p.cancelled]
    assert all(isinstance(p.message, ProcessDate) for p in cancelled)
    days = [p.message.game_date.day for p in cancelled if isinstance(p.message, ProcessDate)]
    assert days == list(range(2, 11))
