"""Each Cloud Function entry point, served by functions-framework's own app, end to end."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.app import default_app, reset_default_app
from shared.config import get_settings
from shared.messages import ValidateCoverage
from shared.warehouse import Sql
from tests.fakes import local_bus, published_alerts

FUNCTIONS = sorted(p.parent.name for p in Path("functions").glob("*/main.py"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("PCF_WAREHOUSE", f"duckdb:///{db}")
    monkeypatch.setenv("PCF_BUS", "local")
    get_settings.cache_clear()
    reset_default_app()
    default_app().warehouse.create_all()
    yield db
    default_app().close()
    reset_default_app()
    get_settings.cache_clear()


def post(
    function: str, data: bytes, topic: str = "t", attributes: dict[str, str] | None = None
) -> Any:
    client = create_app(
        target="handle", source=f"functions/{function}/main.py", signature_type="cloudevent"
    ).test_client()
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": "m-7",
            "publishTime": "2023-02-24T09:00:00Z",
            "attributes": attributes or {},
        },
        "subscription": f"projects/p/subscriptions/{topic}",
    }
    headers = {
        "ce-id": "m-7",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": f"//pubsub.googleapis.com/projects/p/topics/{topic}",
        "Content-Type": "application/json",
    }
    return client.post("/", data=json.dumps(body), headers=headers)


def test_every_topology_function_has_an_entry_point() -> None:
    from shared.topology import load_topology

    assert set(load_topology().raw["functions"]) <= set(FUNCTIONS)


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("function", FUNCTIONS)
def test_malformed_event_is_acknowledged(function: str, caplog: pytest.LogCaptureFixture) -> None:
    response = post(function, b"not json")
    assert 200 <= response.status_code < 300
    assert any(
        r.levelname == "ERROR" and "rejected malformed" in r.getMessage() for r in caplog.records
    )


@pytest.mark.usefixtures("env")
def test_process_date_function_processes_a_date() -> None:
    app = default_app()
    app.warehouse.insert_rows(
        "nba_schedule",
        [
            {
                "game_id": "g1",
                "game_date": "2022-10-18",
                "season_year": 2022,
                "home_team_abbr": "A",
                "away_team_abbr": "B",
                "game_status": 3,
            },
            {
                "game_id": "g2",
                "game_date": "2023-01-10",
                "season_year": 2022,
                "home_team_abbr": "A",
                "away_team_abbr": "B",
                "game_status": 3,
            },
        ],
    )
    app.warehouse.insert_rows(
        "player_game_summary",
        [
            {
                "player_lookup": "p1",
                "game_id": "g2",
                "game_date": "2023-01-10",
                "team_abbr": "A",
                "opponent_team_abbr": "B",
                "minutes_played": 30,
                "usage_rate": 20,
            }
        ],
    )
    response = post("process_date", b'{"run_id": "r1", "game_date": "2023-01-10"}')
    assert response.status_code == 200
    live = Sql(
        "t",
        "SELECT player_lookup, data_source FROM {player_composite_factors} WHERE game_date = @d",
    )
    # Written to the run's staging table only; live after validate_coverage audited it.
    assert app.warehouse.query(live, {"d": "2023-01-10"}) == []
    (handoff,) = local_bus(app).messages("validate_coverage")
    assert isinstance(handoff, ValidateCoverage)
    response = post("validate_coverage", handoff.to_bytes())
    assert response.status_code == 200
    assert app.warehouse.query(live, {"d": "2023-01-10"}) == [
        {"player_lookup": "p1", "data_source": "PGS_SYNTHETIC"}
    ]


@pytest.mark.usefixtures("env")
def test_record_dead_letter_function_marks_the_date_failed() -> None:
    from shared.usecases import ledger

    app = default_app()
    day = "2023-02-08"
    # What Pub/Sub forwards: the original ProcessDate and its attributes, plus the count.
    response = post(
        "record_dead_letter",
        b'{"run_id": "r-dl", "game_date": "2023-02-08", "dispatched_at": "2023-02-24T08:00:00Z"}',
        topic="pcf-process-date-dlq",
        attributes={"type": "ProcessDate", "CloudPubSubDeadLetterSourceDeliveryCount": "5"},
    )
    assert response.status_code == 200
    from datetime import date

    row = ledger.latest_by_date(app.warehouse, date(2023, 2, 8), date(2023, 2, 8))[date(2023, 2, 8)]
    assert (row["run_id"], row["status"]) == ("r-dl", "failed")
    assert row["error"] == "dead-lettered after 5 attempts (ProcessDate)"
    (alert,) = published_alerts(app)
    assert alert.kind == "dead_lettered"
    assert str(alert.game_date) == day
