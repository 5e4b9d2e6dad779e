"""Cloud Function ``cleanup_upcoming``: the daily TTL cleanup of the upcoming_* tables."""

from typing import Any

import functions_framework

from shared.entrypoint import run
from shared.messages import CleanupRequest
from shared.usecases.cleanup_upcoming import cleanup_upcoming


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Decode the Pub/Sub CloudEvent and run the cleanup (ack/retry decided by the runner)."""
    run(cloud_event, CleanupRequest, cleanup_upcoming)
