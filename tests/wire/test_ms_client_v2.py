"""Microsoft's own v2 client (``azure-ai-ml`` 1.35.2, ``MLClient``) works against the emulator.

The emulator and the provider share ``api/v2``; this test is the independent check the v2
contract asks for: Microsoft's client, unmodified, in its own pinned venv (``.venv-ms-v2``,
``constraints/ms-client-v2.txt``), creates a batch endpoint and two pipeline component
deployments (from a component id and from a job), sets the default, invokes, reads and cancels
jobs (``tests/wire/ms_v2_driver.py``). What it did is then checked on the emulator's side.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.emulator.v2_client import V2Client
from tests.wire.ms_venv import MS_V2, ensure_ms_python

DRIVER = Path(__file__).with_name("ms_v2_driver.py")
EXPECTED_STEPS = [
    "components.get",
    "batch_endpoints.begin_create_or_update",
    "batch_deployments.begin_create_or_update",
    "batch_deployments.from_job_definition",
    "batch_endpoints.set_default",
    "batch_endpoints.invoke",
    "jobs.begin_cancel",
]


@pytest.mark.timeout(2400)
def test_mlclient_drives_endpoints_deployments_and_jobs(tmp_path: Path) -> None:
    python = ensure_ms_python(MS_V2)
    with EmulatorProcess(tmp_path / "emulator") as emulator:
        done = subprocess.run(
            [str(python), str(DRIVER), str(emulator.state_dir / "manifest.json")],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert [step["step"] for step in steps] == EXPECTED_STEPS
        by_step = {step["step"]: step for step in steps}

        # What the emulator holds, read over its own REST routes, not through the SDK.
        client = V2Client(emulator.manifest)
        try:
            deployments = client.arm(
                "GET", "/batchEndpoints/mlclient-scoring/deployments", "2024-01-01-preview"
            ).json()["value"]
            assert sorted(d["name"] for d in deployments) == ["blue", "timer"]
            endpoint = client.arm("GET", "/batchEndpoints/mlclient-scoring").json()
            assert endpoint["properties"]["defaults"] == {"deploymentName": "blue"}
            scored = client.job(by_step["batch_endpoints.invoke"]["job"])
            assert scored["properties"]["status"] == "Completed"
            assert scored["properties"]["tags"]["azureml.deploymentname"] == "blue"
            canceled = client.job(by_step["jobs.begin_cancel"]["job"])
            assert canceled["properties"]["status"] == "Canceled"
        finally:
            client.close()
        invokes = emulator.stats()["requests"].get("invoke batch endpoint", 0)
        assert invokes == 2
