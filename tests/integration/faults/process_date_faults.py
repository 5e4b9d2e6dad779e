"""Test-only ``process_date`` entry point that injects warehouse failures into marked messages.

Served by its own functions-framework server on a test topic (``faults`` fixture in
``tests/integration/conftest.py``), never deployed. Unmarked messages run the real use case
unchanged. A message is marked with the attribute ``pcf_test_fault``:

* ``transient_once`` — on the first delivery one warehouse statement fails with a transient
  error (what a BigQuery 503 looks like to the use case), after the ledger already counted the
  attempt; later deliveries run normally. "First" is decided by a marker file in the folder
  named by ``PCF_TEST_FAULT_DIR`` (atomic create), so it holds across threads.
* ``always`` — that statement fails on every delivery: the message must be dead-lettered.

The failing statement is named by ``pcf_test_fail_at`` (default: the write of the staging
table, ``write_staging_table``; ``processing.date_plan`` fails whatever the data holds).

The failure is injected at our own port (``tests.fakes.DelegatingWarehouse`` around the real
adapter, handed to the real use case), not by patching any library. Every delivery of a marked
message appends its arrival time to ``<key>.deliveries`` (``key`` = the ``pcf_test_key``
attribute, else the run id), so a test can count the attempts and see the backoff between them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import functions_framework

from shared.app import App
from shared.entrypoint import Delivery, run
from shared.messages import ProcessDate
from shared.usecases.process_date import ProcessResult, process_date
from shared.warehouse import Sql, TransientWarehouseError, Warehouse
from tests.fakes import DelegatingWarehouse

FAULT_ATTRIBUTE = "pcf_test_fault"
KEY_ATTRIBUTE = "pcf_test_key"
FAIL_AT_ATTRIBUTE = "pcf_test_fail_at"


class FailingWarehouse(DelegatingWarehouse):
    """The real adapter, except that one named statement fails transiently."""

    def __init__(self, inner: Warehouse, fail_at: str, key: str) -> None:
        super().__init__(inner)
        self.fail_at = fail_at
        self.key = key

    def observe(self, operation: str, sql: Sql | None = None) -> None:
        """Raise before the chosen statement reaches the warehouse."""
        if operation == self.fail_at or (sql is not None and sql.name == self.fail_at):
            raise TransientWarehouseError(f"injected 503 on {self.fail_at} ({self.key})")


def _fault_dir() -> Path:
    # Test plumbing, not pipeline configuration: read here rather than through Settings.
    return Path(os.environ["PCF_TEST_FAULT_DIR"])


def _first_delivery(folder: Path, key: str) -> bool:
    try:
        (folder / f"{key}.failed").touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def faulty_process_date(app: App, msg: ProcessDate, delivery: Delivery) -> ProcessResult:
    """Run the real ``process_date``, on a failing warehouse when the marker says so."""
    fault = delivery.attributes.get(FAULT_ATTRIBUTE)
    if not fault:
        return process_date(app, msg, delivery)
    key = delivery.attributes.get(KEY_ATTRIBUTE) or msg.run_id
    folder = _fault_dir()
    with (folder / f"{key}.deliveries").open("a", encoding="utf-8") as out:
        out.write(f"{time.time():.3f}\n")
    if fault == "always" or (fault == "transient_once" and _first_delivery(folder, key)):
        fail_at = delivery.attributes.get(FAIL_AT_ATTRIBUTE, "write_staging_table")
        app = dataclasses.replace(app, warehouse=FailingWarehouse(app.warehouse, fail_at, key))
    return process_date(app, msg, delivery)


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Same runner as the real entry point (ack vs retry decided by shared.entrypoint)."""
    run(cloud_event, ProcessDate, faulty_process_date)
