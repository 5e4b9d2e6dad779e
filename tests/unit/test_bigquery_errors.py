"""BigQuery error mapping: concurrent-DML aborts are transient (redelivered), other 400s are not."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.warehouse import Sql
from shared.warehouse.base import TransientWarehouseError, WarehouseError
from shared.warehouse.bigquery import BigQueryWarehouse, is_concurrent_update

MERGE = Sql("test.merge", "MERGE {player_composite_factors} T USING (SELECT 1) S ON FALSE")


class _FailingClient:
    """A BigQuery client whose query job fails with the given Google API error."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def query(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self.error


def _warehouse(error: Exception) -> BigQueryWarehouse:
    return BigQueryWarehouse(Settings(), project="p", client=_FailingClient(error))


CONCURRENT = gexc.BadRequest(
    "Could not serialize access to table p:nba_precompute.player_composite_factors "
    "due to concurrent update",
    errors=[{"reason": "invalidQuery", "message": "Could not serialize access to table"}],
)
TRANSACTION = gexc.BadRequest(
    "Transaction is aborted due to concurrent update against table p:ds.backfill_ledger"
)


@pytest.mark.parametrize("error", [CONCURRENT, TRANSACTION], ids=["dml", "transaction"])
def test_concurrent_update_is_transient(error: Exception) -> None:
    assert is_concurrent_update(error)
    with pytest.raises(TransientWarehouseError, match="concurrent update") as caught:
        _warehouse(error).execute(MERGE)
    assert isinstance(caught.value, TransientError)
    assert not isinstance(caught.value, PermanentError)


@pytest.mark.parametrize(
    "error",
    [
        gexc.BadRequest("Syntax error: Unexpected keyword MERGE at [1:1]"),
        gexc.NotFound("Not found: Table p:nba_precompute.player_composite_factors"),
        gexc.Forbidden("Access Denied: Table p:ds.t: permission bigquery.tables.updateData"),
    ],
    ids=["syntax", "not-found", "forbidden"],
)
def test_other_client_errors_stay_permanent(error: Exception) -> None:
    assert not is_concurrent_update(error)
    with pytest.raises(WarehouseError) as caught:
        _warehouse(error).execute(MERGE)
    assert isinstance(caught.value, PermanentError)
    assert not isinstance(caught.value, TransientError)


def test_only_the_error_text_not_the_status_decides() -> None:
    # A 5xx is transient for its own reason; a 400 mentioning something else is not a conflict.
    assert not is_concurrent_update(gexc.InternalServerError("concurrent update"))
    assert not is_concurrent_update(ValueError("Could not serialize access"))
