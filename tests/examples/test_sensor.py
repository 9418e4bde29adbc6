"""example_mlpipelines_sensor, run with dag.test() against the session emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

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


def reschedules(dag_run: Any, task_id: str) -> int:
    """How many times the task instance gave its slot back (reschedule mode)."""
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    ti = dag_run.get_task_instance(task_id)
    if hasattr(TaskReschedule, "ti_id"):
        condition = [TaskReschedule.ti_id == ti.id]
    else:  # Airflow 2 keys reschedules by the task instance's natural key
        condition = [
            TaskReschedule.dag_id == ti.dag_id,
            TaskReschedule.task_id == ti.task_id,
            TaskReschedule.run_id == ti.run_id,
        ]
    with create_session() as session:
        return int(session.scalar(select(func.count()).where(*condition)) or 0)


def test_waits_for_a_run_submitted_outside_airflow(
    run_example: Callable[..., Any], examples_hook: Any, training_pipeline: str
) -> None:
    # Long enough that the sensor's first poke finds it still going, even on a slow machine.
    run_id = submit(examples_hook, training_pipeline, sleep_seconds=8)
    dag_run = run_example(DAG_ID, run_id=run_id)
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
