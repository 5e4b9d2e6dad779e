"""Cloud Function ``process_date``: one ProcessDate message → one date's composite factors."""

from typing import Any

import functions_framework

from shared.entrypoint import run
from shared.messages import ProcessDate
from shared.usecases.process_date import process_date


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Decode the Pub/Sub CloudEvent and process the date (ack/retry decided by the runner)."""
    run(cloud_event, ProcessDate, process_date)
