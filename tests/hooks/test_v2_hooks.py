"""The hook on a v2 connection: the connection's ``api``, long-running operations, 4xx answers.

The connection tests resolve real Airflow connections (no server needed). The others run
against an emulator of this module's own whose long-running operations last 3 s
(``--lro-seconds 3``): a hook that did not follow an operation would return while the
resource still shows ``Creating``/``Updating``, which each test reads back directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import BaseHook
from airflow_provider_mlpipelines.clients.core.publishing import SOURCE_RUN_PROPERTY
from airflow_provider_mlpipelines.clients.core.settings import settings_from_connection
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConnectionConfigError,
    AzureMLNotFoundError,
    AzureMLServerError,
)
from airflow_provider_mlpipelines.get_provider_info import get_provider_info
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from tests.v2_helpers import (
    Deployed,
    RawArm,
    faults_of,
    module_v2_emulator,
    requests_named,
)

WORKSPACE = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}
LRO_SECONDS = 3
ENDPOINT_API = "2023-10-01"
DEPLOYMENT_API = "2024-01-01-preview"


def settings_for(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> Any:
    fields.setdefault("conn_type", "azure_ml_pipelines")
    monkeypatch.setenv("AIRFLOW_CONN_AML_V2_FORM", json.dumps(fields))
    return settings_from_connection(BaseHook.get_connection("aml_v2_form"))


# --------------------------------------------------------------------------------------------
# The connection
# --------------------------------------------------------------------------------------------
def test_an_unknown_api_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AzureMLConnectionConfigError) as raised:
        settings_for(monkeypatch, extra={**WORKSPACE, "api": "v3"})
    message = str(raised.value)
    assert "'api'" in message and "'v3'" in message
    assert "v1" in message and "v2" in message


@pytest.mark.parametrize(
    ("cloud", "arm_host", "arm_scope", "ml_scope"),
    [
        (
            None,
            "https://management.azure.com",
            "https://management.azure.com/.default",
            "https://ml.azure.com/.default",
        ),
        (
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            "https://management.chinacloudapi.cn/.default",
            "https://ml.azure.cn/.default",
        ),
        (
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net/.default",
            "https://ml.azure.us/.default",
        ),
    ],
)
def test_a_v2_connection_without_host_uses_the_clouds_arm_host_and_scopes(
    monkeypatch: pytest.MonkeyPatch,
    cloud: str | None,
    arm_host: str,
    arm_scope: str,
    ml_scope: str,
) -> None:
    extra = {**WORKSPACE, "api": "v2", **({"cloud": cloud} if cloud else {})}
    settings = settings_for(monkeypatch, extra=extra)
    assert settings.api == "v2"
    assert settings.base_url == arm_host
    assert settings.token_scope == arm_scope
    assert settings.ml_scope == ml_scope


def test_api_is_a_field_of_the_airflow_3_connection_form() -> None:
    (connection_type,) = [
        c
        for c in get_provider_info()["connection-types"]
        if c["connection-type"] == "azure_ml_pipelines"
    ]
    field = connection_type["conn-fields"]["api"]
    assert "string" in field["schema"]["type"]
    assert "v1" in field["description"] and "v2" in field["description"]


# --------------------------------------------------------------------------------------------
# Against the emulator
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    # The recorded service sends no Retry-After; this module checks that one is followed.
    with module_v2_emulator(
        tmp_path_factory, "--lro-seconds", str(LRO_SECONDS), "--lro-retry-after", "1"
    ) as started:
        yield started


def test_endpoint_and_deployment_creation_follow_their_operations(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    polls = requests_named(emulator_v2, "operation status")
    update = v2_hook.ensure_pipeline_in_endpoint(
        "lro-created", deployed.components["train"], deployment_name="first"
    )
    # Read back at once: had the hook not waited for the operations, the endpoint and the
    # deployment would still be Creating (each operation lasts LRO_SECONDS).
    endpoint = raw.get("/batchEndpoints/lro-created", ENDPOINT_API).json()
    deployment = raw.get("/batchEndpoints/lro-created/deployments/first", DEPLOYMENT_API).json()
    assert endpoint["properties"]["provisioningState"] == "Succeeded"
    assert deployment["properties"]["provisioningState"] == "Succeeded"
    assert endpoint["properties"]["defaults"]["deploymentName"] == "first"
    assert update.endpoint.default_version == "first"
    # Three operations (endpoint, deployment, default), each polled until done, every poll
    # after the Retry-After (1 s) the emulator asked for.
    assert requests_named(emulator_v2, "operation status") - polls >= 3 * (LRO_SECONDS - 1)
    assert v2_hook.waits and set(v2_hook.waits) == {1.0}  # type: ignore[attr-defined]


def test_setting_the_default_deployment_follows_its_operation(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    writes = requests_named(emulator_v2, "create or update batch endpoint")
    update = v2_hook.change_default_version(deployed.endpoint, deployed.score_deployment)
    endpoint = raw.get(f"/batchEndpoints/{deployed.endpoint}", ENDPOINT_API).json()
    assert endpoint["properties"]["provisioningState"] == "Succeeded"
    assert endpoint["properties"]["defaults"]["deploymentName"] == deployed.score_deployment
    assert update.replaced_default == deployed.deployment
    assert requests_named(emulator_v2, "create or update batch endpoint") - writes == 1
    # Back, for the other tests of the module.
    v2_hook.change_default_version(deployed.endpoint, deployed.deployment)


def test_a_failed_operation_raises_naming_the_operation_and_the_services_error(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed
) -> None:
    failed = faults_of(emulator_v2, "lro_failed")
    emulator_v2.set_faults(lro_fail_next=1, path_contains="/batchEndpoints/lro-failing")
    deployments = requests_named(emulator_v2, "create pipeline component deployment")
    with pytest.raises(AzureMLServerError) as raised:
        v2_hook.ensure_pipeline_in_endpoint("lro-failing", deployed.components["train"])
    message = str(raised.value)
    assert "create or update batch endpoint" in message and "lro-failing" in message
    assert "Injected fault: the long-running operation failed" in message
    assert faults_of(emulator_v2, "lro_failed") - failed == 1
    # Nothing was deployed behind an endpoint whose creation failed.
    assert requests_named(emulator_v2, "create pipeline component deployment") == deployments


def test_a_4xx_answer_carries_no_retry_after_and_is_not_retried(
    emulator_v2: EmulatorProcess, v2_hook: AzureMLPipelinesHook, deployed: Deployed, raw: RawArm
) -> None:
    # The emulator: 404 of a job, 400 of a bad api-version, none with Retry-After (only a 429
    # may carry it, contract section 9, else azure-core's own retry would resend them).
    for response in (raw.get("/jobs/no-such-job"), raw.get("/jobs/x", api_version="1999-01-01")):
        assert response.status_code in (400, 404), response.text
        assert "Retry-After" not in response.headers
    # The hook: a 404 is answered once, not retried.
    reads = requests_named(emulator_v2, "get job")
    with pytest.raises(AzureMLNotFoundError) as raised:
        v2_hook.get_pipeline_run("no-such-job")
    assert "no-such-job" in str(raised.value)
    assert requests_named(emulator_v2, "get job") - reads == 1
    assert v2_hook.waits == []  # type: ignore[attr-defined]


def test_publish_pipeline_from_run_registers_a_component_of_the_job(
    v2_emulator: tuple[EmulatorProcess, str], raw: RawArm
) -> None:
    jobs = v2_emulator[0].manifest["v2_pipeline_jobs"]
    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        first = hook.publish_pipeline_from_run(jobs["score"], name="from_run_score")
        second = hook.publish_pipeline_from_run(jobs["score"], name="from_run_score")
    # No reuse here (publish_pipeline_once reuses): each call is a new version, numbered.
    assert (first.version, second.version) == ("1", "2")
    for pipeline in (first, second):
        body = raw.get(
            f"/components/from_run_score/versions/{pipeline.version}", "2024-01-01-preview"
        ).json()
        # The service does not echo sourceJobId: the component's tags record the source.
        assert body["properties"]["tags"][SOURCE_RUN_PROPERTY] == jobs["score"]
        assert pipeline.properties[SOURCE_RUN_PROPERTY] == jobs["score"]


def test_the_run_history_host_is_discovered_once_per_workspace_and_process(
    emulator_v2: EmulatorProcess, v2_emulator: tuple[EmulatorProcess, str], deployed: Deployed
) -> None:
    from airflow_provider_mlpipelines.clients.v2 import calls as _v2_calls

    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        job = hook.submit_pipeline_endpoint_run(
            deployed.endpoint, hook.build_submission(experiment_name="history-host")
        )
    _v2_calls.HISTORY_BASES.clear()
    before = requests_named(emulator_v2, "get workspace", "discovery")
    for _ in range(3):
        # A fresh hook each time, as each trigger of a triggerer has.
        with AzureMLPipelinesHook(v2_emulator[1]) as hook:
            assert hook.get_step_statuses(job.id)
    assert requests_named(emulator_v2, "get workspace", "discovery") - before == 2
