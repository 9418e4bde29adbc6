"""Part 3: 50 deferrable runs on a real ``airflow standalone`` with two worker slots.

A real Airflow 3 (scheduler, triggerer, DAG processor, API server; LocalExecutor; SQLite;
``AIRFLOW__CORE__PARALLELISM=2``) runs ``benchmarks/dags/bench_worker_slots.py``: one DAG run
that maps the submit operator over --runs runs of the emulator's ``simulated`` pipeline lasting
--seconds each, first deferrable (waiting in the triggerer), then the same DAG synchronous
(waiting in the worker). Figures per mode: peak runs in flight (the emulator's
``runs_in_flight``, sampled twice a second, and the exact overlap of the runs' creation and end
times), the time until every run was submitted, and the DAG run's wall time.

The runs last 60 s by default: with two slots Airflow needs about 40 s on this machine to
start 50 task instances, and every run must still be going when the last one is submitted.
Synchronous, each run holds a slot for its whole length, so 50 runs would take about 25 x 60 s;
to stay in the time budget the synchronous DAG run maps --sync-runs runs (default 10) and its
wall time is also shown scaled to --runs (by rounds of two; --sync-runs 50 measures it all).

Run alone: ``python -m benchmarks.worker_slots [--runs 50] [--sync-runs 10] [--seconds 60]
[--modes deferrable sync]``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BENCH_DIR,
    CONN_ENV_VAR,
    exit_cleanly_on_signals,
    parse_iso,
    print_table,
    raise_open_file_limit,
    running_emulator,
    save_results,
    scratch_dir,
)
from tests.e2e.airflow_standalone import TERMINAL_RUN_STATES, AirflowApi, AirflowStandalone

DAG_PREFIX = "bench_worker_slots_"
MODES = ("deferrable", "sync")
PARALLELISM = 2
STARTUP_TIMEOUT = 300.0
SAMPLE_SECONDS = 0.5


class InFlightSampler:
    """Samples the emulator's ``runs_in_flight`` in a thread until stopped.

    :param emulator: the running emulator.
    """

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __repr__(self) -> str:
        return f"InFlightSampler(samples={len(self.samples)})"

    def __enter__(self) -> InFlightSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def peak(self) -> int:
        return max((count for _, count in self.samples), default=0)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                count = int(self.emulator.stats()["runs_in_flight"])
            except Exception:  # a missed sample is no reason to stop the benchmark
                continue
            self.samples.append((time.time(), count))


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that share one moment.

    :param intervals: epoch-second pairs.
    """
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def run_mode(
    client: AirflowApi, workload: Any, emulator: Any, *, mode: str, runs: int, seconds: float
) -> dict[str, Any]:
    """Trigger one DAG run of ``mode`` and wait for it; return its figures."""
    dag_id = DAG_PREFIX + mode
    client.wait_for_dag(dag_id, STARTUP_TIMEOUT)
    client.unpause(dag_id)
    conf = {"pipeline_id": workload.pipeline_id, "runs": runs, "duration_seconds": seconds}
    limit = STARTUP_TIMEOUT + runs * (seconds + 30) / PARALLELISM
    with InFlightSampler(emulator) as sampler:
        started = time.time()
        dag_run_id = str(client.trigger(dag_id, None, conf)["dag_run_id"])
        while (state := client.run_state(dag_id, dag_run_id)) not in TERMINAL_RUN_STATES:
            if time.time() - started > limit:
                raise TimeoutError(f"{dag_id} still {state} after {limit:.0f} s")
            time.sleep(1)
        wall = time.time() - started
    experiment = f"bench-worker-slots-{mode}"
    pipeline_runs = [
        r
        for r in workload.hook.list_pipeline_runs(workload.pipeline_id)
        if r.experiment_name == experiment
    ]
    intervals = [
        (parse_iso(r.status_info.creation_time), parse_iso(r.status_info.end_time))
        for r in pipeline_runs
    ]
    statuses: dict[str, int] = {}
    for r in pipeline_runs:
        statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
    return {
        "mode": mode,
        "dag_run_state": state,
        "task_states": client.task_state_counts(dag_id, dag_run_id),
        # Airflow's own audit events of the run: how a task was failed, if one was.
        "airflow_events": client.event_counts(dag_id, dag_run_id),
        "pipeline_runs": len(pipeline_runs),
        "run_statuses": statuses,
        "peak_in_flight_sampled": sampler.peak,
        "peak_in_flight_exact": max_overlap(intervals),
        "all_submitted_after_s": max((s for s, _ in intervals), default=started) - started,
        "first_submitted_after_s": min((s for s, _ in intervals), default=started) - started,
        "wall_seconds": wall,
    }


def measure(
    runs: int, sync_runs: int, seconds: float, modes: Sequence[str], time_limit: int
) -> dict[str, Any]:
    """Run each mode on one standalone Airflow; print the table; return the figures."""
    raise_open_file_limit()
    from benchmarks._workload import SimulatedWorkload

    rows: list[dict[str, Any]] = []
    with scratch_dir("worker-slots") as work, running_emulator(work / "emulator") as emulator:
        os.environ[CONN_ENV_VAR] = emulator.airflow_conn
        workload = SimulatedWorkload(emulator)
        env = {CONN_ENV_VAR: emulator.airflow_conn, "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM)}
        airflow = AirflowStandalone(work / "airflow-home", BENCH_DIR / "dags", env, time_limit)
        try:
            airflow.start()
            airflow.wait_for_api(STARTUP_TIMEOUT)
            client = airflow.api()
            for mode in modes:
                count = sync_runs if mode == "sync" else runs
                print(f"... {mode}: {count} runs of {seconds:g} s", flush=True)
                row = run_mode(client, workload, emulator, mode=mode, runs=count, seconds=seconds)
                row["wall_scaled_to_runs_s"] = row["wall_seconds"] * rounds(runs) / rounds(count)
                rows.append(row)
        except BaseException:
            print(f"airflow standalone log tail:\n{airflow.log_tail()}", flush=True)
            raise
        finally:
            airflow.stop()
            workload.close()
    _print_rows(rows, runs, seconds, "airflow standalone, LocalExecutor, SQLite")
    return {
        "runs": runs,
        "sync_runs": sync_runs,
        "seconds": seconds,
        "parallelism": PARALLELISM,
        "rows": rows,
    }


def _print_rows(rows: list[dict[str, Any]], runs: int, seconds: float, shape: str) -> None:
    print_table(
        f"Worker slots: {runs} runs of {seconds:g} s, parallelism {PARALLELISM} ({shape})",
        [
            "mode",
            "DAG run",
            "runs",
            "Finished",
            "peak in flight (sampled)",
            "peak in flight (exact)",
            "all submitted after s",
            "wall s",
            f"wall for {runs} runs s",
        ],
        [
            [
                r["mode"],
                r["dag_run_state"],
                r["pipeline_runs"],
                r["run_statuses"].get("Finished", 0),
                r["peak_in_flight_sampled"],
                r["peak_in_flight_exact"],
                r["all_submitted_after_s"],
                r["wall_seconds"],
                r["wall_scaled_to_runs_s"]
                if r["pipeline_runs"] == runs
                else f"~{r['wall_scaled_to_runs_s']:.0f} (scaled)",
            ]
            for r in rows
        ],
    )


def measure_on_cluster(
    runs: int, sync_runs: int, seconds: float, modes: Sequence[str]
) -> dict[str, Any]:
    """Run each mode on ``scripts/cluster.sh`` (PostgreSQL, Redis, CeleryExecutor, two workers
    of concurrency 1, two triggerers); print the table; return the figures."""
    raise_open_file_limit()
    from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
    from benchmarks._workload import SimulatedWorkload
    from tests.e2e.cluster.cluster import Cluster

    rows: list[dict[str, Any]] = []
    with scratch_dir("worker-slots-cluster") as work:
        work.chmod(0o711)  # PostgreSQL runs as its own user
        cluster = Cluster(work / "cluster", {"DAGS_FOLDER": str(BENCH_DIR / "dags")})
        try:
            cluster.up()
            # The cluster's emulator, attached to (not started) for its counters and runs.
            emulator = EmulatorProcess(Path(cluster.settings["EMULATOR_STATE_DIR"]))
            emulator.manifest = cluster.manifest
            os.environ[CONN_ENV_VAR] = cluster.airflow_conn
            workload = SimulatedWorkload(emulator)
            client = cluster.api()
            try:
                for mode in modes:
                    count = sync_runs if mode == "sync" else runs
                    print(f"... {mode}: {count} runs of {seconds:g} s (cluster)", flush=True)
                    row = run_mode(
                        client, workload, emulator, mode=mode, runs=count, seconds=seconds
                    )
                    row["wall_scaled_to_runs_s"] = (
                        row["wall_seconds"] * rounds(runs) / rounds(count)
                    )
                    rows.append(row)
            finally:
                workload.close()
        finally:
            cluster.down()
    _print_rows(rows, runs, seconds, "scripts/cluster.sh: CeleryExecutor, 2 workers, PostgreSQL")
    return {
        "runs": runs,
        "sync_runs": sync_runs,
        "seconds": seconds,
        "parallelism": PARALLELISM,
        "airflow": "cluster",
        "rows": rows,
    }


def rounds(runs: int) -> int:
    """How many times the two slots fill when each run holds one slot throughout."""
    return -(-runs // PARALLELISM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs of the deferrable DAG run")
    parser.add_argument("--sync-runs", type=int, default=10, help="runs of the synchronous one")
    parser.add_argument("--seconds", type=float, default=60.0, help="each run's duration")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--time-limit", type=int, default=1800, help="standalone's timeout")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run on scripts/cluster.sh (PostgreSQL, Celery, 2 workers) instead of standalone",
    )
    args = parser.parse_args(argv)
    exit_cleanly_on_signals()
    if args.cluster:
        figures = measure_on_cluster(args.runs, args.sync_runs, args.seconds, args.modes)
        save_results("worker_slots_cluster", figures)
    else:
        figures = measure(args.runs, args.sync_runs, args.seconds, args.modes, args.time_limit)
        save_results("worker_slots", figures)
    failed = [r["mode"] for r in figures["rows"] if r["dag_run_state"] != "success"]
    for row in figures["rows"]:
        if row["dag_run_state"] != "success":
            print(
                f"{row['mode']}: DAG run {row['dag_run_state']}; task states {row['task_states']}; "
                f"Airflow events {row['airflow_events']}"
            )
    deferred = [r for r in figures["rows"] if r["mode"] == "deferrable"]
    if deferred and deferred[0]["peak_in_flight_exact"] < args.runs:
        print(f"GOAL MISSED: not all {args.runs} deferrable runs were in flight together")
        failed.append("deferrable")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
