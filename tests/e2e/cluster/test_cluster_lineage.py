"""OpenLineage on the production-shaped cluster: a v1 and a v2 task, each deferred to one of the
two triggerers and resumed by a Celery worker, emit events with their inputs, outputs and the
Azure ML run, through the OpenLineage provider's file transport (one file per event, written
by whichever worker ran the task). The run ids are checked against the cluster's emulator."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from tests.v2_helpers import deploy

from .cluster import Cluster, queued_runs
from .conftest import LINEAGE_VAR

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

DAG_ID = "mlp_cl_lineage"
V2_CONN = "azure_ml_pipelines_v2"
#: The emulator's default datastore, as the lineage names it (AzureBlob storage).
STORAGE = "wasbs://workspaceblobstore@"


class _Manifest:
    """What ``tests.v2_helpers.deploy`` reads of an emulator: its manifest."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest


def _events(cluster: Cluster) -> list[dict[str, Any]]:
    prefix = Path(json.loads(cluster.env[LINEAGE_VAR])["log_file_path"])
    events = []
    for path in sorted(prefix.parent.glob(f"{prefix.name}*")):
        events.append(json.loads(path.read_text(encoding="utf-8")))
    return events


def _of(events: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["job"]["name"] == f"{DAG_ID}.{task_id}"]


@pytest.mark.timeout(900)
def test_deferred_tasks_emit_lineage_with_inputs_outputs_and_the_run(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = cluster.manifest["pipeline_runs"]
    suffix = uuid.uuid4().hex[:6]
    with AzureMLPipelinesHook() as hook:
        pipeline = hook.publish_pipeline_from_run(
            runs["train"], name=f"cl-lin-{suffix}", version="1"
        )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{V2_CONN.upper()}", cluster.settings[f"AIRFLOW_CONN_{V2_CONN.upper()}"]
    )
    with AzureMLPipelinesHook(V2_CONN) as v2_hook:
        deployed = deploy(v2_hook, _Manifest(cluster.manifest))  # type: ignore[arg-type]
    api = cluster.api()
    api.wait_for_dag(DAG_ID, timeout=180)
    api.unpause(DAG_ID)
    conf = {
        "pipeline_id": pipeline.id,
        "v2_endpoint": deployed.endpoint,
        "v2_deployment": deployed.score_deployment,
    }
    # Runs queue first, so that both tasks really defer before their runs end.
    with queued_runs(cluster, 3):
        run_id = str(api.trigger(DAG_ID, logical_date=None, conf=conf)["dag_run_id"])
        final = api.wait_for_run(DAG_ID, run_id, timeout=400)
    assert final["state"] == "success", api.task_states(DAG_ID, run_id)
    for task_id in ("v1_deferred", "v2_deferred"):
        assert api.events(DAG_ID, run_id, task_id, "deferred"), f"{task_id} never deferred"

    # Other DAGs may have events in the folder too: the lifecycle tests' lost tasks are failed
    # by the scheduler, whose listener does not see enable_lineage on them.
    events = _events(cluster)
    with AzureMLPipelinesHook() as hook, AzureMLPipelinesHook(V2_CONN) as v2_hook:
        for task_id, task_hook, data in (
            ("v1_deferred", hook, "housing/train.csv"),
            ("v2_deferred", v2_hook, "scoring/2026-01-01.csv"),
        ):
            emitted = _of(events, task_id)
            # The task's start, its resumption after the trigger fired, its completion.
            assert sorted(e["eventType"] for e in emitted) == ["COMPLETE", "START", "START"]
            (complete,) = [e for e in emitted if e["eventType"] == "COMPLETE"]
            facet = complete["run"]["facets"]["azureml_run"]
            assert facet["runId"] == api.xcom(DAG_ID, run_id, task_id)
            assert task_hook.get_pipeline_run(facet["runId"]).status.value == "Finished"
            assert facet["status"] == "Finished"
            inputs = [(d["namespace"], d["name"]) for d in complete["inputs"]]
            assert len(inputs) == 1 and inputs[0][1] == data, inputs
            assert inputs[0][0].startswith(STORAGE), inputs
            assert complete["outputs"], f"{task_id}: no output datasets"
            assert all(d["namespace"].startswith(STORAGE) for d in complete["outputs"])
    v2_facet = _of(events, "v2_deferred")
    (v2_complete,) = [e for e in v2_facet if e["eventType"] == "COMPLETE"]
    named = v2_complete["run"]["facets"]["azureml_run"]
    assert (named["endpoint"], named["deployment"]) == (deployed.endpoint, "score")
