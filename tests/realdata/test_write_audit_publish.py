"""Write → audit → publish on the real 2022-23 season: a blocked, stale, dead-lettered or
crashed run never touches the live table (RULES §4, §4.3; issue "Write → audit → publish")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import override

from shared.app import App
from shared.config import REPO_ROOT
from shared.messages import Alert, ProcessDate
from shared.rules.planning import staging_table_name
from shared.rules.statuses import CHECKPOINTED
from shared.tools.local_bus import LocalBus
from shared.tools.registry import wire_local_bus
from shared.usecases import ledger
from shared.warehouse import Sql, TransientWarehouseError, Warehouse
from tests.fakes import DelegatingWarehouse
from tests.realdata.test_backfill import (
    alerts,
    backfill,
    cli,
    latest,
    open_copy,
    reopened,
)
from tests.season_facts import END, EXPECTED, INCIDENT, START

pytestmark = pytest.mark.realdata

LIVE = Sql(
    "t.live",
    "SELECT player_lookup, run_id, data_hash, data_source FROM {player_composite_factors}"
    " WHERE game_date = @d",
    {"d": "DATE"},
)
DUPLICATES = Sql(
    "t.duplicates",
    "SELECT game_date, player_lookup, COUNT(*) AS n FROM {player_composite_factors}"
    " WHERE game_date BETWEEN @a AND @b GROUP BY 1, 2 HAVING COUNT(*) > 1",
    {"a": "DATE", "b": "DATE"},
)
PLAYERS_PER_DATE = Sql(
    "t.players_per_date",
    "SELECT game_date, COUNT(DISTINCT player_lookup) AS n FROM {player_composite_factors}"
    " WHERE game_date BETWEEN @a AND @b GROUP BY 1",
    {"a": "DATE", "b": "DATE"},
)
PGS_OF = Sql("t.pgs_of", "SELECT * FROM {player_game_summary} WHERE game_date = @d", {"d": "DATE"})
DROP_PGS = Sql(
    "t.drop_pgs", "DELETE FROM {player_game_summary} WHERE game_date = @d", {"d": "DATE"}
)
LATE_PGS = date(2023, 3, 3)  # 212 players, 10 final games
DEAD = date(2023, 2, 8)


def live(app: App, day: date = INCIDENT) -> dict[str, tuple[str, str, str]]:
    """D's live rows: player → (run_id, data_hash, data_source)."""
    return {
        r["player_lookup"]: (r["run_id"], r["data_hash"], r["data_source"])
        for r in app.warehouse.query(LIVE, {"d": day})
    }


def hashes(rows: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    return {p: v[1] for p, v in rows.items()}


def run_row(app: App, run_id: str, day: date = INCIDENT) -> dict[str, Any]:
    return ledger.latest_by_date(app.warehouse, day, day, run_id=run_id)[day]


# -- 1. a blocked run leaves the live partition exactly as it was --------------------------------
def test_a_blocked_run_never_replaces_the_live_rows(
    incident_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = incident_url
    whole = ["--start-date", str(START), "--end-date", str(END), "--warehouse", url]
    assert cli(capsys, "backfill", *whole)[0] == 0
    with reopened(url) as app:
        good = live(app)
    assert len(good) == 187
    assert {v[2] for v in good.values()} == {"PGS_SYNTHETIC"}

    # The incident replayed: UPCG holds 1 stale row, the source is pinned to it.
    code, out, _ = cli(
        capsys,
        "process",
        "--date",
        str(INCIDENT),
        "--source",
        "upcg",
        "--run-id",
        "pinned-1",
        "--json",
        "--warehouse",
        url,
    )
    assert code == 1, out
    assert json.loads(out)["data"]["status"] == "blocked"
    with reopened(url) as app:
        assert live(app) == good  # same 187 rows, same data_hash, same run
        row = run_row(app, "pinned-1")
        assert (row["status"], row["actual_players"], row["missing_players"]) == ("blocked", 1, 186)
        assert row["staging_table"] == staging_table_name("pinned-1", INCIDENT)
        # The blocked rows stay staged for inspection (until the staging table expires).
        staged = app.warehouse.query(
            Sql("t.staged", "SELECT player_lookup, run_id FROM {staging}"),
            staging=app.warehouse.dataset_table("staging", row["staging_table"]),
        )
        assert [r["run_id"] for r in staged] == ["pinned-1"]
        # The blocked run is the date's latest state (so `--rerun failed` picks the date up),
        # while the live rows stay the good ones.
        assert latest(app, INCIDENT, INCIDENT)[INCIDENT]["status"] == "blocked"

    # Same through a backfill with --rerun all.
    code, out, _ = cli(
        capsys, "backfill", "--dates", str(INCIDENT), "--source", "upcg", "--rerun", "all",
        "--json", "--warehouse", url,
    )  # fmt: skip
    assert code == 1
    assert [r["status"] for r in json.loads(out)["data"]["dates"]] == ["blocked"]
    with reopened(url) as app:
        assert live(app) == good


# -- 2. an older run delivered after a newer one is superseded ----------------------------------
def test_an_older_forced_run_delivered_late_is_superseded(incident: App) -> None:
    app = incident
    newer = backfill(app, start_date=START, end_date=END, run_id="r2-newer")
    good = live(app)
    assert len(good) == 187
    assert newer.dispatched_at is not None

    stale = ProcessDate(
        run_id="r1-older",
        game_date=INCIDENT,
        source="upcg",
        force=True,
        force_reason="pinned UPCG replay from the DLQ",
        dispatched_at=newer.dispatched_at - timedelta(hours=1),
    )
    app.bus.publish("process_date", stale)
    assert app.bus.drain(timeout=120)  # type: ignore[attr-defined]

    assert live(app) == good
    assert run_row(app, "r1-older")["status"] == "superseded"
    state = latest(app, INCIDENT, INCIDENT)[INCIDENT]
    assert (state["run_id"], state["status"]) == ("r2-newer", "succeeded")
    (alert,) = [a for a in alerts(app.bus) if a.run_id == "r1-older"]
    assert alert.kind == "stale_run"
    assert alert.details["newer_run_id"] == "r2-newer"
    # The date still counts as checkpointed: rerun=missing skips it, rerun=failed too.
    assert INCIDENT not in backfill(app, dates=[INCIDENT]).sent
    assert INCIDENT not in backfill(app, dates=[INCIDENT], rerun="failed").sent


def test_an_older_and_a_newer_run_delivered_concurrently(
    real_seeded_file: Path, tmp_path: Path
) -> None:
    from shared.tools.seed.load import inject_stale_upcg
    from tests.season_facts import STALE

    bus = LocalBus(workers=4, min_backoff_s=0.001, max_backoff_s=0.01)
    app = open_copy(real_seeded_file, tmp_path / "race", bus)
    try:
        inject_stale_upcg(app, STALE)
        t0 = datetime(2023, 3, 1, 12, tzinfo=UTC)
        old = ProcessDate(
            run_id="r1-older",
            game_date=INCIDENT,
            source="upcg",
            force=True,
            force_reason="pinned UPCG replay",
            dispatched_at=t0,
        )
        new = ProcessDate(run_id="r2-newer", game_date=INCIDENT, dispatched_at=t0 + timedelta(1))
        bus.publish("process_date", old)
        bus.publish("process_date", new)
        assert bus.drain(timeout=120)

        final = live(app)
        assert len(final) == 187
        assert {v[0] for v in final.values()} == {"r2-newer"}
        assert run_row(app, "r2-newer")["status"] == "succeeded"
        # The older run either lost the race (superseded) or published first and was then
        # replaced; it is never what stays live, and never the date's state.
        assert run_row(app, "r1-older")["status"] in ("superseded", "forced")
        state = latest(app, INCIDENT, INCIDENT)[INCIDENT]
        assert (state["run_id"], state["status"]) == ("r2-newer", "succeeded")
        assert app.warehouse.query(DUPLICATES, {"a": INCIDENT, "b": INCIDENT}) == []
    finally:
        app.close()


# -- 3. zero expected players on a date with final games ---------------------------------------
def test_late_pgs_blocks_as_no_expected_players_then_rerun_failed_repairs(incident: App) -> None:
    app = incident
    backfill(app, start_date=START, end_date=END)
    good = live(app, LATE_PGS)
    assert len(good) == EXPECTED[LATE_PGS] == 212

    saved = app.warehouse.query(PGS_OF, {"d": LATE_PGS})
    app.warehouse.execute(DROP_PGS, {"d": LATE_PGS})
    late = backfill(app, dates=[LATE_PGS], rerun="all")
    row = run_row(app, late.run_id, LATE_PGS)
    assert (row["status"], row["expected_players"]) == ("blocked", 0)
    assert row["error"].startswith("COVERAGE VALIDATION FAILED: 0 players expected but 10 final")
    assert "no_expected_players" in row["error"]
    (alert,) = [a for a in alerts(app.bus) if a.run_id == late.run_id]
    assert alert.kind == "coverage_blocked"
    assert alert.details["reason"] == "no_expected_players"
    assert live(app, LATE_PGS) == good  # nothing published

    app.warehouse.insert_rows("player_game_summary", saved)  # PGS arrives
    repaired = backfill(app, start_date=START, end_date=END, rerun="failed")
    assert repaired.sent == [LATE_PGS]
    row = run_row(app, repaired.run_id, LATE_PGS)
    assert (row["status"], row["actual_players"], row["expected_players"]) == (
        "succeeded",
        212,
        212,
    )
    assert str(row["coverage_pct"]) in ("100.0", "100.000000000")
    assert len(live(app, LATE_PGS)) == 212


# -- 4. five transient failures: dead-lettered → failed → rerun ---------------------------------
class FlakyStaging(DelegatingWarehouse):
    """The real warehouse, except that staging fails transiently while ``armed``."""

    def __init__(self, inner: Warehouse) -> None:
        super().__init__(inner)
        self.armed = True
        self.failures = 0

    @override
    def observe(self, operation: str, sql: Sql | None = None) -> None:
        if self.armed and operation == "write_staging_table":
            self.failures += 1
            raise TransientWarehouseError("injected 503 while staging")


def test_a_dead_lettered_date_ends_failed_and_rerun_failed_sends_it(real_app: App) -> None:
    bus = LocalBus(workers=2, min_backoff_s=0.001, max_backoff_s=0.01)
    flaky = FlakyStaging(real_app.warehouse)
    app = App(settings=real_app.settings, warehouse=flaky, bus=bus)
    wire_local_bus(app, bus)
    try:
        first = backfill(app, dates=[DEAD])
        assert flaky.failures == 5
        row = run_row(app, first.run_id, DEAD)
        assert row["status"] == "failed"
        assert row["error"] == "dead-lettered after 5 attempts (ProcessDate)"
        assert row["attempts"] == 5
        (alert,) = [a for a in alerts(bus) if isinstance(a, Alert)]
        assert alert.kind == "dead_lettered"
        assert alert.game_date == DEAD

        flaky.armed = False
        again = backfill(app, dates=[DEAD], rerun="failed")
        assert again.sent == [DEAD]
        assert run_row(app, again.run_id, DEAD)["status"] == "succeeded"
        assert latest(app, DEAD, DEAD)[DEAD]["status"] == "succeeded"
    finally:
        bus.close()


# -- 5. kill -9 of a CLI backfill: stalled after the lease, --rerun failed completes -----------
BACKDATE = Sql(
    "t.backdate",
    "UPDATE {backfill_ledger} SET updated_at = TIMESTAMP_SUB(updated_at, INTERVAL 31 MINUTE),"
    " created_at = TIMESTAMP_SUB(created_at, INTERVAL 31 MINUTE),"
    " dispatched_at = TIMESTAMP_SUB(dispatched_at, INTERVAL 31 MINUTE)"
    " WHERE game_date BETWEEN @a AND @b",
    {"a": "DATE", "b": "DATE"},
)


def test_kill_9_mid_backfill_leaves_stalled_dates_that_rerun_failed_completes(
    real_seeded_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    path = tmp_path / "killed.duckdb"
    shutil.copy(real_seeded_file, path)
    url = f"duckdb:///{path}"
    start, end = date(2022, 11, 1), date(2023, 3, 31)
    env = {**os.environ, "PCF_LOG_FORMAT": "json", "PCF_LOG_LEVEL": "INFO"}
    argv = [sys.executable, "-m", "shared.tools.cli", "backfill", "--start-date", str(start),
            "--end-date", str(end), "--warehouse", url, "--requested-by", "killed"]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    staged = 0
    assert proc.stderr is not None
    deadline = time.monotonic() + 180
    try:
        # Bounded: read the structured logs until a few dates are staged, then kill -9.
        for line in proc.stderr:
            if '"message": "staged ' in line:
                staged += 1
            if staged >= 6 or time.monotonic() > deadline:
                break
        assert proc.poll() is None, "the backfill finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert staged >= 6
    assert proc.returncode == -signal.SIGKILL

    with reopened(url) as app:
        states = latest(app, start, end)
        in_flight = [
            d for d, r in states.items() if r["status"] in ("queued", "processing", "written")
        ]
        assert in_flight, "kill -9 left no date in flight"
        # Time passes beyond the lease (30 min): age the ledger instead of sleeping.
        app.warehouse.execute(BACKDATE, {"a": start, "b": end})

    code, out, _ = cli(
        capsys, "status", "--start-date", str(start), "--end-date", str(end), "--json",
        "--warehouse", url,
    )  # fmt: skip
    assert code == 0
    reported = {r["game_date"]: r["status"] for r in json.loads(out)["data"]["dates"]}
    assert {d for d, s in reported.items() if s == "stalled"} == {str(d) for d in in_flight}

    code, out, _ = cli(
        capsys, "backfill", "--start-date", str(start), "--end-date", str(end), "--rerun",
        "failed", "--json", "--warehouse", url,
    )  # fmt: skip
    assert code == 0, out
    sent = {
        r["game_date"] for r in json.loads(out)["data"]["dates"] if r["status"] != "skipped_rerun"
    }
    assert {str(d) for d in in_flight} <= sent
    with reopened(url) as app:
        final = latest(app, start, end)
        game_dates = [d for d, r in final.items() if not r["status"].startswith("skipped")]
        assert {final[d]["status"] for d in game_dates} <= set(CHECKPOINTED)
        assert app.warehouse.query(DUPLICATES, {"a": start, "b": end}) == []
        per_date = {
            r["game_date"]: r["n"]
            for r in app.warehouse.query(PLAYERS_PER_DATE, {"a": start, "b": end})
        }
        assert {d: per_date.get(d) for d in game_dates} == {
            d: final[d]["expected_players"] for d in game_dates
        }
