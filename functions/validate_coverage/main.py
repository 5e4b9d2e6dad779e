"""Cloud Function ``validate_coverage``: gate one date's checkpoint on its output coverage."""

from typing import Any

import functions_framework

from shared.entrypoint import run
from shared.messages import ValidateCoverage
from shared.usecases.validate_coverage import validate_coverage


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Decode the Pub/Sub CloudEvent and validate the date (ack/retry decided by the runner)."""
    run(cloud_event, ValidateCoverage, validate_coverage)
