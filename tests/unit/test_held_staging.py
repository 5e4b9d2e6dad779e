"""The embedded file warehouse holds a chunk's staging table in memory until validate_coverage
releases it: freed once every date is published, copied into the file when a date is not
(kept for inspection, as BigQuery keeps it until it expires), copied at close if never
released. Nothing staged is lost while the process runs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from shared.app import App
from shared.errors import PermanentError
from shared.rules.planning import staging_table_name
from shared.tools.duckdb_warehouse import HELD_CATALOG
from shared.usecases import ledger
from shared.usecases.ledger import LedgerUpdate
from shared.warehouse.base import Sql
from tests.conftest import make_app
from tests.unit.test_coverage_usecase import (
    RUN,
    D,
    alerts,
    ledger_row,
    live,
    seed_counts,
    stage,
    validate,
)

STAGED = Sql("t.staged", "SELECT player_lookup, run_id, data_hash FROM {staging}")
# Staging tables in the file (the held ones live in the attached in-memory catalog).
IN_FILE = Sql(
    "t.in_file",
    "SELECT table_name FROM duckdb_tables()"
    " WHERE database_name = @catalog AND schema_name = 'pcf_staging'",
    {"catalog": "STRING"},
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'w.duckdb'}"


@pytest.fixture
def file_app(url: str) -> Iterator[App]:
    app = make_app(url)
    app.warehouse.create_all()
    yield app
    app.close()


def staged(app: App, name: str) -> list[tuple[str, str, str]]:
    rows = app.warehouse.query(STAGED, staging=app.warehouse.dataset_table("staging", name))
    return sorted((r["player_lookup"], r["run_id"], r["data_hash"]) for r in rows)


def tables(app: App, catalog: str) -> list[str]:
    return sorted(r["table_name"] for r in app.warehouse.query(IN_FILE, {"catalog": catalog}))


def test_a_published_chunk_frees_its_staging_table(file_app: App) -> None:
    seed_counts(file_app, actual=187, pgs=187)
    name = staging_table_name(RUN, D)
    # Held in memory, not in the file, while it is audited and published.
    assert file_app.warehouse.dataset_table("staging", name).startswith(f"{HELD_CATALOG}.")
    assert tables(file_app, HELD_CATALOG) == [name]
    assert tables(file_app, "w") == []

    result = validate(file_app)

    assert (result.status, result.actual_players) == ("succeeded", 187)
    assert len(live(file_app)) == 187
    # Every date published: the staged copy is gone from memory and never reached the file.
    assert tables(file_app, HELD_CATALOG) == []
    assert tables(file_app, "w") == []
    assert not file_app.warehouse.table_exists("staging", name)


def test_a_blocked_chunk_keeps_its_staged_rows_in_the_file(file_app: App, url: str) -> None:
    seed_counts(file_app, actual=168, pgs=187)
    name = staging_table_name(RUN, D)
    before = staged(file_app, name)
    assert len(before) == 168

    result = validate(file_app)

    assert result.status == "blocked"
    assert live(file_app) == {}
    assert tables(file_app, HELD_CATALOG) == []
    assert tables(file_app, "w") == [name]
    file_app.close()
    with_reopened = make_app(url)
    try:  # another process later: the blocked rows are there to inspect
        assert with_reopened.warehouse.table_exists("staging", name)
        assert staged(with_reopened, name) == before
    finally:
        with_reopened.close()


def test_close_keeps_what_was_never_released(url: str) -> None:
    app = make_app(url)
    app.warehouse.create_all()
    name = stage(app, ["p1", "p2", "p3"])
    app.close()  # e.g. Ctrl-C after staging, before the audit

    app = make_app(url)
    try:
        assert staged(app, name) == [
            ("p1", RUN, "h-p1"),
            ("p2", RUN, "h-p2"),
            ("p3", RUN, "h-p3"),
        ]
    finally:
        app.close()


def test_restaging_replaces_a_kept_copy(url: str) -> None:
    app = make_app(url)
    app.warehouse.create_all()
    name = stage(app, ["p1", "p2"], tag="-old")
    app.close()  # kept in the file

    app = make_app(url)
    try:
        stage(app, ["p1", "p2", "p3"], tag="-new")  # a rerun of the same run and chunk
        assert tables(app, "w") == []  # the old copy went first: the new rows replace it
        assert [r[2] for r in staged(app, name)] == ["h-p1-new", "h-p2-new", "h-p3-new"]
        app.warehouse.release_staging(name, keep=False)
        assert not app.warehouse.table_exists("staging", name)
        app.warehouse.release_staging(name, keep=True)  # not held any more: nothing to do
        assert tables(app, "w") == []
    finally:
        app.close()


def test_a_duplicate_after_the_publish_restates_the_checkpoint(file_app: App) -> None:
    seed_counts(file_app, actual=187, pgs=187)
    first = validate(file_app)
    assert (first.status, first.published) == ("succeeded", True)
    good = live(file_app)
    # A duplicate process_date delivered after the publish recorded `written` again (its
    # re-staged copy was freed by the first validation's release, or never made).
    ledger.record(file_app.warehouse, LedgerUpdate(run_id=RUN, game_date=D, status="written"))
    assert ledger_row(file_app)["status"] == "written"

    again = validate(file_app)  # the duplicate ValidateCoverage finds no staging table

    assert (again.status, again.reason, again.published) == (
        "succeeded",
        "duplicate_delivery",
        True,
    )
    assert (again.actual_players, again.expected_players, again.coverage_pct) == (187, 187, 100.0)
    assert live(file_app) == good  # untouched
    row = ledger_row(file_app)
    assert (row["status"], row["actual_players"], row["coverage_pct"]) == (
        "succeeded",
        187,
        Decimal("100.0"),
    )
    assert alerts(file_app) == []


def test_staged_rows_lost_before_any_publish_still_fail(file_app: App) -> None:
    seed_counts(file_app, actual=187, pgs=187)
    file_app.warehouse.release_staging(staging_table_name(RUN, D), keep=False)  # e.g. a crash

    with pytest.raises(PermanentError, match="does not exist"):
        validate(file_app)

    assert ledger_row(file_app)["status"] == "failed"
    assert live(file_app) == {}
