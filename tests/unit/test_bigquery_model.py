"""The BigQuery model's replay (tests/bench/bigquery_model.py) applies the published limits.

Hand-made traces with known answers: latency adds up per instance, instances cap the fan-out,
2 mutating DML run per table with 20 queued and the rest fail and are redelivered, INSERT DML
runs at once for the day's first 1,500 per table then 10 at a time with 100 queued, and every
job bills at least 10 MB per referenced table.
"""

from __future__ import annotations

from tests.bench.bigquery_model import (
    INSERTS_IMMEDIATE_PER_TABLE_PER_DAY,
    MB,
    Job,
    Limits,
    Publish,
    Recorder,
    Trace,
    ledger_dml_per_chunk,
    replay,
)

ROOT = Recorder.ROOT


def _fan_out(n: int, steps: list[Job]) -> dict[str, Trace]:
    traces = {ROOT: Trace("backfill_requests", ROOT)}
    for i in range(n):
        mid = f"m{i}"
        traces[ROOT].steps.append(Publish("process_date", mid))
        traces[mid] = Trace("process_date", mid, list(steps))
    return traces


QUERY = Job("query", "q", None, 20 * MB)
MERGE = Job("dml", "ledger.merge", "nba_orchestration.backfill_ledger", 10 * MB)
INSERT = Job("insert_dml", "ledger.append", "backfill_ledger", 10 * MB)


def test_latency_adds_up_and_instances_cap_the_fan_out() -> None:
    limits = Limits(job_latency=1.0, pubsub_latency=0.0, instances={"process_date": 2})
    res = replay(_fan_out(6, [QUERY, QUERY, QUERY]), limits)
    # 6 deliveries of 3 one-second jobs on 2 instances: 3 waves of 3 s.
    assert res.wall_s == 9.0
    assert res.jobs["query"] == 18
    assert res.billed == 18 * 20 * MB
    assert res.deliveries["process_date"] == 6


def test_two_dml_run_per_table_twenty_queue_and_the_rest_fail_then_retry() -> None:
    limits = Limits(job_latency=1.0, pubsub_latency=0.0, instances={"process_date": 30})
    res = replay(_fan_out(25, [MERGE]), limits)
    assert res.dml_running_peak["nba_orchestration.backfill_ledger"] == 2
    assert res.dml_queue_peak["nba_orchestration.backfill_ledger"] == 20
    assert sum(res.quota_errors.values()) == 3
    assert res.redeliveries == 3
    assert res.dead_letters == 0
    # 25 submissions + 3 resubmissions; 25 statements actually run, 2 at a time (the 3 refused
    # come back after the 10 s backoff and queue behind the last originals): 13 s.
    assert res.jobs["dml"] == 25 + 3
    assert res.wall_s == 13.0


def test_without_contention_nothing_queues() -> None:
    limits = Limits(job_latency=2.0, pubsub_latency=0.0, instances={"process_date": 2})
    res = replay(_fan_out(4, [MERGE, QUERY]), limits)
    assert res.dml_queue_peak == {}
    assert not res.quota_errors
    assert res.wall_s == 8.0


def test_the_days_first_inserts_run_at_once_however_many_arrive_together() -> None:
    assert INSERTS_IMMEDIATE_PER_TABLE_PER_DAY == 1_500
    limits = Limits(job_latency=1.0, pubsub_latency=0.0, instances={"process_date": 200})
    res = replay(_fan_out(150, [INSERT]), limits)
    # 150 INSERTs on one table at the same instant: no slot, no queue, 1 s in all.
    assert res.wall_s == 1.0
    assert res.jobs["insert_dml"] == 150
    assert res.insert_running_peak == {}
    assert res.inserts_per_table_day_peak == 150
    assert not res.quota_errors


def test_past_the_daily_immediate_inserts_10_run_100_queue_and_the_rest_fail() -> None:
    limits = Limits(
        job_latency=1.0,
        pubsub_latency=0.0,
        instances={"process_date": 200},
        inserts_immediate_per_day=5,
    )
    res = replay(_fan_out(120, [INSERT]), limits)
    # 5 run at once; of the other 115, 10 run, 100 queue and 5 are refused (redelivered after
    # the 10 s backoff, by then the queue has room).
    assert res.insert_running_peak == {"backfill_ledger": 10}
    assert res.insert_queue_peak == {"backfill_ledger": 100}
    assert sum(res.quota_errors.values()) == 5
    assert list(res.quota_errors) == ["INSERT queue full on backfill_ledger"]
    assert res.redeliveries == 5
    assert res.dead_letters == 0
    assert res.jobs["insert_dml"] == 120 + 5
    # 115 + 5 limited statements, 10 at a time: 12 waves of 1 s.
    assert res.wall_s == 12.0
    assert res.dml_running_peak == {}  # INSERTs never take a mutating-DML slot


def test_ledger_statements_are_counted_per_chunk() -> None:
    traces = {ROOT: Trace("backfill_requests", ROOT, [Publish("process_date", "p1")])}
    traces["p1"] = Trace(
        "process_date", "p1", [INSERT, QUERY, INSERT, Publish("validate_coverage", "v1")]
    )
    traces["v1"] = Trace("validate_coverage", "v1", [QUERY, MERGE, INSERT])
    assert ledger_dml_per_chunk(traces) == [(1, 3)]
