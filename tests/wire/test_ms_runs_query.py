"""azureml-core's own run-history client reads the emulator's ``runs:query``.

The emulator's ``runs:query`` (``emulator/run_query.py``) and this provider's batched reads
share the filter grammar's author; azureml-core (``ExperimentClient``, in ``.venv-ms-v1``, see
``ms_venv.py``) is the independent check: its ``get_runs_by_run_ids`` and ``get_runs`` write the
filters, page sizes and orders, follow the continuation tokens and deserialise the answers
(``ms_runs_query_driver.py``). The runs are submitted here, so what the client reads back is
checked against what exists: ids, statuses, parents, and how many requests its paging took.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.testing import MANIFEST_FILE, EmulatorProcess
from tests.emulator.emulator_client import ApiClient
from tests.emulator.v2_client import V2Client
from tests.wire.ms_venv import MS_V1, ensure_ms_python

DRIVER = Path(__file__).with_name("ms_runs_query_driver.py")
EXPERIMENT = "wire-runs-query"
PAGE_SIZE = 2


def _submit(api: ApiClient, pipeline_id: str, outcome: str, tags: dict[str, str]) -> str:
    params = {"duration_seconds": "0", "outcome": outcome}
    body = {"ExperimentName": EXPERIMENT, "ParameterAssignments": params, "tags": tags}
    return str(api.submit(pipeline_id, **body)["Id"])


def _children(api: ApiClient, run_id: str) -> list[tuple[str, str]]:
    page = api.ok(routes.HISTORY_RUN_CHILDREN, experiment_name=EXPERIMENT, run_id=run_id)
    return [(child["runId"], child["status"]) for child in page["value"]]


@dataclass(frozen=True)
class Submitted:
    """The runs submitted for the driver to read: statuses by id."""

    ml: list[str]
    ops: list[str]
    failed: list[str]
    parents: dict[str, str]
    steps: dict[str, str]
    created_after: datetime
    v2_jobs: list[str]


def _submit_all(emulator: EmulatorProcess) -> Submitted:
    api = ApiClient(emulator.manifest)
    v2 = V2Client(emulator.manifest)
    try:
        pipeline = api.publish("simulated")["Id"]
        ml = [_submit(api, pipeline, "Finished", {"team": "ml"}) for _ in range(3)]
        ops = [_submit(api, pipeline, "Finished", {"team": "ops"}) for _ in range(2)]
        # A moment strictly between the finishing runs' creation and the failing ones'.
        time.sleep(0.05)
        created_after = datetime.now(timezone.utc)
        time.sleep(0.05)
        failed = [_submit(api, pipeline, "Failed", {}) for _ in range(2)]
        finished = dict.fromkeys(ml + ops, "Completed")
        parents = finished | dict.fromkeys(failed, "Failed")
        for run_id in parents:
            api.wait(run_id)
        steps = {step: status for run_id in parents for step, status in _children(api, run_id)}
        v2_jobs = sorted(emulator.manifest["v2_pipeline_jobs"].values())
        for job in v2_jobs:
            assert v2.wait_job(job)["properties"]["status"] == "Completed"
    finally:
        v2.close()
        api.close()
    return Submitted(ml, ops, failed, parents, steps, created_after, v2_jobs)


def _drive(
    python: Path, emulator: EmulatorProcess, plan: dict[str, Any], home: Path
) -> dict[str, Any]:
    """Run the driver on ``plan``; its output lines by operation."""
    plan_file = home / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    done = subprocess.run(
        [str(python), str(DRIVER), str(emulator.state_dir / MANIFEST_FILE), str(plan_file)],
        capture_output=True,
        text=True,
        timeout=600,
        # azureml-core caches discovery answers under ~/.azureml: keep them out of the home.
        env={**os.environ, "HOME": str(home)},
        check=False,
    )
    report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    lines = {line["op"]: line for line in map(json.loads, done.stdout.splitlines()) if "op" in line}
    assert not [line for line in lines.values() if "error" in line], report
    assert "done" in lines, report
    return lines


def test_azureml_core_reads_runs_by_id_and_by_filter(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    python = ensure_ms_python(MS_V1)
    emulator = emulator_factory()
    submitted = _submit_all(emulator)
    parents, steps = submitted.parents, submitted.steps
    two_steps = sorted(steps)[:2]
    plan = {
        "experiment": EXPERIMENT,
        "run_ids": [*parents, *two_steps],
        "page_size": PAGE_SIZE,
        "created_after": str(submitted.created_after),
        "v2_experiment": "emulator-seed-v2",
        "v2_jobs": submitted.v2_jobs,
        # The driver imports nothing of this project: the test hands it the admin headers.
        "admin_headers": emulator.admin_headers(),
    }
    lines = _drive(python, emulator, plan, tmp_path)

    def runs(op: str) -> dict[str, str]:
        rows = lines[op]["runs"]
        assert len(rows) == len({row[0] for row in rows}), f"{op} repeated a run: {rows}"
        return {run_id: status for run_id, status, _ in rows}

    # More ids than a page: the SDK followed the continuation token to the last page.
    wanted = {**parents, **{step: steps[step] for step in two_steps}}
    assert runs("by_ids") == wanted
    assert lines["by_ids"]["requests"] == math.ceil(len(wanted) / PAGE_SIZE) == 5
    by_ids_order = [row[0] for row in lines["by_ids"]["runs"]]
    assert by_ids_order == sorted(by_ids_order, reverse=True)  # the SDK's RunId desc
    assert runs("failed") == dict.fromkeys(submitted.failed, "Failed")
    assert runs("tag_value") == dict.fromkeys(submitted.ml, "Completed")
    assert lines["tag_value"]["requests"] == 2
    assert runs("tag_exists") == {
        run_id: parents[run_id] for run_id in submitted.ml + submitted.ops
    }
    assert runs("step_runs") == steps
    assert {row[2] for row in lines["step_runs"]["runs"]} == set(parents)
    assert runs("created_after") == dict.fromkeys(submitted.failed, "Failed")
    assert runs("v2_jobs") == dict.fromkeys(submitted.v2_jobs, "Completed")
    assert lines["v2_jobs"]["requests"] == len(submitted.v2_jobs)
    assert {"runId", "status", "createdUtc", "tags", "properties"} <= set(lines["raw_page"]["keys"])
    refused = lines["refused"]
    assert (refused["status"], refused["code"]) == (400, "InvalidFilter"), refused
    assert "'b' at offset 11" in refused["message"]
