"""Part 6: batched status reads: one triggerer-like process watching up to 10,000 runs within
Azure's request budgets.

For each API (v1, v2), N and mode, N runs of the emulator's ``simulated`` pipeline are
submitted with ARM's budget **off** (v2 job PUTs would otherwise take N / 10 s), then the
budget is turned **on at ARM's real sizes** (reads 250 + 25/s, writes 200 + 10/s, per
subscription; ``PUT /_emulator/admin/arm-budget``) and a watching process
(``benchmarks._batched_watcher``) starts one ``AzureMLPipelineRunTrigger`` per run, spread over
one poll interval, with ``batch_status_reads`` on (``batched``: one run-history ``runs:query``
per experiment and chunk of <= 500 runs at each multiple of the poll interval) or off
(``per-run``: one status read per run and poll; on v2 an ARM job GET). Both modes are
measured in the same run, on one emulator.

The emulator holds every run NotStarted while a phase submits (fault setting ``queue_seconds``)
and releases them all when the watch starts, so that however long submitting takes, no run
ends before the watch has had --warm-intervals full poll intervals with every trigger started;
then they end uniformly over --end-spread seconds. 5 % of them (--failed-fraction) end Failed.
All runs of a phase share one experiment unless --runs-per-experiment splits them (one query
answers runs of one experiment). Per (API, N, mode):

- status requests and ARM reads per poll interval while all N runs wait (the steady window:
  from the last trigger's start to the first run's end), from ``/_emulator/stats`` sampled each
  second;
- 429s (the emulator's ``arm.throttled``) over the whole watch;
- p50 / p99 detection latency: the event's moment minus the run's end time in the emulator;
- CPU seconds and peak RSS (``VmHWM``) of the watching process;
- wrong outcomes (an event whose status is not the run's final status) and runs not detected
  when --max-watch-seconds ran out.

A sweep of smaller N in per-run mode on v2 (--sweep-counts), with the client's ARM pacing as
users get it and with pacing effectively off, finds the N at which per-run polling draws 429s.

``--query-probe RUNS`` only times the emulator's ``runs:query`` of 500 ids in an experiment of
RUNS runs and in one of 500.

Run alone: ``python -m benchmarks.batched_reads [--counts 1000 5000 10000] [--apis v1 v2]
[--modes batched per-run] [--poll-interval 10] [--sweep-counts 100 200 300 500 1000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import random
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV_VAR,
    PYTHON,
    ROOT,
    airflow_env,
    exit_cleanly_on_signals,
    machine,
    percentile,
    print_table,
    raise_open_file_limit,
    running_emulator,
    save_results,
    scratch_dir,
    stats_delta,
)
from benchmarks.trigger_scale import WatcherProcess

log = logging.getLogger(__name__)

DEFAULT_COUNTS = (1000, 5000, 10000)
APIS = ("v1", "v2")
MODES = ("batched", "per-run")
DEFAULT_SWEEP = (100, 200, 300, 500, 1000)
SEED = 20261206
#: Seconds the emulator holds each new run NotStarted while a phase submits (fault setting
#: ``queue_seconds``); set to 0 when the watch starts, which releases them all.
HOLD_SECONDS = 86400.0
SUBMIT_THREADS = 8
#: Routes that answer a status question of the watch: the batch query, and the per-run reads
#: (v1 run GET, v2 ARM job GET, run history's run GET for a run the query did not answer).
STATUS_ROUTES = ("query runs", "get run", "get job", "get run history")
#: ``ratelimit_pace`` that turns the client's ARM pacing off in effect (the sweep's second row).
UNPACED = 1e6


# --------------------------------------------------------------------------------------------
class Sampler:
    """Samples ``/_emulator/stats`` once a second in a thread: the phase's timeline."""

    def __init__(self, emulator: Any, period: float = 1.0) -> None:
        self.emulator = emulator
        self.period = period
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __repr__(self) -> str:
        return f"Sampler(samples={len(self.samples)})"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                stats = self.emulator.stats()
                self.samples.append((time.time(), stats))
            self._stop.wait(self.period)


def status_requests(stats: dict[str, Any]) -> int:
    return sum(stats["requests"].get(name, 0) for name in STATUS_ROUTES)


def arm(stats: dict[str, Any], key: str) -> int:
    return int(stats.get("arm", {}).get(key, 0))


class Watcher(WatcherProcess):
    """A ``benchmarks._batched_watcher`` child in its own process group, handed every run at
    once (``wait_until_ready``, ``finish`` and ``kill`` are part 1's)."""

    def __init__(self, mode: str, env: dict[str, str], out: Path, **options: float) -> None:
        self.out = out
        self._lock = threading.Lock()
        argv = [PYTHON, "-m", "benchmarks._batched_watcher", "--mode", mode]
        for name, value in options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        argv += ["--out", str(out), "--log", str(out.with_suffix(".log"))]
        self._process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def start_watch(self, runs: Sequence[dict[str, str]]) -> None:
        """Hand every run over at once; the watch starts when the input ends."""
        assert self._process.stdin is not None
        self._process.stdin.write("".join(json.dumps(run) + "\n" for run in runs))
        self._process.stdin.close()


# --------------------------------------------------------------------------------------------
def run_phase(
    workload: Any,
    emulator: Any,
    *,
    mode: str,
    count: int,
    poll_interval: float,
    warm_intervals: float,
    end_spread: float,
    failed_fraction: float,
    max_watch_seconds: float,
    work: Path,
    label: str = "",
    conn_extra: dict[str, Any] | None = None,
    runs_per_experiment: int = 0,
) -> dict[str, Any]:
    """Submit N runs (budget off), then watch them (budget on); return the phase's figures.

    :param runs_per_experiment: how many runs share an experiment (0: all of the phase's).
    """
    api = workload.api
    tag = f"{api}-{mode}-{count}{label}"
    rng = random.Random(f"{SEED}-{api}-{count}-{label}")
    # Offsets of the runs' ends from the watch's start; the same draw for both modes.
    first_end = poll_interval + warm_intervals * poll_interval
    offsets = [first_end + rng.uniform(0, end_spread) for _ in range(count)]
    outcomes = ["Failed" if rng.random() < failed_fraction else "Finished" for _ in range(count)]
    conn = json.loads(workload.conn_json)
    if conn_extra:
        conn["extra"] = {**conn.get("extra", {}), **conn_extra}
    out = work / f"{tag}.json"
    env = airflow_env(work / "airflow-home", {CONN_ENV_VAR: json.dumps(conn)})
    watcher = Watcher(
        mode,
        env,
        out,
        poll_interval=poll_interval,
        start_spread=poll_interval,
        max_watch_seconds=max_watch_seconds,
        seed=count,
    )
    sampler = Sampler(emulator)
    per_experiment = runs_per_experiment or count
    experiments = [f"bench-batched-{tag}-e{index // per_experiment}" for index in range(count)]
    try:
        watcher.wait_until_ready()
        emulator.set_arm_budget(enabled=False)
        # Held NotStarted until the watch starts, so that no run ends before it, however long
        # submitting takes; each then runs for its offset.
        emulator.set_faults(queue_seconds=HOLD_SECONDS)
        submit_started = time.time()

        def submit(index: int) -> str:
            return str(workload.submit(offsets[index], experiments[index], outcomes[index]))

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            run_ids = list(pool.map(submit, range(count)))
        submit_seconds = time.time() - submit_started
        # Every bucket starts full at ARM's real sizes.
        budget = emulator.set_arm_budget(enabled=True)
        before = emulator.stats()
        sampler.start()
        emulator.set_faults(queue_seconds=0)
        watch_started = time.time()
        watcher.start_watch(
            [
                {"run_id": run_id, "experiment": experiments[index]}
                for index, run_id in enumerate(run_ids)
            ]
        )
        cpu = watcher.finish(timeout=max_watch_seconds + 180)
    finally:
        sampler.stop()
        watcher.kill()
        with contextlib.suppress(Exception):
            emulator.set_arm_budget(enabled=False)
        with contextlib.suppress(Exception):
            emulator.set_faults(queue_seconds=0)
    after = emulator.stats()
    ends = workload_end_times(workload, run_ids)
    report = json.loads(out.read_text(encoding="utf-8"))
    return summarize(
        api=api,
        mode=mode,
        label=label,
        run_ids=run_ids,
        ends=ends,
        report=report,
        before=before,
        after=after,
        samples=sampler.samples,
        watch_started=watch_started,
        poll_interval=poll_interval,
        planned_first_end=watch_started + first_end,
        cpu=cpu,
        submit_seconds=submit_seconds,
        budget=budget,
        failed=outcomes.count("Failed"),
    )


def workload_end_times(workload: Any, run_ids: Sequence[str]) -> dict[str, tuple[str, float]]:
    """Each run's final status and end time, read after the watch (not counted in its figures)."""
    return workload.end_times(run_ids)


def summarize(
    *,
    api: str,
    mode: str,
    label: str,
    run_ids: Sequence[str],
    ends: dict[str, tuple[str, float]],
    report: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    samples: Sequence[tuple[float, dict[str, Any]]],
    watch_started: float,
    poll_interval: float,
    planned_first_end: float,
    cpu: float,
    submit_seconds: float,
    budget: dict[str, Any],
    failed: int,
) -> dict[str, Any]:
    count = len(run_ids)
    events = report["events"]
    detected = [run_id for run_id in run_ids if run_id in events]
    delays = [
        events[run_id][0] - ends[run_id][1]
        for run_id in detected
        if not math.isnan(ends[run_id][1])
    ]
    wrong = [run_id for run_id in detected if events[run_id][1] != ends[run_id][0]]
    wrong_examples = {run_id: [events[run_id][1:], ends[run_id][0]] for run_id in wrong[:5]}
    ended = [end for _, end in ends.values() if not math.isnan(end)]
    first_end = min(ended, default=planned_first_end)
    # The steady window: every trigger started (one poll interval after the watch's start),
    # no run ended yet.
    window_start = watch_started + poll_interval
    inside = [(t, s) for t, s in samples if window_start <= t <= first_end - 0.5]
    steady: dict[str, Any] = {"seconds": 0.0}
    if len(inside) >= 2:
        (t0, s0), (t1, s1) = inside[0], inside[-1]
        intervals = (t1 - t0) / poll_interval
        steady = {
            "seconds": t1 - t0,
            "status_requests_per_interval": (status_requests(s1) - status_requests(s0)) / intervals,
            "queries_per_interval": (
                s1["requests"].get("query runs", 0) - s0["requests"].get("query runs", 0)
            )
            / intervals,
            "arm_reads_per_interval": (arm(s1, "reads") - arm(s0, "reads")) / intervals,
            "throttled": arm(s1, "throttled") - arm(s0, "throttled"),
            "arm_reads_per_second": (arm(s1, "reads") - arm(s0, "reads")) / (t1 - t0),
        }
    routes = stats_delta(before, after)["requests"]
    routes.pop("stats", None)
    watch_seconds = report["finished_epoch"] - watch_started
    counters = report.get("reader_counters", {})
    return {
        "api": api,
        "mode": mode,
        "label": label,
        "runs": count,
        "failed_runs": failed,
        "poll_interval": poll_interval,
        "submit_seconds": submit_seconds,
        "watch_seconds": watch_seconds,
        "steady": steady,
        "status_requests_total": status_requests(after) - status_requests(before),
        "status_requests_per_interval_whole_watch": (
            (status_requests(after) - status_requests(before)) / (watch_seconds / poll_interval)
        ),
        "arm_reads_total": arm(after, "reads") - arm(before, "reads"),
        "throttled_total": arm(after, "throttled") - arm(before, "throttled"),
        "responses_429": after["responses"].get("429", 0) - before["responses"].get("429", 0),
        "requests_by_route": routes,
        "reader_counters": counters,
        # (seconds since the watch started, status requests, ARM reads, 429s), each second
        "timeline": [
            (
                round(t - watch_started, 2),
                status_requests(stats) - status_requests(before),
                arm(stats, "reads") - arm(before, "reads"),
                arm(stats, "throttled") - arm(before, "throttled"),
            )
            for t, stats in samples
        ],
        "delay_p50": percentile(delays, 0.5),
        "delay_p99": percentile(delays, 0.99),
        "delay_max": max(delays, default=math.nan),
        "detected": len(detected),
        "undetected": count - len(detected),
        "undetected_still_running": sum(
            1 for run_id in run_ids if run_id not in events and ends[run_id][0] == "Running"
        ),
        "wrong_outcomes": len(wrong),
        "wrong_examples": wrong_examples,
        "cpu_seconds": cpu,
        "cpu_seconds_watching": cpu - report["ready"]["cpu_seconds"],
        "max_rss_mib": report["max_rss_mib"],
        "rss_after_imports_mib": report["ready"]["rss_mib"],
        "arm_budget": {k: v for k, v in budget.items() if k != "remaining"},
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


# --------------------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_file_limit()
    from benchmarks._workload import SimulatedWorkload

    rows: list[dict[str, Any]] = []
    sweep: list[dict[str, Any]] = []
    failures: list[str] = []
    with (
        scratch_dir("batched-reads") as work,
        running_emulator(work / "emulator") as emulator,
        contextlib.ExitStack() as stack,
    ):
        os.environ[CONN_ENV_VAR] = emulator.airflow_conn
        workloads = {}
        for api in args.apis:
            workloads[api] = SimulatedWorkload(emulator, api)
            stack.callback(workloads[api].close)
        common = {
            "poll_interval": args.poll_interval,
            "warm_intervals": args.warm_intervals,
            "failed_fraction": args.failed_fraction,
            "work": work,
        }
        for count in args.counts:
            for api in args.apis:
                for mode in args.modes:
                    print(f"... {api} {mode}: {count} runs  (load {os.getloadavg()[0]:.2f})")
                    try:
                        row = run_phase(
                            workloads[api],
                            emulator,
                            mode=mode,
                            count=count,
                            end_spread=args.end_spread,
                            max_watch_seconds=args.max_watch_seconds,
                            runs_per_experiment=args.runs_per_experiment,
                            label=f"-{args.runs_per_experiment}pe"
                            if args.runs_per_experiment
                            else "",
                            **common,
                        )
                    except Exception as exc:
                        log.exception("Phase %s %s %d failed", api, mode, count)
                        failures.append(f"{api} {mode}, N={count}: {type(exc).__name__}: {exc}")
                        continue
                    rows.append(row)
                    print_rows([row])
        if "v2" in workloads:
            for count in args.sweep_counts:
                for paced in (True, False):
                    label = "" if paced else "-unpaced"
                    print(f"... sweep v2 per-run{label}: {count} runs")
                    try:
                        row = run_phase(
                            workloads["v2"],
                            emulator,
                            mode="per-run",
                            count=count,
                            end_spread=args.poll_interval,
                            max_watch_seconds=args.sweep_max_watch_seconds,
                            label=label,
                            conn_extra=None if paced else {"ratelimit_pace": UNPACED},
                            **common,
                        )
                    except Exception as exc:
                        log.exception("Sweep phase %d %s failed", count, label)
                        failures.append(f"sweep N={count}{label}: {type(exc).__name__}: {exc}")
                        continue
                    row["paced"] = paced
                    sweep.append(row)
                    print_sweep([row])
    print_rows(rows)
    if sweep:
        print_sweep(sweep)
    return {"rows": rows, "sweep": sweep, "failures": failures}


def query_probe(count: int, experiment_sizes: Sequence[int], repeats: int = 3) -> list[dict]:
    """What one ``runs:query`` of 500 ids costs the emulator, by the size of the experiment.

    On an emulator of its own, for each size: ``count`` more runs (held NotStarted) in
    experiments of that many runs; then ``repeats`` queries of 500 of them (the reader's chunk)
    in one experiment, timed one at a time through the async hook (the reader's own call).
    """
    import asyncio

    from benchmarks._workload import SimulatedWorkload

    rows = []
    with scratch_dir("query-probe") as work, running_emulator(work / "emulator") as emulator:
        os.environ[CONN_ENV_VAR] = emulator.airflow_conn
        workload = SimulatedWorkload(emulator, "v1")
        try:
            emulator.set_faults(queue_seconds=HOLD_SECONDS)
            for size in experiment_sizes:
                names = [f"probe-{size}-e{index // size}" for index in range(count)]
                with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
                    ids = list(pool.map(workload.submit, [60.0] * count, names))
                took = asyncio.run(_time_queries(names[0], ids[:500], repeats))
                rows.append(
                    {
                        "runs_submitted": count,
                        "runs_per_experiment": size,
                        "ids_per_query": min(500, size),
                        "seconds": took,
                    }
                )
                print(f"... {count} runs in experiments of {size}: query of 500 ids took {took}")
        finally:
            emulator.set_faults(queue_seconds=0)
            workload.close()
    return rows


async def _time_queries(experiment: str, run_ids: list[str], repeats: int) -> list[float]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook

    hook = AzureMLPipelinesAsyncHook()
    took = []
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            found = await hook.query_runs(experiment, run_ids)
            took.append(round(time.perf_counter() - started, 3))
            if len(found) != len(run_ids):
                raise RuntimeError(f"the query answered {len(found)} of {len(run_ids)} runs")
    finally:
        await hook.close()
    return took


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    print_table(
        "Batched vs per-run status reads (ARM budget on at 250 + 25/s reads during the watch)",
        [
            "api",
            "mode",
            "N",
            "status req/interval",
            "queries/interval",
            "ARM reads/interval",
            "429s",
            "p50 s",
            "p99 s",
            "CPU s",
            "CPU watching s",
            "peak RSS MiB",
            "wrong",
            "undetected",
            "watch s",
        ],
        [
            [
                r["api"],
                r["mode"] + (r.get("label") or ""),
                r["runs"],
                _fmt(r["steady"].get("status_requests_per_interval"), 1),
                _fmt(r["steady"].get("queries_per_interval"), 1),
                _fmt(r["steady"].get("arm_reads_per_interval"), 1),
                r["throttled_total"],
                _fmt(r["delay_p50"]),
                _fmt(r["delay_p99"]),
                _fmt(r["cpu_seconds"], 1),
                _fmt(r["cpu_seconds_watching"], 1),
                _fmt(r["max_rss_mib"], 0),
                r["wrong_outcomes"],
                r["undetected"],
                _fmt(r["watch_seconds"], 0),
            ]
            for r in rows
        ],
    )


def print_sweep(rows: Sequence[dict[str, Any]]) -> None:
    print_table(
        "Per-run polling on v2 under ARM's budget: where 429s start",
        [
            "N",
            "client pacing",
            "asked reads/s",
            "ARM reads/s (steady)",
            "429s steady",
            "429s total",
            "p50 s",
            "p99 s",
            "undetected",
            "wrong",
        ],
        [
            [
                r["runs"],
                "on (default)" if r.get("paced", True) else "off",
                _fmt(r["runs"] / r["poll_interval"], 1),
                _fmt(r["steady"].get("arm_reads_per_second"), 1),
                r["steady"].get("throttled", "n/a"),
                r["throttled_total"],
                _fmt(r["delay_p50"]),
                _fmt(r["delay_p99"]),
                r["undetected"],
                r["wrong_outcomes"],
            ]
            for r in rows
        ],
    )


def goals(figures: dict[str, Any], poll_interval: float) -> list[str]:
    """The issue's goals, each with its figures and whether it holds."""
    lines = []
    rows = figures["rows"]
    by_key = {(r["api"], r["mode"], r["runs"]): r for r in rows}
    for api in sorted({r["api"] for r in rows}):
        largest = max(r["runs"] for r in rows if r["api"] == api)
        batched = by_key.get((api, "batched", largest))
        per_run = by_key.get((api, "per-run", largest))
        if batched is None:
            continue
        prefix = f"{api} N={largest}:"
        b_req = batched["steady"].get("status_requests_per_interval", math.nan)
        if per_run is not None:
            p_req = per_run["steady"].get("status_requests_per_interval", math.nan)
            ratio = b_req / p_req if p_req else math.nan
            lines.append(
                _verdict(
                    ratio <= 0.01,
                    f"{prefix} batched/per-run status requests per interval "
                    f"{b_req:.1f}/{p_req:.1f} = {ratio:.2%} (goal <= 1 %; the per-run figure is "
                    f"what was served, against {largest} asked)",
                )
            )
            lines.append(
                f"{prefix} batched/per-run of the N asked per interval: {b_req / largest:.2%}"
            )
        if api == "v2":
            arm_wait = batched["steady"].get("arm_reads_per_interval", math.nan)
            lines.append(
                _verdict(
                    arm_wait == 0,
                    f"{prefix} batched ARM reads per interval while waiting "
                    f"{arm_wait:.1f} (goal 0)",
                )
            )
        lines.append(
            _verdict(
                batched["throttled_total"] == 0,
                f"{prefix} batched 429s {batched['throttled_total']} (goal 0)",
            )
        )
        lines.append(
            _verdict(
                batched["delay_p99"] <= poll_interval + 1,
                f"{prefix} batched p99 detection latency {batched['delay_p99']:.2f} s "
                f"(goal <= poll + 1 = {poll_interval + 1:g} s)",
            )
        )
        lines.append(
            _verdict(
                batched["wrong_outcomes"] == 0 and batched["undetected"] == 0,
                f"{prefix} batched wrong outcomes {batched['wrong_outcomes']}, undetected "
                f"{batched['undetected']} (goal 0)",
            )
        )
        lines.append(
            _verdict(
                batched["max_rss_mib"] < 1024,
                f"{prefix} batched peak RSS {batched['max_rss_mib']:.0f} MiB (goal < 1 GiB)",
            )
        )
    return lines


def _verdict(holds: bool, statement: str) -> str:
    return f"{'goal met' if holds else 'GOAL MISSED'}: {statement}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--counts", type=int, nargs="*", default=list(DEFAULT_COUNTS), help="N (none: sweep only)"
    )
    parser.add_argument("--apis", nargs="+", choices=APIS, default=list(APIS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=10.0,
        help="the triggers' poll interval (the operator's default is 30 s; 10 s keeps phases "
        "short)",
    )
    parser.add_argument(
        "--warm-intervals",
        type=float,
        default=3.0,
        help="full poll intervals with every trigger started before the first run ends",
    )
    parser.add_argument(
        "--end-spread", type=float, default=60.0, help="seconds over which the runs end"
    )
    parser.add_argument("--failed-fraction", type=float, default=0.05)
    parser.add_argument(
        "--runs-per-experiment",
        type=int,
        default=0,
        help="runs per experiment (0: all runs of a phase in one experiment); one query "
        "answers runs of one experiment only",
    )
    parser.add_argument(
        "--max-watch-seconds",
        type=float,
        default=240.0,
        help="bound of each phase's watch; triggers still waiting then are reported undetected",
    )
    parser.add_argument(
        "--sweep-counts",
        type=int,
        nargs="*",
        default=list(DEFAULT_SWEEP),
        help="N of the per-run v2 sweep for the 429 onset (none: skip it)",
    )
    parser.add_argument("--sweep-max-watch-seconds", type=float, default=90.0)
    parser.add_argument(
        "--query-probe",
        type=int,
        default=0,
        metavar="RUNS",
        help="only time the emulator's runs:query of 500 ids with RUNS runs in experiments of "
        "RUNS and of 500 runs (then exit)",
    )
    parser.add_argument("--quick", action="store_true", help="small version (checks the harness)")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.counts = [200]
        args.poll_interval = 5.0
        args.warm_intervals = 2.0
        args.end_spread = 10.0
        args.max_watch_seconds = 60.0
        args.sweep_counts = [100, 400]
        args.sweep_max_watch_seconds = 40.0
    exit_cleanly_on_signals()
    if args.query_probe:
        raise_open_file_limit()
        probe = query_probe(args.query_probe, [args.query_probe, 500])
        save_results("batched_reads_query_probe", {"rows": probe}, directory=args.results_dir)
        return 0
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine().items()), flush=True)
    started = time.time()
    figures = measure(args)
    figures.update(
        {
            "poll_interval": args.poll_interval,
            "warm_intervals": args.warm_intervals,
            "end_spread": args.end_spread,
            "failed_fraction": args.failed_fraction,
            "max_watch_seconds": args.max_watch_seconds,
            "seconds": time.time() - started,
        }
    )
    figures["goals"] = goals(figures, args.poll_interval)
    for line in figures["goals"]:
        print(line)
    save_results("batched_reads", figures, directory=args.results_dir)
    for failure in figures["failures"]:
        print(f"PHASE FAILED: {failure}")
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
