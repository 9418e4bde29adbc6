"""State survives a restart; runs in flight end Failed; a crash leaves no orphan steps."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess


def _wait_for_log(client: ApiClient, run_id: str, step: str, text: str) -> None:
    deadline = time.monotonic() + 15
    while text not in (client.log(run_id, step) or ""):
        assert time.monotonic() < deadline, f"{step} of {run_id} never logged {text!r}"
        time.sleep(0.05)


def _wait_for_saved_pid(process: EmulatorProcess, run_id: str, pid: int) -> None:
    """Poll the state file until the run's document records the step's pid."""
    database = f"file:{process.state_dir / 'state.sqlite'}?mode=ro"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.closing(sqlite3.connect(database, uri=True, timeout=5)) as db:
            row = db.execute(
                "SELECT body FROM documents WHERE kind = 'run' AND id = ?", (run_id,)
            ).fetchone()
        steps = json.loads(row[0])["steps"] if row else []
        if any(step.get("pid") == pid for step in steps):
            return
        assert time.monotonic() < deadline, f"the state file never recorded step pid {pid}"
        time.sleep(0.05)


def _step_pid(run_id: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if run_id.encode() in cmdline and b"train.py" in cmdline:
                return int(entry.name)
    raise AssertionError(f"no step process of run {run_id}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits to be reaped.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_graceful_restart_keeps_everything(emulator_factory: Any, client_for: Any) -> None:
    process: EmulatorProcess = emulator_factory()
    client: ApiClient = client_for(process)
    ca_before = Path(process.ca_bundle).read_bytes()
    token = client.token()
    train = client.publish("train")
    simulated = client.publish("simulated")
    endpoint = client.ok(
        routes.ENDPOINT_CREATE, body={"Name": "survivor", "PipelineId": simulated["Id"]}
    )
    finished = client.wait(
        client.submit(simulated["Id"], ParameterAssignments={"duration_seconds": "0"})["Id"]
    )
    in_flight = client.submit(simulated["Id"], ParameterAssignments={"duration_seconds": "60"})
    real = client.submit(train["Id"], ParameterAssignments={"sleep_seconds": "60"})
    _wait_for_log(client, real["Id"], "train", "sleeping")
    step_pid = _step_pid(real["Id"])
    manifest_before = process.manifest

    process.restart()

    assert not _alive(step_pid)
    assert process.base_url == manifest_before["base_url"]
    assert process.manifest["client_secret"] == manifest_before["client_secret"]
    assert process.manifest["pipeline_runs"] == manifest_before["pipeline_runs"]
    assert Path(process.ca_bundle).read_bytes() == ca_before
    assert (
        client.request(routes.PIPELINE_GET, token=token, pipeline_id=train["Id"]).status_code == 200
    )
    by_name = client.ok(routes.ENDPOINT_GET_BY_NAME, params={"Name": "survivor"})
    assert by_name["Id"] == endpoint["Id"]
    again = client.ok(routes.RUN_GET, run_id=finished["Id"])
    assert again["Status"] == finished["Status"]
    for run in (in_flight, real):
        after = client.ok(routes.RUN_GET, run_id=run["Id"])
        assert (
            PipelineRunStatus.from_status(after["Status"]["StatusCode"]) is PipelineRunStatus.FAILED
        )
        assert "emulator restarted" in after["Status"]["StatusDetail"]
    node = client.node_of(real["Id"], "train")
    step = client.steps(real["Id"])[node]
    assert StepRunStatus.parse(step["StatusCode"]) is StepRunStatus.FAILED
    new_run = client.wait(
        client.submit(simulated["Id"], ParameterAssignments={"duration_seconds": "0"})["Id"]
    )
    assert new_run["Status"]["StatusCode"] == 3


def test_crash_restart_kills_orphaned_steps_and_fails_their_runs(
    emulator_factory: Any, client_for: Any
) -> None:
    process: EmulatorProcess = emulator_factory()
    client: ApiClient = client_for(process)
    train = client.publish("train")
    run = client.submit(train["Id"], ParameterAssignments={"sleep_seconds": "60"})
    _wait_for_log(client, run["Id"], "train", "sleeping")
    step_pid = _step_pid(run["Id"])
    # The crash must come after the periodic state flush recorded the running step.
    _wait_for_saved_pid(process, run["Id"], step_pid)

    process.kill()
    assert _alive(step_pid), "the step should outlive a crashed emulator"
    process.start()

    deadline = time.monotonic() + 5
    while _alive(step_pid):
        assert time.monotonic() < deadline, "the orphaned step was not killed"
        time.sleep(0.05)
    after = client.ok(routes.RUN_GET, run_id=run["Id"])
    assert after["Status"]["StatusCode"] == PipelineRunStatus.FAILED.code
    assert "emulator restarted" in after["Status"]["StatusDetail"]


@pytest.mark.parametrize("graceful", [True, False])
def test_stop_returns_and_the_manifest_names_a_live_process(
    emulator_factory: Any, graceful: bool
) -> None:
    process: EmulatorProcess = emulator_factory()
    pid = process.pid
    assert process.manifest["pid"] == pid
    assert process.is_running()
    process.stop(graceful=graceful)
    assert not process.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
