"""The operators, the sensor and the trigger on a v2 (batch endpoint) connection.

An emulator of this module's own serves the v2 connection, which is also the default
connection for the module, so the DAGs of ``tests/dags`` run on v2 unchanged (``dag.test()``).
Direct ``execute`` calls use a :class:`RecordingTaskInstance` (only the XCom pushes of the
task instance are stood in for; hook, service and credentials are real). Every test counts
what reached the emulator: requests per route and the jobs of its workspace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines.clients.v2.calls import task_job_name
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLPipelineRunCanceledError,
    AzureMLPipelineRunTimeoutError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPipelineEndpointOperator,
    AzureMLSetPipelineEndpointStatusOperator,
    AzureMLSetPublishedPipelineStatusOperator,
    AzureMLSubmitPipelineRunOperator,
)
from tests.airflow_helpers import deferrals, task_state, xcom
from tests.v2_helpers import (
    INVOKE,
    JOB_PUT,
    Deployed,
    RawArm,
    module_v2_emulator,
    requests_named,
    wait_until,
)

from .conftest import RecordingTaskInstance

try:
    from airflow.sdk.exceptions import AirflowTaskTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef,attr-defined]

#: Every request that would create or change something on the v2 side.
WRITES = (
    INVOKE,
    JOB_PUT,
    "create or update batch endpoint",
    "create pipeline component deployment",
    "register component version",
    "cancel job",
)
DATASET = {"LiteralValue": {"DataStoreName": "workspaceblobstore", "RelativePath": "x.csv"}}


@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory) as started:
        yield started


@pytest.fixture
def conn_id(v2_emulator: tuple[EmulatorProcess, str]) -> str:
    return v2_emulator[1]


@pytest.fixture
def run_v2_dag(dagbag: Any, v2_emulator: tuple[EmulatorProcess, str]) -> Callable[..., Any]:
    """Run a DAG of ``tests/dags`` on the module's v2 connection (the default one here)."""

    def run(dag_id: str, **conf: Any) -> Any:
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"no DAG {dag_id}"
        return dag.test(run_conf=conf)

    return run


def _submit_operator(conn_id: str, **kwargs: Any) -> AzureMLSubmitPipelineRunOperator:
    kwargs.setdefault("poll_interval", 0.5)
    kwargs.setdefault("timeout", 120)
    return AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="v2-operators",
        deferrable=False,
        azure_ml_pipelines_conn_id=conn_id,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# 1. Bad input is refused before anything is sent
# --------------------------------------------------------------------------------------------
BAD_INPUT = [
    (
        "dataset_assignments",
        "submit",
        {"dataset_assignments": {"input_data": DATASET}},
        ("dataset_assignments", "v2 data asset", "data_path_assignments"),
    ),
    (
        "continue_on_step_failure",
        "submit",
        {"continue_on_step_failure": True},
        ("continue_on_step_failure", "per deployment", "settings.continue_on_step_failure"),
    ),
    (
        "rest_endpoint",
        "submit_url",
        {},
        ("rest_endpoint", "pipeline_endpoint_name", "pipeline_version"),
    ),
    (
        "undeclared_input",
        "submit",
        {"parameters": {"durations": 1}},
        ("unknown input 'durations'", "'duration_seconds', 'outcome'"),
    ),
    (
        "wrong_literal_type",
        "submit_score",
        {"parameters": {"round_digits": "x"}},
        (
            "submit to batch endpoint ",
            " deployment ",
            "input 'round_digits' (integer)",
            "'x' is not an integer",
        ),
    ),
    (
        "unknown_deployment",
        "submit",
        {"pipeline_version": "green"},
        ("has no deployment 'green'; its deployments are", "'sim'", "'score'"),
    ),
    (
        "pipeline_status",
        "pipeline_status",
        {},
        ("pipeline status", "v2", "archive the component version"),
    ),
    (
        "endpoint_status",
        "endpoint_status",
        {},
        ("endpoint status", "v2", "set another default deployment"),
    ),
    (
        "invalid_endpoint_name",
        "endpoint",
        {"pipeline_endpoint_name": "bad_endpoint"},
        ("batch endpoint name 'bad_endpoint'", "letters, digits and '-'"),
    ),
    (
        "invalid_deployment_name",
        "endpoint",
        {"pipeline_endpoint_name": "good-endpoint", "deployment_name": "blue_1"},
        ("deployment name 'blue_1'", "letters, digits and '-'"),
    ),
]


def _bad_input_operator(
    kind: str, conn_id: str, deployed: Deployed, emulator: Any, **kw: Any
) -> Any:
    if kind == "submit":
        return _submit_operator(conn_id, pipeline_endpoint_name=deployed.endpoint, **kw)
    if kind == "submit_score":
        return _submit_operator(
            conn_id,
            pipeline_endpoint_name=deployed.endpoint,
            pipeline_version=deployed.score_deployment,
            **kw,
        )
    if kind == "submit_url":
        url = f"{emulator.base_url}/inference/{deployed.endpoint}/jobs"
        return _submit_operator(conn_id, rest_endpoint=url, **kw)
    if kind == "pipeline_status":
        return AzureMLSetPublishedPipelineStatusOperator(
            task_id="status",
            pipeline_id=deployed.components["simulated"],
            status="Disabled",
            azure_ml_pipelines_conn_id=conn_id,
        )
    if kind == "endpoint_status":
        return AzureMLSetPipelineEndpointStatusOperator(
            task_id="status",
            pipeline_endpoint_name=deployed.endpoint,
            status="Disabled",
            azure_ml_pipelines_conn_id=conn_id,
        )
    return AzureMLPipelineEndpointOperator(
        task_id="endpoint",
        pipeline_id=deployed.components["train"],
        azure_ml_pipelines_conn_id=conn_id,
        **kw,
    )


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected"),
    [pytest.param(kind, kwargs, expected, id=case) for case, kind, kwargs, expected in BAD_INPUT],
)
def test_bad_input_is_refused_before_anything_is_sent(
    emulator_v2: EmulatorProcess,
    conn_id: str,
    deployed: Deployed,
    raw: RawArm,
    kind: str,
    kwargs: dict[str, Any],
    expected: tuple[str, ...],
) -> None:
    jobs = len(raw.job_names())
    writes = requests_named(emulator_v2, *WRITES)
    with pytest.raises(AzureMLInvalidInputError) as raised:
        operator = _bad_input_operator(kind, conn_id, deployed, emulator_v2, **kwargs)
        operator.execute({"ti": RecordingTaskInstance()})  # type: ignore[arg-type]
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message, message
    assert requests_named(emulator_v2, *WRITES) == writes
    assert len(raw.job_names()) == jobs


# --------------------------------------------------------------------------------------------
# 2. No duplicate job on a retry
# --------------------------------------------------------------------------------------------
def test_a_retry_reattaches_to_the_job_of_the_try_that_died(
    emulator_v2: EmulatorProcess, conn_id: str, deployed: Deployed, raw: RawArm
) -> None:
    jobs = len(raw.job_names())
    invokes = requests_named(emulator_v2, INVOKE)
    airflow_run_id = f"manual__{time.time_ns()}"
    first = RecordingTaskInstance(run_id=airflow_run_id, try_number=1)
    # Try 1 submits and "dies" (returns without waiting) while its job goes on.
    job_name = _submit_operator(
        conn_id,
        pipeline_endpoint_name=deployed.endpoint,
        parameters={"duration_seconds": 3},
        wait_for_completion=False,
    ).execute({"ti": first})  # type: ignore[arg-type]
    second = RecordingTaskInstance(run_id=airflow_run_id, try_number=2)
    again = _submit_operator(
        conn_id, pipeline_endpoint_name=deployed.endpoint, parameters={"duration_seconds": 3}
    ).execute({"ti": second})  # type: ignore[arg-type]
    assert again == job_name
    assert second.xcoms["run_status"] == "Finished"
    identity = {
        "airflow.dag_id": first.dag_id,
        "airflow.task_id": first.task_id,
        "airflow.run_id": airflow_run_id,
        "airflow.map_index": str(first.map_index),
    }
    names = raw.job_names()
    # The service named the job; try 1's requested name is its display name, by which try 2
    # found it (no task state store here: the Airflow < 3.3 path).
    assert raw.job(job_name)["properties"]["displayName"] == task_job_name(identity, 1)
    assert requests_named(emulator_v2, INVOKE) - invokes == 1
    assert len(names) - jobs == 1


# --------------------------------------------------------------------------------------------
# 6. Lifecycle: the operator's timeout and a user's stop cancel the job (an LRO)
# --------------------------------------------------------------------------------------------
def test_the_operators_timeout_cancels_the_job(
    emulator_v2: EmulatorProcess, conn_id: str, deployed: Deployed, raw: RawArm
) -> None:
    cancels = requests_named(emulator_v2, "cancel job")
    ti = RecordingTaskInstance(run_id=f"manual__{time.time_ns()}")
    operator = _submit_operator(
        conn_id,
        pipeline_endpoint_name=deployed.endpoint,
        parameters={"duration_seconds": 120},
        timeout=3,
    )
    with pytest.raises(AzureMLPipelineRunTimeoutError):
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    # The cancel's operation was followed to its end: the job is Canceled already.
    assert raw.job(ti.xcoms["run_id"])["properties"]["status"] == "Canceled"
    assert requests_named(emulator_v2, "cancel job") - cancels == 1


def test_on_kill_during_an_execution_timeout_cancels_the_job(
    emulator_v2: EmulatorProcess, conn_id: str, deployed: Deployed, raw: RawArm
) -> None:
    cancels = requests_named(emulator_v2, "cancel job")
    operator = _submit_operator(
        conn_id, pipeline_endpoint_name=deployed.endpoint, parameters={"duration_seconds": 120}
    )
    ti = RecordingTaskInstance(run_id=f"manual__{time.time_ns()}")

    def kill_once_submitted() -> None:
        wait_until(lambda: "run_id" in ti.xcoms, 60, "the submission")
        try:
            raise AirflowTaskTimeout("execution_timeout")
        except AirflowTaskTimeout:
            operator.on_kill()  # as Airflow's task runner calls it

    # Airflow runs execute() in the task's main thread and on_kill() from a signal handler.
    killer = threading.Thread(target=kill_once_submitted, daemon=True)
    killer.start()
    with pytest.raises(AzureMLPipelineRunCanceledError):
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    killer.join(timeout=60)
    assert raw.job(ti.xcoms["run_id"])["properties"]["status"] == "Canceled"
    assert requests_named(emulator_v2, "cancel job") - cancels == 1


def test_the_deferred_timeout_cancels_the_job_from_the_trigger(
    emulator_v2: EmulatorProcess,
    deployed: Deployed,
    raw: RawArm,
    run_v2_dag: Callable[..., Any],
    task_output: Callable[[], str],
) -> None:
    cancels = requests_named(emulator_v2, "cancel job")
    dag_run = run_v2_dag(
        "mlp_test_timeout_deferred",
        target=deployed.components["simulated"],
        parameters={"duration_seconds": 120},
    )
    assert dag_run.state == "failed"
    job_name = xcom(dag_run, "submit", "run_id")
    output = task_output()
    assert deferrals(dag_run, "submit", output) >= 1
    assert "AzureMLPipelineRunTimeoutError" in output
    assert raw.wait_job(job_name, ("Canceled",), timeout=60)["properties"]["status"] == "Canceled"
    assert requests_named(emulator_v2, "cancel job") - cancels == 1


# --------------------------------------------------------------------------------------------
# 6. Sensor and trigger on v2 jobs
# --------------------------------------------------------------------------------------------
def _job(hook_conn: str, deployed: Deployed, **parameters: Any) -> str:
    with AzureMLPipelinesHook(hook_conn) as hook:
        submission = hook.build_submission(experiment_name="v2-sensor", parameters=parameters)
        return hook.submit_pipeline_run(deployed.components["simulated"], submission).id


@pytest.mark.parametrize(
    ("parameters", "state", "expected"),
    [
        ({"duration_seconds": 2}, "success", ()),
        (
            {"duration_seconds": 1, "outcome": "Failed"},
            "failed",
            ("AzureMLPipelineRunFailedError", "Step 'work' Failed", "Simulated failure"),
        ),
    ],
    ids=["completed", "failed"],
)
def test_the_sensor_on_a_v2_job(
    conn_id: str,
    deployed: Deployed,
    run_v2_dag: Callable[..., Any],
    task_output: Callable[[], str],
    parameters: dict[str, Any],
    state: str,
    expected: tuple[str, ...],
) -> None:
    job_name = _job(conn_id, deployed, **parameters)
    dag_run = run_v2_dag("mlp_test_sensor_poke", run_id=job_name)
    assert task_state(dag_run, "wait") == state
    output = task_output()
    for fragment in expected:
        assert fragment in output, fragment


def test_the_sensor_fails_on_a_canceled_v2_job(
    conn_id: str,
    deployed: Deployed,
    raw: RawArm,
    run_v2_dag: Callable[..., Any],
    task_output: Callable[[], str],
) -> None:
    job_name = _job(conn_id, deployed, duration_seconds=120)
    with AzureMLPipelinesHook(conn_id) as hook:
        hook.cancel_pipeline_run(job_name)
    assert raw.job(job_name)["properties"]["status"] == "Canceled"
    dag_run = run_v2_dag("mlp_test_sensor_poke", run_id=job_name)
    assert task_state(dag_run, "wait") == "failed"
    output = task_output()
    assert "AzureMLPipelineRunCanceledError" in output and job_name in output


@pytest.mark.parametrize(
    ("parameters", "state", "expected"),
    [
        ({"duration_seconds": 4}, "success", ()),
        (
            {"duration_seconds": 4, "outcome": "Failed"},
            "failed",
            ("AzureMLPipelineRunFailedError", "Step 'work' Failed", "Simulated failure"),
        ),
    ],
    ids=["completed", "failed"],
)
def test_the_trigger_waits_for_a_v2_job(
    emulator_v2: EmulatorProcess,
    deployed: Deployed,
    raw: RawArm,
    run_v2_dag: Callable[..., Any],
    task_output: Callable[[], str],
    parameters: dict[str, Any],
    state: str,
    expected: tuple[str, ...],
) -> None:
    jobs = len(raw.job_names())
    dag_run = run_v2_dag(
        "mlp_test_submit_deferred_endpoint_name", target=deployed.endpoint, parameters=parameters
    )
    assert task_state(dag_run, "submit") == state
    output = task_output()
    assert deferrals(dag_run, "submit", output) >= 1
    job_name = xcom(dag_run, "submit", "run_id")
    final = "Completed" if state == "success" else "Failed"
    assert raw.job(job_name)["properties"]["status"] == final
    if state == "success":
        assert xcom(dag_run, "submit", "run_status") == "Finished"
    for fragment in expected:
        assert fragment in output, fragment
    assert len(raw.job_names()) - jobs == 1


# --------------------------------------------------------------------------------------------
# The publish and endpoint DAG of tests/dags, unchanged, on v2
# --------------------------------------------------------------------------------------------
def test_publish_and_endpoint_dag_runs_on_v2_unchanged(
    emulator_v2: EmulatorProcess, raw: RawArm, run_v2_dag: Callable[..., Any]
) -> None:
    name = f"scored_{time.time_ns() % 10**8}"
    endpoint_name = f"dag-ep-{time.time_ns() % 10**8}"
    dag_run = run_v2_dag(
        "mlp_test_publish_reuse",
        training_run_id=emulator_v2.manifest["v2_pipeline_jobs"]["score"],
        name=name,
        version="3",
        endpoint_name=endpoint_name,
    )
    assert dag_run.state == "success"
    pipeline_id = xcom(dag_run, "publish", "pipeline_id")
    assert pipeline_id.endswith(f"/components/{name}/versions/3")
    # The endpoint's version is the deployment, named after the component and its version.
    deployment = xcom(dag_run, "endpoint", "version")
    assert deployment == f"{name.replace('_', '-')}-3"
    assert xcom(dag_run, "endpoint", "default_version") == deployment
    assert xcom(dag_run, "endpoint", "endpoint_url").endswith(f"/inference/{endpoint_name}/jobs")
    body = raw.get(f"/batchEndpoints/{endpoint_name}", "2023-10-01").json()
    assert body["properties"]["defaults"]["deploymentName"] == deployment
    deployed = raw.get(
        f"/batchEndpoints/{endpoint_name}/deployments/{deployment}", "2024-01-01-preview"
    ).json()
    assert deployed["properties"]["deploymentConfiguration"]["componentId"]["assetId"] == (
        pipeline_id
    )


async def test_the_trigger_fires_canceled_for_a_v2_job_canceled_while_it_waits(
    emulator_v2: EmulatorProcess, conn_id: str, deployed: Deployed
) -> None:
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
        AzureMLPipelineRunTrigger,
    )

    job_name = _job(conn_id, deployed, duration_seconds=120)
    reads = requests_named(emulator_v2, "query runs")

    def cancel_once_polled() -> None:
        # Canceled elsewhere (the studio, another task) once the trigger has polled twice
        # (run history's batch read: the trigger reads no ARM job while it waits).
        wait_until(lambda: requests_named(emulator_v2, "query runs") - reads >= 2, 60, "polls")
        with AzureMLPipelinesHook(conn_id) as hook:
            hook.cancel_pipeline_run(job_name)

    canceller = threading.Thread(target=cancel_once_polled, daemon=True)
    canceller.start()
    trigger = AzureMLPipelineRunTrigger(
        job_name,
        azure_ml_pipelines_conn_id=conn_id,
        poll_interval=0.5,
        timeout=120,
        experiment_name="v2-sensor",
    )
    events = [event.payload async for event in trigger.run()]
    canceller.join(timeout=60)
    assert [(e["status"], e["run_id"], e["run_status"]) for e in events] == [
        ("terminal", job_name, "Canceled")
    ]
