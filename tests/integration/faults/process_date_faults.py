"""Test-only ``process_date`` entry point that injects failures into marked messages.

Served by its own functions-framework server on a test topic (see
``tests/integration/conftest.py``), never deployed. A message is marked with the attribute
``pcf_test_fault``:

* ``transient_once`` — the first delivery raises ``TransientError`` (Pub/Sub must redeliver),
  later deliveries run the real use case. "First" is decided by a marker file in the folder
  named by ``PCF_TEST_FAULT_DIR``, so it holds across threads and redeliveries.
* ``always`` — every delivery raises ``TransientError`` (the message must be dead-lettered).

Every delivery of a marked message appends its arrival time to ``<key>.deliveries`` in that
folder (``key`` = the ``pcf_test_key`` attribute, else the run id), so tests can count the
attempts and see the backoff between them. Unmarked messages run the real use case unchanged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import functions_framework

from shared.app import App
from shared.entrypoint import Delivery, run
from shared.errors import TransientError
from shared.messages import ProcessDate
from shared.processing import ProcessResult, process_date

FAULT_ATTRIBUTE = "pcf_test_fault"
KEY_ATTRIBUTE = "pcf_test_key"


def _fault_dir() -> Path:
    # Test plumbing, not pipeline configuration: read here rather than through Settings.
    return Path(os.environ["PCF_TEST_FAULT_DIR"])


def faulty_process_date(app: App, msg: ProcessDate, delivery: Delivery) -> ProcessResult:
    """Fail as the message's marker says, otherwise run the real ``process_date``."""
    fault = delivery.attributes.get(FAULT_ATTRIBUTE)
    if fault:
        key = delivery.attributes.get(KEY_ATTRIBUTE) or msg.run_id
        folder = _fault_dir()
        with (folder / f"{key}.deliveries").open("a", encoding="utf-8") as out:
            out.write(f"{time.time():.3f}\n")
        if fault == "always":
            raise TransientError(f"injected failure on every delivery ({key})")
        if fault == "transient_once":
            try:
                (folder / f"{key}.failed").touch(exist_ok=False)  # atomic: one delivery wins
            except FileExistsError:
                pass
            else:
                raise TransientError(f"injected transient failure on the first delivery ({key})")
    return process_date(app, msg, delivery)


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Same runner as the real entry point (ack vs retry decided by shared.entrypoint)."""
    run(cloud_event, ProcessDate, faulty_process_date)
