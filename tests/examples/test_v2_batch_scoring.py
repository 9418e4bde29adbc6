"""example_mlpipelines_v2_batch_scoring, run with dag.test() against the session emulator's v2 side.

The DAG talks to the emulator through its own connection ``azure_ml_pipelines_v2`` (the
manifest's ``airflow_conn_v2``); what it did is read back through the emulator's v2 routes
with a client of their own (``tests/emulator/v2_client.py``: real HTTPS, real tokens).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import INLINE_TRIGGER_LOGGER, deferrals
from tests.emulator.v2_client import V2Client

from .conftest import load_example_module, task_state, xcom

DAG_ID = "example_mlpipelines_v2_batch_scoring"
CONN_ID = "azure_ml_pipelines_v2"
COMPONENT = "housing_score"
QUEUE_SECONDS = 3
INVOKE = "invoke batch endpoint"
ENDPOINT_API = "2023-10-01"
JOB_API = "2024-01-01-preview"
#: Every param of the DAG, given on each run: dag.test() on one DAG object keeps the conf of an
#: earlier run as the params' values of the next (seen on Airflow 3.3), so none is left out.
DEFAULT_CONF = {
    "component_version": "",
    "deployment_name": "",
    "scoring_date": "2026-01-01",
    "keep_new_version": True,
}


@pytest.fixture(scope="module")
def v2_deployment(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The example's v2 connection and Variable (the v1 ones come from ``deployment``)."""
    variables = {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(deployment["airflow_conn_v2"]),
        "AIRFLOW_VAR_MLPIPELINES_V2_SCORING_JOB": deployment["v2_pipeline_jobs"]["score"],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield deployment


@pytest.fixture(scope="module")
def v2(v2_deployment: dict[str, Any]) -> Iterator[V2Client]:
    """A client of the emulator's v2 routes."""
    client = V2Client(v2_deployment)
    try:
        yield client
    finally:
        client.close()


def default_deployment(v2: V2Client, endpoint: str) -> str | None:
    response = v2.arm("GET", f"/batchEndpoints/{endpoint}", ENDPOINT_API)
    assert response.status_code == 200, response.text
    return (response.json()["properties"].get("defaults") or {}).get("deploymentName")


def jobs_of_endpoint(v2: V2Client, endpoint: str) -> list[dict[str, Any]]:
    """Every job the emulator holds that a deployment of ``endpoint`` ran (all pages)."""
    response = v2.arm("GET", "/jobs", JOB_API)
    jobs = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        jobs += page["value"]
        if not page.get("nextLink"):
            break
        response = v2.url(page["nextLink"])
    return [
        j for j in jobs if j["properties"]["properties"].get("azureml.endpointname") == endpoint
    ]


@pytest.fixture
def run_v2(run_example: Callable[..., Any], v2_deployment: dict[str, Any]) -> Callable[..., Any]:
    """``run_v2(endpoint_name=..., **conf)``: one run of the example, every param given."""

    def run(logical_date: Any = None, **conf: Any) -> Any:
        return run_example(DAG_ID, logical_date, **{**DEFAULT_CONF, **conf})

    return run


def invokes(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["requests"].get(INVOKE, 0))


def assert_one_job_per_deployment(
    v2: V2Client, endpoint: str, runs: dict[str, str]
) -> dict[str, str]:
    """The endpoint's jobs are exactly ``runs`` (deployment -> job name); their statuses."""
    jobs = jobs_of_endpoint(v2, endpoint)
    ran = {j["properties"]["properties"]["azureml.deploymentname"]: j["name"] for j in jobs}
    assert len(jobs) == len(runs), [j["name"] for j in jobs]
    assert ran == runs
    return {j["name"]: j["properties"]["status"] for j in jobs}


def test_a_new_version_is_deployed_scored_deferred_and_a_trial_is_rolled_back(
    run_v2: Callable[..., Any],
    v2: V2Client,
    emulator: EmulatorProcess,
    unique_name: Callable[[str], str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=INLINE_TRIGGER_LOGGER)
    endpoint = unique_name("housing-v2")
    first_version, second_version = unique_name("a"), unique_name("b")
    first_deployment = f"housing-score-{first_version}"

    # 1. A new endpoint: its first deployment becomes the default, nothing to roll back to.
    # The job queues first (as on a real cluster), so that the operator really defers.
    before = invokes(emulator)
    with emulator.faults(queue_seconds=QUEUE_SECONDS):
        first = run_v2(
            logical_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
            endpoint_name=endpoint,
            component_version=first_version,
        )
    assert first.state == "success"
    assert invokes(emulator) - before == 1, "the scoring job was invoked more than once"
    captured = capfd.readouterr()
    output = captured.out + captured.err + caplog.text
    assert deferrals(first, "score", output) >= 1, "the wait did not go through a trigger"

    component_id = xcom(first, "publish_scoring_component")
    assert component_id.endswith(f"/components/{COMPONENT}/versions/{first_version}")
    deployed = xcom(first, "deploy_new_version")
    assert deployed["version"] == first_deployment
    assert deployed["default_version"] == first_deployment
    assert deployed["previous_default_version"] is None
    assert deployed["endpoint_url"].endswith(f"/{endpoint}/jobs")
    assert deployed["endpoint_id"].endswith(f"/batchEndpoints/{endpoint}")

    run_id = xcom(first, "score")
    assert xcom(first, "score", "run_id") == run_id
    assert xcom(first, "score", "run_status") == "Finished"
    assert run_id in xcom(first, "score", "run_url")
    check = xcom(first, "check_scoring_job")
    assert check["deployment"] == first_deployment
    assert check["status"] == "Finished"
    assert check["rows"] == 40  # scoring/2026-01-01.csv
    assert task_state(first, "roll_back_default") == "skipped"
    assert default_deployment(v2, endpoint) == first_deployment
    job = v2.job(run_id)
    assert job["properties"]["componentId"] == component_id
    assert assert_one_job_per_deployment(v2, endpoint, {first_deployment: run_id}) == {
        run_id: "Completed"
    }

    # 2. A trial of a second version on another day: scored by the new deployment, then the
    # first deployment is the default again.
    capfd.readouterr()
    before = invokes(emulator)
    trial = run_v2(
        endpoint_name=endpoint,
        component_version=second_version,
        deployment_name=unique_name("trial"),
        scoring_date="2026-01-02",
        keep_new_version=False,
    )
    assert trial.state == "success"
    assert invokes(emulator) - before == 1
    deployed = xcom(trial, "deploy_new_version")
    second_deployment = deployed["version"]
    assert second_deployment.startswith("trial-")
    assert deployed["previous_default_version"] == first_deployment
    assert xcom(trial, "check_scoring_job")["deployment"] == second_deployment
    assert xcom(trial, "check_scoring_job")["rows"] == 60  # scoring/2026-01-02.csv
    assert task_state(trial, "roll_back_default") == "success"
    assert default_deployment(v2, endpoint) == first_deployment, "the trial was not rolled back"
    trial_job = xcom(trial, "score")
    statuses = assert_one_job_per_deployment(
        v2, endpoint, {first_deployment: run_id, second_deployment: trial_job}
    )
    assert statuses == {run_id: "Completed", trial_job: "Completed"}


def test_an_unverified_version_is_rolled_back_and_fails_the_dag_run(
    run_v2: Callable[..., Any],
    v2: V2Client,
    unique_name: Callable[[str], str],
) -> None:
    endpoint = unique_name("housing-v2")
    first = run_v2(endpoint_name=endpoint, component_version=unique_name("a"))
    assert first.state == "success"
    kept = xcom(first, "deploy_new_version")["version"]

    # No input file for that day: the new version cannot be verified.
    failed = run_v2(
        endpoint_name=endpoint,
        component_version=unique_name("b"),
        scoring_date="1999-12-31",
    )
    assert failed.state == "failed"
    assert task_state(failed, "score") == "failed"
    assert xcom(failed, "score", "run_status") == "Failed"
    assert task_state(failed, "check_scoring_job") == "upstream_failed"
    assert task_state(failed, "roll_back_default") == "success"
    assert task_state(failed, "fail_if_unverified") == "failed"
    new = xcom(failed, "deploy_new_version")
    assert new["previous_default_version"] == kept
    assert new["default_version"] == new["version"] != kept
    assert default_deployment(v2, endpoint) == kept, "the unverified version stayed the default"
    # A failed task returns nothing: its job's name is in the run_id XCom, pushed on submit.
    kept_job, failed_job = xcom(first, "score"), xcom(failed, "score", "run_id")
    statuses = assert_one_job_per_deployment(
        v2, endpoint, {kept: kept_job, new["version"]: failed_job}
    )
    assert statuses == {kept_job: "Completed", failed_job: "Failed"}


@pytest.mark.parametrize(
    ("verified", "previous_default", "keep_new_version", "expected"),
    [
        (True, "blue", True, False),  # verified and kept
        (True, "blue", False, True),  # a trial: always restored
        (False, "blue", True, True),  # unverified: restored
        (False, None, True, False),  # a new endpoint: nothing to restore
        (False, "None", False, False),  # the XCom template renders None as "None"
        (True, "", False, False),
    ],
)
def test_when_the_previous_default_is_restored(
    verified: bool, previous_default: str | None, keep_new_version: bool, expected: bool
) -> None:
    module = load_example_module("example_mlpipelines_v2_batch_scoring.py")
    assert module.needs_rollback(verified, previous_default, keep_new_version) is expected
