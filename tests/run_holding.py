"""Hold emulator runs ``NotStarted`` until a waiting task has looked at them.

A sensor or a deferrable task proves its waiting path only when the run it waits for is still
going when it first looks. Instead of a run long enough to outlast Airflow's startup on a
loaded machine, the emulator queues the run (``queue_seconds``) and the test releases it once
the emulator has answered the task's first status read::

    with RunHold(emulator) as hold:
        run_id = submit(...)
        hold.release_after_reads(1)
        dag_run = dag.test(...)
    assert hold.released
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

#: Stats names of the requests that read a run's status (``/_emulator/stats`` "requests"):
#: ``GET .../PipelineRuns/{run_id}``, and run history's ``runs:query``, which the triggers of a
#: process share (one query reads many runs, so a count of them means "the triggers polled").
STATUS_READS = ("get run", "query runs")
#: Long enough for any test; the release ends it early.
HOLD_SECONDS = 3600.0


class RunHold:
    """Runs created inside the ``with`` block wait ``NotStarted`` until released.

    :param emulator: the emulator.
    :param timeout: seconds to wait for the status reads before releasing anyway (the test
        then fails on :attr:`released`).
    """

    def __init__(self, emulator: EmulatorProcess, timeout: float = 300) -> None:
        self.emulator = emulator
        self.timeout = timeout
        #: Whether the runs were released because the status reads happened.
        self.released = False
        self._earlier = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunHold:
        self._earlier = float(
            self.emulator.admin("GET", "/_emulator/admin/faults")["queue_seconds"]
        )
        self.emulator.set_faults(queue_seconds=HOLD_SECONDS)
        return self

    def reads(self) -> int:
        """How many run status reads the emulator has answered so far."""
        counted = self.emulator.stats()["requests"]
        return sum(int(counted.get(name, 0)) for name in STATUS_READS)

    def release_after_reads(self, reads: int = 1) -> None:
        """Release the held runs once the emulator answered ``reads`` more status reads.

        Call it after the runs were submitted and before the task starts.

        :param reads: status reads to wait for, counted from now.
        """
        target = self.reads() + reads
        self._thread = threading.Thread(target=self._release_at, args=(target,), daemon=True)
        self._thread.start()

    def _release_at(self, target: int) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.reads() >= target:
                self.released = True
                break
            self._stop.wait(0.2)
        self.emulator.set_faults(queue_seconds=self._earlier)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        self.emulator.set_faults(queue_seconds=self._earlier)


def run_held(
    emulator: EmulatorProcess, run_dag: Callable[..., Any], dag_id: str, **conf: Any
) -> Any:
    """Run a DAG whose runs stay queued until the emulator answered one status read.

    For a DAG whose task submits the run itself: the task's first look finds the run
    ``NotStarted``, so a deferrable task defers and a sync one polls, however fast the run.
    Returns the DagRun.

    :param emulator: the emulator the DAG talks to.
    :param run_dag: runs the DAG (``run_dag(dag_id, **conf)``).
    :param dag_id: the DAG.
    :param conf: the run's conf.
    """
    with RunHold(emulator) as hold:
        hold.release_after_reads(1)
        dag_run = run_dag(dag_id, **conf)
    assert hold.released, f"no task of {dag_id} read its run's status"
    return dag_run
