"""The schedule as code: topology.json → Cloud Scheduler job, fired at 04:00 New York."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from google.cloud import scheduler_v1

from shared.config import Settings
from shared.errors import PermanentError
from shared.messages import CleanupRequest
from shared.tools.cli import cleanup as cli
from shared.tools.cli.main import main
from shared.tools.schedule import (
    JobNotFound,
    SchedulerPort,
    apply,
    build_job,
    job_summary,
    load_schedule,
    next_fire_times,
    run_now,
)
from shared.topology import load_topology

NY = ZoneInfo("America/New_York")
SETTINGS = Settings(project="my-proj", region="us-east1", topic_cleanup="pcf-cleanup-x")
JOB = "projects/my-proj/locations/us-east1/jobs/pcf-cleanup-daily"


def _copy(job: scheduler_v1.Job) -> scheduler_v1.Job:
    """A detached copy, as a server would hand back."""
    copy: scheduler_v1.Job = scheduler_v1.Job.deserialize(scheduler_v1.Job.serialize(job))
    return copy


class FakeScheduler(SchedulerPort):
    """Cloud Scheduler at our port: jobs in a dict, every call recorded."""

    def __init__(self) -> None:
        self.jobs: dict[str, scheduler_v1.Job] = {}
        self.calls: list[tuple[str, str]] = []

    def get(self, name: str) -> scheduler_v1.Job | None:
        self.calls.append(("get", name))
        job = self.jobs.get(name)
        return _copy(job) if job is not None else None

    def create(self, parent: str, job: scheduler_v1.Job) -> scheduler_v1.Job:
        self.calls.append(("create", parent))
        assert job.name.startswith(parent + "/jobs/")
        self.jobs[job.name] = _copy(job)
        return job

    def update(self, job: scheduler_v1.Job, fields: list[str]) -> scheduler_v1.Job:
        self.calls.append(("update", ",".join(fields)))
        if job.name not in self.jobs:
            raise JobNotFound(job.name)
        current = self.jobs[job.name]
        for path in fields:
            setattr(current, path, getattr(job, path))
        return current

    def run(self, name: str) -> scheduler_v1.Job:
        self.calls.append(("run", name))
        if name not in self.jobs:
            raise JobNotFound(name)
        return self.jobs[name]

    def writes(self) -> list[str]:
        return [c for c, _ in self.calls if c != "get"]


def test_cron_fires_at_4am_new_york_on_both_sides_of_dst() -> None:
    sched = load_topology().schedule
    assert sched["time_zone"] == "America/New_York"

    def fires(start: datetime, n: int) -> list[str]:
        it = croniter(sched["cron"], start.astimezone(ZoneInfo(sched["time_zone"])))
        return [it.get_next(datetime).astimezone(UTC).strftime("%m-%d %H:%M") for _ in range(n)]

    # DST starts 2026-03-08 (EST UTC-5 → EDT UTC-4).
    assert fires(datetime(2026, 3, 6, 12, 0, tzinfo=NY), 3) == [
        "03-07 09:00",
        "03-08 08:00",
        "03-09 08:00",
    ]
    # DST ends 2026-11-01 (EDT → EST).
    assert fires(datetime(2026, 10, 30, 12, 0, tzinfo=NY), 3) == [
        "10-31 08:00",
        "11-01 09:00",
        "11-02 09:00",
    ]


def test_next_fire_times_reads_the_same_definition() -> None:
    times = next_fire_times(load_schedule(), datetime(2026, 3, 7, 10, 0, tzinfo=UTC), 2)
    assert [t.astimezone(UTC).hour for t in times] == [8, 8]
    assert all(t.astimezone(NY).hour == 4 for t in times)


def test_the_job_is_built_from_topology_and_settings() -> None:
    topo = load_topology().schedule
    job = build_job(SETTINGS)
    assert job.name == JOB
    assert job.schedule == topo["cron"] == "0 4 * * *"
    assert job.time_zone == "America/New_York"
    assert job.description == topo["description"]
    # The topic is the Settings name for the schedule's topic key, not a hard-coded string.
    assert job.pubsub_target.topic_name == "projects/my-proj/topics/pcf-cleanup-x"
    assert job.pubsub_target.data == b'{"trigger":"scheduled"}'
    assert job.retry_config.retry_count == 3
    assert job.retry_config.min_backoff_duration.total_seconds() == 60
    assert job.retry_config.max_backoff_duration.total_seconds() == 600
    assert job.retry_config.max_doublings == 3


def test_the_scheduler_body_is_a_valid_cleanup_request() -> None:
    body = json.loads(build_job(SETTINGS).pubsub_target.data)
    req = CleanupRequest.model_validate(body)
    assert req.trigger == "scheduled" and not req.dry_run and req.ttl_days is None


def test_a_broken_schedule_block_is_refused() -> None:
    topo = json.loads(json.dumps(load_topology().raw))
    topo["schedule"]["body"] = {"trigger": "scheduled", "ttl_days": 0}
    with pytest.raises(PermanentError, match="not a valid CleanupRequest"):
        load_schedule(topo)
    topo = json.loads(json.dumps(load_topology().raw))
    topo["schedule"]["time_zone"] = "Mars/Olympus"
    with pytest.raises(PermanentError, match="IANA"):
        load_schedule(topo)
    topo = json.loads(json.dumps(load_topology().raw))
    del topo["schedule"]["cron"]
    with pytest.raises(PermanentError, match="incomplete"):
        load_schedule(topo)


def test_apply_creates_then_is_idempotent_then_updates_only_what_differs() -> None:
    port = FakeScheduler()
    first = apply(port, SETTINGS)
    assert first.action == "create" and port.writes() == ["create"]
    assert job_summary(port.jobs[JOB]) == job_summary(build_job(SETTINGS))

    again = apply(port, SETTINGS)
    assert again.action == "none" and port.writes() == ["create"]  # no write at all

    port.jobs[JOB].schedule = "0 5 * * *"  # someone edited it by hand
    port.jobs[JOB].retry_config.retry_count = 1
    fixed = apply(port, SETTINGS)
    assert fixed.action == "update" and fixed.fields == ["schedule", "retry_config"]
    assert port.calls[-1] == ("update", "schedule,retry_config")
    assert port.jobs[JOB].schedule == "0 4 * * *"
    assert port.jobs[JOB].retry_config.retry_count == 3
    assert apply(port, SETTINGS).action == "none"


def test_json_spacing_of_the_body_is_not_a_difference() -> None:
    port = FakeScheduler()
    apply(port, SETTINGS)
    # What `gcloud … --message-body='{"trigger": "scheduled"}'` stores.
    port.jobs[JOB].pubsub_target.data = b'{"trigger": "scheduled"}'
    assert apply(port, SETTINGS).action == "none"
    port.jobs[JOB].pubsub_target.data = b'{"trigger": "manual"}'
    assert apply(port, SETTINGS).fields == ["pubsub_target"]


def test_apply_dry_run_reads_but_never_writes() -> None:
    port = FakeScheduler()
    assert apply(port, SETTINGS, dry_run=True).describe() == "would create"
    assert port.writes() == []
    apply(port, SETTINGS)
    port.jobs[JOB].time_zone = "UTC"
    planned = apply(port, SETTINGS, dry_run=True)
    assert planned.describe() == "would update time_zone"
    assert port.jobs[JOB].time_zone == "UTC"
    offline = apply(None, SETTINGS, dry_run=True)
    assert offline.action == "create_or_update"
    assert offline.describe().startswith("would create or update")
    with pytest.raises(PermanentError):
        apply(None, SETTINGS)


def test_run_now_fires_an_existing_job_and_explains_a_missing_one() -> None:
    port = FakeScheduler()
    with pytest.raises(PermanentError, match="pcf schedule apply"):
        run_now(port, SETTINGS)
    apply(port, SETTINGS)
    assert run_now(port, SETTINGS) == JOB
    assert port.calls[-1] == ("run", JOB)


def test_cli_schedule_show_apply_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = FakeScheduler()
    monkeypatch.setattr(cli, "SCHEDULER_PORT_FACTORY", lambda settings: port)
    monkeypatch.setenv("PCF_PROJECT", "my-proj")
    monkeypatch.setenv("PCF_REGION", "us-east1")

    assert main(["schedule", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["data"]
    assert shown["job"]["name"] == JOB and shown["job"]["schedule"] == "0 4 * * *"
    assert shown["job"]["topic"] == "projects/my-proj/topics/pcf-cleanup"
    assert port.calls == []  # show is offline

    assert main(["schedule", "apply", "--dry-run"]) == 0
    assert "would create or update" in capsys.readouterr().out
    assert port.calls == []  # so is apply --dry-run

    assert main(["schedule", "apply"]) == 0
    assert "result               created" in capsys.readouterr().out
    assert main(["schedule", "apply"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert port.writes() == ["create"]

    assert main(["schedule", "run", "--region", "us-east1"]) == 0
    assert JOB in capsys.readouterr().out
    assert port.calls[-1] == ("run", JOB)


def test_cli_schedule_run_of_a_missing_job_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "SCHEDULER_PORT_FACTORY", lambda settings: FakeScheduler())
    assert main(["schedule", "run"]) == 1
    assert "pcf schedule apply" in capsys.readouterr().err
