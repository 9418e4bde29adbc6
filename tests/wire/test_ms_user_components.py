"""A user's own components, registered and run with Microsoft's ``MLClient`` (azure-ai-ml 1.35.2).

``ms_v2_components_driver.py`` registers the example pipeline of
``dags_examples/v2_own_pipeline`` (command components from YAML with a local ``code`` folder the
SDK uploads, a pipeline component from YAML and one from ``@dsl.pipeline``), re-registers,
runs a ``PipelineJob``, deploys and invokes a batch endpoint, and runs a failing and a canceled
pipeline. What it did is then checked on the emulator's side, over its own REST routes: the
uploaded code in the datastore, the child jobs and their logs, the outputs, the failure text.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.emulator.v2_client import V2Client
from tests.wire.ms_venv import MS_V2, ensure_ms_python

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("ms_v2_components_driver.py")
PIPELINE_DIR = ROOT / "dags_examples" / "v2_own_pipeline"
EXPECTED_STEPS = [
    "components.create_or_update.command",
    "components.immutable",
    "components.create_or_update.pipeline_yaml",
    "components.create_or_update.pipeline_dsl",
    "jobs.create_or_update.pipeline_job",
    "batch_endpoints.invoke",
    "jobs.failed",
    "jobs.begin_cancel",
]


def _children(client: V2Client, job: str) -> list[dict[str, Any]]:
    ws = client.ws
    response = client.url(f"{client.base_url}/history/v1.0{ws}/runs/{job}/children")
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def _std_log(client: V2Client, experiment: str, child: dict[str, Any]) -> str:
    ws = client.ws
    details = client.url(
        f"{client.base_url}/history/v1.0{ws}/experiments/{experiment}/runs/{child['runId']}/details"
    )
    assert details.status_code == 200, details.text
    log_url = details.json()["logFiles"]["user_logs/std_log.txt"]
    response = client.session.get(log_url, verify=client.ca, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.text)


@pytest.mark.timeout(2400)
def test_mlclient_registers_and_runs_own_components(tmp_path: Path) -> None:
    python = ensure_ms_python(MS_V2)
    with EmulatorProcess(tmp_path / "emulator") as emulator:
        done = subprocess.run(
            [
                str(python),
                str(DRIVER),
                str(emulator.state_dir / "manifest.json"),
                str(PIPELINE_DIR),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-6000:]
        steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert [step["step"] for step in steps] == EXPECTED_STEPS
        by_step = {step["step"]: step for step in steps}
        assert "own_prep" in by_step["components.immutable"]["refused"]
        assert by_step["jobs.create_or_update.pipeline_job"]["children"] == ["prepared", "trained"]
        assert by_step["jobs.begin_cancel"]["killed"], "no step process was seen before cancel"

        # The SDK uploaded the code folder to the emulator: both scripts are in the datastore.
        datastore = emulator.state_dir / "datastores" / "workspaceblobstore"
        uploaded = sorted(p.name for p in (datastore / "LocalUpload").glob("*/src/*.py"))
        assert {"prep.py", "train.py"} <= set(uploaded)
        stats = emulator.stats()["requests"]
        assert stats.get("start pending upload", 0) >= 1
        assert stats.get("put blob", 0) >= 2

        client = V2Client(emulator.manifest)
        try:
            # The pipeline job ran both steps, in order, each with its own status and log.
            job = by_step["jobs.create_or_update.pipeline_job"]["job"]
            children = _children(client, job)
            assert [c["displayName"] for c in children] == ["prepared", "trained"]
            assert [c["status"] for c in children] == ["Completed", "Completed"]
            log = _std_log(client, "own-components", children[0])
            assert "python prep.py" in log and "prepared 25 rows" in log, log
            model = json.loads(
                (datastore / "azureml" / job / "trained" / "model" / "model.json").read_text()
            )
            assert model["rows"] == 25

            # The batch endpoint's job ran the YAML pipeline with its default max_rows.
            batch = by_step["batch_endpoints.invoke"]["job"]
            assert client.job(batch)["properties"]["status"] == "Completed"
            prepared = datastore / "azureml" / batch / "prep" / "prepared" / "prepared.csv"
            rows = prepared.read_text().splitlines()
            source = (datastore / "housing" / "train.csv").read_text().splitlines()
            source += (datastore / "housing" / "validation.csv").read_text().splitlines()[1:]
            assert len(rows) - 1 == min(1000, len(source) - 1)

            # The failing job names its step and the end of the step's stderr.
            failed = client.job(by_step["jobs.failed"]["job"])["properties"]
            assert failed["status"] == "Failed"
            assert "own_fail" in failed["error"]["message"]
            assert "boom-marker" in failed["error"]["message"]
        finally:
            client.close()
