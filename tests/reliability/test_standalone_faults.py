"""Faults of Airflow itself, on a real ``airflow standalone``: a killed or gracefully stopped
triggerer, a killed worker with a retry, and every way a running submission is stopped
(mark-failed through the REST API, ``execution_timeout``, the operator's own ``timeout``).

One standalone (scheduler, DAG processor, triggerer, API server; SQLite; LocalExecutor) and one
emulator of this module's own serve every test. Each test triggers a DAG run of
``dags/mlp_standalone_fault_dags.py``, injects its fault through real processes and signals,
and then checks the emulator: exactly one pipeline run carries the DAG run's identity tags, and
it ended in the expected state.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3, TRIGGER_ON_KILL
from airflow_provider_mlpipelines.api.models import PipelineRun
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.e2e.airflow_standalone import (
    AirflowApi,
    AirflowStandalone,
    descendants,
    wait_until,
)

pytestmark = [
    # Airflow 3 behaviour: the task state store, on_kill of triggers, the v2 task-instance API.
    pytest.mark.skipif(not AIRFLOW_V_3, reason="these faults are checked on Airflow 3"),
    pytest.mark.slow,
]

DAG_FILE = Path(__file__).resolve().parent / "dags" / "mlp_standalone_fault_dags.py"
TASK_ID = "submit"
TIME_LIMIT = 600  # seconds; `timeout` stops standalone after this whatever happens
#: Must match ``SHORT_TIMEOUT_SECONDS`` of the DAG file (not imported: it builds DAGs).
SHORT_TIMEOUT_SECONDS = 6
DAG_IDS = (
    "mlp_sa_deferred",
    "mlp_sa_sync",
    "mlp_sa_sync_retry",
    "mlp_sa_sync_execution_timeout",
    "mlp_sa_deferred_execution_timeout",
    "mlp_sa_deferred_timeout",
)
# Defaults are minutes; these make a lost worker or triggerer noticed within seconds.
FAST_FAILURE_DETECTION = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "12",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
}


# ------------------------------------------------------------------------------------ processes
def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def own_processes_matching(needle: str) -> list[int]:
    """Live processes started (directly or not) by this test process whose cmdline has
    ``needle``.

    :param needle: text of the command line (or process title) to look for.
    """
    return [pid for pid in descendants(os.getpid()) if needle in _cmdline(pid)]


def kill_trees(pids: list[int]) -> list[int]:
    """SIGKILL ``pids`` and everything below them, like a machine losing those processes.

    Returns every pid signalled.

    :param pids: the roots.
    """
    victims = list(dict.fromkeys(p for root in pids for p in [*descendants(root), root]))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return victims


def terminate(pids: list[int]) -> list[int]:
    """SIGTERM ``pids`` (a graceful stop: they stop their own children); returns every pid
    below and including them, to wait for.

    :param pids: the processes to stop.
    """
    tree = list(dict.fromkeys(p for root in pids for p in [*descendants(root), root]))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    return tree


# ------------------------------------------------------------------------------------ the bench
@dataclass
class Bench:
    """The module's standalone, its REST client, the emulator and the published pipeline."""

    airflow: AirflowStandalone
    api: AirflowApi
    emulator: EmulatorProcess
    hook: Any
    pipeline_id: str
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _days: Iterator[int] = field(default_factory=lambda: itertools.count(1))

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
        logical_date = f"2026-06-{day:02d}T00:00:00Z"
        return str(self.api.trigger(dag_id, logical_date, conf)["dag_run_id"])

    def task_instance(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The ``submit`` task instance of a DAG run.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{TASK_ID}"
        return dict(self.api.call("GET", path))

    def wait_for_task_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        """Wait until the ``submit`` task instance is in ``state``; return it.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param state: e.g. ``running``, ``deferred``.
        """

        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id)
            return ti if ti["state"] == state else None

        return dict(wait_until(reached, 120, f"{dag_id} {run_id} {TASK_ID} is {state}"))

    def mark_failed(self, dag_id: str, run_id: str) -> Any:
        """Mark the ``submit`` task failed as a user would (``PatchTaskInstanceBody``).

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{TASK_ID}"
        return self.api.call("PATCH", path, json={"new_state": "failed"})

    def runs_of(self, dag_id: str, run_id: str) -> list[PipelineRun]:
        """The emulator's pipeline runs that carry this DAG run's identity tags.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        return [
            run
            for run in self.hook.list_pipeline_runs(self.pipeline_id)
            if run.tags.get("airflow.dag_id") == dag_id and run.tags.get("airflow.run_id") == run_id
        ]

    def wait_for_running_run(self, dag_id: str, run_id: str) -> PipelineRun:
        """Wait until the DAG run's pipeline run exists and is ``Running``; return it.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """

        def running() -> PipelineRun | None:
            runs = self.runs_of(dag_id, run_id)
            return runs[0] if runs and runs[0].status == PipelineRunStatus.RUNNING else None

        return wait_until(running, 120, f"a Running pipeline run of {dag_id} {run_id}")

    def only_run_once_ended(self, dag_id: str, run_id: str, timeout: float = 90) -> PipelineRun:
        """Wait until the DAG run's pipeline runs are terminal; assert there is exactly one.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param timeout: seconds to wait.
        """

        def ended() -> list[PipelineRun] | None:
            runs = self.runs_of(dag_id, run_id)
            return runs if runs and all(r.status.is_terminal for r in runs) else None

        runs = wait_until(ended, timeout, f"the pipeline runs of {dag_id} {run_id} ended")
        assert len(runs) == 1, [(r.id, r.status, r.tags) for r in runs]
        return runs[0]

    def task_log(self, dag_id: str, run_id: str, attempt: int) -> str:
        """What the task wrote in ``attempt`` (worker and triggerer parts), read from disk.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param attempt: the try number.
        """
        folder = self.log_folder(dag_id, run_id)
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(folder.glob(f"attempt={attempt}.log*"))
        )

    def log_folder(self, dag_id: str, run_id: str) -> Path:
        """The task's log folder under AIRFLOW_HOME.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        home = self.airflow.home
        return home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={TASK_ID}"

    def trigger_logs(self, dag_id: str, run_id: str) -> dict[int, str]:
        """The first try's triggerer logs, by triggerer job id (``attempt=1.log.trigger.N.log``).

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        return {
            int(path.name.rsplit(".", 2)[-2]): path.read_text(encoding="utf-8", errors="replace")
            for path in self.log_folder(dag_id, run_id).glob("attempt=1.log.trigger.*.log")
        }

    def wait_for_trigger_polling(self, dag_id: str, run_id: str, pipeline_run_id: str) -> int:
        """Wait until a triggerer runs the task's trigger (it logged the run as ``Running``);
        return that triggerer's job id.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param pipeline_run_id: the pipeline run the trigger watches.
        """
        needle = f"Pipeline run {pipeline_run_id} is Running"

        def polling() -> list[int]:
            return [
                job for job, text in self.trigger_logs(dag_id, run_id).items() if needle in text
            ]

        return int(wait_until(polling, 60, f"a triggerer polls {pipeline_run_id}")[0])

    def start_triggerer(self) -> subprocess.Popen[bytes]:
        """Start one more ``airflow triggerer`` with standalone's environment (stopped at the
        end of the module)."""
        log = (self.airflow.home / "extra-triggerer.log").open("ab")
        try:
            process = subprocess.Popen(
                ["airflow", "triggerer"],
                cwd=self.airflow.home,
                env=self.airflow.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()  # the child holds its own descriptor
        self.started.append(process)
        return process

    def stop_started(self) -> None:
        """Stop the processes this bench started (SIGTERM, then SIGKILL for what is left)."""
        for process in self.started:
            tree = [*descendants(process.pid), process.pid]
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            kill_trees([p for p in tree if _is_alive(p)])
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        self.started.clear()


def _publish_simulated(hook: Any, emulator: EmulatorProcess) -> str:
    source_run = emulator.manifest["pipeline_runs"]["simulated"]
    return str(hook.publish_pipeline_from_run(source_run, name="standalone-faults", version="1").id)


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Bench]:
    """One emulator and one ``airflow standalone`` for the whole module, stopped at the end."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    root = tmp_path_factory.mktemp("standalone-faults")
    dags = root / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    emulator = EmulatorProcess(root / "emulator")
    airflow: AirflowStandalone | None = None
    bench: Bench | None = None
    with pytest.MonkeyPatch.context() as patch:
        try:
            emulator.start()
            patch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
            env = {CONN_ENV_VAR: emulator.airflow_conn, **FAST_FAILURE_DETECTION}
            airflow = AirflowStandalone(root / "airflow", dags, env, TIME_LIMIT)
            airflow.start()
            hook = AzureMLPipelinesHook()
            airflow.wait_for_api(timeout=150)
            api = airflow.api()
            for dag_id in DAG_IDS:
                api.wait_for_dag(dag_id, timeout=90)
                api.unpause(dag_id)
            bench = Bench(airflow, api, emulator, hook, _publish_simulated(hook, emulator))
            failures_before = request.session.testsfailed
            yield bench
            if request.session.testsfailed > failures_before:
                print(f"--- airflow standalone log tail ({airflow.log_file}) ---")
                print(airflow.log_tail(150))
        except BaseException:
            if airflow is not None:
                print(f"--- airflow standalone log tail ({airflow.log_file}) ---")
                print(airflow.log_tail(150))
            raise
        finally:
            if bench is not None:
                bench.stop_started()
                bench.hook.close()
            if airflow is not None:
                airflow.stop()
            emulator.stop()


# ------------------------------------------------------------------------------------ the tests
@pytest.mark.timeout(300)
@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_triggerer_stopped_while_deferred_a_new_triggerer_finishes_the_wait(
    bench: Bench, stop: str
) -> None:
    """A crash (SIGKILL) or a graceful stop, as in a deploy (SIGTERM): either way the run
    goes on (a graceful stop must not cancel it) and another triggerer finishes the wait."""
    dag_id = "mlp_sa_deferred"
    run_id = bench.trigger(dag_id, duration_seconds=30)
    bench.wait_for_task_state(dag_id, run_id, "deferred")
    pipeline_run = bench.wait_for_running_run(dag_id, run_id)

    first_job = bench.wait_for_trigger_polling(dag_id, run_id, pipeline_run.id)

    triggerers = own_processes_matching("airflow triggerer")
    assert triggerers, "no triggerer process among standalone's descendants"
    stopped = kill_trees(triggerers) if stop == "SIGKILL" else terminate(triggerers)
    wait_until(lambda: not any(_is_alive(p) for p in stopped), 60, "the triggerer is gone")
    # standalone does not restart a component that died; a second triggerer takes over once
    # the first one's heartbeat is older than triggerer_health_check_threshold.
    replacement = bench.start_triggerer()

    final = bench.api.wait_for_run(dag_id, run_id, timeout=180)
    assert final["state"] == "success", bench.task_instance(dag_id, run_id)
    assert bench.task_instance(dag_id, run_id)["try_number"] == 1
    run = bench.only_run_once_ended(dag_id, run_id)
    assert run.id == pipeline_run.id
    assert run.status == PipelineRunStatus.FINISHED
    assert replacement.poll() is None, "the replacement triggerer died"
    # The stopped triggerer never fired; another triggerer job rebuilt the trigger and did.
    logs = bench.trigger_logs(dag_id, run_id)
    fired_by = [job for job, text in logs.items() if "Trigger fired event" in text]
    assert fired_by and first_job not in fired_by, (first_job, fired_by)
    # A stop is not a user's action: the trigger was not killed (nothing was canceled).
    assert "on_kill" not in logs[first_job]


@pytest.mark.timeout(300)
def test_worker_killed_after_submission_the_retry_reattaches_to_the_same_run(bench: Bench) -> None:
    dag_id = "mlp_sa_sync_retry"
    run_id = bench.trigger(dag_id, duration_seconds=40)
    ti = bench.wait_for_task_state(dag_id, run_id, "running")
    submitted = bench.wait_for_running_run(dag_id, run_id)

    # The LocalExecutor worker that supervises the task is titled with the task instance id.
    workers = own_processes_matching(str(ti["id"]))
    assert workers, f"no process for task instance {ti['id']}"
    kill_trees(workers)

    final = bench.api.wait_for_run(dag_id, run_id, timeout=200)
    retried = bench.task_instance(dag_id, run_id)
    assert final["state"] == "success", retried
    assert retried["try_number"] == 2
    run = bench.only_run_once_ended(dag_id, run_id)
    assert run.id == submitted.id
    assert run.status == PipelineRunStatus.FINISHED
    assert run.tags["airflow.try_number"] == "1"
    assert f"Re-attaching to run {submitted.id}" in bench.task_log(dag_id, run_id, attempt=2)
    # Airflow noticed the lost worker through the heartbeat timeout (not a reported failure).
    scheduler_log = bench.airflow.log_file.read_text(encoding="utf-8", errors="replace")
    assert any(
        "without a heartbeat" in line and str(ti["id"]) in line
        for line in scheduler_log.splitlines()
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("dag_id", "waiting_state"),
    [
        ("mlp_sa_sync", "running"),
        ("mlp_sa_deferred", "deferred"),
    ],
)
def test_mark_failed_through_the_rest_api_cancels_the_run(
    bench: Bench, dag_id: str, waiting_state: str
) -> None:
    run_id = bench.trigger(dag_id, duration_seconds=300)
    bench.wait_for_task_state(dag_id, run_id, waiting_state)
    pipeline_run = bench.wait_for_running_run(dag_id, run_id)
    if waiting_state == "deferred":
        # Only a trigger that a triggerer runs gets on_kill (see RELIABILITY.md).
        bench.wait_for_trigger_polling(dag_id, run_id, pipeline_run.id)

    bench.mark_failed(dag_id, run_id)

    if waiting_state == "deferred" and not TRIGGER_ON_KILL:
        # Airflow 3.0-3.2 only cancel the trigger, as when a triggerer goes away: the run is
        # kept (the README's compatibility table), and the task is failed all the same.
        assert bench.api.wait_for_run(dag_id, run_id, timeout=60)["state"] == "failed"
        time.sleep(15)
        (kept,) = bench.runs_of(dag_id, run_id)
        assert kept.status == PipelineRunStatus.RUNNING, kept.status
        bench.hook.cancel_pipeline_run(kept.id)
        return
    run = bench.only_run_once_ended(dag_id, run_id, timeout=60)
    assert run.status == PipelineRunStatus.CANCELED
    assert bench.api.wait_for_run(dag_id, run_id, timeout=60)["state"] == "failed"
    assert bench.task_instance(dag_id, run_id)["state"] == "failed"
    # The operator's on_kill (sync) or the trigger's on_kill (deferred) did the canceling.
    expected = f"Canceled pipeline run {run.id}"
    if waiting_state == "deferred":
        expected += " because the task was killed"
    wait_until(lambda: expected in bench.task_log(dag_id, run_id, 1), 30, f"log: {expected}")


@pytest.mark.timeout(240)
def test_execution_timeout_in_sync_mode_cancels_the_run(bench: Bench) -> None:
    dag_id = "mlp_sa_sync_execution_timeout"
    run_id = bench.trigger(dag_id, duration_seconds=300)

    final = bench.api.wait_for_run(dag_id, run_id, timeout=120)

    assert final["state"] == "failed"
    run = bench.only_run_once_ended(dag_id, run_id, timeout=60)
    assert run.status == PipelineRunStatus.CANCELED
    log = bench.task_log(dag_id, run_id, attempt=1)
    assert "AirflowTaskTimeout" in log
    assert f"Canceled pipeline run {run.id}" in log  # by on_kill


@pytest.mark.timeout(240)
def test_execution_timeout_in_deferred_mode_cancels_the_run_from_the_trigger(
    bench: Bench,
) -> None:
    """Airflow 3.3 applies ``execution_timeout`` to the worker's parts only (``execute`` up to
    the deferral, then ``execute_complete``), not to the wait in the triggerer; the operator
    folds it into the trigger's deadline, so the run is canceled when the task's time is up."""
    dag_id = "mlp_sa_deferred_execution_timeout"
    run_id = bench.trigger(dag_id, duration_seconds=300)
    bench.wait_for_task_state(dag_id, run_id, "deferred")

    final = bench.api.wait_for_run(dag_id, run_id, timeout=120)

    assert final["state"] == "failed"
    run = bench.only_run_once_ended(dag_id, run_id, timeout=60)
    assert run.status == PipelineRunStatus.CANCELED
    log = bench.task_log(dag_id, run_id, attempt=1)
    assert f"Canceled pipeline run {run.id} because the wait timed out" in log
    assert "AzureMLPipelineRunTimeoutError" in log


@pytest.mark.timeout(240)
def test_operator_timeout_in_deferred_mode_cancels_the_run_from_the_trigger(bench: Bench) -> None:
    dag_id = "mlp_sa_deferred_timeout"
    run_id = bench.trigger(dag_id, duration_seconds=300)
    bench.wait_for_task_state(dag_id, run_id, "deferred")

    final = bench.api.wait_for_run(dag_id, run_id, timeout=120)

    assert final["state"] == "failed"
    run = bench.only_run_once_ended(dag_id, run_id, timeout=60)
    assert run.status == PipelineRunStatus.CANCELED
    assert f"Canceled pipeline run {run.id} because the wait timed out" in bench.task_log(
        dag_id, run_id, attempt=1
    )
