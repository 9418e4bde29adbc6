"""The watching process of the trigger-scale benchmark (started by ``trigger_scale``).

It reads run ids from standard input, one a line, as the orchestrator submits them, and watches
each until it ends, in one of two ways:

- ``trigger``: as Airflow's triggerer does: one :class:`AzureMLPipelineRunTrigger` per run,
  rebuilt from its ``serialize()`` output, its ``run()`` consumed in a task of its own in one
  event loop, and ``cleanup()`` awaited afterwards.
- ``baseline``: the naive alternative: one thread per run, each with its own sync hook, calling
  ``get_pipeline_run`` every poll interval.

When every run it was given has produced its event, it writes a JSON document to ``--out``:
the moment each watch yielded, and its own CPU time and memory. ``READY`` on standard output
tells the orchestrator that the imports are done and ids may come.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def rss_mib(field: str = "VmRSS") -> float:
    """A memory figure of this process in MiB from ``/proc/self/status``.

    :param field: ``VmRSS`` (now) or ``VmHWM`` (the peak). ``ru_maxrss`` is not used: Linux
        carries the parent's peak across fork and exec into it.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Recorder:
    """The first event of each watch and when it came (epoch seconds); thread-safe."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[float, str, str | None]] = {}
        self._lock = threading.Lock()
        self.peak_threads = threading.active_count()

    def __repr__(self) -> str:
        return f"Recorder(events={len(self.events)})"

    def record(self, run_id: str, status: str, detail: str | None = None) -> None:
        """Note that the watch of ``run_id`` ended now with ``status``.

        :param run_id: the run.
        :param status: the run's final status, or ``error``.
        :param detail: an error message.
        """
        moment = time.time()
        with self._lock:
            self.events.setdefault(run_id, (moment, status, detail))

    def sample_threads(self) -> None:
        self.peak_threads = max(self.peak_threads, threading.active_count())


# --------------------------------------------------------------------------------------------
# trigger mode
# --------------------------------------------------------------------------------------------
async def watch_with_triggers(
    poll_interval: float, step_progress_interval: float, recorder: Recorder
) -> int:
    """Start one trigger task per id read from stdin; wait for all; return how many."""
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
        AzureMLPipelineRunTrigger,
    )

    loop = asyncio.get_running_loop()
    ids: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_feed_ids, args=(loop, ids), daemon=True).start()
    tasks: list[asyncio.Task[None]] = []
    while (run_id := await ids.get()) is not None:
        # Built from its serialized form, as the triggerer builds it from the database row.
        # Per-run reads, as part 1 measures them; batched reads are part 6 (batched_reads).
        classpath, kwargs = AzureMLPipelineRunTrigger(
            run_id,
            poll_interval=poll_interval,
            step_progress_interval=step_progress_interval,
            batch_status_reads=False,
        ).serialize()
        assert classpath.endswith(AzureMLPipelineRunTrigger.__name__)
        trigger = AzureMLPipelineRunTrigger(**kwargs)
        tasks.append(asyncio.create_task(_run_trigger(trigger, recorder)))
    await asyncio.gather(*tasks)
    return len(tasks)


async def _run_trigger(trigger: Any, recorder: Recorder) -> None:
    try:
        async for event in trigger.run():
            payload = event.payload
            status = payload.get("run_status") or payload.get("status")
            recorder.record(trigger.run_id, str(status), payload.get("message"))
    except Exception as exc:  # a crashed trigger is a result too
        recorder.record(trigger.run_id, "error", f"{type(exc).__name__}: {exc}")
    finally:
        await trigger.cleanup()


def _feed_ids(loop: asyncio.AbstractEventLoop, ids: asyncio.Queue[str | None]) -> None:
    for line in sys.stdin:
        if line.strip():
            loop.call_soon_threadsafe(ids.put_nowait, line.strip())
    loop.call_soon_threadsafe(ids.put_nowait, None)


# --------------------------------------------------------------------------------------------
# baseline mode
# --------------------------------------------------------------------------------------------
def watch_with_threads(poll_interval: float, recorder: Recorder) -> int:
    """Start one polling thread (with its own sync hook) per id read from stdin; join all."""
    threads: list[threading.Thread] = []
    for line in sys.stdin:
        run_id = line.strip()
        if not run_id:
            continue
        thread = threading.Thread(
            target=_poll_in_thread, args=(run_id, poll_interval, recorder), daemon=True
        )
        thread.start()
        threads.append(thread)
        recorder.sample_threads()
    while any(thread.is_alive() for thread in threads):
        recorder.sample_threads()
        time.sleep(0.5)
    return len(threads)


def _poll_in_thread(run_id: str, poll_interval: float, recorder: Recorder) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        while True:
            status = hook.get_pipeline_run(run_id).status
            if status.is_terminal:
                recorder.record(run_id, status.value)
                return
            time.sleep(poll_interval)
    except Exception as exc:
        recorder.record(run_id, "error", f"{type(exc).__name__}: {exc}")
    finally:
        hook.close()


# --------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="watch runs named on stdin (benchmark child)")
    parser.add_argument("--mode", choices=["trigger", "baseline"], required=True)
    parser.add_argument("--poll-interval", type=float, required=True)
    parser.add_argument("--step-progress-interval", type=float, default=60.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="where its output goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("airflow_provider_mlpipelines", "azure", "airflow"):
        logging.getLogger(name).setLevel(logging.WARNING)

    # Import everything the watching needs before announcing readiness: the import cost is
    # reported apart from the cost of watching.
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (  # noqa: F401
        AzureMLPipelinesAsyncHook,
        AzureMLPipelinesHook,
    )
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (  # noqa: F401
        AzureMLPipelineRunTrigger,
    )

    ready = {"cpu_seconds": cpu_seconds(), "rss_mib": rss_mib(), "epoch": time.time()}
    print("READY", flush=True)
    # Nobody reads the pipe after READY: log lines written to it would fill it and block.
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, sys.stdout.fileno())
    os.dup2(log_fd, sys.stderr.fileno())
    recorder = Recorder()
    if args.mode == "trigger":
        watched = asyncio.run(
            watch_with_triggers(args.poll_interval, args.step_progress_interval, recorder)
        )
    else:
        watched = watch_with_threads(args.poll_interval, recorder)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    document = {
        "mode": args.mode,
        "watched": watched,
        "ready": ready,
        "finished_epoch": time.time(),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_mib": rss_mib("VmHWM"),
        "peak_threads": recorder.peak_threads,
        "events": {run_id: list(event) for run_id, event in recorder.events.items()},
    }
    args.out.write_text(json.dumps(document), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
