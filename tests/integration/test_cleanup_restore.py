"""Cleanup and restore through the BigQuery adapter on bqemulator (issue 11).

The real season on datasets of this module: ``cleanup --today 2023-03-05 --allow-large-delete``
then ``restore`` gives back the exact row multiset and a second restore inserts 0; the lease
(one MERGE) and the reconcile of a crashed run on the same backend; and a restore requested by
message, run by the deployed ``cleanup_upcoming`` function server of the stack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.app import App
from shared.entrypoint import Delivery
from shared.messages import CleanupRequest
from shared.sql import cleanup as cleanup_sql
from shared.tools.local_bus import LocalBus
from shared.tools.seed.load import seed
from shared.usecases.cleanup_upcoming import TableOutcome, cleanup_upcoming, recent_runs
from shared.warehouse import Sql, WarehouseError, get_schema
from tests.fakes import published_alerts
from tests.integration.stack_helpers import Stack, drop_datasets, isolated_settings, stack_app

pytestmark = pytest.mark.stack

UPCG = "upcoming_player_game_context"
UTCG = "upcoming_team_game_context"
DELIVERY = Delivery("it-cleanup", 1, None, {})


class Crash(BaseException):
    """The process dies at this step (nothing in the use case handles it)."""


def fingerprint(app: App, table: str) -> tuple[int, str]:
    """(rows, sha256 over every column of every row, sorted): equal iff the multisets are."""
    cols = get_schema(table).column_names
    rows = app.warehouse.query(
        Sql("it.all_rows", f"SELECT {', '.join(cols)} FROM {{t}}"), t=app.warehouse.table(table)
    )
    lines = sorted(repr(tuple(r[c] for c in cols)) for r in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.fixture(scope="module")
def season(stack: Stack, real_data_dir: Path) -> Iterator[App]:
    """The untouched real season, seeded through the adapter on datasets of this module."""
    app = stack_app(stack, isolated_settings(stack), LocalBus(1))
    try:
        seed(app, real_data_dir)
        yield app
    finally:
        drop_datasets(app)
        app.close()


def test_cleanup_then_restore_round_trip_on_the_real_season(season: App) -> None:
    app = season
    before = {t: fingerprint(app, t) for t in (UPCG, UTCG)}
    assert (before[UPCG][0], before[UTCG][0]) == (25892, 2460)

    req = CleanupRequest(today=date(2023, 3, 5), allow_large_delete=True)
    done = cleanup_upcoming(app, req, DELIVERY)
    assert [(t.status, t.backup_rows, t.deleted_rows) for t in done.tables] == [
        ("deleted", 19156, 19156),
        ("deleted", 1816, 1816),
    ]
    assert fingerprint(app, UPCG)[0] == 25892 - 19156
    listed = {(r["cleanup_id"], r["table_name"]): r for r in recent_runs(app)}
    assert listed[(done.cleanup_id, UPCG)]["backup_exists"] is True

    restore = CleanupRequest(action="restore", cleanup_id=done.cleanup_id)
    first = cleanup_upcoming(app, restore, DELIVERY)
    assert [(t.status, t.restored_rows) for t in first.tables] == [
        ("restored", 19156),
        ("restored", 1816),
    ]
    assert {t: fingerprint(app, t) for t in (UPCG, UTCG)} == before
    second = cleanup_upcoming(app, restore, DELIVERY)
    assert [t.restored_rows for t in second.tables] == [0, 0]
    assert fingerprint(app, UPCG) == before[UPCG]
    recorded = app.warehouse.query(
        Sql(
            "it.restores",
            "SELECT table_name, status, restored_rows FROM {cleanup_runs} "
            "WHERE run_date IS NOT NULL AND restore_of = @c ORDER BY restored_rows DESC",
            {"c": "STRING"},
        ),
        {"c": done.cleanup_id},
    )
    assert [(r["table_name"], r["status"], r["restored_rows"]) for r in recorded] == [
        (UPCG, "restored", 19156),
        (UTCG, "restored", 1816),
        (UPCG, "restored", 0),
        (UTCG, "restored", 0),
    ]


# -- lease, crash and reconcile on BigQuery SQL --------------------------------------------------


def _upcg(day: date, player: str) -> dict[str, Any]:
    return {"player_lookup": player, "game_date": day, "days_rest": 1, "team_abbr": "BOS"}


@pytest.fixture
def small(isolated_app: Any) -> App:
    """UPCG: 2 stale rows (2026-01-05) and 2 kept (2026-01-06) on fresh datasets."""
    app: App = isolated_app()
    rows = [_upcg(d, p) for d in (date(2026, 1, 5), date(2026, 1, 6)) for p in ("ann", "bob")]
    app.warehouse.insert_rows(UPCG, rows)
    return app


def test_the_lease_is_one_compare_and_set(small: App) -> None:
    wh = small.warehouse
    now = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)

    def take(holder: str, minutes: int) -> str:
        at = now + timedelta(minutes=minutes)
        wh.execute(
            cleanup_sql.TAKE_LEASE,
            {
                "table_name": UPCG,
                "holder": holder,
                "now": at,
                "expires_at": at + timedelta(minutes=30),
            },
        )
        return str(wh.query(cleanup_sql.LEASE_HOLDER, {"table_name": UPCG})[0]["holder"])

    assert take("a", 0) == "a"
    assert take("b", 1) == "a"  # held: b does not get it
    assert take("b", 31) == "b"  # expired: taken over
    wh.execute(cleanup_sql.RELEASE_LEASE, {"table_name": UPCG, "holder": "a"})  # not a's
    assert take("c", 32) == "b"
    wh.execute(cleanup_sql.RELEASE_LEASE, {"table_name": UPCG, "holder": "b"})
    assert wh.query(cleanup_sql.LEASE_HOLDER, {"table_name": UPCG}) == []


def test_crash_after_delete_is_reconciled_and_restored(small: App) -> None:
    app = small
    before = fingerprint(app, UPCG)
    t0 = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)
    app.clock = lambda: t0
    req = CleanupRequest(today=date(2026, 1, 13), tables=[UPCG])

    def crash(step: str, _outcome: TableOutcome) -> None:
        if step == "delete":
            raise Crash

    with pytest.raises(Crash):
        cleanup_upcoming(app, req, DELIVERY, hook=crash)
    # Another run within the lease is skipped; after it, the crashed run is reconciled.
    app.clock = lambda: t0 + timedelta(minutes=1)
    assert cleanup_upcoming(app, req, DELIVERY).tables[0].status == "skipped_locked"
    app.clock = lambda: t0 + timedelta(minutes=31)
    nxt = cleanup_upcoming(app, req, DELIVERY)
    [settled] = nxt.reconciled
    assert (settled.status, settled.backup_rows, settled.deleted_rows) == (
        "reconciled_deleted",
        2,
        2,
    )
    assert nxt.tables[0].status == "clean"
    assert isinstance(app.bus, LocalBus)
    assert [m.kind for m in published_alerts(app)] == ["cleanup_reconciled"]

    restore = CleanupRequest(action="restore", cleanup_id=settled.cleanup_id)
    [t] = cleanup_upcoming(app, restore, DELIVERY).tables
    assert (t.status, t.restored_rows) == ("restored", 2)
    assert fingerprint(app, UPCG) == before

    # The backup is create-only on BigQuery too: the same name again is an error.
    with pytest.raises(WarehouseError):
        app.warehouse.copy_rows_to_new_table(
            cleanup_sql.STALE_ROWS,
            {"cutoff": date(2026, 1, 6)},
            "backup",
            str(settled.backup_name),
            None,
            target=app.warehouse.table(UPCG),
        )


# -- restore by message, through the deployed function ------------------------------------------


def test_restore_by_message_runs_in_the_cleanup_function(stack: Stack, pipeline_app: App) -> None:
    """An operator publishes {"action": "restore", …} to the cleanup topic in production.

    The function servers work on the shared pipeline datasets, where a real cleanup would also
    delete other tests' rows; so the cleanup is set up by hand: three rows of a far-away date
    moved to a backup table and a `deleted` cleanup_runs row naming it.
    """
    from shared.usecases.cleanup_upcoming import BACKUP_DATASET_KEY, new_cleanup_id
    from tests.integration.stack_helpers import wait_for

    app = pipeline_app
    wh = app.warehouse
    day = date(2031, 5, 1)
    now = datetime.now(UTC)
    cleanup_id = new_cleanup_id(now)
    tag = cleanup_id[-6:]
    wh.insert_rows(UPCG, [_upcg(day, f"{tag}-{i}") for i in range(3)])
    mine = {"d": day, "p": tag}
    types = {"d": "DATE", "p": "STRING"}
    where = "WHERE game_date = @d AND STARTS_WITH(player_lookup, @p)"
    name = f"{UPCG}__stale_{day:%Y%m%d}_{cleanup_id}"
    backup = wh.copy_rows_to_new_table(
        Sql("it.mine", f"SELECT * FROM {{target}} {where}", types),
        mine,
        BACKUP_DATASET_KEY,
        name,
        1,
        target=wh.table(UPCG),
    )
    wh.execute(
        Sql("it.delete_mine", f"DELETE FROM {{upcoming_player_game_context}} {where}", types), mine
    )
    wh.insert_rows(
        "cleanup_runs",
        [
            TableOutcome(
                cleanup_id=cleanup_id,
                run_date=day,
                table_name=UPCG,
                ttl_days=1,
                cutoff_date=day + timedelta(days=1),
                dry_run=False,
                status="deleted",
                backup_table=backup.strip("`"),
                backup_rows=3,
                deleted_rows=3,
                started_at=now,
                finished_at=now,
            ).to_row()
        ],
    )

    body = {"trigger": "manual", "action": "restore", "cleanup_id": cleanup_id}
    stack.publish(stack.topic("cleanup"), json.dumps(body).encode("utf-8"))

    def restored() -> list[dict[str, Any]] | None:
        found = wh.query(
            Sql(
                "it.restored",
                "SELECT status, restored_rows FROM {cleanup_runs} "
                "WHERE run_date IS NOT NULL AND restore_of = @c",
                {"c": "STRING"},
            ),
            {"c": cleanup_id},
        )
        return found or None

    [row] = wait_for(restored, timeout=90, what="a restored cleanup_runs row")
    assert (row["status"], row["restored_rows"]) == ("restored", 3)
    count = Sql(
        "it.count_mine",
        f"SELECT COUNT(*) AS n FROM {{upcoming_player_game_context}} {where}",
        types,
    )
    assert wh.query(count, mine) == [{"n": 3}]
