"""example_mlpipelines_sensor, run with dag.test() against the session emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import reschedules
from tests.run_holding import RunHold

from .conftest import task_state, xcom

DAG_ID = "example_mlpipelines_sensor"


@pytest.fixture(scope="module")
def training_pipeline(examples_hook: Any, deployment: dict[str, Any]) -> str:
    """A published training pipeline to submit runs to, as a system outside Airflow would."""
    run_id = deployment["pipeline_runs"]["train"]
    return examples_hook.publish_pipeline_from_run(run_id, name="housing-train-sensor").id


def submit(hook: Any, pipeline_id: str, **parameters: Any) -> str:
    submission = hook.build_submission(
        experiment_name="submitted-outside-airflow", parameters=parameters
    )
    return hook.submit_pipeline_run(pipeline_id, submission).id


def test_waits_for_a_run_submitted_outside_airflow(
    run_example: Callable[..., Any],
    examples_hook: Any,
    training_pipeline: str,
    emulator: EmulatorProcess,
) -> None:
    # The run stays queued until the sensor's first poke has seen it, however slowly Airflow
    # starts: the sensor must reschedule at least once.
    with RunHold(emulator) as hold:
        run_id = submit(examples_hook, training_pipeline)
        hold.release_after_reads(1)
        dag_run = run_example(DAG_ID, run_id=run_id)
    assert hold.released, "the sensor never read the run's status"
    assert dag_run.state == "success"
    assert reschedules(dag_run, "wait_for_run") >= 1, "the sensor never had to wait"
    assert xcom(dag_run, "wait_for_run", "run_status") == "Finished"
    summary = xcom(dag_run, "summarize_run")
    assert summary["run_id"] == run_id
    assert summary["status"] == "Finished"
    assert summary["pipeline_id"] == training_pipeline
    assert sorted(summary["steps"].values()) == ["Finished", "Finished"]
    assert summary["run_url"] == examples_hook.get_run_url(run_id)


def test_a_failed_run_fails_the_sensor(
    run_example: Callable[..., Any], examples_hook: Any, training_pipeline: str
) -> None:
    run_id = submit(examples_hook, training_pipeline, epochs=0)
    dag_run = run_example(DAG_ID, run_id=run_id)
    assert dag_run.state == "failed"
    assert task_state(dag_run, "wait_for_run") == "failed"
    assert xcom(dag_run, "wait_for_run", "run_status") == "Failed"
    assert task_state(dag_run, "summarize_run") == "upstream_failed"
