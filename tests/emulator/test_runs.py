"""Runs of the default workspace, executed for real: parameters, data paths, logs, cancel,
simulated steps, run history and the emulator's own routes."""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import HistoryRun, HistoryRunPage, StepStatus
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus

FINISHED, FAILED, CANCELED = 3, 2, 4


def _status(run: dict[str, Any]) -> PipelineRunStatus:
    return PipelineRunStatus.from_status(run["Status"]["StatusCode"])


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def test_epochs_change_the_trained_model(api: ApiClient, published: dict[str, Any]) -> None:
    pid = published["train"]["Id"]
    short = api.submit(pid, ParameterAssignments={"epochs": "2"})
    full = api.submit(pid, ParameterAssignments={"epochs": "150", "learning_rate": "0.2"})
    models = {}
    for run in (short, full):
        done = api.wait(run["Id"])
        assert _status(done) is PipelineRunStatus.FINISHED, done["Status"]
        models[run["Id"]] = json.loads(
            Path(api.output_path(run["Id"], "train", "model")).read_text()
        )
    assert models[short["Id"]]["epochs"] == 2
    assert models[full["Id"]]["learning_rate"] == 0.2
    assert models[short["Id"]]["weights"] != models[full["Id"]]["weights"]
    assert models[full["Id"]]["train_mse"] < models[short["Id"]]["train_mse"] / 10
    assert "epochs=150" in api.log(full["Id"], "train")
    assert "validation_mse=" in api.log(full["Id"], "evaluate")
    run = api.ok(routes.RUN_GET, run_id=full["Id"])
    assert run["ParameterAssignments"]["epochs"] == "150"
    assert run["ParameterAssignments"]["sleep_seconds"] == "0.0"


def test_data_path_assignment_changes_the_file_scored(
    api: ApiClient, published: dict[str, Any]
) -> None:
    pid = published["score"]["Id"]
    datastore = api.manifest["datastores"]["workspaceblobstore"]
    default = api.submit(pid)
    second_day = api.submit(
        pid,
        DataPathAssignments={
            "input_data": {
                "DataStoreName": "workspaceblobstore",
                "RelativePath": "scoring/2026-01-02.csv",
            }
        },
    )
    literal = api.submit(
        pid,
        DataSetDefinitionValueAssignments={
            "input_data": {
                "LiteralValue": {
                    "DataStoreName": "workspaceblobstore",
                    "RelativePath": "scoring/2026-01-02.csv",
                }
            }
        },
    )
    rows = {}
    for run in (default, second_day, literal):
        assert _status(api.wait(run["Id"])) is PipelineRunStatus.FINISHED
        path = Path(api.output_path(run["Id"], "score", "predictions"))
        assert path == Path(datastore) / "predictions" / f"{run['Id']}.csv"
        with path.open() as handle:
            rows[run["Id"]] = list(csv.DictReader(handle))
    assert len(rows[default["Id"]]) == 40
    assert rows[default["Id"]][0]["id"].startswith("2026-01-01")
    assert len(rows[second_day["Id"]]) == 60
    assert rows[second_day["Id"]][0]["id"].startswith("2026-01-02")
    assert rows[literal["Id"]] == rows[second_day["Id"]]
    assert "scoring/2026-01-02.csv" in api.log(second_day["Id"], "score")


def test_a_failing_step_fails_the_run_and_serves_its_stderr(
    api: ApiClient, published: dict[str, Any]
) -> None:
    run = api.submit(
        published["train"]["Id"],
        DataPathAssignments={
            "training_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "missing.csv"}
        },
    )
    done = api.wait(run["Id"])
    assert _status(done) is PipelineRunStatus.FAILED
    assert "exited with code 2" in done["Status"]["StatusDetail"]
    assert done["HasErrors"] is True
    assert "input file not found" in api.log(run["Id"], "train", "STDERR")
    steps = StepStatus.map_from_json(api.steps(run["Id"]))
    by_node = {api.node_of(run["Id"], name): name for name in ("train", "evaluate")}
    statuses = {by_node[node]: step.status for node, step in steps.items()}
    assert statuses == {"train": StepRunStatus.FAILED, "evaluate": StepRunStatus.NOT_STARTED}
    job_log = api.log(run["Id"], "train", "JobLog")
    assert "Exit code: 2" in job_log
    history = api.ok(routes.HISTORY_RUN, run_id=run["Id"])
    assert history["status"] == "Failed"
    assert history["error"]["error"]["message"] == done["Status"]["StatusDetail"]


def test_cancel_kills_the_running_step_process(api: ApiClient, published: dict[str, Any]) -> None:
    run = api.submit(published["train"]["Id"], ParameterAssignments={"sleep_seconds": "60"})
    api.wait_for_step(run["Id"], "train", StepRunStatus.RUNNING.code)
    deadline = time.monotonic() + 10
    while "sleeping 60 s" not in (api.log(run["Id"], "train") or ""):
        assert time.monotonic() < deadline, "the step never started sleeping"
        time.sleep(0.05)
    pids = _processes_mentioning(run["Id"])
    assert pids
    assert api.ok(routes.RUN_CANCEL, run_id=run["Id"]) is None
    done = api.wait(run["Id"], timeout=20)
    assert _status(done) is PipelineRunStatus.CANCELED
    assert _processes_mentioning(run["Id"]) == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    statuses = {s["StatusCode"] for s in api.steps(run["Id"]).values()}
    assert statuses == {StepRunStatus.CANCELED.code}
    assert api.ok(routes.RUN_CANCEL, run_id=run["Id"]) is None  # cancelling again is a no-op


def test_simulated_runs_in_bulk_run_concurrently(api: ApiClient, published: dict[str, Any]) -> None:
    pid = published["simulated"]["Id"]
    body = {"ExperimentName": "bulk", "ParameterAssignments": {"duration_seconds": "4"}}
    with ThreadPoolExecutor(8) as pool:
        submitted = list(
            pool.map(
                lambda _: api.ok(routes.PIPELINE_SUBMIT, body=body, pipeline_id=pid), range(200)
            )
        )
    failing = api.submit(pid, ParameterAssignments={"duration_seconds": "0", "outcome": "Failed"})
    runs = [api.wait(run["Id"]) for run in submitted]
    assert {_status(run) for run in runs} == {PipelineRunStatus.FINISHED}
    # Concurrency without timing assumptions: many runs were still going when the last began.
    last_created = max(datetime.fromisoformat(r["Status"]["CreationTime"]) for r in runs)
    overlapping = [r for r in runs if datetime.fromisoformat(r["Status"]["EndTime"]) > last_created]
    assert len(overlapping) >= 100
    failed = api.wait(failing["Id"])
    assert _status(failed) is PipelineRunStatus.FAILED
    assert "Simulated failure" in failed["Status"]["StatusDetail"]
    assert "Simulated step 'work'" in api.log(runs[0]["Id"], "work")


def test_cancel_a_simulated_run(api: ApiClient, published: dict[str, Any]) -> None:
    run = api.submit(published["simulated"]["Id"], ParameterAssignments={"duration_seconds": "30"})
    api.ok(routes.RUN_CANCEL, run_id=run["Id"])
    assert _status(api.wait(run["Id"], timeout=5)) is PipelineRunStatus.CANCELED


def test_run_history_views(api: ApiClient, published: dict[str, Any]) -> None:
    run = api.submit(
        published["simulated"]["Id"],
        ExperimentName="history-exp",
        ParameterAssignments={"duration_seconds": "0"},
        tags={"team": "ml"},
    )
    api.wait(run["Id"])
    dto = HistoryRun.from_json(
        api.ok(routes.HISTORY_EXPERIMENT_RUN, experiment_name="history-exp", run_id=run["Id"])
    )
    assert dto.status == "Completed"
    assert dto.pipeline_status is PipelineRunStatus.FINISHED
    assert dto.properties["azureml.pipelineid"] == published["simulated"]["Id"]
    assert dto.tags == {"team": "ml"}
    assert dto.start_time_utc and dto.end_time_utc
    assert api.ok(routes.HISTORY_RUN, run_id=run["Id"])["runId"] == run["Id"]
    wrong = api.request(routes.HISTORY_EXPERIMENT_RUN, experiment_name="other", run_id=run["Id"])
    assert wrong.status_code == 404
    assert wrong.json()["error"]["code"] == "NotFound"
    details = api.ok(routes.HISTORY_RUN_DETAILS, experiment_name="history-exp", run_id=run["Id"])
    assert details["status"] == "Completed"

    first = HistoryRunPage.from_json(
        api.ok(
            routes.HISTORY_RUN_CHILDREN,
            params={routes.QUERY_TOP: "1"},
            experiment_name="history-exp",
            run_id=run["Id"],
        )
    )
    assert len(first.value) == 1
    assert first.continuation_token
    second = HistoryRunPage.from_json(
        api.ok(
            routes.HISTORY_RUN_CHILDREN,
            params={routes.QUERY_TOP: "1", routes.QUERY_CONTINUATION: first.continuation_token},
            experiment_name="history-exp",
            run_id=run["Id"],
        )
    )
    assert second.continuation_token is None
    children = first.value + second.value
    assert [c.name for c in children] == ["prepare", "work"]
    assert all(c.tags[HistoryRun.PIPELINE_TAG] == run["Id"] for c in children)
    assert {c.node_id for c in children} == set(api.steps(run["Id"]))
    assert all(c.parent_run_id == run["Id"] for c in children)
    step_dto = api.ok(routes.HISTORY_RUN, run_id=children[0].run_id)
    assert step_dto["parentRunId"] == run["Id"]
    bad = api.request(
        routes.HISTORY_RUN_CHILDREN,
        params={routes.QUERY_CONTINUATION: "garbage"},
        experiment_name="history-exp",
        run_id=run["Id"],
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidContinuationToken"
    page = api.get(f"/studio/runs/{run['Id']}")
    assert page.status_code == 200
    assert "Finished" in page.text


def test_step_log_and_output_errors(api: ApiClient) -> None:
    run_id = api.manifest["pipeline_runs"]["train"]
    kind = api.request(routes.RUN_STEP_LOG, body=["x"], run_id=run_id, log_kind="Other")
    assert kind.status_code == 400
    assert "STDOUT, STDERR, JobLog" in kind.json()["Error"]["Message"]
    node = api.request(routes.RUN_STEP_LOG, body=["nonode"], run_id=run_id, log_kind="STDOUT")
    assert node.status_code == 404
    empty = api.request(routes.RUN_STEP_OUTPUTS, body=[], run_id=run_id)
    assert empty.status_code == 400
    not_list = api.request(routes.RUN_STEP_STATUSES, body={"a": 1}, run_id=run_id)
    assert not_list.status_code == 400


def test_discovery_manifest_and_stats(api: ApiClient) -> None:
    discovery = api.session.get(api.manifest["discovery_url"], verify=api.ca, timeout=30).json()
    assert discovery["api"] == api.base_url
    assert discovery["history"] == api.base_url
    assert discovery["studio"] == api.manifest["studio_url"] == api.base_url + "/studio"
    assert api.get("/discovery/workspaces/other").status_code == 404
    assert api.get("/_emulator/manifest").json() == api.manifest
    before = api.get("/_emulator/stats").json()
    api.ok(routes.PIPELINE_LIST)
    after = api.get("/_emulator/stats").json()
    assert after["requests"]["list pipelines"] == before["requests"].get("list pipelines", 0) + 1
    assert after["tokens_issued"] >= 1
    assert after["responses"]["200"] > before["responses"]["200"]
