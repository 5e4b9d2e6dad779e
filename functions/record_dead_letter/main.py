"""Cloud Function ``record_dead_letter``: a dead-lettered date message → its date ``failed``."""

from typing import Any

import functions_framework

from shared.entrypoint import run
from shared.messages import DeadLetter
from shared.usecases.record_dead_letter import record_dead_letter


@functions_framework.cloud_event
def handle(cloud_event: Any) -> None:
    """Decode the dead-lettered ProcessDate/ValidateCoverage and mark its date failed."""
    run(cloud_event, DeadLetter, record_dead_letter)
