"""Microsoft's own v1 client against the emulator: the independent check of the wire contract.

The emulator and this provider's hooks share ``airflow_provider_mlpipelines.api``, so tests that
pass through both prove only that they agree with each other. Here the emulator is driven by the
REST client that ``azureml-pipeline-core==1.62.0`` ships (``AMLPipelinesAPI10``, with its msrest
models), installed in its own venv (``.venv-ms-v1``, see ``ms_venv.py``) and run as a subprocess
(``ms_v1_driver.py``). Part of the normal suite: nothing is skipped; when the venv cannot be
installed the test fails with pip's output.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import EntityStatus, PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import MANIFEST_FILE, EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from tests.wire.ms_venv import MS_V1, ensure_ms_python

DRIVER = Path(__file__).with_name("ms_v1_driver.py")

#: Every operation the driver must report, with how many times (``None``: at least once).
EXPECTED_OPS: dict[str, int | None] = {
    "token": 1,
    "get_run": None,
    "get_graph": 2,
    "get_graph_interface": 3,
    "create_pipeline": 2,
    "get_pipeline": 1,
    "list_pipelines": 1,
    "create_endpoint": 1,
    "get_endpoint_by_id": 1,
    "get_endpoint_by_name": 1,
    "update_endpoint": 1,
    "list_endpoints": 1,
    "list_endpoint_pipelines": 1,
    "submit_to_pipeline": 2,
    "submit_to_endpoint": 2,
    "get_step_statuses": 4,
    "get_step_stdout": 3,
    "get_step_outputs": 1,
    "list_runs_of_pipeline": 1,
    "cancel_run": 1,
    "set_pipeline_status": 1,
    "error_not_found": 1,
    "done": 1,
}

#: Emulator request counters (``GET /_emulator/stats``) the walk must move by exactly this.
EXPECTED_REQUESTS = {
    "token": 1,
    "publish pipeline": 2,
    "create endpoint": 1,
    "get endpoint": 1,
    "get endpoint by name": 1,
    "update endpoint": 1,
    "list endpoints": 1,
    "list pipelines of endpoint": 1,
    "submit to pipeline": 2,
    "submit to endpoint": 1,
    "submit to endpoint version": 1,
    "cancel run": 1,
    "set pipeline status": 1,
    "get step outputs": 1,
    "get step log": 3,
    "get step statuses": 4,
}


@pytest.fixture(scope="session")
def ms_v1_python() -> Path:
    """The python of ``.venv-ms-v1`` (created and installed on first use)."""
    return ensure_ms_python(MS_V1)


def _quiet_stats(emulator: EmulatorProcess, timeout: float = 120.0) -> dict[str, Any]:
    """The stats once no run is in flight (the seed runs of a fresh emulator have ended)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = emulator.stats()
        if stats["runs_in_flight"] == 0:
            return stats
        assert time.monotonic() < deadline, f"runs still in flight after {timeout:g} s: {stats}"
        time.sleep(0.2)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


def test_microsoft_v1_client_walks_the_contract(
    emulator_factory: Callable[..., EmulatorProcess],
    ms_v1_python: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = emulator_factory()
    before = _quiet_stats(emulator)

    done = subprocess.run(
        [str(ms_v1_python), str(DRIVER), str(emulator.state_dir / MANIFEST_FILE)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = (
        f"driver exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    )
    assert done.returncode == 0, report
    secret = emulator.manifest["client_secret"]
    assert secret not in done.stdout + done.stderr, "the client secret leaked into the output"

    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert not [line for line in lines if "error" in line], report
    counts = Counter(line["op"] for line in lines)
    for op, expected in EXPECTED_OPS.items():
        if expected is None:
            assert counts[op] >= 1, f"operation {op!r} missing\n{report}"
        else:
            assert counts[op] == expected, f"operation {op!r} ran {counts[op]} times\n{report}"
    assert set(counts) == set(EXPECTED_OPS), report
    for line in lines:
        if line["op"] not in {"token", "done"}:
            assert line["client_method"].startswith("api_v10_subscriptions_by_subscription_id")

    # The emulator saw exactly these calls, each on its own route (a version in the submit
    # path is counted apart from a plain endpoint submit), and refused only the deliberate one.
    after = _quiet_stats(emulator)
    requests = _delta(after["requests"], before["requests"])
    for route, expected in EXPECTED_REQUESTS.items():
        assert requests.get(route, 0) == expected, f"{route!r}: {requests}"
    responses = _delta(after["responses"], before["responses"])
    assert {code: n for code, n in responses.items() if n and code != "200"} == {"404": 1}, (
        responses
    )
    runs = _delta(after["runs"], before["runs"])
    assert {k: v for k, v in runs.items() if v} == {"Finished": 3, "Canceled": 1}, runs

    # Read back through this provider's own hook what Microsoft's client created.
    created = [line for line in lines if line["op"] == "create_pipeline"]
    endpoint_line = next(line for line in lines if line["op"] == "create_endpoint")
    submitted = {
        line["run_id"]: line["pipeline_id"]
        for line in lines
        if line["op"] in {"submit_to_pipeline", "submit_to_endpoint"}
    }
    canceled = next(line["run_id"] for line in lines if line["op"] == "cancel_run")
    monkeypatch.setenv("AIRFLOW_CONN_MS_WIRE", emulator.airflow_conn)
    with AzureMLPipelinesHook("ms_wire") as hook:
        endpoint = hook.get_pipeline_endpoint(name=endpoint_line["name"])
        assert endpoint.id == endpoint_line["endpoint_id"]
        assert endpoint.default_version == "0"
        assert [(v.version, v.pipeline_id) for v in endpoint.versions] == [
            ("0", created[0]["pipeline_id"]),
            ("1", created[1]["pipeline_id"]),
        ]
        assert hook.get_published_pipeline(created[1]["pipeline_id"]).status == (
            EntityStatus.DISABLED
        )
        assert len(submitted) == 4
        for run_id, pipeline_id in submitted.items():
            run = hook.get_pipeline_run(run_id)
            assert run.pipeline_id == pipeline_id
            wanted = (
                PipelineRunStatus.CANCELED if run_id == canceled else PipelineRunStatus.FINISHED
            )
            assert run.status is wanted, (run_id, run.status)
