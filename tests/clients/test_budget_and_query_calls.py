"""ARM budget pacing and the ``runs:query`` call, without the network (pure parts).

The same parts against the emulator's ARM budget and run history are in
tests/operators/test_trigger_batching.py and tests/hooks/test_arm_budget_pacing.py.
"""

from __future__ import annotations

import pytest

from airflow_provider_mlpipelines.clients.core import run_query
from airflow_provider_mlpipelines.clients.core.budget import (
    REMAINING_HEADERS,
    STALE_SECONDS,
    RequestBudget,
    kind_of,
)
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_go_at_once_while_the_budget_is_above_the_floor() -> None:
    budget = RequestBudget(clock=Clock())
    assert budget.delay("GET", 50, 2.0) == 0.0  # nothing reported yet
    budget.note("GET", {REMAINING_HEADERS["read"]: "55"})
    assert [budget.delay("GET", 50, 2.0) for _ in range(5)] == [0.0] * 5
    # Those five are counted against the reading until an answer says otherwise.
    assert budget.remaining("read") == 50
    assert [budget.delay("GET", 50, 2.0) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_at_the_floor_callers_take_spaced_slots_until_more_is_reported() -> None:
    clock = Clock()
    budget = RequestBudget(clock=clock)
    budget.note("GET", {REMAINING_HEADERS["read"]: "50"})
    assert [budget.delay("GET", 50, 2.0) for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    clock.now += 2.0  # every slot taken has passed
    assert budget.delay("GET", 50, 2.0) == 0.0
    budget.note("GET", {REMAINING_HEADERS["read"]: "180"})
    assert budget.delay("GET", 50, 2.0) == 0.0 and budget.delay("GET", 50, 2.0) == 0.0


def test_kinds_are_budgeted_apart_and_old_readings_are_not_trusted() -> None:
    clock = Clock()
    budget = RequestBudget(clock=clock)
    budget.note("PUT", {REMAINING_HEADERS["write"]: "3"})
    assert budget.delay("GET", 10, 1.0) == 0.0  # reads: nothing reported
    assert budget.delay("POST", 10, 1.0) == 0.0 and budget.delay("POST", 10, 1.0) == 1.0
    assert budget.remaining("write") == 3 and budget.remaining("read") is None
    clock.now += STALE_SECONDS + 1
    assert budget.delay("POST", 10, 1.0) == 0.0
    assert (kind_of("get"), kind_of("DELETE"), kind_of("patch")) == ("read", "delete", "write")


def test_answers_without_the_header_leave_the_budget_alone() -> None:
    budget = RequestBudget(clock=Clock())
    budget.note("GET", {REMAINING_HEADERS["read"]: "2"})
    budget.note("GET", {"content-type": "application/json"})
    budget.note("GET", {REMAINING_HEADERS["read"]: "not a number"})
    assert budget.remaining("read") == 2


SETTINGS = ConnectionSettings(
    conn_id="c",
    subscription_id="sub",
    resource_group="rg",
    workspace_name="ws",
    base_url="https://example.invalid",
)


def test_the_query_is_written_as_azureml_core_writes_it() -> None:
    call = run_query.query_call(SETTINGS, "https://history.invalid/", "exp-1", ["a-1", "b_2"])
    assert call.method == "POST"
    assert call.url == (
        "https://history.invalid/history/v1.0/subscriptions/sub/resourceGroups/rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws/experiments/exp-1/runs:query"
    )
    assert call.body == {
        "filter": "RunId eq a-1 or RunId eq b_2",
        "continuationToken": None,
        "orderby": ["RunId desc"],
        "top": 500,
    }


@pytest.mark.parametrize("run_id", ["a b", "x)", "a' or 'b", "or", "id/../x", ""])
def test_ids_that_would_change_the_filter_are_not_batched(run_id: str) -> None:
    assert not run_query.batchable(run_id)
    with pytest.raises((ValueError, AzureMLInvalidInputError)):
        run_query.run_ids_filter(["ok-id", run_id])
