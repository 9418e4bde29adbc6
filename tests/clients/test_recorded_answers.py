"""The provider's real v2 code paths, sync and async, fed recorded answers of the real service.

Every answer here was recorded by Microsoft's ``azure-ai-ml`` tests against real Azure
(``tests/fixtures/recordings``; NOTES.md there says what each shows and where it comes from),
replayed over a real socket (``replay.py``). Only the token is a stand-in: the recordings have
none. Each test names the misreading it guards against; each failed before the fix it names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.credentials import AccessToken

from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.clients.core.async_transport import AsyncTransport
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.tokens import AsyncTokenProvider, SyncTokenProvider
from airflow_provider_mlpipelines.clients.core.transport import SyncTransport
from airflow_provider_mlpipelines.clients.v2 import calls
from airflow_provider_mlpipelines.clients.v2.async_client import AsyncV2Client
from airflow_provider_mlpipelines.clients.v2.client import V2Client
from airflow_provider_mlpipelines.clients.v2.invokes import InvokeTarget
from airflow_provider_mlpipelines.exceptions import AzureMLBadRequestError, AzureMLNotFoundError
from tests.clients.replay import ReplayServer, entries, replaying

_WORKSPACE_PATH = (
    "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{workspace_name}"
)


class StaticToken:
    """The only stand-in: recorded sessions carry no token to replay."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("replayed", int(time.time()) + 3600)

    def close(self) -> None:
        return None


class AsyncStaticToken(StaticToken):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return AccessToken("replayed", int(time.time()) + 3600)

    async def close(self) -> None:  # type: ignore[override]
        return None


def workspace_of(recorded_url: str) -> dict[str, str]:
    """The sanitized subscription, group and workspace a recorded ARM URL names."""
    parts = urlsplit(recorded_url).path.split("/")
    return {
        "subscription_id": parts[parts.index("subscriptions") + 1],
        "resource_group": parts[parts.index("resourceGroups") + 1],
        "workspace_name": parts[parts.index("workspaces") + 1],
    }


def settings_for(server: ReplayServer, recorded_url: str) -> ConnectionSettings:
    host = urlsplit(recorded_url).netloc
    return ConnectionSettings(
        conn_id=f"replay-{id(server)}",
        base_url=f"{server.origin}/{host}",
        api="v2",
        max_retries=0,
        **workspace_of(recorded_url),
    )


@pytest.fixture
def v2_client() -> Iterator[Any]:
    """Builds a sync v2 client on a replay server; closes what it built."""
    built: list[V2Client] = []

    def build(server: ReplayServer, recorded_url: str) -> V2Client:
        import requests

        settings = settings_for(server, recorded_url)
        session = requests.Session()

        def transport() -> SyncTransport:
            tokens = SyncTokenProvider(settings, credential_factory=lambda _: StaticToken())
            return SyncTransport(settings, tokens, session, sleep=lambda _: None)

        client = V2Client(settings, transport(), transport(), sleep=lambda _: None)
        client.lro_poll_seconds = 0.0
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()
        client.arm.tokens.close()


def async_client(server: ReplayServer, recorded_url: str) -> AsyncV2Client:
    settings = settings_for(server, recorded_url)
    tokens = AsyncTokenProvider(settings, credential_factory=lambda _: AsyncStaticToken())

    async def no_wait(_: float) -> None:
        return None

    return AsyncV2Client(AsyncTransport(settings, tokens, sleep=no_wait), sleep=no_wait)


# --------------------------------------------------------------------------------------------
# Components: description in the spec, recorded input types, optional as strings
# --------------------------------------------------------------------------------------------
def test_a_recorded_component_reads_its_description_types_and_optional_strings(
    v2_client: Any,
) -> None:
    recorded = entries("component_get.json", 0)
    url = recorded[0]["RequestUri"]
    spec = recorded[0]["ResponseBody"]["properties"]["componentSpec"]
    with replaying(recorded) as server:
        client = v2_client(server, url)
        parts = routes.parse_component_id(recorded[0]["ResponseBody"]["id"])
        assert parts is not None
        component = client.component(f"azureml:{parts['component_name']}:{parts['version']}")
    # properties.description is null in the answer; the spec has it (was: no description).
    assert recorded[0]["ResponseBody"]["properties"]["description"] is None
    assert component.description == spec["description"]
    declared = spec["inputs"]
    for item in component.inputs:
        assert item.optional is (str(declared[item.name].get("optional")) == "True")
    assert {item.type for item in component.inputs} <= {
        "string",
        "integer",
        "number",
        "boolean",
        "uri_folder",
    }


def test_a_component_made_from_a_job_has_path_inputs_that_take_data(v2_client: Any) -> None:
    recorded = entries("component_from_job.json")
    put = recorded[1]
    answer = put["ResponseBody"]
    with replaying([put]) as server:
        client = v2_client(server, put["RequestUri"])
        name = answer["properties"]["componentSpec"]["name"]
        source = put["RequestBody"]["properties"]["componentSpec"]["sourceJobId"]
        pipeline = client.publish_pipeline_from_run(
            routes.job_name_of(source), name=name, version="1"
        )
        sent = server.requests_to("PUT", "/components/")[0].body
    # The request names the source job by its ARM id, as MLClient does (was: the bare name).
    sent_spec = sent["properties"]["componentSpec"]
    assert sent_spec["sourceJobId"] == source
    interface = client.get_pipeline_interface(pipeline.id)
    path_inputs = [
        k for k, v in answer["properties"]["componentSpec"]["inputs"].items() if v["type"] == "path"
    ]
    # The service derives "path" inputs (was: no data input at all, refused as unknown).
    assert path_inputs and set(path_inputs) <= set(interface.data_path_names)


# --------------------------------------------------------------------------------------------
# Errors: the correlation ids of the header and of additionalInfo, the inner error chain
# --------------------------------------------------------------------------------------------
def test_a_recorded_404_names_both_correlation_ids_and_the_inner_error(v2_client: Any) -> None:
    recorded = entries("errors.json", 1)
    url = recorded[0]["RequestUri"]
    headers = recorded[0]["ResponseHeaders"]
    error = recorded[0]["ResponseBody"]["error"]
    info = {i["type"]: i["info"]["value"] for i in error["additionalInfo"]}
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    with replaying(recorded) as server:
        client = v2_client(server, url)
        call = calls.arm_call(
            client.settings, routes.COMPONENT_GET, f"'{name}'", component_name=name
        )
        with pytest.raises(AzureMLNotFoundError) as raised:
            client.arm.execute(call)
    text = str(raised.value)
    # ARM says UserError even for a 404: the status, not the code, makes it "not found".
    assert error["code"] == "UserError"
    # Was: no correlation id at all (the provider looked for x-ms-request-id, never sent).
    assert headers["x-ms-correlation-request-id"] in text
    assert info["Correlation"]["operation"] in text and info["Correlation"]["request"] in text
    assert "NotFound > ComponentNotFound" in text


def test_a_recorded_400_names_the_correlation_ids(v2_client: Any) -> None:
    recorded = entries("errors.json", 0)
    url = recorded[0]["RequestUri"]
    with replaying(recorded) as server:
        client = v2_client(server, url)
        call = calls.absolute_call(
            client.settings,
            Operation("create deployment"),
            "PUT",
            server.url(url).split("?")[0],
            same_origin=True,
            body={},
            idempotent=False,
        )
        with pytest.raises(AzureMLBadRequestError) as raised:
            client.arm.execute(call, policy=RetryPolicy(max_retries=0))
    assert recorded[0]["ResponseHeaders"]["x-ms-correlation-request-id"] in str(raised.value)
    assert "BadArgument" in str(raised.value)


# --------------------------------------------------------------------------------------------
# Long-running operations: "Updating" then "Succeeded", signed status URLs, no Retry-After
# --------------------------------------------------------------------------------------------
def test_a_recorded_endpoint_creation_is_followed_to_its_end(v2_client: Any) -> None:
    recorded = entries("batch_endpoint_create.json", 0, 1, 2, 3)
    put, last = recorded[0], recorded[3]
    with replaying(recorded) as server:
        client = v2_client(server, put["RequestUri"])
        name = urlsplit(put["RequestUri"]).path.rsplit("/", 1)[-1]
        call = calls.arm_call(
            client.settings,
            routes.ENDPOINT_PUT,
            f"'{name}'",
            body=put["RequestBody"],
            endpoint_name=name,
        )
        client.finish_operation(call, client.arm.execute(call))
        endpoint = client.batch_endpoint(name)
        polls = server.requests_to("GET", "/mfeOperationsStatus/")
    # Both recorded polls were made, on the signed URL exactly as given (its query kept).
    assert len(polls) == 2 and all("&s=" in poll.query for poll in polls)
    assert not server.unanswered
    recorded_props = last["ResponseBody"]["properties"]
    assert recorded_props["provisioningState"] == "Succeeded"
    assert endpoint.name == last["ResponseBody"]["name"]
    assert endpoint.scoring_uri == server.url(recorded_props["scoringUri"])
    # The request says authMode as MLClient does; the service answers AADToken.
    assert (
        server.requests_to("PUT", "/batchEndpoints/")[0].body["properties"]["authMode"]
        == (put["RequestBody"]["properties"]["authMode"])
    )


# --------------------------------------------------------------------------------------------
# Jobs: the recorded status words, the recorded cancel (202 + Location, 202 {} then 200)
# --------------------------------------------------------------------------------------------
def test_a_recorded_failed_pipeline_job_reads_as_failed(v2_client: Any) -> None:
    recorded = entries("job_get.json", 0)
    with replaying(recorded) as server:
        client = v2_client(server, recorded[0]["RequestUri"])
        run = client.get_pipeline_run(recorded[0]["ResponseBody"]["name"])
    assert run.status is PipelineRunStatus.FAILED
    assert run.experiment_name == recorded[0]["ResponseBody"]["properties"]["experimentName"]


def test_a_recorded_cancel_is_followed_until_the_location_answers_200(v2_client: Any) -> None:
    recorded = entries("job_cancel.json", 3, 4, 5)
    name = urlsplit(recorded[0]["RequestUri"]).path.split("/")[-2]
    with replaying(recorded) as server:
        client = v2_client(server, recorded[0]["RequestUri"])
        client.cancel_pipeline_run(name)
        polls = server.requests_to("GET", "/mfeOperationResults/")
    assert len(polls) == 2 and not server.unanswered


async def test_the_async_client_follows_the_recorded_cancel_and_reads_the_job() -> None:
    cancel = entries("job_cancel.json", 3, 4, 5)
    job = entries("job_get.json", 0)
    name = urlsplit(cancel[0]["RequestUri"]).path.split("/")[-2]
    with replaying(cancel) as server:
        client = async_client(server, cancel[0]["RequestUri"])
        try:
            await client.cancel_pipeline_run(name)
        finally:
            await client.transport.close()
            await client.transport.tokens.close()
        assert len(server.requests_to("GET", "/mfeOperationResults/")) == 2
    with replaying(job) as server:
        client = async_client(server, job[0]["RequestUri"])
        try:
            run = await client.get_pipeline_run(job[0]["ResponseBody"]["name"])
        finally:
            await client.transport.close()
            await client.transport.tokens.close()
    assert run.status is PipelineRunStatus.FAILED


# --------------------------------------------------------------------------------------------
# Invoke: the job's name is the answer's, never properties.name
# --------------------------------------------------------------------------------------------
def test_a_recorded_invoke_answer_names_the_job_by_its_top_level_name(v2_client: Any) -> None:
    recorded = entries("batch_invoke.json", 3)
    answer = recorded[0]["ResponseBody"]
    with replaying(recorded) as server:
        client = v2_client(server, entries("batch_invoke.json", 2)[0]["RequestUri"])
        call = calls.absolute_call(
            client.settings,
            Operation("invoke batch endpoint"),
            "POST",
            server.url(recorded[0]["RequestUri"]),
            same_origin=False,
            body=recorded[0]["RequestBody"],
            idempotent=False,
            checkable=True,
        )
        target = InvokeTarget("ep", "dep", "asked-for-name", None, time.time())
        run = client._invoked(call, target)
    # Was read as properties.name, the display name the service made up.
    assert run.id == answer["name"] != answer["properties"]["name"]


# --------------------------------------------------------------------------------------------
# Steps: run history's children, through the recorded discovery document
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_recorded_child_runs_are_the_jobs_steps(v2_client: Any, mode: str) -> None:
    workspace, discovery = entries("workspace_discovery.json")
    children = entries("run_history_children.json", 0)
    job_name = urlsplit(children[0]["RequestUri"]).path.split("/")[-2]
    # The recordings' sanitizer renamed the hosts of request URLs, not those in answers: the
    # requests go where the answers send them (discoveryUrl, then the document's api host).
    discovery = {**discovery, "RequestUri": workspace["ResponseBody"]["properties"]["discoveryUrl"]}
    api_host = urlsplit(discovery["ResponseBody"]["api"]).netloc
    child_path = urlsplit(children[0]["RequestUri"]).path
    children = [{**children[0], "RequestUri": f"https://{api_host}{child_path}"}]
    calls.HISTORY_BASES.clear()
    with replaying([workspace, discovery], children) as server:
        if mode == "sync":
            steps = v2_client(server, workspace["RequestUri"]).get_step_statuses(job_name)
        else:
            client = async_client(server, workspace["RequestUri"])
            try:
                steps = await client.get_step_statuses(job_name)
            finally:
                await client.transport.close()
                await client.transport.tokens.close()
        assert not server.unanswered
    calls.HISTORY_BASES.clear()
    recorded = children[0]["ResponseBody"]["value"]
    assert sorted(steps) == sorted(child["displayName"] for child in recorded)
    assert {step.status for step in steps.values()} == {StepRunStatus.FAILED}


# --------------------------------------------------------------------------------------------
# Datastores: the storage behind them, as recorded (the lineage names of their data)
# --------------------------------------------------------------------------------------------
def test_recorded_datastores_read_as_their_storage_once_each(v2_client: Any) -> None:
    recorded = entries("datastore_get.json", 0, 1)
    with replaying(recorded) as server:
        client = v2_client(server, recorded[0]["RequestUri"])
        found = [client.get_datastore(e["ResponseBody"]["name"]) for e in recorded * 2]
        reads = server.requests_to("GET", "/datastores/")
    assert [(s.kind, s.account, s.container, s.endpoint) for s in found[:2]] == [
        ("AzureDataLakeGen2", "mytestdatalakegen2", "my-gen2-container", "core.windows.net"),
        ("AzureBlob", "teststorageaccount", "testblob", "core.windows.net"),
    ]
    assert found[2:] == found[:2]
    assert len(reads) == 2 and all(r.query == "api-version=2024-10-01-preview" for r in reads)
    assert server.unanswered == []
