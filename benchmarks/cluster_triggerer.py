"""Part 6, on the cluster: real ``airflow triggerer`` processes watching >= 1,000 deferred runs.

On ``scripts/cluster.sh`` (PostgreSQL, Redis, CeleryExecutor, two workers, two triggerers, the
emulator; docs/cluster.md) with ``[triggerer] capacity`` raised (``--capacity``, 2,000 per
triggerer by default) and the workers' concurrency raised (``--worker-concurrency``), all
through the environment the script lets win over its defaults (its own defaults, which the
tests use, are unchanged):

1. N runs of the emulator's ``simulated`` pipeline are submitted while the emulator holds every
   new run ``NotStarted`` (fault setting ``queue_seconds``, set to a day), so none can end while
   the task instances defer; 5 % end Failed (``--failed-fraction``);
2. one DAG run of ``benchmarks/dags_triggerer/bench_cluster_triggerer.py`` maps a deferrable
   ``AzureMLPipelineRunSensor`` over the N run ids: each mapped task instance takes a worker
   slot only to read its run once and defer (default ``batch_status_reads=True``);
3. once all N are deferred, the emulator's counters and the triggerers' CPU are read over
   ``--steady-intervals`` poll intervals with every run waiting (the steady window);
4. the runs are released (``queue_seconds`` 0): each runs its drawn duration
   (--min-seconds..--max-seconds) and ends; the watch lasts until every task instance is
   terminal (or --watch-limit).

Figures: status requests (``runs:query`` and per-run reads) and ARM reads per poll interval
in the steady window, 429s, the triggerers' CPU seconds (utime + stime of every process of
each triggerer's session, from ``/proc``) and peak RSS (``VmHWM``), detection latency (the
"Trigger fired event" line of the triggerer's log, else the first moment the REST API showed
the task instance no longer deferred, minus the run's end time; also the task instance's end
minus the run's end, which adds the resume on a worker), and outcome correctness (each task
instance's state against its run's final status).

Run: ``python -m benchmarks.cluster_triggerer [--runs 1000] [--apis v1 v2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BENCH_DIR,
    CONN_ENV_VAR,
    exit_cleanly_on_signals,
    parse_iso,
    percentile,
    print_table,
    raise_open_file_limit,
    save_results,
    scratch_dir,
    stats_delta,
)

log = logging.getLogger(__name__)

DAGS = BENCH_DIR / "dags_triggerer"
DAG_ID = "bench_cluster_triggerer"
DAG_ID_V2 = "bench_cluster_triggerer_v2"
V2_CONN_ID = "azure_ml_pipelines_bench_v2"
POLL_SECONDS = 10.0  # the DAG's poke_interval
HOLD_SECONDS = 86400.0
SEED = 20261206
STATUS_ROUTES = ("query runs", "get run", "get job", "get run history")
TRIGGERERS = ("triggerer-1", "triggerer-2")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FIRED = re.compile(r"Trigger fired event")
TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")


# --------------------------------------------------------------------------------------------
def session_processes(leader: int) -> list[int]:
    from tests.e2e.cluster.cluster import session_members

    return session_members(leader)


def process_figures(pids: Sequence[int]) -> dict[str, float]:
    """CPU seconds (utime + stime) and the largest ``VmHWM`` of ``pids`` now."""
    cpu = 0.0
    hwm = 0.0
    rss_sum = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    value = int(line.split()[1]) / 1024
                    hwm = max(hwm, value)
                    rss_sum += value
    return {"cpu_seconds": cpu, "max_vmhwm_mib": hwm, "sum_vmhwm_mib": rss_sum}


class TriggererSampler:
    """Samples the triggerers' processes every second (CPU, peak RSS) in a thread."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.peak: dict[str, dict[str, float]] = {name: {} for name in TRIGGERERS}
        self.latest: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __repr__(self) -> str:
        return f"TriggererSampler({self.latest})"

    def sample(self) -> dict[str, dict[str, float]]:
        figures = {}
        for name in TRIGGERERS:
            with contextlib.suppress(OSError, ValueError):
                pids = session_processes(self.cluster.pid(name))
                figures[name] = {**process_figures(pids), "processes": len(pids)}
                peak = self.peak[name]
                for key in ("max_vmhwm_mib", "sum_vmhwm_mib"):
                    peak[key] = max(peak.get(key, 0.0), figures[name][key])
        self.latest = figures
        return figures

    def __enter__(self) -> TriggererSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.sample()
            self._stop.wait(1.0)


def status_requests(stats: dict[str, Any]) -> int:
    return sum(stats["requests"].get(name, 0) for name in STATUS_ROUTES)


def arm(stats: dict[str, Any], key: str) -> int:
    return int(stats.get("arm", {}).get(key, 0))


def ti_states(client: Any, dag_id: str, dag_run_id: str) -> dict[int, dict[str, Any]]:
    """map index -> the ``wait`` task instance (state, end date), every page."""
    found: dict[int, dict[str, Any]] = {}
    offset = 0
    path = f"/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"
    while True:
        page = client.call(
            "GET", path, params={"limit": 1000, "offset": offset, "task_id_pattern": "wait"}
        )
        for ti in page["task_instances"]:
            if ti["task_id"] == "wait":
                found[int(ti["map_index"])] = ti
        offset += len(page["task_instances"])
        if not page["task_instances"] or offset >= page["total_entries"]:
            return found


def fired_times(logs_dir: Path, run_ids: Sequence[str]) -> dict[str, float]:
    """The first "Trigger fired event" line naming each run in the triggerers' logs."""
    wanted = set(run_ids)
    found: dict[str, float] = {}
    for name in TRIGGERERS:
        path = logs_dir / f"{name}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if not FIRED.search(line):
                continue
            stamp = TIMESTAMP.search(line)
            if stamp is None:
                continue
            for token in re.findall(r"[A-Za-z0-9_-]{20,}", line):
                if token in wanted and token not in found:
                    found[token] = parse_iso(stamp.group(1))
    return found


# --------------------------------------------------------------------------------------------
def submit_held(
    emulator: Any, workload: Any, *, api: str, count: int, args: argparse.Namespace
) -> tuple[list[str], list[str]]:
    """Submit ``count`` runs that the emulator holds ``NotStarted``; return ids and outcomes."""
    rng = random.Random(f"{SEED}-{api}-{count}")
    durations = [rng.uniform(args.min_seconds, args.max_seconds) for _ in range(count)]
    outcomes = [
        "Failed" if rng.random() < args.failed_fraction else "Finished" for _ in range(count)
    ]
    experiment = f"bench-cluster-triggerer-{api}"
    emulator.set_arm_budget(enabled=False)
    emulator.set_faults(queue_seconds=HOLD_SECONDS)
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(
            pool.map(
                lambda i: str(workload.submit(durations[i], experiment, outcomes[i])),
                range(count),
            )
        )
    print(f"    submitted {count} runs (held NotStarted) in {time.time() - started:.1f} s")
    return run_ids, outcomes


def wait_all_deferred(
    client: Any, dag_id: str, dag_run_id: str, count: int, limit: float
) -> list[tuple[float, dict[str, int]]]:
    """Poll the task instances until ``count`` are deferred; return the timeline."""
    triggered = time.time()
    timeline: list[tuple[float, dict[str, int]]] = []
    while True:
        counts = _count(ti["state"] for ti in ti_states(client, dag_id, dag_run_id).values())
        timeline.append((time.time() - triggered, counts))
        if counts.get("deferred", 0) >= count:
            return timeline
        if time.time() - triggered > limit:
            raise TimeoutError(f"not all {count} deferred after {limit:g} s: {counts}")
        time.sleep(5)


def watch_after_release(
    client: Any, dag_id: str, dag_run_id: str, count: int, limit: float
) -> tuple[dict[int, dict[str, Any]], dict[int, float]]:
    """Poll until every task instance is terminal; return them and when each left deferred."""
    released = time.time()
    first_seen: dict[int, float] = {}
    while True:
        states = ti_states(client, dag_id, dag_run_id)
        now = time.time()
        for index, ti in states.items():
            if ti["state"] != "deferred" and index not in first_seen:
                first_seen[index] = now
        terminal = sum(ti["state"] in ("success", "failed") for ti in states.values())
        if terminal >= count or now - released > limit:
            return states, first_seen
        time.sleep(2)


def run_phase(
    cluster: Any, client: Any, emulator: Any, workload: Any, *, api: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One API's phase: submit held runs, defer N sensors, steady window, release, watch."""
    count = args.runs
    run_ids, outcomes = submit_held(emulator, workload, api=api, count=count, args=args)
    dag_id = DAG_ID if api == "v1" else DAG_ID_V2
    if api == "v2":
        # ARM's real budget from here on: the task instances' first reads and the watch.
        emulator.set_arm_budget(enabled=True)
    client.wait_for_dag(dag_id, 300)
    client.unpause(dag_id)
    marks: dict[str, Any] = {}
    with TriggererSampler(cluster) as sampler:
        marks["start"] = (time.time(), emulator.stats(), sampler.sample())
        dag_run_id = str(client.trigger(dag_id, None, {"run_ids": run_ids})["dag_run_id"])
        timeline = wait_all_deferred(client, dag_id, dag_run_id, count, args.deferral_limit)
        marks["deferred"] = (time.time(), emulator.stats(), sampler.sample())
        print(f"    all {count} deferred after {marks['deferred'][0] - marks['start'][0]:.0f} s")
        time.sleep(args.steady_intervals * POLL_SECONDS)
        marks["steady"] = (time.time(), emulator.stats(), sampler.sample())
        emulator.set_faults(queue_seconds=0)  # the runs start, and end after their durations
        states, first_seen = watch_after_release(
            client, dag_id, dag_run_id, count, args.watch_limit
        )
        marks["end"] = (time.time(), emulator.stats(), sampler.sample())
        peak = sampler.peak
    emulator.set_arm_budget(enabled=False)
    ends = workload.end_times(run_ids)
    fired = fired_times(cluster.folder / "logs", run_ids)
    return summarize(
        api=api,
        run_ids=run_ids,
        outcomes=outcomes,
        dag_run_id=dag_run_id,
        timeline=timeline,
        marks=marks,
        peak=peak,
        states=states,
        first_seen=first_seen,
        ends=ends,
        fired=fired,
    )


def summarize(
    *,
    api: str,
    run_ids: Sequence[str],
    outcomes: Sequence[str],
    dag_run_id: str,
    timeline: Sequence[Any],
    marks: dict[str, Any],
    peak: dict[str, Any],
    states: dict[int, dict[str, Any]],
    first_seen: dict[int, float],
    ends: dict[str, tuple[str, float]],
    fired: dict[str, float],
) -> dict[str, Any]:
    detection, detection_api, task_end, wrong = [], [], [], []
    for index, run_id in enumerate(run_ids):
        status, end = ends[run_id]
        ti = states.get(index, {})
        expected = {"Finished": "success", "Failed": "failed"}.get(status, "?")
        if ti.get("state") != expected:
            wrong.append({"run": run_id, "status": status, "ti": ti.get("state")})
        if math.isnan(end):
            continue
        if run_id in fired:
            detection.append(fired[run_id] - end)
        if index in first_seen:
            detection_api.append(first_seen[index] - end)
        if ti.get("end_date"):
            task_end.append(parse_iso(ti["end_date"]) - end)
    t_start, s_start, c_start = marks["start"]
    t_def, s_def, c_def = marks["deferred"]
    t_steady, s_steady, c_steady = marks["steady"]
    t_end, s_end, c_end = marks["end"]
    intervals = (t_steady - t_def) / POLL_SECONDS

    def cpu(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        return {
            name: b.get(name, {}).get("cpu_seconds", math.nan)
            - a.get(name, {}).get("cpu_seconds", math.nan)
            for name in TRIGGERERS
        }

    routes = stats_delta(s_start, s_end)["requests"]
    return {
        "api": api,
        "runs": len(run_ids),
        "failed_runs": list(outcomes).count("Failed"),
        "dag_run_id": dag_run_id,
        "all_deferred_after_s": t_def - t_start,
        "deferral_timeline": list(timeline)[-20:],
        "steady_seconds": t_steady - t_def,
        "steady_status_requests_per_interval": (status_requests(s_steady) - status_requests(s_def))
        / intervals,
        "steady_queries_per_interval": (
            s_steady["requests"].get("query runs", 0) - s_def["requests"].get("query runs", 0)
        )
        / intervals,
        "steady_arm_reads_per_interval": (arm(s_steady, "reads") - arm(s_def, "reads")) / intervals,
        "steady_throttled": arm(s_steady, "throttled") - arm(s_def, "throttled"),
        "throttled_total": arm(s_end, "throttled") - arm(s_start, "throttled"),
        "arm_reads_total": arm(s_end, "reads") - arm(s_start, "reads"),
        "requests_by_route": routes,
        "watch_after_release_s": t_end - t_steady,
        "cpu_deferral_phase": cpu(c_start, c_def),
        "cpu_steady_window": cpu(c_def, c_steady),
        "cpu_after_release": cpu(c_steady, c_end),
        "cpu_total": cpu(c_start, c_end),
        "triggerer_processes": {n: c_end.get(n, {}).get("processes") for n in TRIGGERERS},
        "triggerer_peak_rss_mib": peak,
        "detection_from_log": len(detection),
        "detection_p50": percentile(detection, 0.5),
        "detection_p99": percentile(detection, 0.99),
        "detection_max": max(detection, default=math.nan),
        "detection_api_p50": percentile(detection_api, 0.5),
        "detection_api_p99": percentile(detection_api, 0.99),
        "task_end_p50": percentile(task_end, 0.5),
        "task_end_p99": percentile(task_end, 0.99),
        "task_states": _count(ti.get("state") for ti in states.values()),
        "run_statuses": _count(status for status, _ in ends.values()),
        "wrong_outcomes": len(wrong),
        "wrong_examples": wrong[:5],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def add_v2_connection(client: Any, emulator: Any) -> None:
    """The v2 connection, in the metadata database (workers and triggerers read it there)."""
    conn = emulator.manifest["airflow_conn_v2"]
    host = conn["host"]
    client.call(
        "POST",
        "/connections",
        json={
            "connection_id": V2_CONN_ID,
            "conn_type": conn["conn_type"],
            "host": host,
            "login": conn["login"],
            "password": conn["password"],
            "extra": json.dumps(conn["extra"]),
        },
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_file_limit()
    from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
    from benchmarks._workload import SimulatedWorkload
    from tests.e2e.cluster.cluster import Cluster

    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    env = {
        "DAGS_FOLDER": str(DAGS),
        "AIRFLOW__TRIGGERER__CAPACITY": str(args.capacity),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(args.worker_concurrency),
        "AIRFLOW__CORE__PARALLELISM": str(2 * args.worker_concurrency),
        "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, args.runs)),
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
        "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
    }
    with scratch_dir("cluster-triggerer") as work:
        work.chmod(0o711)  # PostgreSQL runs as its own user
        cluster = Cluster(work / "cluster", env)
        try:
            started = time.time()
            cluster.up()
            print(f"cluster up in {time.time() - started:.0f} s", flush=True)
            emulator = EmulatorProcess(Path(cluster.settings["EMULATOR_STATE_DIR"]))
            emulator.manifest = cluster.manifest
            os.environ[CONN_ENV_VAR] = cluster.airflow_conn
            client = cluster.api()
            for api in args.apis:
                print(f"... {api}: {args.runs} deferred runs on the cluster", flush=True)
                workload = SimulatedWorkload(emulator, api)
                try:
                    if api == "v2":
                        add_v2_connection(client, emulator)
                    row = run_phase(cluster, client, emulator, workload, api=api, args=args)
                    rows.append(row)
                    print_rows([row])
                except Exception as exc:
                    log.exception("Cluster phase %s failed", api)
                    failures.append(f"{api}: {type(exc).__name__}: {exc}")
                    for name in TRIGGERERS:
                        tail = cluster.log(name).splitlines()[-15:]
                        print(f"--- {name} log tail:\n" + "\n".join(tail))
                finally:
                    workload.close()
        finally:
            cluster.down()
    print_rows(rows)
    return {"rows": rows, "failures": failures, "settings": env}


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    print_table(
        f"Cluster: two triggerers watching deferred sensors (poll {POLL_SECONDS:g} s)",
        [
            "api",
            "N",
            "all deferred s",
            "status req/interval",
            "queries/interval",
            "ARM reads/interval",
            "429s",
            "CPU steady t1/t2 s",
            "CPU total t1/t2 s",
            "peak RSS t1/t2 MiB",
            "detect p50/p99 s",
            "task end p50/p99 s",
            "wrong",
        ],
        [
            [
                r["api"],
                r["runs"],
                f"{r['all_deferred_after_s']:.0f}",
                f"{r['steady_status_requests_per_interval']:.1f}",
                f"{r['steady_queries_per_interval']:.1f}",
                f"{r['steady_arm_reads_per_interval']:.1f}",
                r["throttled_total"],
                "/".join(f"{r['cpu_steady_window'][n]:.1f}" for n in TRIGGERERS),
                "/".join(f"{r['cpu_total'][n]:.1f}" for n in TRIGGERERS),
                "/".join(
                    f"{r['triggerer_peak_rss_mib'][n].get('max_vmhwm_mib', math.nan):.0f}"
                    for n in TRIGGERERS
                ),
                f"{r['detection_p50']:.2f}/{r['detection_p99']:.2f}",
                f"{r['task_end_p50']:.1f}/{r['task_end_p99']:.1f}",
                r["wrong_outcomes"],
            ]
            for r in rows
        ],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--apis", nargs="+", choices=("v1", "v2"), default=["v1"])
    parser.add_argument("--capacity", type=int, default=2000, help="[triggerer] capacity")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="per Celery worker")
    parser.add_argument("--min-seconds", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    parser.add_argument("--failed-fraction", type=float, default=0.05)
    parser.add_argument("--steady-intervals", type=float, default=3.0)
    parser.add_argument("--deferral-limit", type=float, default=2400.0)
    parser.add_argument("--watch-limit", type=float, default=1800.0)
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    exit_cleanly_on_signals()
    began = datetime.now().isoformat(timespec="seconds")
    figures = measure(args)
    figures.update({"began": began, "poll_interval": POLL_SECONDS, "args": vars(args)})
    save_results("cluster_triggerer", figures, directory=args.results_dir)
    for failure in figures["failures"]:
        print(f"PHASE FAILED: {failure}")
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
