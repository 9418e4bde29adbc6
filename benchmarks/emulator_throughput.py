"""Part 4: requests per second that the emulator serves on the run-status route.

The trigger benchmark must measure the watcher, not the emulator: this shows how much status
traffic the emulator absorbs, idle and with 2,000 simulated runs in flight, so the trigger
benchmark's request rate (N / poll interval) can be compared with it.

Clients: an aiohttp client in this process (always), and ``wrk`` when it is installed
(``apt-get install -y wrk``), which costs far less CPU per request and so leaves more of the
two cores to the emulator. All traffic stays on 127.0.0.1.

Run alone: ``python -m benchmarks.emulator_throughput [--seconds 8] [--in-flight 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import ssl
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV_VAR,
    exit_cleanly_on_signals,
    percentile,
    print_table,
    raise_open_file_limit,
    running_emulator,
    save_results,
    scratch_dir,
)
from benchmarks._workload import SimulatedWorkload

CONCURRENCY = (1, 64, 256)
WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Accept"] = "application/json"
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
"""


async def aiohttp_load(
    base_url: str,
    *,
    paths: Sequence[str],
    token: str,
    ca_bundle: str,
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    """Send status GETs from ``concurrency`` workers for ``seconds``; count and time them.

    :param base_url: the emulator's URL.
    :param paths: the run-status paths to pick from at random.
    :param token: a bearer token.
    :param ca_bundle: the emulator's CA certificate.
    :param concurrency: requests in flight at once.
    :param seconds: how long to measure (after a one-second warm-up).
    """
    import aiohttp

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(
        limit=concurrency, ssl=ssl.create_default_context(cafile=ca_bundle)
    )
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while time.monotonic() < until:
                started = time.perf_counter()
                async with session.get(base_url + random.choice(paths), headers=headers) as reply:
                    await reply.read()
                    ok = reply.status == 200
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += not ok

        warm_until = time.monotonic() + 1.0
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        started = time.monotonic()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


def wrk_load(
    base_url: str,
    *,
    paths: Sequence[str],
    token: str,
    concurrency: int,
    seconds: float,
    work: Path,
) -> dict[str, Any] | None:
    """The same load with ``wrk`` (one thread), or ``None`` when wrk is not installed.

    The token reaches wrk through the environment, not its command line (visible in ``ps``).
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = work / "status.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_PATHS_FILE": str(paths_file)}
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", str(script)]
    completed = subprocess.run(
        [*argv, base_url],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures = json.loads(line.removeprefix("WRK_JSON "))
            figures["rps"] = figures["requests"] / figures["seconds"]
            return figures
    raise RuntimeError(
        f"wrk printed no figures: {completed.stdout[-500:]} {completed.stderr[-500:]}"
    )


def measure(seconds: float, in_flight: int) -> dict[str, Any]:
    """Measure idle, then with ``in_flight`` simulated runs going; print and return figures."""
    raise_open_file_limit()
    rows: list[dict[str, Any]] = []
    with scratch_dir("throughput") as work, running_emulator(work / "emulator") as emulator:
        os.environ[CONN_ENV_VAR] = emulator.airflow_conn
        workload = SimulatedWorkload(emulator)
        token = workload.hook.tokens.token()
        finished = [
            workload.status_path(run_id) for run_id in emulator.manifest["pipeline_runs"].values()
        ]
        scenarios = [("idle: 3 finished runs", finished)]
        if in_flight:
            run_ids = workload.submit_many([seconds * 6 + 60] * in_flight, "throughput")
            scenarios.append(
                (f"{in_flight} runs in flight", [workload.status_path(r) for r in run_ids])
            )
        for label, paths in scenarios:
            for concurrency in CONCURRENCY:
                figures = asyncio.run(
                    aiohttp_load(
                        emulator.base_url,
                        paths=paths,
                        token=token,
                        ca_bundle=emulator.ca_bundle,
                        concurrency=concurrency,
                        seconds=seconds,
                    )
                )
                rows.append(
                    {"scenario": label, "client": "aiohttp", "concurrency": concurrency, **figures}
                )
                wrk_figures = wrk_load(
                    emulator.base_url,
                    paths=paths,
                    token=token,
                    concurrency=concurrency,
                    seconds=seconds,
                    work=work,
                )
                if wrk_figures is not None:
                    rows.append(
                        {
                            "scenario": label,
                            "client": "wrk",
                            "concurrency": concurrency,
                            **wrk_figures,
                        }
                    )
            rows[-1]["runs_in_flight"] = emulator.stats()["runs_in_flight"]
        workload.close()
    print_table(
        "Emulator throughput: GET run status (emulator and client share the 2 cores)",
        ["scenario", "client", "concurrency", "requests/s", "p50 ms", "p99 ms", "errors"],
        [
            [
                r["scenario"],
                r["client"],
                r["concurrency"],
                round(r["rps"]),
                r["p50_ms"],
                r["p99_ms"],
                r["errors"],
            ]
            for r in rows
        ],
    )
    return {"seconds_per_measurement": seconds, "rows": rows}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per row")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=2000,
        help="simulated runs in flight for the second scenario",
    )
    args = parser.parse_args(argv)
    exit_cleanly_on_signals()
    save_results("emulator_throughput", measure(args.seconds, args.in_flight))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
