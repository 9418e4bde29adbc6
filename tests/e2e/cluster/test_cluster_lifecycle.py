"""Lifecycle semantics on the production-shaped cluster (see RELIABILITY.md, "Lifecycle").

A user's intent to stop (mark failed, a DAG run marked failed, ``execution_timeout``) cancels
the Azure ML run; a process going away (a worker's SIGTERM or SIGKILL, a triggerer's SIGTERM,
SIGKILL or stale heartbeat) leaves it running, and the task ends with the run's real outcome.
Every test sends its signal to the real processes of ``scripts/cluster.sh`` and checks that
the emulator holds exactly one pipeline run of the DAG run, in the expected final state.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_mlpipelines.api.models import PipelineRun
from airflow_provider_mlpipelines.api.status import PipelineRunStatus

from .cluster import Cluster, session_members, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

TASK_ID = "submit"
#: What the operator and the trigger log when they leave a run going (``_lifecycle.explain``).
LEFT_GOING = "leaving the pipeline run going"
USER_STOP = "The task was stopped by a user"
DAG_IDS = ("mlp_cl_sync", "mlp_cl_deferred", "mlp_cl_sync_execution_timeout")


@dataclass
class Bench:
    """The session's cluster, its REST client, a hook on its emulator and a published pipeline."""

    cluster: Cluster
    hook: Any
    pipeline_id: str
    _days: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api(self) -> Any:
        return self.cluster.api()

    def trigger(self, dag_id: str, duration_seconds: float) -> str:
        """Trigger ``dag_id`` on a simulated run of ``duration_seconds``; return the DAG run id.

        :param dag_id: the DAG.
        :param duration_seconds: how long the pipeline run's work step lasts.
        """
        day = next(self._days)
        conf = {
            "pipeline_id": self.pipeline_id,
            "parameters": {"duration_seconds": duration_seconds},
        }
        return str(self.api.trigger(dag_id, f"2026-07-{day:02d}T00:00:00Z", conf)["dag_run_id"])

    def ti_path(self, dag_id: str, run_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{TASK_ID}"

    def task_instance(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api.call("GET", self.ti_path(dag_id, run_id)))

    def wait_for_task_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id)
            return ti if ti["state"] == state else None

        return dict(wait_until(reached, 240, f"{dag_id} {run_id} {TASK_ID} is {state}", 2))

    def runs_of(self, dag_id: str, run_id: str) -> list[PipelineRun]:
        """The emulator's pipeline runs that carry this DAG run's identity tags."""
        return [
            run
            for run in self.hook.list_pipeline_runs(self.pipeline_id)
            if run.tags.get("airflow.dag_id") == dag_id and run.tags.get("airflow.run_id") == run_id
        ]

    def wait_for_running_run(self, dag_id: str, run_id: str) -> PipelineRun:
        def running() -> PipelineRun | None:
            runs = self.runs_of(dag_id, run_id)
            return runs[0] if runs and runs[0].status == PipelineRunStatus.RUNNING else None

        return wait_until(running, 240, f"a Running pipeline run of {dag_id} {run_id}", 2)

    def only_run_once_ended(self, dag_id: str, run_id: str, timeout: float = 240) -> PipelineRun:
        """Wait until the DAG run's pipeline runs are terminal; assert there is exactly one."""

        def ended() -> list[PipelineRun] | None:
            runs = self.runs_of(dag_id, run_id)
            return runs if runs and all(r.status.is_terminal for r in runs) else None

        runs = wait_until(ended, timeout, f"the pipeline runs of {dag_id} {run_id} ended", 2)
        assert len(runs) == 1, [(r.id, r.status, r.tags) for r in runs]
        return runs[0]

    def log_folder(self, dag_id: str, run_id: str) -> Path:
        return (
            self.cluster.home
            / "logs"
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={TASK_ID}"
        )

    def task_log(self, dag_id: str, run_id: str, attempt: int) -> str:
        """What the task wrote in ``attempt`` (worker and triggerer parts), read from disk."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.log_folder(dag_id, run_id).glob(f"attempt={attempt}.log*"))
        )

    def trigger_logs(self, dag_id: str, run_id: str) -> dict[int, str]:
        """The first try's triggerer logs, by triggerer job id (``attempt=1.log.trigger.N.log``)."""
        return {
            int(path.name.rsplit(".", 2)[-2]): path.read_text(encoding="utf-8", errors="replace")
            for path in self.log_folder(dag_id, run_id).glob("attempt=1.log.trigger.*.log")
        }

    def polling_jobs(self, dag_id: str, run_id: str, pipeline_run_id: str) -> list[int]:
        """The triggerer jobs that have polled the run (logged it ``Running``)."""
        needle = f"Pipeline run {pipeline_run_id} is Running"
        return [job for job, text in self.trigger_logs(dag_id, run_id).items() if needle in text]

    def triggerer_of_job(self, dag_id: str, run_id: str, job_id: int) -> str:
        """Which of the cluster's triggerers is the triggerer job ``job_id`` (it holds the
        trigger's log file ``attempt=1.log.trigger.<job_id>.log`` open)."""
        path = self.log_folder(dag_id, run_id) / f"attempt=1.log.trigger.{job_id}.log"
        return self.cluster.holder_of(path, "triggerer")

    def mark_failed(self, dag_id: str, run_id: str) -> None:
        self.api.call("PATCH", self.ti_path(dag_id, run_id), json={"new_state": "failed"})


@pytest.fixture(scope="module")
def bench(cluster: Cluster) -> Iterator[Bench]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        source_run = cluster.manifest["pipeline_runs"]["simulated"]
        pipeline = hook.publish_pipeline_from_run(source_run, name="cluster-lifecycle", version="1")
        for dag_id in DAG_IDS:
            cluster.api().wait_for_dag(dag_id, timeout=180)
            cluster.api().unpause(dag_id)
        yield Bench(cluster, hook, str(pipeline.id))
    finally:
        hook.close()


def worker_running(bench: Bench, ti: dict[str, Any]) -> str:
    """The worker whose session holds the task instance's process."""
    pid = wait_until(
        lambda: bench.task_instance(ti["dag_id"], ti["dag_run_id"])["pid"], 60, "the task's pid"
    )
    return bench.cluster.component_of(int(pid), "worker")


# --------------------------------------------------------------------- a process going away
@pytest.mark.timeout(600)
def test_worker_sigterm_drains_the_task_and_the_run_is_not_canceled(bench: Bench) -> None:
    """A deploy stops the worker (SIGTERM to all its processes): the task finishes its wait on
    the draining worker and succeeds; before, on_kill canceled the run."""
    dag_id = "mlp_cl_sync"
    run_id = bench.trigger(dag_id, duration_seconds=40)
    ti = bench.wait_for_task_state(dag_id, run_id, "running")
    submitted = bench.wait_for_running_run(dag_id, run_id)
    worker = worker_running(bench, ti)

    bench.cluster.signal(worker, signal.SIGTERM)
    try:
        final = bench.api.wait_for_run(dag_id, run_id, timeout=300)
        run = bench.only_run_once_ended(dag_id, run_id)
        assert run.id == submitted.id
        assert run.status == PipelineRunStatus.FINISHED
        assert final["state"] == "success", bench.task_instance(dag_id, run_id)
        assert bench.task_instance(dag_id, run_id)["try_number"] == 1
        log = bench.task_log(dag_id, run_id, 1)
        assert LEFT_GOING in log
        assert f"Canceled pipeline run {run.id}" not in log
        # The worker finished the task, then went away as it was told.
        wait_until(lambda: not session_members(bench.cluster.pid(worker)), 120, f"{worker} ends")
    finally:
        bench.cluster.restart(worker)


@pytest.mark.timeout(600)
def test_worker_sigkill_the_retry_reattaches_on_the_other_worker(bench: Bench) -> None:
    dag_id = "mlp_cl_sync"
    run_id = bench.trigger(dag_id, duration_seconds=60)
    ti = bench.wait_for_task_state(dag_id, run_id, "running")
    submitted = bench.wait_for_running_run(dag_id, run_id)
    worker = worker_running(bench, ti)

    bench.cluster.signal(worker, signal.SIGKILL)
    try:
        final = bench.api.wait_for_run(dag_id, run_id, timeout=300)
        retried = bench.task_instance(dag_id, run_id)
        assert final["state"] == "success", retried
        assert retried["try_number"] == 2
        run = bench.only_run_once_ended(dag_id, run_id)
        assert run.id == submitted.id
        assert run.status == PipelineRunStatus.FINISHED
        assert f"Re-attaching to run {submitted.id}" in bench.task_log(dag_id, run_id, 2)
    finally:
        bench.cluster.restart(worker)


def deferred_and_polled(bench: Bench, dag_id: str, run_id: str) -> tuple[PipelineRun, int, str]:
    """Wait until a triggerer polls the task's run; return the run, the job and the triggerer."""
    bench.wait_for_task_state(dag_id, run_id, "deferred")
    submitted = bench.wait_for_running_run(dag_id, run_id)
    jobs = wait_until(
        lambda: bench.polling_jobs(dag_id, run_id, submitted.id), 120, "a triggerer polls"
    )
    return submitted, jobs[0], bench.triggerer_of_job(dag_id, run_id, jobs[0])


@pytest.mark.timeout(600)
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_triggerer_stopped_the_other_triggerer_finishes_the_wait(bench: Bench, stop: str) -> None:
    dag_id = "mlp_cl_deferred"
    run_id = bench.trigger(dag_id, duration_seconds=60)
    submitted, first_job, triggerer = deferred_and_polled(bench, dag_id, run_id)

    bench.cluster.signal(triggerer, getattr(signal, stop))
    try:
        final = bench.api.wait_for_run(dag_id, run_id, timeout=300)
        assert final["state"] == "success", bench.task_instance(dag_id, run_id)
        assert bench.task_instance(dag_id, run_id)["try_number"] == 1
        run = bench.only_run_once_ended(dag_id, run_id)
        assert run.id == submitted.id
        assert run.status == PipelineRunStatus.FINISHED
        logs = bench.trigger_logs(dag_id, run_id)
        fired_by = [job for job, text in logs.items() if "Trigger fired event" in text]
        assert fired_by and first_job not in fired_by, (first_job, fired_by)
        assert f"Canceled pipeline run {run.id}" not in logs[first_job]
    finally:
        bench.cluster.restart(triggerer)


@pytest.mark.timeout(600)
def test_triggerer_with_a_stale_heartbeat_loses_the_trigger_without_canceling_the_run(
    bench: Bench,
) -> None:
    """SIGSTOP a triggerer for longer than triggerer_health_check_threshold: the other one takes
    the trigger over; on SIGCONT the first cancels its copy, which calls on_kill as for a
    user's action; the trigger sees the task still deferred and leaves the run going."""
    dag_id = "mlp_cl_deferred"
    run_id = bench.trigger(dag_id, duration_seconds=90)
    submitted, first_job, triggerer = deferred_and_polled(bench, dag_id, run_id)

    bench.cluster.signal(triggerer, signal.SIGSTOP)
    try:
        wait_until(
            lambda: set(bench.polling_jobs(dag_id, run_id, submitted.id)) - {first_job},
            180,
            "the other triggerer takes the trigger over",
        )
        # Still running when the stopped triggerer wakes up, so its on_kill could cancel it.
        assert bench.runs_of(dag_id, run_id)[0].status == PipelineRunStatus.RUNNING
    finally:
        bench.cluster.signal(triggerer, signal.SIGCONT)

    wait_until(
        lambda: LEFT_GOING in bench.trigger_logs(dag_id, run_id)[first_job],
        120,
        "the woken triggerer's on_kill leaves the run going",
    )
    final = bench.api.wait_for_run(dag_id, run_id, timeout=300)
    assert final["state"] == "success", bench.task_instance(dag_id, run_id)
    run = bench.only_run_once_ended(dag_id, run_id)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.FINISHED
    first_log = bench.trigger_logs(dag_id, run_id)[first_job]
    assert "invoking on_kill" in first_log
    assert "still deferred" in first_log
    assert f"Canceled pipeline run {run.id}" not in first_log


# ------------------------------------------------------------------------ a user's intent
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("dag_id", "waiting_state"), [("mlp_cl_sync", "running"), ("mlp_cl_deferred", "deferred")]
)
def test_mark_failed_cancels_the_run(bench: Bench, dag_id: str, waiting_state: str) -> None:
    run_id = bench.trigger(dag_id, duration_seconds=300)
    if waiting_state == "deferred":
        submitted, _, _ = deferred_and_polled(bench, dag_id, run_id)
    else:
        bench.wait_for_task_state(dag_id, run_id, waiting_state)
        submitted = bench.wait_for_running_run(dag_id, run_id)

    bench.mark_failed(dag_id, run_id)

    run = bench.only_run_once_ended(dag_id, run_id, timeout=120)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.CANCELED
    assert bench.api.wait_for_run(dag_id, run_id, timeout=120)["state"] == "failed"
    wait_until(lambda: USER_STOP in bench.task_log(dag_id, run_id, 1), 60, "the stop is explained")


@pytest.mark.timeout(600)
def test_dag_run_marked_failed_cancels_the_run(bench: Bench) -> None:
    dag_id = "mlp_cl_sync"
    run_id = bench.trigger(dag_id, duration_seconds=300)
    bench.wait_for_task_state(dag_id, run_id, "running")
    submitted = bench.wait_for_running_run(dag_id, run_id)

    path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
    bench.api.call("PATCH", path, json={"state": "failed"})

    run = bench.only_run_once_ended(dag_id, run_id, timeout=120)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.CANCELED
    assert bench.task_instance(dag_id, run_id)["state"] == "failed"


@pytest.mark.timeout(600)
def test_execution_timeout_cancels_the_run(bench: Bench) -> None:
    dag_id = "mlp_cl_sync_execution_timeout"
    run_id = bench.trigger(dag_id, duration_seconds=300)
    bench.wait_for_task_state(dag_id, run_id, "running")
    submitted = bench.wait_for_running_run(dag_id, run_id)

    run = bench.only_run_once_ended(dag_id, run_id, timeout=180)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.CANCELED
    assert bench.api.wait_for_run(dag_id, run_id, timeout=120)["state"] == "failed"
    assert "execution_timeout" in bench.task_log(dag_id, run_id, 1)
