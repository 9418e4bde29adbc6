"""The sync hook against the emulator: publishing, pipeline status, endpoints, error mapping."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hook_helpers import publish

from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLBadRequestError,
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook


def test_publish_from_run_copies_graph_and_interface(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess
) -> None:
    run_id = emulator.manifest["pipeline_runs"]["train"]
    name = f"publish-{uuid.uuid4().hex[:8]}"
    published = hook.publish_pipeline_from_run(
        run_id,
        name=name,
        version="7",
        description="nightly training",
        continue_on_step_failure=True,
        properties={"team": "ml"},
    )
    assert (published.name, published.version) == (name, "7")
    assert published.description == "nightly training"
    assert published.status is EntityStatus.ACTIVE
    assert published.continue_run_on_step_failure is True
    assert published.properties.get("team") == "ml"
    # The service stores the posted graph under a graph id of the pipeline's own.
    assert published.graph_id and published.total_run_steps == 2
    assert published.url and published.url.endswith(published.id)

    fetched = hook.get_published_pipeline(published.id)
    assert (fetched.id, fetched.name, fetched.graph_id) == (
        published.id,
        name,
        published.graph_id,
    )
    interface = hook.get_pipeline_interface(published.id)
    assert set(interface.parameter_names) == {"learning_rate", "epochs", "sleep_seconds"}
    assert interface.data_path_names == ["training_data"]
    assert interface.dataset_names == ["validation_data"]


def test_list_find_and_status_of_published_pipelines(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess
) -> None:
    first = publish(hook, emulator, "simulated")
    second = hook.publish_pipeline_from_run(
        emulator.manifest["pipeline_runs"]["simulated"], name=first.name, version="2"
    )
    assert {first.id, second.id} <= {p.id for p in hook.list_published_pipelines()}
    assert hook.find_published_pipeline(first.name, version="1").id == first.id
    assert hook.find_published_pipeline(first.name, version="2").id == second.id
    # Without a version, the newest pipeline of the name: the one published second.
    assert hook.find_published_pipeline(first.name).id == second.id
    assert hook.find_published_pipeline(f"absent-{uuid.uuid4().hex}") is None

    hook.set_published_pipeline_status(first.id, "Disabled")
    assert hook.get_published_pipeline(first.id).status is EntityStatus.DISABLED
    assert first.id not in {p.id for p in hook.list_published_pipelines(active_only=True)}
    assert first.id in {p.id for p in hook.list_published_pipelines(active_only=False)}
    assert hook.find_published_pipeline(first.name, version="1") is None
    with pytest.raises(AzureMLBadRequestError) as raised:
        hook.submit_pipeline_run(first.id, hook.build_submission(experiment_name="disabled"))
    assert raised.value.status_code == 400

    hook.set_published_pipeline_status(first.id, EntityStatus.ACTIVE)
    assert hook.get_published_pipeline(first.id).status is EntityStatus.ACTIVE


def test_unknown_status_is_refused_before_any_call(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, train_pipeline: Any
) -> None:
    before = emulator.stats()["requests_total"]
    with pytest.raises(AzureMLInvalidInputError, match="Sleeping") as raised:
        hook.set_published_pipeline_status(train_pipeline.id, "Sleeping")
    assert "Active" in str(raised.value) and "Disabled" in str(raised.value)
    # The second stats call is the only request since the first.
    assert emulator.stats()["requests_total"] == before + 1
    assert hook.get_published_pipeline(train_pipeline.id).status is EntityStatus.ACTIVE


def test_not_found_names_operation_resource_status_and_code(hook: AzureMLPipelinesHook) -> None:
    with pytest.raises(AzureMLNotFoundError) as raised:
        hook.get_published_pipeline("no-such-pipeline")
    error = raised.value
    assert str(error).startswith("get pipeline 'no-such-pipeline' failed: 404 ")
    assert error.status_code == 404 and error.code
    assert error.correlation_id


def test_endpoint_lifecycle(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, train_pipeline: Any
) -> None:
    other = publish(hook, emulator, "train")
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    created = hook.create_pipeline_endpoint(name, train_pipeline.id, description="scoring")
    assert (created.name, created.default_version) == (name, "0")
    assert [(v.version, v.pipeline_id) for v in created.versions] == [("0", train_pipeline.id)]

    assert hook.get_pipeline_endpoint(created.id).name == name
    assert hook.get_pipeline_endpoint(name=name).id == created.id
    assert hook.find_pipeline_endpoint(name).id == created.id
    assert hook.find_pipeline_endpoint(f"absent-{uuid.uuid4().hex}") is None
    assert created.id in {e.id for e in hook.list_pipeline_endpoints(batch_size=1000)}

    added = hook.add_pipeline_to_endpoint(created.id, other.id)
    assert added.pipeline_id_of("1") == other.id and added.default_version == "0"
    defaulted = hook.add_pipeline_to_endpoint(created.id, other.id, set_default=True)
    assert defaulted.version_names == ["0", "1"] and defaulted.default_version == "1"
    assert hook.set_pipeline_endpoint_default_version(created.id, "0").default_version == "0"

    versions = hook.list_pipeline_endpoint_versions(created.id)
    assert {(v.version, v.pipeline_id) for v in versions} == {
        ("0", train_pipeline.id),
        ("1", other.id),
    }
    behind = {p.id for p in hook.list_pipeline_endpoint_pipelines(created.id)}
    assert behind == {train_pipeline.id, other.id}

    disabled = hook.set_pipeline_endpoint_status(created.id, "Disabled")
    assert disabled.status is EntityStatus.DISABLED
    assert created.id not in {e.id for e in hook.list_pipeline_endpoints(active_only=True)}
    with pytest.raises(AzureMLBadRequestError):
        hook.submit_pipeline_endpoint_run(
            created.id, hook.build_submission(experiment_name="disabled")
        )
    assert hook.set_pipeline_endpoint_status(created.id, "Active").status is EntityStatus.ACTIVE


def test_adding_a_listed_pipeline_writes_nothing(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, train_pipeline: Any
) -> None:
    endpoint = hook.create_pipeline_endpoint(f"idem-{uuid.uuid4().hex[:8]}", train_pipeline.id)
    updates_before = emulator.stats()["requests"].get("update endpoint", 0)
    again = hook.add_pipeline_to_endpoint(endpoint.id, train_pipeline.id)
    assert again.version_names == ["0"]
    assert emulator.stats()["requests"].get("update endpoint", 0) == updates_before


def test_unknown_default_version_is_refused_before_any_put(
    hook: AzureMLPipelinesHook, emulator: EmulatorProcess, train_pipeline: Any
) -> None:
    endpoint = hook.create_pipeline_endpoint(f"versions-{uuid.uuid4().hex[:8]}", train_pipeline.id)
    updates_before = emulator.stats()["requests"].get("update endpoint", 0)
    with pytest.raises(AzureMLInvalidInputError) as raised:
        hook.set_pipeline_endpoint_default_version(endpoint.id, "9")
    assert "'9'" in str(raised.value) and "'0'" in str(raised.value)
    assert emulator.stats()["requests"].get("update endpoint", 0) == updates_before


def test_duplicate_endpoint_name_is_a_conflict(
    hook: AzureMLPipelinesHook, train_pipeline: Any
) -> None:
    name = f"dup-{uuid.uuid4().hex[:8]}"
    hook.create_pipeline_endpoint(name, train_pipeline.id)
    with pytest.raises(AzureMLConflictError) as raised:
        hook.create_pipeline_endpoint(name, train_pipeline.id)
    assert raised.value.status_code == 409
    assert f"create endpoint '{name}' failed: 409" in str(raised.value)


def test_get_endpoint_needs_exactly_one_key(hook: AzureMLPipelinesHook) -> None:
    with pytest.raises(AzureMLInvalidInputError):
        hook.get_pipeline_endpoint()
    with pytest.raises(AzureMLInvalidInputError):
        hook.get_pipeline_endpoint("id", name="name")
    with pytest.raises(AzureMLNotFoundError):
        hook.get_pipeline_endpoint("no-such-endpoint")
