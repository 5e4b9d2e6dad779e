"""Cloud Function ``dispatch_backfill``: one BackfillRequest → one ProcessDate per game date."""

from typing import Any

import functions_framework

from shared.entrypoint import run
from shared.messages import BackfillRequest
from shared.usecases.dispatch_backfill import dispatch_backfill


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Decode the Pub/Sub CloudEvent and fan the request out (ack/retry decided by the runner)."""
    run(cloud_event, BackfillRequest, dispatch_backfill)
