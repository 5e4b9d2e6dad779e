"""The schedule as code: topology.json → the Cloud Scheduler job Terraform creates, fired at
04:00 New York. ``pcf schedule`` shows and fires it; it never writes it (Terraform owns it)."""

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
from shared.tools import schedule
from shared.tools.cli import cleanup as cli
from shared.tools.cli.main import main
from shared.tools.schedule import (
    JobNotFound,
    SchedulerPort,
    build_job,
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
    """Cloud Scheduler at our port: the jobs Terraform made, every call recorded."""

    def __init__(self, *existing: str) -> None:
        self.jobs = set(existing)
        self.calls: list[tuple[str, str]] = []

    def run(self, name: str) -> scheduler_v1.Job:
        self.calls.append(("run", name))
        if name not in self.jobs:
            raise JobNotFound(name)
        return scheduler_v1.Job(name=name)


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
    assert req.trigger == "scheduled"
    assert not req.dry_run
    assert req.ttl_days is None


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


def test_the_scheduler_writing_code_is_gone() -> None:
    # Terraform (infra/terraform/scheduler.tf) is the single owner of the job.
    for name in ("apply", "plan_apply", "changed_fields", "ApplyResult", "MANAGED_FIELDS"):
        assert not hasattr(schedule, name), name
    assert not hasattr(schedule.CloudSchedulerAdapter, "create")
    assert not hasattr(schedule.CloudSchedulerAdapter, "update")


def test_run_now_fires_an_existing_job_and_explains_a_missing_one() -> None:
    with pytest.raises(PermanentError, match="Terraform creates it"):
        run_now(FakeScheduler(), SETTINGS)
    port = FakeScheduler(JOB)
    assert run_now(port, SETTINGS) == JOB
    assert port.calls == [("run", JOB)]


def test_cli_schedule_show_and_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = FakeScheduler(JOB)
    monkeypatch.setattr(cli, "SCHEDULER_PORT_FACTORY", lambda _settings: port)
    monkeypatch.setenv("PCF_PROJECT", "my-proj")
    monkeypatch.setenv("PCF_REGION", "us-east1")

    assert main(["schedule", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["data"]
    assert shown["job"]["name"] == JOB
    assert shown["job"]["schedule"] == "0 4 * * *"
    assert shown["job"]["topic"] == "projects/my-proj/topics/pcf-cleanup"
    assert port.calls == []  # show is offline

    assert main(["schedule", "run", "--region", "us-east1"]) == 0
    assert JOB in capsys.readouterr().out
    assert port.calls == [("run", JOB)]


def test_cli_schedule_apply_no_longer_exists(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["schedule", "apply"])
    assert exc.value.code == 2
    assert "invalid choice: 'apply'" in capsys.readouterr().err


def test_cli_schedule_run_of_a_missing_job_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "SCHEDULER_PORT_FACTORY", lambda _settings: FakeScheduler())
    assert main(["schedule", "run"]) == 1
    assert "Terraform creates it" in capsys.readouterr().err
