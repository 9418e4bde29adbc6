"""A user's clear versus an automatic retry, on a real ``airflow standalone`` (3.3 and 2.11).

Clearing a submit task that succeeded runs the pipeline again, and the task reports the new
run; an automatic retry of a try that failed while its run went on reports that run instead of
submitting another. The operator tells the two apart by ``max_tries``, which a clear raises and
a retry does not (``tests/operators/test_clear_and_reattach.py`` has the rule's table).

One standalone (scheduler, DAG processor, triggerer, API server or webserver; SQLite;
LocalExecutor) and one emulator of this module's own serve both tests; the DAGs are in
``dags/mlp_clear_rerun_dags.py``. Each test counts the emulator's runs carrying the DAG run's
identity tags.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_mlpipelines.api.models import PipelineRun
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

from .airflow_standalone import AirflowApi, AirflowStandalone, wait_until

pytestmark = pytest.mark.slow

DAG_FILE = Path(__file__).resolve().parent / "dags" / "mlp_clear_rerun_dags.py"
DAG_IDS = ("mlp_clear_rerun", "mlp_retry_reports_finished_run")
TASK_ID = "submit"
TIME_LIMIT = 1200  # seconds; `timeout` stops standalone after this whatever happens


@dataclass
class Bench:
    """The module's standalone, its REST client, the emulator and the published pipeline."""

    airflow: AirflowStandalone
    api: AirflowApi
    hook: Any
    pipeline_id: str
    _days: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def trigger(self, dag_id: str, duration_seconds: float) -> str:
        conf = {
            "pipeline_id": self.pipeline_id,
            "parameters": {"duration_seconds": duration_seconds},
        }
        logical_date = f"2026-07-{next(self._days):02d}T00:00:00Z"
        return str(self.api.trigger(dag_id, logical_date, conf)["dag_run_id"])

    def task_instance(self, dag_id: str, run_id: str) -> dict[str, Any]:
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{TASK_ID}"
        return dict(self.api.call("GET", path))

    def clear(self, dag_id: str, run_id: str) -> Any:
        """Clear the ``submit`` task of a DAG run as a user does in the UI (same body on the
        v2 and v1 APIs)."""
        body = {
            "dry_run": False,
            "task_ids": [TASK_ID],
            "dag_run_id": run_id,
            "only_failed": False,
            "reset_dag_runs": True,
        }
        return self.api.call("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)

    def runs_of(self, dag_id: str, run_id: str) -> list[PipelineRun]:
        return [
            run
            for run in self.hook.list_pipeline_runs(self.pipeline_id)
            if run.tags.get("airflow.dag_id") == dag_id and run.tags.get("airflow.run_id") == run_id
        ]

    def task_log(self, dag_id: str, run_id: str, attempt: int) -> str:
        folder = (
            self.airflow.home
            / "logs"
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={TASK_ID}"
        )
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(folder.glob(f"attempt={attempt}.log*"))
        )


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    root = tmp_path_factory.mktemp("clear-reruns")
    dags = root / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    emulator = EmulatorProcess(root / "emulator")
    airflow: AirflowStandalone | None = None
    hook: Any = None
    with pytest.MonkeyPatch.context() as patch:
        try:
            emulator.start()
            patch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
            airflow = AirflowStandalone(
                root / "airflow", dags, {CONN_ENV_VAR: emulator.airflow_conn}, TIME_LIMIT
            )
            airflow.start()
            hook = AzureMLPipelinesHook()
            source = emulator.manifest["pipeline_runs"]["simulated"]
            pipeline_id = hook.publish_pipeline_from_run(
                source, name="clear-reruns", version="1"
            ).id
            airflow.wait_for_api(timeout=480)
            api = airflow.api()
            # SQLite behind a loaded machine can take minutes to answer one call.
            api.call_timeout = 240.0
            for dag_id in DAG_IDS:
                api.wait_for_dag(dag_id, timeout=240)
                api.unpause(dag_id)
            yield Bench(airflow, api, hook, pipeline_id)
        except BaseException:
            if airflow is not None:
                print(f"--- airflow standalone log tail ({airflow.log_file}) ---")
                print(airflow.log_tail(150))
            raise
        finally:
            if hook is not None:
                hook.close()
            if airflow is not None:
                airflow.stop()
            emulator.stop()


@pytest.mark.timeout(900)
def test_clearing_a_succeeded_submit_task_runs_the_pipeline_again(bench: Bench) -> None:
    dag_id = "mlp_clear_rerun"
    run_id = bench.trigger(dag_id, duration_seconds=0.5)
    assert bench.api.wait_for_run(dag_id, run_id, timeout=300)["state"] == "success"
    [first] = bench.runs_of(dag_id, run_id)
    assert first.status == PipelineRunStatus.FINISHED
    assert bench.api.xcom(dag_id, run_id, TASK_ID) == first.id
    # Usually 1; a loaded machine can fail a try before the task starts (then retried).
    tries_before = int(bench.task_instance(dag_id, run_id)["try_number"])

    bench.clear(dag_id, run_id)

    def rerun_succeeded() -> dict[str, Any] | None:
        ti = bench.task_instance(dag_id, run_id)
        return ti if ti["state"] == "success" and ti["try_number"] > tries_before else None

    ti = wait_until(rerun_succeeded, 300, f"{dag_id} {run_id} {TASK_ID} succeeded after a clear")
    runs = bench.runs_of(dag_id, run_id)
    assert len(runs) == 2, [(r.id, r.tags) for r in runs]
    [second] = [run for run in runs if run.id != first.id]
    assert int(second.tags["airflow.try_number"]) > tries_before
    assert int(second.tags["airflow.try_number"]) <= int(ti["try_number"])
    assert bench.hook.get_pipeline_run(second.id).status == PipelineRunStatus.FINISHED
    # The task reports the new run, and said why it did not reuse the old one.
    assert bench.api.xcom(dag_id, run_id, TASK_ID) == second.id
    attempt = int(second.tags["airflow.try_number"])
    assert (
        f"Run {first.id} of an earlier try ended Finished before the task was cleared"
        in bench.task_log(dag_id, run_id, attempt=attempt)
    )


@pytest.mark.timeout(900)
def test_an_automatic_retry_reports_the_run_its_failed_try_left_going(bench: Bench) -> None:
    dag_id = "mlp_retry_reports_finished_run"
    run_id = bench.trigger(dag_id, duration_seconds=4)

    final = bench.api.wait_for_run(dag_id, run_id, timeout=300)

    ti = bench.task_instance(dag_id, run_id)
    assert final["state"] == "success", ti
    [run] = bench.runs_of(dag_id, run_id)
    assert run.status == PipelineRunStatus.FINISHED
    # The try that submitted (1, unless a loaded machine failed a try before it started)
    # timed out; the next one, a retry, reported that run and submitted nothing.
    submitted_by = int(run.tags["airflow.try_number"])
    assert ti["try_number"] == submitted_by + 1
    assert bench.api.xcom(dag_id, run_id, TASK_ID) == run.id
    assert "AzureMLPipelineRunTimeoutError" in bench.task_log(dag_id, run_id, submitted_by)
    assert f"Run {run.id} of an earlier try already finished; reporting it" in bench.task_log(
        dag_id, run_id, attempt=submitted_by + 1
    )
