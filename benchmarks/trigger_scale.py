"""Part 1: one triggerer-like process watching thousands of runs, against the naive baseline.

For each N, N runs of the emulator's ``simulated`` pipeline are submitted with durations drawn
uniformly from [--min-seconds, --max-seconds] (same seed for both modes), and streamed, as they
are submitted, to a watching process (``benchmarks._watcher``) that watches them either with
``AzureMLPipelineRunTrigger`` tasks in one event loop (``trigger``) or with one thread and one
sync hook per run (``baseline``). Figures per N and mode:

- detection delay: the moment the watch yields its event minus the run's ``Status.EndTime``;
- CPU seconds of the watching process (``os.wait4``) and its peak RSS (``VmHWM``), next to
  the CPU and RSS it had when its imports were done;
- HTTP requests per run and token acquisitions, from the emulator's counters.

The emulator issues tokens valid for --token-lifetime seconds (default 120), so a phase of a
few minutes shows the token being renewed: the goal is one acquisition per renewal period per
process, not per run.

With ``--apis v1 v2`` every (N, mode) is measured on both service APIs of one emulator, in
adjacent phases: v1 pipeline runs on the default connection, and v2 pipeline jobs on the
emulator's ``airflow_conn_v2`` connection (the same trigger and hook classes, answered by the
v2 client). A last table puts the two side by side.

Run alone: ``python -m benchmarks.trigger_scale [--counts 500 1000 2000] [--modes trigger
baseline] [--apis v1 v2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV_VAR,
    PYTHON,
    ROOT,
    airflow_env,
    exit_cleanly_on_signals,
    kill_group,
    percentile,
    print_table,
    raise_open_file_limit,
    running_emulator,
    save_results,
    scratch_dir,
    stats_delta,
)
from benchmarks._side_by_side import APIS, print_side_by_side, side_by_side

log = logging.getLogger(__name__)

DEFAULT_COUNTS = (500, 1000, 2000)
MODES = ("trigger", "baseline")
READY_TIMEOUT = 180.0
SEED = 20260701
EMULATOR_ROUTES = ("stats",)  # the orchestrator's own reads of the counters
#: The smallest N at which CPU and memory are compared with the baseline's.
SCALE_GOAL_RUNS = 1000


class WatcherProcess:
    """A ``benchmarks._watcher`` child in its own process group, fed run ids on stdin.

    :param mode: ``trigger`` or ``baseline``.
    :param env: its environment.
    :param out: where it writes its figures.
    :param poll_interval: seconds between polls.
    :param step_progress_interval: the triggers' step-progress interval.
    """

    def __init__(
        self,
        mode: str,
        env: dict[str, str],
        out: Path,
        *,
        poll_interval: float,
        step_progress_interval: float,
    ) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "benchmarks._watcher",
                "--mode",
                mode,
                "--poll-interval",
                str(poll_interval),
                "--step-progress-interval",
                str(step_progress_interval),
                "--out",
                str(out),
                "--log",
                str(out.with_suffix(".log")),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def __repr__(self) -> str:
        return f"WatcherProcess(pid={self._process.pid})"

    def wait_until_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until the watcher has imported everything and printed ``READY``."""
        assert self._process.stdout is not None
        timer = threading.Timer(timeout, kill_group, args=(self._process,))
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if line.strip() != "READY":
            raise RuntimeError(f"the watcher did not start (exit code {self._process.poll()})")

    def send(self, run_id: str) -> None:
        """Hand a run id to the watcher (from any thread)."""
        assert self._process.stdin is not None
        with self._lock:
            self._process.stdin.write(run_id + "\n")
            self._process.stdin.flush()

    def finish(self, timeout: float) -> float:
        """Close its input and wait for it; return its CPU seconds (``wait4``)."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self._process.pid, os.WNOHANG)
            if pid == self._process.pid:
                self._process.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the watcher was still running after {timeout:g} s")
            time.sleep(0.2)
        if self._process.returncode != 0:
            raise RuntimeError(f"the watcher exited with code {self._process.returncode}")
        return usage.ru_utime + usage.ru_stime

    def kill(self) -> None:
        kill_group(self._process)


def run_phase(
    workload: Any,
    emulator: Any,
    *,
    mode: str,
    label: str,
    durations: Sequence[float],
    poll_interval: float,
    step_progress_interval: float,
    work: Path,
) -> dict[str, Any]:
    """Submit and watch one batch of runs in one mode; return its figures (row ``label``)."""
    count = len(durations)
    api = workload.api
    out = work / f"{api}-{re.sub(r'[^A-Za-z0-9]+', '-', label)}-{count}.json"
    env = airflow_env(work / "airflow-home", {CONN_ENV_VAR: workload.conn_json})
    watcher = WatcherProcess(
        mode,
        env,
        out,
        poll_interval=poll_interval,
        step_progress_interval=step_progress_interval,
    )
    try:
        watcher.wait_until_ready()
        workload.fresh_token()
        tokens_before = workload.token_marks()
        before = emulator.stats()
        submit_started = time.time()
        experiment = f"bench-{api}-{re.sub(r'[^A-Za-z0-9]+', '-', label).strip('-')}-{count}"
        run_ids = workload.submit_many(durations, experiment, watcher.send)
        submit_seconds = time.time() - submit_started
        orchestrator_renewed = sum(
            after is not before
            for before, after in zip(tokens_before, workload.token_marks(), strict=True)
        )
        cpu = watcher.finish(timeout=max(durations) + 600)
    finally:
        watcher.kill()
    after = emulator.stats()
    ends = workload.end_times(run_ids)
    report = json.loads(out.read_text(encoding="utf-8"))
    return summarize(
        label,
        run_ids,
        ends,
        report,
        stats_delta(before, after),
        api_routes=workload.routes,
        poll_interval=poll_interval,
        cpu=cpu,
        submit_seconds=submit_seconds,
        watch_started=submit_started,
        orchestrator_renewed=orchestrator_renewed,
    )


def summarize(
    label: str,
    run_ids: Sequence[str],
    ends: dict[str, tuple[str, float]],
    report: dict[str, Any],
    delta: dict[str, Any],
    *,
    api_routes: Any,
    poll_interval: float,
    cpu: float,
    submit_seconds: float,
    watch_started: float,
    orchestrator_renewed: int,
) -> dict[str, Any]:
    """The figures of one phase from the runs' end times, the watcher's report and counters.

    :param api_routes: the counter names of the API's status, step and submit routes.
    :param orchestrator_renewed: tokens this process acquired inside the phase's window.
    """
    count = len(run_ids)
    events = report["events"]
    delays = [
        events[run_id][0] - ends[run_id][1]
        for run_id in run_ids
        if run_id in events and not math.isnan(ends[run_id][1])
    ]
    mismatched = [
        run_id for run_id in run_ids if run_id not in events or events[run_id][1] != ends[run_id][0]
    ]
    routes_hit = dict(delta["requests"])
    submits = routes_hit.pop(api_routes.submit, 0)
    for name in EMULATOR_ROUTES:
        routes_hit.pop(name, None)
    watcher_requests = (
        delta["requests_total"]
        - submits
        - sum(delta["requests"].get(name, 0) for name in EMULATOR_ROUTES)
    )
    watch_seconds = report["finished_epoch"] - watch_started
    return {
        "api": api_routes.api,
        "mode": label,
        "runs": count,
        "poll_interval": poll_interval,
        "submit_seconds": submit_seconds,
        "watch_seconds": watch_seconds,
        "delay_p50": percentile(delays, 0.5),
        "delay_p99": percentile(delays, 0.99),
        "delay_max": max(delays, default=math.nan),
        "delay_min": min(delays, default=math.nan),
        "outcomes_mismatched": len(mismatched),
        "cpu_seconds": cpu,
        "cpu_seconds_watching": cpu - report["ready"]["cpu_seconds"],
        "max_rss_mib": report["max_rss_mib"],
        "rss_after_imports_mib": report["ready"]["rss_mib"],
        "peak_threads": report["peak_threads"],
        "watcher_requests": watcher_requests,
        "requests_per_run": watcher_requests / count,
        "status_reads_per_run": routes_hit.get(api_routes.status, 0) / count,
        "step_reads_per_run": sum(routes_hit.get(name, 0) for name in api_routes.steps) / count,
        "requests_by_route": routes_hit,
        "tokens_issued": delta["tokens_issued"] - orchestrator_renewed,
        "orchestrator_renewed_in_window": orchestrator_renewed,
    }


def measure(
    counts: Sequence[int],
    modes: Sequence[str],
    *,
    poll_interval: float,
    min_seconds: float,
    max_seconds: float,
    token_lifetime: int,
    step_progress_interval: float,
    compare_step_progress: float,
    apis: Sequence[str] = ("v1",),
) -> dict[str, Any]:
    """Run every (N, mode, API) phase on one emulator; print the tables; return the figures.

    With ``compare_step_progress`` > 0, the largest N is also watched by triggers reading the
    steps' states that often, to show what step-progress logging costs. The phases of one
    (N, mode) follow each other for every API in ``apis``, so that their figures come from
    the same moment of the machine.
    """
    raise_open_file_limit()
    from benchmarks._workload import SimulatedWorkload

    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    with (
        scratch_dir("trigger-scale") as work,
        running_emulator(work / "emulator", token_lifetime=token_lifetime) as emulator,
        contextlib.ExitStack() as stack,
    ):
        os.environ[CONN_ENV_VAR] = emulator.airflow_conn
        workloads = []
        for api in apis:
            workloads.append(SimulatedWorkload(emulator, api))
            stack.callback(workloads[-1].close)
        for count in counts:
            rng = random.Random(SEED + count)
            durations = [rng.uniform(min_seconds, max_seconds) for _ in range(count)]
            phases = [(mode, mode, step_progress_interval) for mode in modes]
            if compare_step_progress > 0 and count == max(counts) and "trigger" in modes:
                label = f"trigger, steps every {compare_step_progress:g} s"
                phases.append(("trigger", label, compare_step_progress))
            for (mode, label, step_interval), workload in itertools.product(phases, workloads):
                print(f"... {workload.api} {label}: {count} runs", flush=True)
                try:
                    row = run_phase(
                        workload,
                        emulator,
                        mode=mode,
                        label=label,
                        durations=durations,
                        poll_interval=poll_interval,
                        step_progress_interval=step_interval,
                        work=work,
                    )
                except Exception as exc:  # the other phases still deserve their figures
                    log.exception("Phase %s %s with %d runs failed", workload.api, label, count)
                    failures.append(
                        f"{workload.api} {label}, N={count}: {type(exc).__name__}: {exc}"
                    )
                    continue
                rows.append(row)
                print_rows(rows[-1:], poll_interval, token_lifetime)
    print_rows(rows, poll_interval, token_lifetime)
    compared = side_by_side(rows) if len(apis) > 1 else []
    if compared:
        print_side_by_side(compared)
    return {
        "apis": list(apis),
        "side_by_side": compared,
        "poll_interval": poll_interval,
        "durations": [min_seconds, max_seconds],
        "token_lifetime": token_lifetime,
        "step_progress_interval": step_progress_interval,
        "compare_step_progress": compare_step_progress,
        "rows": rows,
        "failures": failures,
    }


def print_rows(rows: Sequence[dict[str, Any]], poll_interval: float, token_lifetime: int) -> None:
    renewal = token_lifetime * 0.8
    print_table(
        f"Trigger scale (poll {poll_interval:g} s; token lifetime {token_lifetime} s, "
        f"renewed every {renewal:g} s)",
        [
            "api",
            "mode",
            "N",
            "delay p50 s",
            "delay p99 s",
            "delay max s",
            "CPU s",
            "CPU watching s",
            "peak RSS MiB",
            "RSS after imports",
            "req/run",
            "status/run",
            "steps/run",
            "tokens",
            "watch s",
            "wrong",
        ],
        [
            [
                r.get("api", "v1"),
                r["mode"],
                r["runs"],
                r["delay_p50"],
                r["delay_p99"],
                r["delay_max"],
                r["cpu_seconds"],
                r["cpu_seconds_watching"],
                r["max_rss_mib"],
                r["rss_after_imports_mib"],
                r["requests_per_run"],
                r["status_reads_per_run"],
                r["step_reads_per_run"],
                r["tokens_issued"],
                r["watch_seconds"],
                r["outcomes_mismatched"],
            ]
            for r in rows
        ],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=list(DEFAULT_COUNTS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--min-seconds", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--token-lifetime", type=int, default=120)
    parser.add_argument(
        "--step-progress-interval",
        type=float,
        default=None,
        help="the triggers' step_progress_interval (default: the trigger's own default)",
    )
    parser.add_argument(
        "--compare-step-progress",
        type=float,
        default=60.0,
        help="also watch the largest N with this step_progress_interval (0: skip)",
    )
    parser.add_argument(
        "--apis",
        nargs="+",
        choices=APIS,
        default=["v1"],
        help="the service APIs to watch runs of; with both, a side-by-side table follows",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="where the figures' JSON goes (default: benchmarks/results)",
    )
    args = parser.parse_args(argv)
    exit_cleanly_on_signals()
    step_interval = args.step_progress_interval
    if step_interval is None:
        step_interval = default_step_progress_interval()
    figures = measure(
        args.counts,
        args.modes,
        poll_interval=args.poll_interval,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        token_lifetime=args.token_lifetime,
        step_progress_interval=step_interval,
        compare_step_progress=args.compare_step_progress,
        apis=args.apis,
    )
    figures["goals"] = goals(figures)
    for line in figures["goals"]:
        print(line)
    save_results("trigger_scale", figures, directory=args.results_dir)
    for failure in figures["failures"]:
        print(f"PHASE FAILED: {failure}")
    return 1 if figures["failures"] else 0


def goals(figures: dict[str, Any]) -> list[str]:
    """The goals of the largest N of each API, each stated with its figures and whether it holds."""
    apis = figures.get("apis", ["v1"])
    lines = []
    for api in apis:
        rows = [r for r in figures["rows"] if r.get("api", "v1") == api]
        lines += _goals_of(rows, figures, f"{api} " if len(apis) > 1 else "")
    return lines


def _goals_of(rows: Sequence[dict[str, Any]], figures: dict[str, Any], prefix: str) -> list[str]:
    largest = max((r["runs"] for r in rows), default=0)
    trigger = next((r for r in rows if r["runs"] == largest and r["mode"] == "trigger"), None)
    baseline = next((r for r in rows if r["runs"] == largest and r["mode"] == "baseline"), None)
    if trigger is None:
        return []
    poll = figures["poll_interval"]
    renewal = figures["token_lifetime"] * 0.8
    allowed_tokens = math.ceil(trigger["watch_seconds"] / renewal)
    other_requests = trigger["requests_per_run"] - trigger["status_reads_per_run"]
    lines = [
        _verdict(
            trigger["delay_p99"] < poll + 1,
            f"{prefix}N={largest}: p99 detection delay {trigger['delay_p99']:.2f} s < poll "
            f"interval + 1 s = {poll + 1:g} s",
        ),
        _verdict(
            trigger["tokens_issued"] <= allowed_tokens,
            f"{prefix}N={largest}: {trigger['tokens_issued']} token acquisitions in "
            f"{trigger['watch_seconds']:.0f} s, one per renewal period ({renewal:g} s) allows "
            f"{allowed_tokens}",
        ),
        _verdict(
            other_requests < 0.1,
            f"{prefix}N={largest}: {trigger['requests_per_run']:.2f} requests per run = "
            f"{trigger['status_reads_per_run']:.2f} status polls + {other_requests:.3f} other "
            "(token, discovery)",
        ),
    ]
    if baseline is not None and largest < SCALE_GOAL_RUNS:
        lines.append(
            f"CPU and memory against the baseline are judged from N={SCALE_GOAL_RUNS} on: "
            "below it the fixed cost of the async stack (aiohttp, azure.identity.aio) dominates"
        )
    elif baseline is not None:
        cpu_ratio = trigger["cpu_seconds_watching"] / baseline["cpu_seconds_watching"]
        growth = trigger["max_rss_mib"] - trigger["rss_after_imports_mib"]
        baseline_growth = baseline["max_rss_mib"] - baseline["rss_after_imports_mib"]
        lines += [
            _verdict(
                cpu_ratio < 0.6,
                f"{prefix}N={largest}: CPU while watching "
                f"{trigger['cpu_seconds_watching']:.1f} s vs baseline "
                f"{baseline['cpu_seconds_watching']:.1f} s ({cpu_ratio:.0%})",
            ),
            _verdict(
                growth < 0.5 * baseline_growth,
                f"{prefix}N={largest}: memory beyond the imports {growth:.0f} MiB vs baseline "
                f"{baseline_growth:.0f} MiB (peak {trigger['max_rss_mib']:.0f} vs "
                f"{baseline['max_rss_mib']:.0f} MiB)",
            ),
        ]
    return lines


def _verdict(holds: bool, statement: str) -> str:
    return f"{'goal met' if holds else 'GOAL MISSED'}: {statement}"


def default_step_progress_interval() -> float:
    """The trigger's default ``step_progress_interval`` (what the operator's triggers use)."""
    import inspect

    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
        AzureMLPipelineRunTrigger,
    )

    default = inspect.signature(AzureMLPipelineRunTrigger).parameters["step_progress_interval"]
    return float(default.default)


if __name__ == "__main__":
    raise SystemExit(main())
