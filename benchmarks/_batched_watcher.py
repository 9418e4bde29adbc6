"""The watching process of the batched-reads benchmark (started by ``batched_reads``).

Like ``benchmarks._watcher``'s ``trigger`` mode, it watches runs as Airflow's triggerer does:
one :class:`AzureMLPipelineRunTrigger` per run, rebuilt from its ``serialize()`` output, its
``run()`` consumed in a task of its own in one event loop, ``cleanup()`` awaited afterwards.
Unlike it, it reads every run first (standard input, one JSON object a line: ``run_id`` and
``experiment``, until end of input), then starts the N triggers spread uniformly over
``--start-spread`` seconds (deferrals arriving at random moments), with
``batch_status_reads`` on (``batched``) or off (``per-run``), and ``experiment_name`` given as
the operator gives it.

The watch is bounded: after ``--max-watch-seconds`` the triggers still waiting are cancelled
and counted in the report. ``READY`` on standard output tells the orchestrator that the imports
are done; the report (JSON, ``--out``) has the moment each watch yielded its event, the batched
readers' counters, and the process's CPU time and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._watcher import Recorder, cpu_seconds, rss_mib

log = logging.getLogger(__name__)

MODES = ("batched", "per-run")


async def watch(
    runs: Sequence[dict[str, str]],
    *,
    batched: bool,
    poll_interval: float,
    start_spread: float,
    max_watch_seconds: float,
    seed: int,
    recorder: Recorder,
) -> dict[str, Any]:
    """Watch ``runs`` with one trigger task each; return the readers' counters and what was left.

    :param runs: ``{"run_id": ..., "experiment": ...}`` per run.
    :param batched: the triggers' ``batch_status_reads``.
    :param poll_interval: the triggers' poll interval.
    :param start_spread: seconds over which the triggers start (uniformly, seeded).
    :param max_watch_seconds: seconds after which the triggers still waiting are cancelled.
    :param seed: the start moments' seed.
    :param recorder: where events go.
    """
    from airflow_provider_mlpipelines.triggers._batched_reads import readers
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
        AzureMLPipelineRunTrigger,
    )

    rng = random.Random(seed)
    seen_readers: dict[int, Any] = {}

    async def one(run: dict[str, str], delay: float) -> None:
        await asyncio.sleep(delay)
        # Built from its serialized form, as the triggerer builds it from the database row.
        classpath, kwargs = AzureMLPipelineRunTrigger(
            run["run_id"],
            poll_interval=poll_interval,
            experiment_name=run["experiment"],
            batch_status_reads=batched,
        ).serialize()
        assert classpath.endswith(AzureMLPipelineRunTrigger.__name__)
        trigger = AzureMLPipelineRunTrigger(**kwargs)
        try:
            async for event in trigger.run():
                payload = event.payload
                status = payload.get("run_status") or payload.get("status")
                recorder.record(trigger.run_id, str(status), payload.get("message"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a crashed trigger is a result too
            recorder.record(trigger.run_id, "error", f"{type(exc).__name__}: {exc}")
        finally:
            await trigger.cleanup()

    async def sample_readers() -> None:
        while True:
            for reader in readers():
                seen_readers[id(reader)] = reader
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_readers())
    tasks = [asyncio.create_task(one(run, rng.uniform(0, start_spread))) for run in runs]
    _, pending = await asyncio.wait(tasks, timeout=max_watch_seconds) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    counters: Counter[str] = Counter()
    for reader in seen_readers.values():
        counters.update(reader.counters)
    return {
        "readers": len(seen_readers),
        "reader_counters": dict(counters),
        "cancelled_at_limit": len(pending),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="watch runs named on stdin (benchmark child)")
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--poll-interval", type=float, required=True)
    parser.add_argument("--start-spread", type=float, default=0.0)
    parser.add_argument("--max-watch-seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="where its output goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("airflow_provider_mlpipelines", "azure", "airflow"):
        logging.getLogger(name).setLevel(logging.WARNING)

    # Imported before READY: the import cost is reported apart from the cost of watching.
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (  # noqa: F401
        AzureMLPipelinesAsyncHook,
    )
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (  # noqa: F401
        AzureMLPipelineRunTrigger,
    )

    ready = {"cpu_seconds": cpu_seconds(), "rss_mib": rss_mib(), "epoch": time.time()}
    print("READY", flush=True)
    runs = [json.loads(line) for line in sys.stdin if line.strip()]
    # Nobody reads the pipe after READY: log lines written to it would fill it and block.
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, sys.stdout.fileno())
    os.dup2(log_fd, sys.stderr.fileno())
    recorder = Recorder()
    started = time.time()
    outcome = asyncio.run(
        watch(
            runs,
            batched=args.mode == "batched",
            poll_interval=args.poll_interval,
            start_spread=args.start_spread,
            max_watch_seconds=args.max_watch_seconds,
            seed=args.seed,
            recorder=recorder,
        )
    )
    document = {
        "mode": args.mode,
        "watched": len(runs),
        "ready": ready,
        "watch_started_epoch": started,
        "finished_epoch": time.time(),
        "cpu_seconds": cpu_seconds(),
        "max_rss_mib": rss_mib("VmHWM"),
        **outcome,
        "events": {run_id: list(event) for run_id, event in recorder.events.items()},
    }
    args.out.write_text(json.dumps(document), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
