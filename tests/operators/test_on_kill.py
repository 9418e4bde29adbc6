"""``on_kill`` of the submit operator cancels the remote run only for a user's intent.

Airflow calls ``on_kill`` from another thread of control (the signal handler) while ``execute``
is blocked waiting; this test does the same with a thread. On ``execution_timeout`` the task
runner calls it while handling ``AirflowTaskTimeout``, which the killer thread reproduces;
without that, and with no task instance state to read (no Airflow task runner here), the
operator must leave the run going (see ``_lifecycle``; the state-based cases run on the cluster,
``tests/e2e/cluster/test_cluster_lifecycle.py``). The task instance is a recorder of XCom
pushes, the only part of the context the operator uses; the hook and service are real.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import AzureMLPipelineRunCanceledError
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

from .conftest import RecordingTaskInstance

try:
    from airflow.sdk.exceptions import AirflowTaskTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef,attr-defined]


@pytest.mark.parametrize(
    ("cancel_on_kill", "timing_out", "canceled"),
    [(True, True, True), (False, True, False), (True, False, False)],
    ids=["execution-timeout", "execution-timeout-not-asked", "state-unknown"],
)
def test_on_kill_cancels_the_run_only_for_a_timeout_or_a_user(
    hook: Any, published: dict[str, Any], cancel_on_kill: bool, timing_out: bool, canceled: bool
) -> None:
    operator = AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="on-kill",
        published_pipeline_id=published["simulated"],
        parameters={"duration_seconds": 30},
        deferrable=False,
        poll_interval=0.2,
        timeout=60,
        cancel_on_kill=cancel_on_kill,
    )
    ti = RecordingTaskInstance()
    killer_saw: dict[str, Any] = {}

    def kill_once_submitted() -> None:
        deadline = time.monotonic() + 30
        while "run_id" not in ti.xcoms and time.monotonic() < deadline:
            time.sleep(0.05)
        killer_saw["run_id"] = ti.xcoms.get("run_id")
        if timing_out:
            try:
                raise AirflowTaskTimeout("execution_timeout")
            except AirflowTaskTimeout:
                operator.on_kill()  # as the task runner calls it
        else:
            operator.on_kill()
        if not canceled:
            killer_saw["status"] = hook.get_pipeline_run(killer_saw["run_id"]).status
            hook.cancel_pipeline_run(killer_saw["run_id"])

    # Airflow runs execute() in the task's main thread and on_kill() from elsewhere (a signal
    # handler); so does this test.
    killer = threading.Thread(target=kill_once_submitted, daemon=True)
    killer.start()
    with pytest.raises(AzureMLPipelineRunCanceledError):
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    killer.join(timeout=30)
    run_id = killer_saw["run_id"]
    assert run_id is not None and operator.run_id == run_id
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED
    if not canceled:
        assert killer_saw["status"] == PipelineRunStatus.RUNNING, "on_kill must leave the run"
