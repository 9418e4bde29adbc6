"""The datastore read behind lineage names, on both APIs, under each storage the emulator can
report (``--datastore-storage``) and each answer of a v2 job output's uri (``--job-output-uri``).

Real hooks against a real emulator: the names are the ones OpenLineage events carry
(``operators/_lineage_names.py``), and the emulator's request counter proves that each hook
reads a datastore once, whatever the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hook_helpers import wait_for_run

from airflow_provider_mlpipelines.emulator.datastores import STORAGE_ACCOUNT
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.operators._lineage_names import (
    datastore_dataset,
    run_outputs,
    workspace_namespace,
)
from tests.v2_helpers import requests_named, v2_conn_json

DATASTORE = "workspaceblobstore"
READ = "get datastore"


@pytest.fixture(
    scope="module",
    params=[
        ("AzureBlob", "datastore"),
        ("AzureDataLakeGen2", "null"),
        ("AzureFile", "datastore"),
    ],
    ids=["blob", "adls-gen2-outputs-null", "file-share"],
)
def switched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EmulatorProcess, str, str]]:
    """An emulator reporting one storage type and one job-output answer, and its switches."""
    storage, output_uri = request.param
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator-datastores"),
        extra_args=["--datastore-storage", storage, "--job-output-uri", output_uri],
    )
    process.start()
    try:
        yield process, storage, output_uri
    finally:
        process.stop()


@pytest.fixture
def hooks(
    switched: tuple[EmulatorProcess, str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, AzureMLPipelinesHook]]:
    emulator = switched[0]
    monkeypatch.setenv("AIRFLOW_CONN_DS_V1", emulator.airflow_conn)
    monkeypatch.setenv("AIRFLOW_CONN_DS_V2", v2_conn_json(emulator))
    made = {"v1": AzureMLPipelinesHook("ds_v1"), "v2": AzureMLPipelinesHook("ds_v2")}
    try:
        yield made
    finally:
        for hook in made.values():
            hook.close()


def expected_namespace(storage: str, hook: AzureMLPipelinesHook) -> str:
    # The same namespaces as OpenLineage's own naming helpers give.
    if storage == "AzureBlob":
        from openlineage.client.naming.dataset import WASBS

        return WASBS(
            container=DATASTORE, service_name=STORAGE_ACCOUNT, object_key="p"
        ).get_namespace()
    if storage == "AzureDataLakeGen2":
        from openlineage.client.naming.dataset import ABFSS

        return ABFSS(container=DATASTORE, service=STORAGE_ACCOUNT, path="p").get_namespace()
    return f"{workspace_namespace(hook)}/datastores/{DATASTORE}"


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_datastore_path_is_named_after_its_storage_with_one_read_per_hook(
    switched: tuple[EmulatorProcess, str, str], hooks: dict[str, AzureMLPipelinesHook], api: str
) -> None:
    emulator, storage, _ = switched
    hook = hooks[api]
    before = requests_named(emulator, READ)
    names = [datastore_dataset(hook, DATASTORE, f"/data/{n}.csv") for n in range(3)]
    assert requests_named(emulator, READ) - before == 1
    assert names == [[expected_namespace(storage, hook), f"data/{n}.csv"] for n in range(3)]
    found = hook.get_datastore(DATASTORE)
    assert found is not None and found.kind == storage and found.account == STORAGE_ACCOUNT
    assert requests_named(emulator, READ) - before == 1


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_unreadable_datastore_falls_back_to_azureml_and_is_not_read_again(
    switched: tuple[EmulatorProcess, str, str],
    hooks: dict[str, AzureMLPipelinesHook],
    api: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = switched[0]
    hook = hooks[api]
    before = requests_named(emulator, READ)
    first = datastore_dataset(hook, "deleted_store", "x.csv")
    second = datastore_dataset(hook, "deleted_store", "y.csv")
    assert requests_named(emulator, READ) - before == 1
    namespace = f"{workspace_namespace(hook)}/datastores/deleted_store"
    assert (first, second) == ([namespace, "x.csv"], [namespace, "y.csv"])
    assert "deleted_store could not be read (404" in caplog.text


def finished_train_run(hook: AzureMLPipelinesHook, emulator: EmulatorProcess, api: str) -> str:
    """A run of the ``train`` pipeline (v2: a job of its component) that has ended: its steps
    really ran and wrote ``models/{run id}/model.json`` and ``metrics.json``."""
    source = emulator.manifest["pipeline_runs" if api == "v1" else "v2_pipeline_jobs"]["train"]
    name = f"ds_train_{uuid.uuid4().hex[:8]}"
    pipeline, _ = hook.publish_pipeline_once(source, name=name, version="1")
    run = hook.submit_pipeline_run(pipeline.id, hook.build_submission(experiment_name="ds"))
    ended = wait_for_run(hook, run.id)
    assert ended.status.is_success, ended.status
    return run.id


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_runs_outputs_are_named_like_its_inputs(
    switched: tuple[EmulatorProcess, str, str], hooks: dict[str, AzureMLPipelinesHook], api: str
) -> None:
    emulator, storage, output_uri = switched
    hook = hooks[api]
    run_id = finished_train_run(hook, emulator, api)
    found = sorted(run_outputs(hook, run_id))
    if api == "v2" and output_uri == "null":
        # Nothing says where the outputs went: none is named, and nothing fails.
        assert found == []
        return
    namespace = expected_namespace(storage, hook)
    folder = [name.rsplit("/", 2)[-2] for _, name in found]
    assert [ns for ns, _ in found] == [namespace, namespace]
    assert [name.rsplit("/", 1)[-1] for _, name in found] == ["metrics.json", "model.json"]
    assert all(name.startswith("models/") for _, name in found) and len(set(folder)) == 1


def test_the_emulated_v2_answer_has_the_recorded_shape_of_its_type(
    switched: tuple[EmulatorProcess, str, str], hooks: dict[str, AzureMLPipelinesHook]
) -> None:
    from airflow_provider_mlpipelines.api.v2 import routes
    from airflow_provider_mlpipelines.clients.v2 import calls
    from tests.clients.replay import entries

    storage = switched[1]
    recorded = next(
        e["ResponseBody"]
        for e in entries("datastore_get.json")
        if e["ResponseBody"]["properties"]["datastoreType"] == storage
    )
    client: Any = hooks["v2"].client
    call = calls.arm_call(client.settings, routes.DATASTORE_GET, datastore_name=DATASTORE)
    answered = client.arm.execute(call).json()
    # No one created the emulated datastores: they answer no systemData.
    assert sorted(answered) == sorted(k for k in recorded if k != "systemData")
    assert sorted(answered["properties"]) == sorted(recorded["properties"])
    assert answered["properties"]["isDefault"] is True  # the workspace's default datastore


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_failing_datastore_read_falls_back_without_failing(
    switched: tuple[EmulatorProcess, str, str], hooks: dict[str, AzureMLPipelinesHook], api: str
) -> None:
    emulator = switched[0]
    hook = AzureMLPipelinesHook(hooks[api].azure_ml_pipelines_conn_id, max_retries=0)
    try:
        with emulator.faults(fail_next=5, fail_status=503, path_contains="/datastores/"):
            named = datastore_dataset(hook, DATASTORE, "a.csv")
            again = datastore_dataset(hook, DATASTORE, "b.csv")
        assert named == [f"{workspace_namespace(hook)}/datastores/{DATASTORE}", "a.csv"]
        assert again[0] == named[0]
        assert emulator.stats()["faults"].get("503", 0) >= 1
    finally:
        hook.close()


def test_a_v1_answer_with_stored_secrets_keeps_none_of_them() -> None:
    from airflow_provider_mlpipelines.api.datastores import DatastoreStorage

    # azureml-core's AzureStorage section may carry the account key or a SAS token.
    answer = {
        "name": "legacy",
        "dataStoreType": "AzureBlob",
        "azureStorageSection": {
            "accountName": "acct",
            "containerName": "data",
            "endpoint": "core.windows.net",
            "accountKey": "s3cr3t-account-key",
            "sasToken": "sv=2020&sig=s3cr3t-sas",
            "credential": "s3cr3t-credential",
        },
    }
    storage = DatastoreStorage.from_v1_json("legacy", answer)
    assert (storage.kind, storage.account, storage.container) == ("AzureBlob", "acct", "data")
    assert "s3cr3t" not in repr(storage)
