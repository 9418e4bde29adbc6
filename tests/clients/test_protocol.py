"""Both API clients implement the whole protocol, sync and async, and the hooks delegate it.

mypy proves the same statically (``clients/conformance.py``, run by ``scripts/test.sh``); this
checks it where mypy is not run (the Airflow 2.11 suite) and names the missing member.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.protocol import AsyncPipelinesClient, PipelinesClient
from airflow_provider_mlpipelines.clients.v1.async_client import AsyncV1Client
from airflow_provider_mlpipelines.clients.v1.client import V1Client
from airflow_provider_mlpipelines.clients.v2.async_client import AsyncV2Client
from airflow_provider_mlpipelines.clients.v2.client import V2Client
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)

#: Members the hooks keep to themselves: the client's settings are the hook's ``settings``,
#: its probe is ``test_connection`` and its ``close`` is part of the hook's.
NOT_DELEGATED = {"settings", "probe_workspace", "close"}


def members(protocol: type) -> dict[str, Any]:
    """The protocol's own methods and properties, by name."""
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
    }


def shape(function: Any) -> list[tuple[str, Any, Any]]:
    """What callers rely on: each parameter's name, kind and default."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_protocols_name_the_operations_the_operators_and_triggers_use() -> None:
    sync = members(PipelinesClient)
    assert len(sync) >= 40
    for used in (
        "submit_pipeline_endpoint_run",
        "runs_of_task",
        "get_pipeline_run",
        "probe_workspace",
    ):
        assert used in sync
    assert set(members(AsyncPipelinesClient)) >= {"get_pipeline_run", "cancel_pipeline_run"}


@pytest.mark.parametrize(
    ("protocol", "client"),
    [
        (PipelinesClient, V1Client),
        (PipelinesClient, V2Client),
        (AsyncPipelinesClient, AsyncV1Client),
        (AsyncPipelinesClient, AsyncV2Client),
    ],
    ids=["v1", "v2", "async-v1", "async-v2"],
)
def test_each_client_implements_every_protocol_member_with_its_signature(
    protocol: type, client: type
) -> None:
    problems = []
    for name, wanted in members(protocol).items():
        found = inspect.getattr_static(client, name, None)
        if found is None:
            problems.append(f"{name}: missing")
        elif isinstance(wanted, property):
            if not isinstance(found, property):
                problems.append(f"{name}: not a property")
        elif not callable(found):
            problems.append(f"{name}: not a method")
        else:
            if shape(found) != shape(wanted):
                problems.append(f"{name}: {shape(found)} != {shape(wanted)}")
            if inspect.iscoroutinefunction(found) != inspect.iscoroutinefunction(wanted):
                problems.append(f"{name}: sync/async differs from the protocol")
    assert problems == [], f"{client.__name__} against {protocol.__name__}"


@pytest.mark.parametrize(
    ("protocol", "hook"),
    [(PipelinesClient, AzureMLPipelinesHook), (AsyncPipelinesClient, AzureMLPipelinesAsyncHook)],
    ids=["sync", "async"],
)
def test_the_hooks_offer_every_operation_with_the_protocols_signature(
    protocol: type, hook: type
) -> None:
    problems = []
    for name, wanted in members(protocol).items():
        if name in NOT_DELEGATED:
            continue
        found = inspect.getattr_static(hook, name, None)
        if found is None:
            problems.append(f"{name}: missing")
        elif not isinstance(wanted, property) and shape(found) != shape(wanted):
            problems.append(f"{name}: {shape(found)} != {shape(wanted)}")
    assert problems == []


def offline_v2() -> V2Client:
    settings = ConnectionSettings(
        conn_id="offline",
        subscription_id="s",
        resource_group="g",
        workspace_name="w",
        base_url="https://management.azure.com",
        api="v2",
    )
    # Refusals happen before any call: transports that fail when touched prove it.
    return V2Client(settings, arm=None, ml=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "alternative"),
    [
        (lambda c: c.list_published_pipelines(), "find_published_pipeline"),
        (lambda c: c.list_pipeline_runs("p"), "get_pipeline_run"),
        (lambda c: c.get_history_run("r"), "get_step_statuses"),
        (lambda c: c.get_history_run_details("r", "e"), "list_child_runs"),
        (lambda c: c.get_step_log("r", "n"), "studio"),
        (lambda c: c.parse_submit_url("https://x"), "pipeline_endpoint_name"),
        (lambda c: c.set_published_pipeline_status("p", "Disabled"), "archive"),
        (lambda c: c.set_pipeline_endpoint_status("e", "Disabled"), "default deployment"),
    ],
)
def test_what_v2_has_no_equivalent_for_is_refused_naming_the_alternative(
    call: Any, alternative: str
) -> None:
    with pytest.raises(AzureMLInvalidInputError, match="not available on a v2") as raised:
        call(offline_v2())
    assert alternative in str(raised.value)
