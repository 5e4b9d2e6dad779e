"""The one place that decides ack vs retry for every function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shared import log
from shared.app import App, default_app
from shared.config import get_settings
from shared.errors import PermanentError, TransientError
from shared.messages import (
    Alert,
    BadMessage,
    Message,
    envelope_from_cloud_event,
    parse_payload,
)

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Delivery:
    """Facts about this delivery of a message."""

    message_id: str | None
    attempt: int | None
    publish_time: str | None
    attributes: Mapping[str, str]


UseCase = Callable[[App, M, Delivery], object]


def _event_data(cloud_event: Any) -> Any:
    if isinstance(cloud_event, Mapping) and "message" in cloud_event:
        return cloud_event
    return getattr(cloud_event, "data", cloud_event)


def run(cloud_event: Any, model: type[M], use_case: UseCase[M], app: App | None = None) -> None:
    """Decode, validate and dispatch one Pub/Sub CloudEvent.

    Returns normally (ack) on success and on messages that can never succeed; raises (nack →
    redelivery with backoff, then dead-letter) on transient or unexpected failures.
    """
    # Cloud Functions have no CLI to set logging up: JSON lines on stdout/stderr are what Cloud
    # Logging turns into jsonPayload (the log-based alert metrics read it).
    log.ensure_configured(app.settings.log_level if app else get_settings().log_level)
    data = _event_data(cloud_event)
    message_id = None
    try:
        envelope = envelope_from_cloud_event(data)
        message_id = envelope.message_id
        message = parse_payload(model, envelope.data)
    except BadMessage as exc:
        # The id must be logged even when the envelope itself is what is malformed.
        message_id = message_id or _raw_message_id(data)
        log.event(
            "ERROR",
            f"rejected malformed {model.__name__} message (acknowledged, not retried): {exc}",
            message_id=message_id,
            model=model.__name__,
            error=str(exc),
        )
        _alert_bad_message(app, model, message_id, str(exc))
        return
    runtime = app or default_app()
    delivery = Delivery(
        message_id=envelope.message_id,
        attempt=envelope.delivery_attempt,
        publish_time=envelope.publish_time,
        attributes=envelope.attributes,
    )
    with log.log_context(
        message_id=envelope.message_id,
        run_id=getattr(message, "run_id", None),
        game_date=getattr(message, "game_date", None),
        delivery_attempt=envelope.delivery_attempt,
    ):
        try:
            use_case(runtime, message, delivery)
        except TransientError as exc:
            log.event("WARNING", f"transient failure, will be redelivered: {exc}", error=str(exc))
            raise
        except PermanentError as exc:
            log.event(
                "ERROR",
                f"{model.__name__} failed permanently (acknowledged, not retried): {exc}",
                error=str(exc),
            )
        except Exception as exc:
            log.exception(f"unexpected failure, will be redelivered: {exc}")
            raise


def _raw_message_id(data: Any) -> str | None:
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        return None
    raw = message.get("messageId") or message.get("message_id")
    return str(raw) if raw is not None else None


def _alert_bad_message(
    app: App | None, model: type[Message], message_id: str | None, error: str
) -> None:
    try:
        runtime = app or default_app()
        runtime.alert(
            Alert(
                kind="bad_message",
                summary=f"malformed {model.__name__} message {message_id} was dropped",
                details={"message_id": message_id, "error": error},
            ),
        )
    except Exception as exc:  # the alert is best effort; the ERROR log above is the record
        log.event("ERROR", f"could not publish bad_message alert: {exc}")
