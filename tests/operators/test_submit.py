"""The submit operator against the emulator, in synchronous and deferred mode, for every target."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import deferrals
from tests.run_holding import run_held

from .conftest import task_state, xcom

MODES = ("sync", "deferred")


def _datastore(session_conn: dict[str, Any]) -> Path:
    return Path(session_conn["datastores"]["workspaceblobstore"])


def _target(kind: str, published: dict[str, Any]) -> dict[str, Any]:
    endpoint = published["endpoint"]
    return {
        "pipeline": {"target": published["score"]},
        "endpoint_id": {"target": endpoint.id},
        "endpoint_name": {"target": endpoint.name},
        "url": {"target": endpoint.url},
    }[kind]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["pipeline", "endpoint_id", "endpoint_name", "url"])
def test_submit_scores_the_assigned_day_and_pushes_run_facts(
    run_dag: Any,
    hook: Any,
    published: dict[str, Any],
    session_conn: dict[str, Any],
    mode: str,
    kind: str,
    emulator: EmulatorProcess,
    task_output: Callable[[], str],
) -> None:
    day = "2026-01-02"
    # Scoring takes well under a second: the run stays queued until the task has looked, so
    # the deferred mode really defers.
    dag_run = run_held(
        emulator,
        run_dag,
        f"mlp_test_submit_{mode}_{kind}",
        **_target(kind, published),
        parameters={"round_digits": 3},
        data_path_assignments={
            "input_data": {"datastore": "workspaceblobstore", "path": f"scoring/{day}.csv"}
        },
    )
    assert dag_run.state == "success"
    run_id = xcom(dag_run, "submit")
    assert xcom(dag_run, "submit", "run_id") == run_id
    assert run_id in xcom(dag_run, "submit", "run_url")
    assert xcom(dag_run, "submit", "run_status") == "Finished"
    # The deferred mode waited in a trigger; the sync mode did not.
    assert (deferrals(dag_run, "submit", task_output()) >= 1) == (mode == "deferred")

    run = hook.get_pipeline_run(run_id)
    assert run.status == PipelineRunStatus.FINISHED
    assert run.pipeline_id == published["score"]
    assert run.tags["airflow.dag_id"] == f"mlp_test_submit_{mode}_{kind}"
    assert run.tags["airflow.task_id"] == "submit"
    assert run.tags["suite"] == "operators"

    with (_datastore(session_conn) / "predictions" / f"{run_id}.csv").open() as handle:
        predictions = list(csv.DictReader(handle))
    with (_datastore(session_conn) / "scoring" / f"{day}.csv").open() as handle:
        inputs = list(csv.DictReader(handle))
    assert [row["id"] for row in predictions] == [row["id"] for row in inputs]
    assert all(len(row["prediction"].split(".")[-1]) <= 3 for row in predictions)


@pytest.mark.parametrize("mode", MODES)
def test_data_path_assignment_changes_the_file_scored(
    run_dag: Any, published: dict[str, Any], session_conn: dict[str, Any], mode: str
) -> None:
    counts = {}
    for day in ("2026-01-01", "2026-01-02"):
        dag_run = run_dag(
            f"mlp_test_submit_{mode}_pipeline",
            target=published["score"],
            data_path_assignments={
                "input_data": {
                    "DataStoreName": "workspaceblobstore",
                    "RelativePath": f"scoring/{day}.csv",
                }
            },
        )
        assert dag_run.state == "success"
        path = _datastore(session_conn) / "predictions" / f"{xcom(dag_run, 'submit')}.csv"
        counts[day] = len(path.read_text().strip().splitlines()) - 1
    inputs = {
        day: len(
            (_datastore(session_conn) / "scoring" / f"{day}.csv").read_text().strip().splitlines()
        )
        - 1
        for day in counts
    }
    assert counts == inputs
    assert counts["2026-01-01"] != counts["2026-01-02"]


def test_parameters_change_what_training_computes(
    run_dag: Any, published: dict[str, Any], session_conn: dict[str, Any]
) -> None:
    models = {}
    for epochs in (1, 200):
        dag_run = run_dag(
            "mlp_test_submit_sync_pipeline",
            target=published["train"],
            parameters={"epochs": epochs, "learning_rate": 0.05},
        )
        assert dag_run.state == "success"
        run_dir = _datastore(session_conn) / "models" / xcom(dag_run, "submit")
        models[epochs] = json.loads((run_dir / "metrics.json").read_text())
    assert models[1] != models[200]
    assert models[200]["validation_mse"] < models[1]["validation_mse"]


def test_parameters_from_a_templated_json_file(
    run_dag: Any, hook: Any, published: dict[str, Any]
) -> None:
    dag_run = run_dag("mlp_test_parameters_file", target=published["train"], epochs=9)
    assert dag_run.state == "success"
    run = hook.get_pipeline_run(xcom(dag_run, "submit"))
    assert run.parameter_assignments["epochs"] == "9"
    assert run.parameter_assignments["learning_rate"] == "0.05"


def test_no_wait_returns_at_once_with_the_run_id(
    run_dag: Any, hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    # The run stays queued for the whole test: only a task that did not wait can succeed.
    with emulator.faults(queue_seconds=3600):
        dag_run = run_dag("mlp_test_no_wait", target=published["train"])
    assert dag_run.state == "success"
    run_id = xcom(dag_run, "submit")
    assert xcom(dag_run, "submit", "run_status") == "NotStarted"
    assert not hook.get_pipeline_run(run_id).status.is_terminal
    hook.cancel_pipeline_run(run_id)
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED


@pytest.mark.parametrize(
    ("conf", "fragment"),
    [
        ({"parameters": {"epoch": 3}}, "unknown parameter 'epoch' (declared parameters: "),
        ({"parameters": {"epochs": "many"}}, "'epochs'"),
        (
            {
                "data_path_assignments": {
                    "trainig_data": {"datastore": "workspaceblobstore", "path": "x"}
                }
            },
            "trainig_data",
        ),
    ],
)
def test_bad_parameters_fail_before_anything_is_submitted(
    run_dag: Any,
    hook: Any,
    published: dict[str, Any],
    conf: dict[str, Any],
    fragment: str,
    task_output: Callable[[], str],
) -> None:
    before = len(hook.list_pipeline_runs(published["train"]))
    dag_run = run_dag("mlp_test_submit_sync_pipeline", target=published["train"], **conf)
    assert dag_run.state == "failed"
    assert task_state(dag_run, "submit") == "failed"
    assert len(hook.list_pipeline_runs(published["train"])) == before
    output = task_output()
    assert "AzureMLInvalidInputError" in output
    assert fragment in output
