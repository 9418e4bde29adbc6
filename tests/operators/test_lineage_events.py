"""OpenLineage events of real task runs: ``airflow dags test`` with the OpenLineage provider's
file transport, v1 and v2, synchronous, deferred and failing, against the emulator.

The events are read back from the file the provider wrote; the run ids they name are checked
against the runs the emulator holds. The session emulator reports its datastores as Azure Blob
storage (``--datastore-storage`` default), so data is named ``wasbs://``; the other storage
types, the fallback and the one-read-per-hook cache are ``tests/hooks/test_hooks_datastores.py``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.datastores import STORAGE_ACCOUNT
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from airflow_provider_mlpipelines.operators._asset_events import run_extra
from tests.e2e.test_dags_test_db_connection import _airflow
from tests.v2_helpers import RawArm, deploy, v2_conn_json

DEFAULT_CONN = "azure_ml_pipelines_default"
DAG_ID = "mlp_lineage"
V2_CONN = "azure_ml_pipelines_v2"
DATASTORE = "workspaceblobstore"
#: OpenLineage's namespace of the session emulator's datastore (Azure Blob, the default switch).
BLOB = f"wasbs://{DATASTORE}@{STORAGE_ACCOUNT}.dfs.core.windows.net"

DAG_FILE = f'''
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator as Submit,
)

DATA = {{"datastore": "{DATASTORE}", "path": "housing/train.csv"}}
VALIDATION = {{"LiteralValue": {{"DataStoreName": "{DATASTORE}",
                                 "RelativePath": "housing/validation.csv"}}}}
SCORING = {{"datastore": "{DATASTORE}", "path": "scoring/2026-01-01.csv"}}

with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         render_template_as_native_obj=True):
    Submit(task_id="v1_sync", experiment_name="lineage",
           published_pipeline_id="{{{{ dag_run.conf['train'] }}}}",
           parameters={{"epochs": 5}},
           data_path_assignments={{"training_data": DATA}},
           dataset_assignments={{"validation_data": VALIDATION}},
           poll_interval=1, timeout=300)
    Submit(task_id="v1_deferred", experiment_name="lineage",
           pipeline_endpoint_name="{{{{ dag_run.conf['endpoint'] }}}}",
           parameters={{"duration_seconds": 2}}, deferrable=True, poll_interval=1, timeout=300)
    Submit(task_id="v1_failing", experiment_name="lineage",
           published_pipeline_id="{{{{ dag_run.conf['simulated'] }}}}",
           parameters={{"outcome": "Failed"}}, poll_interval=1, timeout=300)
    Submit(task_id="v2_deferred", experiment_name="lineage-v2",
           azure_ml_pipelines_conn_id="{V2_CONN}",
           pipeline_endpoint_name="{{{{ dag_run.conf['v2_endpoint'] }}}}",
           pipeline_version="{{{{ dag_run.conf['v2_deployment'] }}}}",
           data_path_assignments={{"input_data": SCORING}},
           deferrable=True, poll_interval=1, timeout=300)
    Submit(task_id="v2_sync", experiment_name="lineage-v2",
           azure_ml_pipelines_conn_id="{V2_CONN}",
           published_pipeline_id="{{{{ dag_run.conf['v2_simulated'] }}}}",
           poll_interval=1, timeout=300)
'''


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _of_task(events: list[dict[str, Any]], task_id: str, kind: str) -> dict[str, Any]:
    found = [
        e for e in events if e["eventType"] == kind and e["job"]["name"] == f"{DAG_ID}.{task_id}"
    ]
    assert found, f"no {kind} event of {task_id}: {[e['job']['name'] for e in events]}"
    return found[-1]


@pytest.fixture(scope="module")
def lineage_run(
    emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One ``airflow dags test`` of the lineage DAG; its events and what it ran on."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    manifest = emulator.manifest
    suffix = uuid.uuid4().hex[:6]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
        patch.setenv(f"AIRFLOW_CONN_{V2_CONN.upper()}", v2_conn_json(emulator))
        with AzureMLPipelinesHook() as hook:
            runs = manifest["pipeline_runs"]
            ids = {
                name: hook.publish_pipeline_from_run(
                    runs[name], name=f"lin-{name}-{suffix}", version="1"
                ).id
                for name in ("train", "simulated")
            }
            endpoint = hook.create_pipeline_endpoint(f"lin-{suffix}", ids["simulated"])
        with AzureMLPipelinesHook(V2_CONN) as v2_hook:
            deployed = deploy(v2_hook, emulator)
    conf = {
        **ids,
        "endpoint": endpoint.name,
        "v2_endpoint": deployed.endpoint,
        "v2_deployment": deployed.score_deployment,
        "v2_simulated": deployed.components["simulated"],
    }
    home = tmp_path_factory.mktemp("airflow-lineage")
    (home / "dags").mkdir()
    (home / "dags" / "lineage_dag.py").write_text(DAG_FILE, encoding="utf-8")
    events_file = home / "openlineage.jsonl"
    # The provider's file transport, one event per line, set in the home's own airflow.cfg
    # (the CLI helper passes no AIRFLOW_* variable of this session on).
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    (home / "airflow.cfg").write_text(f"[openlineage]\ntransport = {json.dumps(transport)}\n")
    _airflow(home, "db", "migrate")
    _airflow(home, "connections", "add", DEFAULT_CONN, "--conn-json", emulator.airflow_conn)
    _airflow(home, "connections", "add", V2_CONN, "--conn-json", v2_conn_json(emulator))
    # v1_failing fails the DAG run, so the command exits non-zero: that is expected.
    with pytest.raises(AssertionError, match="DagRun failed") as failed:
        _airflow(home, "dags", "test", DAG_ID, "-c", json.dumps(conf))
    output = str(failed.value)
    assert events_file.is_file(), output
    return {
        "events": _events(events_file),
        "output": output,
        "ids": ids,
        "endpoint": endpoint,
        "deployed": deployed,
    }


def _facet(event: dict[str, Any]) -> dict[str, Any]:
    facet = event["run"]["facets"].get("azureml_run")
    assert facet is not None, sorted(event["run"]["facets"])
    return facet


def _emulator_runs(emulator: EmulatorProcess, pipeline_id: str) -> dict[str, str]:
    """Run id -> status of every run of ``pipeline_id`` the emulator holds."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
        with AzureMLPipelinesHook() as hook:
            return {run.id: run.status.value for run in hook.list_pipeline_runs(pipeline_id)}


@pytest.mark.slow
def test_v1_sync_run_names_its_inputs_and_the_run_the_emulator_ran(
    lineage_run: dict[str, Any], emulator: EmulatorProcess
) -> None:
    event = _of_task(lineage_run["events"], "v1_sync", "COMPLETE")
    facet = _facet(event)
    assert _emulator_runs(emulator, lineage_run["ids"]["train"]) == {facet["runId"]: "Finished"}
    assert facet["pipelineId"] == lineage_run["ids"]["train"]
    assert facet["status"] == "Finished"
    assert facet["parameters"] == {"epochs": "5"}
    assert facet["studioUrl"].startswith("http") and facet["runId"] in facet["studioUrl"]
    assert event["run"]["facets"]["externalQuery"]["externalQueryId"] == facet["runId"]
    inputs = {(d["namespace"], d["name"]) for d in event["inputs"]}
    assert inputs == {(BLOB, "housing/train.csv"), (BLOB, "housing/validation.csv")}
    # What the train and evaluate steps wrote, read once the run had ended.
    outputs = sorted((d["namespace"], d["name"]) for d in event["outputs"])
    assert [ns for ns, _ in outputs] == [BLOB, BLOB]
    assert [name.rsplit("/", 1)[-1] for _, name in outputs] == ["metrics.json", "model.json"]


@pytest.mark.slow
def test_v1_deferred_run_names_the_endpoint_and_default_version(
    lineage_run: dict[str, Any], emulator: EmulatorProcess
) -> None:
    facet = _facet(_of_task(lineage_run["events"], "v1_deferred", "COMPLETE"))
    endpoint = lineage_run["endpoint"]
    assert _emulator_runs(emulator, lineage_run["ids"]["simulated"])[facet["runId"]] == "Finished"
    assert facet["endpoint"] == endpoint.name
    assert facet["version"] == endpoint.default_version
    assert facet["pipelineId"] == lineage_run["ids"]["simulated"]
    # Two START events: the task's start, and its resumption after the trigger fired.
    starts = [e for e in lineage_run["events"] if e["job"]["name"] == f"{DAG_ID}.v1_deferred"]
    assert [e["eventType"] for e in starts] == ["START", "START", "COMPLETE"]


@pytest.mark.slow
def test_a_failing_run_reports_the_failed_step(
    lineage_run: dict[str, Any], emulator: EmulatorProcess
) -> None:
    event = _of_task(lineage_run["events"], "v1_failing", "FAIL")
    facet = _facet(event)
    assert facet["failedStep"] == "work"
    assert facet["status"] == "Failed"
    assert _emulator_runs(emulator, lineage_run["ids"]["simulated"])[facet["runId"]] == "Failed"
    assert "work" in event["run"]["facets"]["errorMessage"]["message"]


@pytest.mark.slow
def test_v2_runs_name_the_job_component_and_deployment(
    lineage_run: dict[str, Any], emulator: EmulatorProcess
) -> None:
    deployed = lineage_run["deployed"]
    deferred = _of_task(lineage_run["events"], "v2_deferred", "COMPLETE")
    facet = _facet(deferred)
    raw = RawArm(emulator)
    try:
        job = raw.job(facet["runId"])
        synced = _facet(_of_task(lineage_run["events"], "v2_sync", "COMPLETE"))
        sync_job = raw.job(synced["runId"])
    finally:
        raw.close()
    assert job["properties"]["properties"]["azureml.deploymentname"] == deployed.score_deployment
    assert facet["deployment"] == deployed.score_deployment
    assert facet["endpoint"] == deployed.endpoint
    assert facet["componentId"] == deployed.components["score"]
    assert facet["api"] == "v2" and "pipelineId" not in facet  # None fields are left out
    assert [(d["namespace"], d["name"]) for d in deferred["inputs"]] == [
        (BLOB, "scoring/2026-01-01.csv")
    ]
    # The job's properties.outputs: the score step's predictions file.
    wrote = job["properties"]["outputs"]["predictions"]["uri"]
    assert wrote.startswith(f"azureml://datastores/{DATASTORE}/paths/predictions/")
    outputs = [(d["namespace"], d["name"]) for d in deferred["outputs"]]
    assert outputs == [(BLOB, wrote.split("/paths/", 1)[1])]
    # The asset events of the same task carry those outputs as URIs.
    extra = run_extra({"outputs": [[ns, name] for ns, name in outputs]})
    assert extra["outputs"] == [f"{BLOB}/{outputs[0][1]}"]
    assert sync_job["properties"]["status"] == "Completed"
    assert synced["componentId"] == deployed.components["simulated"]
