"""Polling helpers of the reliability tests: act when the task really is in its wait."""

from __future__ import annotations

import time

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

#: Stats names of the requests that read a run's status (``/_emulator/stats`` "requests"):
#: ``GET .../PipelineRuns/{run_id}``, and run history's ``runs:query``, which the triggers of a
#: process share (one query reads many runs, so a count of them means "the triggers polled").
STATUS_READS = ("get run", "query runs")


def wait_until_polled(emulator: EmulatorProcess, polls: int = 2, timeout: float = 180) -> None:
    """Return once a run is in flight and its status was read ``polls`` times since.

    A task that read the status of its run twice is in its wait loop (the operator's, or the
    trigger's), not still starting up or submitting.

    :param emulator: the emulator the task talks to.
    :param polls: status reads to see after the run appeared.
    :param timeout: seconds before giving up.
    :raises TimeoutError: no run, or not enough status reads, within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    baseline: int | None = None
    while True:
        stats = emulator.stats()
        reads = sum(int(stats["requests"].get(name, 0)) for name in STATUS_READS)
        if baseline is None and stats["runs_in_flight"] >= 1:
            baseline = reads
        if baseline is not None and reads >= baseline + polls:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no run in flight polled {polls} times within {timeout:g} s (stats: {stats})"
            )
        time.sleep(0.2)
