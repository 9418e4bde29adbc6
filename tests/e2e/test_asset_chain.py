"""A real scheduler chains retraining and scoring through an asset event.

``airflow standalone`` runs ``example_mlpipelines_retrain_asset`` (triggered through the REST
API); its ``add_scoring_version`` task's outlet emits the model asset with the endpoint and
version in the event's ``extra``; the scheduler starts ``example_mlpipelines_score_on_asset``
for that event, which scores with the version the event names. The emulator is asked which
pipeline the scoring run really ran.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from airflow_provider_mlpipelines.operators._asset_events import EXTRA_KEYS

from .airflow_standalone import AirflowApi, AirflowStandalone

ROOT = Path(__file__).resolve().parents[2]
RETRAIN = "example_mlpipelines_retrain_asset"
SCORE = "example_mlpipelines_score_on_asset"
ASSET_URI = "azureml://housing/price-model"
TIME_LIMIT = 720


@pytest.fixture
def standalone(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[AirflowStandalone]:
    env = {CONN_ENV_VAR: emulator.airflow_conn, "MLPIPELINES_EXAMPLE_POLL_SECONDS": "2"}
    for word, pipeline in (("SCORING", "score"), ("TRAINING", "train")):
        env[f"AIRFLOW_VAR_MLPIPELINES_{word}_RUN_ID"] = emulator.manifest["pipeline_runs"][pipeline]
    # On a failure, the components' output is in tmp_path/airflow/standalone.log.
    # The scheduler creates runs itself (asset-triggered ones); only the pair gets unpaused, so
    # no other example gets scheduled runs.
    airflow = AirflowStandalone(
        tmp_path / "airflow", ROOT / "dags_examples", env, TIME_LIMIT, schedule=True
    )
    with airflow:
        yield airflow


def _endpoint_with_another_default(emulator: EmulatorProcess, name: str) -> Any:
    """A pipeline endpoint whose default version is not the one the retraining will add."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    with AzureMLPipelinesHook() as hook:
        pipeline = hook.publish_pipeline_from_run(
            emulator.manifest["pipeline_runs"]["simulated"], name=f"{name}-old", version="1"
        )
        return hook.create_pipeline_endpoint(name, pipeline.id)


def _asset_triggered_run(api: AirflowApi, timeout: float) -> dict[str, Any]:
    kind = "asset_triggered" if AIRFLOW_V_3 else "dataset_triggered"
    deadline = time.monotonic() + timeout
    while True:
        runs = api.call("GET", f"/dags/{SCORE}/dagRuns")["dag_runs"]
        found = [run for run in runs if run["run_type"] == kind]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {kind} run of {SCORE}: {runs}"
        time.sleep(2)


def _model_events(api: AirflowApi) -> list[dict[str, Any]]:
    if AIRFLOW_V_3:
        events = api.call("GET", "/assets/events")["asset_events"]
        return [e for e in events if e.get("uri") == ASSET_URI or e.get("name") == ASSET_URI]
    events = api.call("GET", "/datasets/events")["dataset_events"]
    return [e for e in events if e.get("dataset_uri") == ASSET_URI]


@pytest.mark.slow
@pytest.mark.timeout(TIME_LIMIT + 60)
def test_the_asset_event_of_a_retraining_starts_scoring_on_the_new_version(
    standalone: AirflowStandalone, emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    monkeypatch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
    endpoint_name = f"housing-assets-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint_with_another_default(emulator, endpoint_name)
    standalone.wait_for_api(timeout=180)
    api = standalone.api()
    for dag_id in (RETRAIN, SCORE):
        api.wait_for_dag(dag_id, timeout=120)
        assert api.unpause(dag_id)["is_paused"] is False
    retrain = api.trigger(RETRAIN, logical_date=None, conf={"endpoint_name": endpoint_name})
    final = api.wait_for_run(RETRAIN, retrain["dag_run_id"], timeout=300)
    assert final["state"] == "success", api.task_states(RETRAIN, retrain["dag_run_id"])
    version = api.xcom(RETRAIN, retrain["dag_run_id"], "add_scoring_version")["version"]
    assert version != endpoint.default_version

    scoring = _asset_triggered_run(api, timeout=240)
    done = api.wait_for_run(SCORE, scoring["dag_run_id"], timeout=300)
    assert done["state"] == "success", api.task_states(SCORE, scoring["dag_run_id"])
    # Read after the scoring run started: Airflow 3.3.2's event list answers 500 while a run
    # the event created has no start date yet.
    events = _model_events(api)
    assert len(events) == 1, events
    extra = events[0]["extra"]
    assert set(EXTRA_KEYS) <= set(extra), extra
    assert (extra["endpoint"], extra["version"]) == (endpoint_name, version)
    run_id = api.xcom(SCORE, scoring["dag_run_id"], "score")
    with AzureMLPipelinesHook() as hook:
        ran = hook.get_pipeline_run(run_id)
        now = hook.get_pipeline_endpoint(name=endpoint_name)
    # The scoring run ran the event's version, which is not the endpoint's default.
    assert ran.pipeline_id == now.pipeline_id_of(version)
    assert now.default_version == endpoint.default_version
    assert ran.status.value == "Finished"
