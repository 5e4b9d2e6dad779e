"""Backfills of the real 2022-23 season: the incident range, the gate, the CLI, redeliveries."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.app import App, build_app
from shared.bus.base import Publisher
from shared.clock import et_today
from shared.config import Settings
from shared.entrypoint import Delivery
from shared.messages import Alert, BackfillRequest, Message, ProcessDate, ValidateCoverage
from shared.tools.cli.main import main
from shared.tools.local_bus import LocalBus
from shared.tools.registry import wire_local_bus
from shared.tools.seed.load import inject_stale_upcg
from shared.usecases import ledger
from shared.usecases.dispatch_backfill import DispatchResult, dispatch_backfill
from shared.warehouse import Sql
from tests.season_facts import END, EXPECTED, INCIDENT, NEXT, OFF_DAYS, STALE, START

pytestmark = pytest.mark.realdata

NO_DELIVERY = Delivery(message_id=None, attempt=None, publish_time=None, attributes={})

PCF_ROWS = Sql(
    "t.pcf_rows",
    "SELECT * FROM {player_composite_factors} WHERE game_date BETWEEN @a AND @b"
    " ORDER BY game_date, player_lookup",
    {"a": "DATE", "b": "DATE"},
)
PGS_PLAYERS = Sql(
    "t.pgs_players",
    "SELECT game_date, COUNT(DISTINCT player_lookup) AS n FROM {player_game_summary}"
    " WHERE game_date BETWEEN @a AND @b GROUP BY game_date",
    {"a": "DATE", "b": "DATE"},
)
# Every ledger row (each step of each run and date: the ledger is append-only).
LEDGER_ROWS = Sql(
    "t.ledger_rows",
    "SELECT * FROM {backfill_ledger} WHERE game_date BETWEEN @a AND @b"
    " ORDER BY game_date, run_id, updated_at, status",
    {"a": "DATE", "b": "DATE"},
)


# -- helpers ------------------------------------------------------------------------------------
def backfill(app: App, **fields: Any) -> DispatchResult:
    """Dispatch a request through the use case and wait for every cascade to finish."""
    fields.setdefault("requested_by", "pytest")
    result = dispatch_backfill(app, BackfillRequest(**fields), NO_DELIVERY)
    assert app.bus.drain(timeout=300)  # type: ignore[attr-defined]
    return result


def latest(app: App, start: date = START, end: date = END) -> dict[date, dict[str, Any]]:
    return ledger.latest_by_date(app.warehouse, start, end)


def pcf(app: App, start: date = START, end: date = END) -> list[dict[str, Any]]:
    return app.warehouse.query(PCF_ROWS, {"a": start, "b": end})


def content(rows: list[dict[str, Any]]) -> dict[tuple[date, str], dict[str, Any]]:
    """Rows by (game_date, player) without what differs between runs (run_id, processed_at)."""
    out = {
        (r["game_date"], r["player_lookup"]): {
            k: v for k, v in r.items() if k not in ("run_id", "processed_at")
        }
        for r in rows
    }
    assert len(out) == len(rows), "duplicate (game_date, player_lookup) rows"
    return out


def sent_dates(bus: Any, run_id: str | None = None) -> list[date]:
    return sorted(
        day
        for m in bus.messages("process_date")
        if isinstance(m, ProcessDate) and (run_id is None or m.run_id == run_id)
        for day in m.dates
    )


def alerts(bus: Any) -> list[Alert]:
    return [m for m in bus.messages("alerts") if isinstance(m, Alert)]


def open_copy(source: Path, folder: Path, bus: LocalBus) -> App:
    """An App on a private copy of a season file, its functions wired to ``bus``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "season.duckdb"
    shutil.copy(source, path)
    app = build_app(Settings(warehouse=f"duckdb:///{path}"), bus=bus)
    wire_local_bus(app, bus)
    return app


@contextmanager
def reopened(url: str) -> Iterator[App]:
    """A plain (unwired) App on a warehouse file that the CLI used and closed."""
    app = build_app(Settings(warehouse=url), bus=LocalBus(workers=1))
    try:
        yield app
    finally:
        app.close()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``pcf`` in-process: (exit code, stdout, stderr); usage errors exit via argparse."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- the incident range through the use cases ---------------------------------------------------
def test_incident_range_is_processed_and_checkpointed(incident: App, logs: Any) -> None:
    app = incident
    result = backfill(app, start_date=START, end_date=END)

    plan = {line.game_date: line for line in result.lines}
    assert list(plan) == [START + timedelta(days=i) for i in range(19)]
    assert [d for d, line in plan.items() if line.action == "skipped_no_games"] == OFF_DAYS
    assert result.sent == sorted(EXPECTED)
    assert (plan[INCIDENT].planned_source, plan[NEXT].planned_source) == ("PGS_SYNTHETIC",) * 2
    # One ProcessDate per game date, none for the break.
    assert sent_dates(app.bus, result.run_id) == sorted(EXPECTED)
    assert not set(OFF_DAYS) & set(sent_dates(app.bus))

    # Expected is what PGS really holds, counted independently.
    pgs = {r["game_date"]: r["n"] for r in app.warehouse.query(PGS_PLAYERS, {"a": START, "b": END})}
    assert pgs == EXPECTED

    rows = latest(app)
    assert sorted(rows) == sorted(EXPECTED)  # off-days are listed, not queued
    for day, expected in EXPECTED.items():
        row = rows[day]
        stale = STALE.get(day)
        assert row["run_id"] == result.run_id
        assert row["status"] == "succeeded", day
        assert row["expected_players"] == expected
        assert row["upcg_players"] == (stale if stale is not None else expected)
        assert row["actual_players"] == expected
        assert row["coverage_pct"] == Decimal("100.0")
        assert row["data_source"] == ("PGS_SYNTHETIC" if stale is not None else "UPCG")
        assert (row["mode"], row["forced"], row["requested_by"]) == ("backfill", False, "pytest")
        assert row["attempts"] == 1
        assert row["calculation_version"] == "v1_4factors"
    assert (rows[INCIDENT]["upcg_players"], rows[NEXT]["upcg_players"]) == (1, 68)

    out = pcf(app)
    per_date: dict[date, set[str]] = {}
    for r in out:
        per_date.setdefault(r["game_date"], set()).add(r["player_lookup"])
    assert {d: len(p) for d, p in per_date.items()} == EXPECTED
    assert len(out) == sum(EXPECTED.values())  # one row per player, no duplicates
    assert {r["data_source"] for r in out if r["game_date"] == INCIDENT} == {"PGS_SYNTHETIC"}
    assert {r["data_source"] for r in out if r["game_date"] == NEXT} == {"PGS_SYNTHETIC"}
    assert {r["run_id"] for r in out} == {result.run_id}
    assert alerts(app.bus) == []

    # Defensive logging names the partial UPCG on both incident dates.
    checks = {r["upcg_players"]: r for r in logs.find("ERROR", "data source check")}
    assert (checks[1]["expected_players"], checks[1]["missing_players"]) == (187, 186)
    assert (checks[68]["expected_players"], checks[68]["coverage_pct"]) == (175, 38.9)
    assert logs.find("ERROR", "COVERAGE VALIDATION FAILED") == []

    # Everything is checkpointed: a second request (rerun=missing) sends nothing, queues nothing.
    before = len(sent_dates(app.bus))
    again = backfill(app, start_date=START, end_date=END)
    assert again.sent == []
    assert {line.action for line in again.lines} == {"skipped_rerun", "skipped_no_games"}
    assert len(sent_dates(app.bus)) == before
    ledger_runs = {r["run_id"] for r in app.warehouse.query(LEDGER_ROWS, {"a": START, "b": END})}
    assert ledger_runs == {result.run_id}


def test_pinned_upcg_is_blocked_then_rerun_failed_repairs_it(incident: App, logs: Any) -> None:
    app = incident
    backfill(app, start_date=START, end_date=END)
    blocked = backfill(app, dates=[INCIDENT, NEXT], source="upcg", rerun="all")
    assert blocked.sent == [INCIDENT, NEXT]

    rows = latest(app)
    for day, (actual, pct) in {INCIDENT: (1, "0.5"), NEXT: (68, "38.9")}.items():
        row = rows[day]
        assert row["run_id"] == blocked.run_id
        assert row["status"] == "blocked"
        assert (row["actual_players"], row["expected_players"]) == (actual, EXPECTED[day])
        assert row["coverage_pct"] == Decimal(pct)
        assert row["data_source"] == "UPCG"
        assert row["forced"] is False
    got = alerts(app.bus)
    assert sorted((a.kind, a.game_date, a.run_id) for a in got) == [
        ("coverage_blocked", INCIDENT, blocked.run_id),
        ("coverage_blocked", NEXT, blocked.run_id),
    ]
    assert {a.details["coverage_pct"] for a in got} == {0.5, 38.9}
    failed = logs.find("ERROR", "COVERAGE VALIDATION FAILED")
    assert len(failed) == 2
    assert any("1/187 players (0.5%) < 90%" in r["message"] for r in failed)
    assert any("68/175 players (38.9%) < 90%" in r["message"] for r in failed)

    # rerun=failed over the whole range sends exactly the two blocked dates.
    repaired = backfill(app, start_date=START, end_date=END, rerun="failed")
    assert repaired.sent == [INCIDENT, NEXT]
    assert sent_dates(app.bus, repaired.run_id) == [INCIDENT, NEXT]
    rows = latest(app)
    assert [rows[d]["status"] for d in (INCIDENT, NEXT)] == ["succeeded", "succeeded"]
    assert [rows[d]["actual_players"] for d in (INCIDENT, NEXT)] == [187, 175]
    assert {rows[d]["run_id"] for d in EXPECTED if d not in STALE} != {repaired.run_id}
    # Nothing is left to repair.
    assert backfill(app, start_date=START, end_date=END, rerun="failed").sent == []


def test_bootstrap_dates_are_skipped_and_the_fifteenth_day_processed(real_app: App) -> None:
    app = real_app
    result = backfill(app, start_date=date(2022, 10, 17), end_date=date(2022, 11, 1))
    actions = {line.game_date: line.action for line in result.lines}
    assert actions[date(2022, 10, 17)] == "skipped_no_games"  # before the season
    season = [date(2022, 10, 18) + timedelta(days=i) for i in range(14)]
    assert {actions[d] for d in season} == {"skipped_bootstrap"}
    assert actions[date(2022, 10, 31)] == "skipped_bootstrap"
    assert result.sent == [date(2022, 11, 1)]
    assert sent_dates(app.bus) == [date(2022, 11, 1)]

    rows = latest(app, date(2022, 10, 17), date(2022, 11, 1))
    assert {rows[d]["status"] for d in season} == {"skipped_bootstrap"}
    assert rows[date(2022, 10, 31)]["attempts"] == 0  # recorded by dispatch, never sent
    first = rows[date(2022, 11, 1)]
    assert first["status"] == "succeeded"
    assert first["expected_players"] == first["actual_players"] == first["upcg_players"] == 82
    assert pcf(app, date(2022, 10, 18), date(2022, 10, 31)) == []
    assert len(pcf(app, date(2022, 11, 1), date(2022, 11, 1))) == 82


# -- redeliveries -------------------------------------------------------------------------------
class DuplicatingBus(LocalBus):
    """At-least-once delivery: every message is published (so delivered) twice."""

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        first = super().publish(topic_key, message, attributes)
        super().publish(topic_key, message, attributes)
        return first


@pytest.mark.parametrize("workers", [1, 2])
def test_every_message_delivered_twice_gives_the_same_result(
    real_seeded_file: Path, tmp_path: Path, logs: Any, workers: int
) -> None:
    start, end = date(2023, 2, 22), date(2023, 2, 26)
    game_dates = [d for d in EXPECTED if start <= d <= end]
    once_bus = LocalBus(workers=workers, min_backoff_s=0.001, max_backoff_s=0.01)
    twice_bus = DuplicatingBus(workers=workers, min_backoff_s=0.001, max_backoff_s=0.01)
    once = open_copy(real_seeded_file, tmp_path / "once", once_bus)
    twice = open_copy(real_seeded_file, tmp_path / "twice", twice_bus)
    try:
        for app in (once, twice):
            inject_stale_upcg(app, STALE)
            backfill(app, start_date=start, end_date=end)

        assert content(pcf(twice, start, end)) == content(pcf(once, start, end))
        assert len(pcf(twice, start, end)) == sum(EXPECTED[d] for d in game_dates)
        hashes = {(r["game_date"], r["player_lookup"]): r["data_hash"] for r in pcf(once)}
        assert {(r["game_date"], r["player_lookup"]): r["data_hash"] for r in pcf(twice)} == hashes

        fields = ("status", "expected_players", "upcg_players", "actual_players", "coverage_pct")
        final_once = {d: tuple(r[f] for f in fields) for d, r in latest(once, start, end).items()}
        final_twice = {d: tuple(r[f] for f in fields) for d, r in latest(twice, start, end).items()}
        assert final_twice == final_once
        assert {v[0] for v in final_twice.values()} == {"succeeded"}

        assert sent_dates(twice_bus) == sorted(game_dates * 2)
        assert twice_bus.dead_letters() == []
        assert logs.find("ERROR", "failed permanently") == []
        for day, row in latest(twice, start, end).items():
            deliveries = sum(
                p.attempts
                for p in twice_bus.published
                if p.topic_key == "process_date"
                and isinstance(p.message, ProcessDate)
                and day in p.message.dates
            )
            if workers == 1:
                # Sequential deliveries: exactly the two copies, each delivered once.
                assert (row["attempts"], deliveries) == (2, 2)
            else:
                # Concurrent copies may collide on a row; the loser is retried (not lost).
                assert 2 <= row["attempts"] <= deliveries
        assert {r["attempts"] for r in latest(once, start, end).values()} == {1}
    finally:
        once.close()
        twice.close()


class FailFirstPublish(Publisher):
    """Our bus port around the local bus: the first publish to ``topic`` raises (a crash)."""

    def __init__(self, inner: LocalBus, topic: str) -> None:
        self.inner = inner
        self.topic = topic
        self.raised = 0

    def publish(
        self, topic_key: str, message: Message, attributes: Mapping[str, str] | None = None
    ) -> str:
        if topic_key == self.topic and not self.raised:
            self.raised += 1
            raise ConnectionError(f"process died before publishing to {topic_key}")
        return self.inner.publish(topic_key, message, attributes)

    def close(self) -> None:
        self.inner.close()


def test_crash_after_write_before_validation_is_redelivered(incident: App, logs: Any) -> None:
    app = incident
    inner = app.bus
    assert isinstance(inner, LocalBus)
    crashing = FailFirstPublish(inner, "validate_coverage")
    app.bus = crashing  # the wired handlers run with this app, so they publish through it
    result = dispatch_backfill(app, BackfillRequest(dates=[INCIDENT]), NO_DELIVERY)
    assert inner.drain(timeout=120)

    assert crashing.raised == 1
    (process,) = [p for p in inner.published if p.topic_key == "process_date"]
    assert process.attempts == 2
    assert process.errors == [
        "ConnectionError: process died before publishing to validate_coverage"
    ]
    (validate,) = [p.message for p in inner.published if p.topic_key == "validate_coverage"]
    assert isinstance(validate, ValidateCoverage)
    assert (validate.rows_written, validate.expected_players) == (187, 187)
    row = latest(app, INCIDENT, INCIDENT)[INCIDENT]
    assert row["run_id"] == result.run_id
    assert row["status"] == "succeeded"
    assert (row["expected_players"], row["upcg_players"], row["actual_players"]) == (187, 1, 187)
    assert row["coverage_pct"] == Decimal("100.0")
    assert row["data_source"] == "PGS_SYNTHETIC"
    assert row["attempts"] == 2
    assert len(pcf(app, INCIDENT, INCIDENT)) == 187
    assert logs.find("ERROR", "unexpected failure, will be redelivered")


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_blocks_forces_and_reruns_failed(
    incident_url: str, capsys: pytest.CaptureFixture[str], logs: Any
) -> None:
    url = incident_url
    dates = f"{INCIDENT},{NEXT}"
    pinned = ["backfill", "--dates", dates, "--source", "upcg", "--rerun", "all"]

    code, out, _ = cli(capsys, *pinned, "--json", "--requested-by", "carol", "--warehouse", url)
    assert code == 1
    report = json.loads(out)["data"]
    assert [(r["game_date"], r["status"]) for r in report["dates"]] == [
        (INCIDENT.isoformat(), "blocked"),
        (NEXT.isoformat(), "blocked"),
    ]
    assert [(r["actual"], r["expected"], r["coverage_pct"]) for r in report["dates"]] == [
        (1, 187, 0.5),
        (68, 175, 38.9),
    ]
    assert sorted((a["kind"], a["game_date"]) for a in report["alerts"]) == [
        ("coverage_blocked", INCIDENT.isoformat()),
        ("coverage_blocked", NEXT.isoformat()),
    ]
    assert len(logs.find("ERROR", "COVERAGE VALIDATION FAILED")) == 2

    # --force without --reason is a usage error: nothing is sent or written.
    with reopened(url) as app:
        ledger_before = app.warehouse.query(LEDGER_ROWS, {"a": START, "b": END})
        pcf_before = content(pcf(app))
    code, out, err = cli(capsys, *pinned, "--force", "--warehouse", url)
    assert code == 2
    assert "--force needs --reason" in err
    with reopened(url) as app:
        assert app.warehouse.query(LEDGER_ROWS, {"a": START, "b": END}) == ledger_before
        assert content(pcf(app)) == pcf_before

    # With a reason the blocked dates are checkpointed as forced, and audited.
    reason = "UPCG replay for incident INC-42"
    code, out, _ = cli(
        capsys,
        *pinned,
        "--force",
        "--reason",
        reason,
        "--requested-by",
        "dave",
        "--run-id",
        "forced-run",
        "--warehouse",
        url,
    )
    assert code == 0, out
    with reopened(url) as app:
        rows = latest(app)
        for day, (actual, pct) in {INCIDENT: (1, "0.5"), NEXT: (68, "38.9")}.items():
            row = rows[day]
            assert row["run_id"] == "forced-run"
            assert row["status"] == "forced"
            assert row["forced"] is True
            assert row["force_reason"] == reason
            assert row["requested_by"] == "dave"
            assert (row["actual_players"], row["coverage_pct"]) == (actual, Decimal(pct))

    # Block again, then --rerun failed over the whole range sends only the blocked dates.
    assert cli(capsys, *pinned, "--warehouse", url)[0] == 1
    whole_range = ["--start-date", str(START), "--end-date", str(END)]
    code, out, _ = cli(
        capsys, "backfill", *whole_range, "--rerun", "failed", "--json", "--warehouse", url
    )
    assert code == 0
    statuses = {r["game_date"]: r["status"] for r in json.loads(out)["data"]["dates"]}
    assert {d for d, s in statuses.items() if s == "succeeded"} == {
        INCIDENT.isoformat(),
        NEXT.isoformat(),
    }
    assert {
        s for d, s in statuses.items() if d not in (INCIDENT.isoformat(), NEXT.isoformat())
    } == {
        "skipped_rerun",
        "skipped_no_games",
    }
    with reopened(url) as app:
        rows = latest(app)
        assert [rows[d]["actual_players"] for d in (INCIDENT, NEXT)] == [187, 175]
        assert [rows[d]["data_source"] for d in (INCIDENT, NEXT)] == ["PGS_SYNTHETIC"] * 2


def test_cli_usage_errors_exit_2_and_write_nothing(
    incident_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = incident_url
    future = et_today(datetime.now(UTC)) + timedelta(days=2)
    cases = [
        (
            ["--start-date", str(future - timedelta(days=5)), "--end-date", str(future)],
            "is in the future (today is ",
        ),
        (["--dates", f"{INCIDENT},{future}"], f"{future} is in the future (today is "),
        (["--start-date", "2021-01-01", "--end-date", "2022-02-05"], "at most 400 per request"),
        (["--start-date", str(NEXT), "--end-date", str(INCIDENT)], "is before --start-date"),
        (["--start-date", "2023-02-30", "--end-date", str(END)], "is not a date"),
        (["--start-date", str(START)], "give --start-date and --end-date"),
    ]
    for args, message in cases:
        code, out, err = cli(capsys, "backfill", *args, "--warehouse", url)
        assert code == 2, (args, out, err)
        assert message in err, (args, err)
        assert "pcf" in err
        assert "error" in err
    with reopened(url) as app:
        everything = app.warehouse.query(
            LEDGER_ROWS, {"a": date(2000, 1, 1), "b": date(2100, 1, 1)}
        )
        assert everything == []
        assert pcf(app, date(2000, 1, 1), date(2100, 1, 1)) == []
