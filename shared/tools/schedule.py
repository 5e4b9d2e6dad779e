"""The daily cleanup schedule as code: topology.json["schedule"] → a Cloud Scheduler job.

``topology.json`` holds the single definition; Terraform (infra/terraform/scheduler.tf) is the one
owner of the live job and the only writer. This module builds the ``google.cloud.scheduler_v1.Job``
it describes (``pcf schedule show``) and fires the live one (``pcf schedule run``) through a small
read/run port, ``SchedulerPort``; ``CloudSchedulerAdapter`` is the real one.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from google.cloud import scheduler_v1

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.messages import CleanupRequest
from shared.topology import load_topology


@dataclass(frozen=True)
class RetrySpec:
    """Cloud Scheduler retry policy of the job."""

    retry_count: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    max_doublings: int


@dataclass(frozen=True)
class ScheduleSpec:
    """topology.json["schedule"], validated."""

    name: str
    description: str
    cron: str
    time_zone: str
    topic_key: str
    body: Mapping[str, Any]
    attempt_deadline_seconds: int | None
    retry: RetrySpec

    @property
    def data(self) -> bytes:
        """The Pub/Sub message body: compact, key-sorted JSON (as Terraform's jsonencode)."""
        return json.dumps(self.body, separators=(",", ":"), sort_keys=True).encode("utf-8")


def load_schedule(topology: Mapping[str, Any] | None = None) -> ScheduleSpec:
    """Read and check the schedule block of topology.json (the single schedule definition)."""
    topo = topology if topology is not None else load_topology().raw
    raw = topo.get("schedule")
    if not isinstance(raw, Mapping):
        raise PermanentError("infra/topology.json has no 'schedule' object")
    try:
        retry = raw["retry"]
        spec = ScheduleSpec(
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            cron=str(raw["cron"]),
            time_zone=str(raw["time_zone"]),
            topic_key=str(raw["topic"]),
            body=dict(raw["body"]),
            attempt_deadline_seconds=(
                int(raw["attempt_deadline_seconds"])
                if raw.get("attempt_deadline_seconds") is not None
                else None
            ),
            retry=RetrySpec(
                retry_count=int(retry["retry_count"]),
                min_backoff_seconds=int(retry["min_backoff_seconds"]),
                max_backoff_seconds=int(retry["max_backoff_seconds"]),
                max_doublings=int(retry["max_doublings"]),
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"infra/topology.json schedule is incomplete: {exc!r}") from exc
    try:
        ZoneInfo(spec.time_zone)
    except (KeyError, ValueError) as exc:
        raise PermanentError(f"schedule time_zone {spec.time_zone!r} is not an IANA zone") from exc
    if len(spec.cron.split()) != 5:
        raise PermanentError(f"schedule cron {spec.cron!r} must have 5 fields (unix-cron)")
    # The scheduler's payload must be a message the cleanup function accepts, or every
    # scheduled run would be dropped as malformed.
    try:
        CleanupRequest.model_validate(spec.body)
    except ValueError as exc:
        raise PermanentError(f"schedule body is not a valid CleanupRequest: {exc}") from exc
    return spec


def job_path(settings: Settings, spec: ScheduleSpec) -> str:
    """``projects/P/locations/REGION/jobs/NAME``."""
    return f"{location_path(settings)}/jobs/{spec.name}"


def location_path(settings: Settings) -> str:
    """``projects/P/locations/REGION`` (the parent of the job)."""
    return f"projects/{settings.project}/locations/{settings.region}"


def topic_path(settings: Settings, spec: ScheduleSpec) -> str:
    """``projects/P/topics/<Settings topic for the schedule's topic key>``."""
    return f"projects/{settings.project}/topics/{settings.topic(spec.topic_key)}"


def build_job(settings: Settings, spec: ScheduleSpec | None = None) -> scheduler_v1.Job:
    """The Cloud Scheduler job the schedule defines (what Terraform creates)."""
    s = spec or load_schedule()
    # attempt_deadline is left unset on purpose: Cloud Scheduler ignores it for Pub/Sub targets
    # and setting it gives Terraform a permanent diff (see infra/terraform/scheduler.tf).
    return scheduler_v1.Job(
        name=job_path(settings, s),
        description=s.description,
        schedule=s.cron,
        time_zone=s.time_zone,
        pubsub_target=scheduler_v1.PubsubTarget(topic_name=topic_path(settings, s), data=s.data),
        retry_config=scheduler_v1.RetryConfig(
            retry_count=s.retry.retry_count,
            min_backoff_duration=timedelta(seconds=s.retry.min_backoff_seconds),
            max_backoff_duration=timedelta(seconds=s.retry.max_backoff_seconds),
            max_doublings=s.retry.max_doublings,
        ),
    )


def job_summary(job: scheduler_v1.Job) -> dict[str, Any]:
    """The managed fields of a job as plain data (for display and comparison)."""
    target = job.pubsub_target
    retry = job.retry_config
    return {
        "name": job.name,
        "description": job.description,
        "schedule": job.schedule,
        "time_zone": job.time_zone,
        "topic": target.topic_name,
        "body": _body(bytes(target.data)),
        "attributes": dict(target.attributes),
        "retry_count": retry.retry_count,
        "min_backoff_seconds": _seconds(retry.min_backoff_duration),
        "max_backoff_seconds": _seconds(retry.max_backoff_duration),
        "max_doublings": retry.max_doublings,
    }


def next_fire_times(spec: ScheduleSpec, start: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` fire times after ``start`` (aware, in the schedule's zone; croniter)."""
    from croniter import croniter  # dev/CLI convenience only; the functions never need it

    zone = ZoneInfo(spec.time_zone)
    it = croniter(spec.cron, start.astimezone(zone))
    return [it.get_next(datetime) for _ in range(count)]


# -- the port --------------------------------------------------------------------------------


class SchedulerPort(ABC):
    """What ``pcf schedule run`` needs from Cloud Scheduler: fire the job, never write it."""

    @abstractmethod
    def run(self, name: str) -> scheduler_v1.Job:
        """Force a run of the job now (JobNotFound when it does not exist)."""


class CloudSchedulerAdapter(SchedulerPort):
    """The real Cloud Scheduler through ``google.cloud.scheduler_v1.CloudSchedulerClient``."""

    def __init__(self, client: scheduler_v1.CloudSchedulerClient | None = None) -> None:
        if client is None:
            from google.auth.exceptions import DefaultCredentialsError

            try:
                client = scheduler_v1.CloudSchedulerClient()
            except DefaultCredentialsError as exc:
                raise PermanentError(
                    "no Google credentials for Cloud Scheduler: run "
                    "`gcloud auth application-default login` (or use `pcf schedule show`, offline)"
                ) from exc
        self.client = client

    def run(self, name: str) -> scheduler_v1.Job:
        """Run the job now."""
        return _call(lambda: self.client.run_job(name=name))


class JobNotFound(PermanentError):
    """The scheduler job does not exist (raised by ``SchedulerPort.run``)."""


def _call(fn: Callable[[], scheduler_v1.Job]) -> scheduler_v1.Job:
    """Map Google API errors to ours: 5xx/429/timeouts transient, the rest permanent."""
    from google.api_core import exceptions as gexc

    try:
        job: scheduler_v1.Job = fn()
    except gexc.NotFound as exc:
        raise JobNotFound(str(exc)) from exc
    except (
        gexc.ServerError,
        gexc.TooManyRequests,
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
    ) as exc:
        raise TransientError(f"Cloud Scheduler: {exc}") from exc
    except gexc.GoogleAPIError as exc:
        raise PermanentError(f"Cloud Scheduler: {exc}") from exc
    return job


# -- use cases -------------------------------------------------------------------------------


def run_now(port: SchedulerPort, settings: Settings, spec: ScheduleSpec | None = None) -> str:
    """Ask Cloud Scheduler to fire the job now; return its name."""
    s = spec or load_schedule()
    name = job_path(settings, s)
    try:
        port.run(name)
    except JobNotFound as exc:
        raise PermanentError(
            f"scheduler job {name} does not exist: Terraform creates it "
            "(infra/terraform/scheduler.tf: terraform apply)"
        ) from exc
    return name


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    seconds = getattr(value, "seconds", None)
    return int(seconds) if seconds is not None else None


def _body(data: bytes) -> Any:
    """A message body decoded as JSON when it is JSON (so key order/spacing is no diff)."""
    try:
        return json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data.decode("utf-8", "replace")
