"""Batched status reads: the triggers of one triggerer process share one reader per connection.

A waiting trigger asks :class:`BatchedStatusReader` for its run's status and is answered at
the next point of its poll interval's grid (multiples of the interval on the event loop's
clock), together with every other run due then. The reader answers each grid point per
experiment with one run-history ``runs:query`` per chunk of run ids, instead of one read per
run. Triggers with the same interval share every point, whenever they started; an interval
that is a multiple of another shares every point of it. So a process watching ``N`` runs of
one experiment at interval ``P`` sends ``ceil(N / chunk)`` queries per ``P`` seconds, and a
run's end is seen within ``P`` plus the query's time.

Every answer the query cannot give is read per run, so no run is reported wrong or waited
for forever:

- a run the query does not return (run history's index lags a new run; the run is in
  another experiment), or whose status word is unknown, is read on its own;
- a query refused with 400 is retried in halves (the service's limit on ids per filter is
  undocumented) and the smaller chunk is kept;
- any other failure reads that chunk's runs on their own, and that experiment's queries rest
  for :data:`QUERY_REST_SECONDS`;
- a run whose experiment is not known yet is read on its own, which names it (v1).

Runs of different connections never share a request: readers are per connection id and
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.clients.core.run_query import batchable
from airflow_provider_mlpipelines.exceptions import AzureMLServiceError

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook

log = logging.getLogger(__name__)

#: Run ids per query to start with: azureml-core's page size (its ``DEFAULT_PAGE_SIZE``), so
#: one chunk is one page. Halved while the service refuses a filter with 400.
CHUNK_SIZE = 500
#: The shortest poll interval the grid takes (seconds).
MIN_INTERVAL = 0.05
#: Per-run reads in flight at once, per reader.
PER_RUN_CONCURRENCY = 32
#: Seconds an experiment's queries rest after a failure other than 400 (reads go per run),
#: so that a query the service keeps failing does not add to every round's requests.
QUERY_REST_SECONDS = 60.0


@dataclass(frozen=True)
class RunReading:
    """A run's status as the reader found it.

    :param status: the status.
    :param experiment_name: the run's experiment, when known.
    :param batched: whether a ``runs:query`` answered it (else a per-run read).
    """

    status: PipelineRunStatus
    experiment_name: str | None
    batched: bool


@dataclass
class _Question:
    run_id: str
    experiment_name: str | None
    answer: asyncio.Future[RunReading]


class BatchedStatusReader:
    """Answers status questions for the runs of one connection, in batches.

    :param conn_id: the Airflow connection.
    :param chunk_size: run ids per query to start with (:data:`CHUNK_SIZE`).
    """

    def __init__(self, conn_id: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.conn_id = conn_id
        self.chunk_size = max(1, int(chunk_size))
        self.holders = 0
        #: ``queries``, ``query_failures``, ``from_queries``, ``per_run_reads``.
        self.counters: Counter[str] = Counter()
        self._rounds: dict[float, list[_Question]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}
        self._serving: set[asyncio.Task[None]] = set()
        self._rest_until: dict[str, float] = {}
        self._per_run = asyncio.Semaphore(PER_RUN_CONCURRENCY)
        self._hook: AzureMLPipelinesAsyncHook | None = None

    @property
    def hook(self) -> AzureMLPipelinesAsyncHook:
        """The reader's own async hook (one session and token for all its questions)."""
        if self._hook is None:
            from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
                AzureMLPipelinesAsyncHook,
            )

            self._hook = AzureMLPipelinesAsyncHook(azure_ml_pipelines_conn_id=self.conn_id)
        return self._hook

    async def read(self, run_id: str, experiment_name: str | None, interval: float) -> RunReading:
        """The status of ``run_id`` at the next point of ``interval``'s grid.

        :param run_id: the run (v2: the job name).
        :param experiment_name: its experiment, if known (else it is read on its own).
        :param interval: the asking trigger's poll interval, in seconds.
        :raises AzureMLPipelinesError: the per-run read that had to answer it failed.
        """
        loop = asyncio.get_running_loop()
        interval = max(float(interval), MIN_INTERVAL)
        # Rounded, so that the points of intervals that are multiples of each other coincide.
        due = round(math.ceil(loop.time() / interval) * interval, 6)
        answer: asyncio.Future[RunReading] = loop.create_future()
        self._rounds.setdefault(due, []).append(_Question(run_id, experiment_name, answer))
        if due not in self._timers:
            self._timers[due] = loop.call_at(due, self._start_round, due)
        return await answer

    async def close(self) -> None:
        """Answer nothing more, stop the rounds under way, and close the reader's hook."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for questions in self._rounds.values():
            for question in questions:
                question.answer.cancel()
        self._rounds.clear()
        tasks = list(self._serving)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._hook is not None:
            await self._hook.close()
            self._hook = None

    # ---------------------------------------------------------------------------------------
    def _start_round(self, due: float) -> None:
        self._timers.pop(due, None)
        batch = self._rounds.pop(due, [])
        if batch:
            task = asyncio.ensure_future(self._answer(batch))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _answer(self, batch: list[_Question]) -> None:
        by_run: dict[str, list[_Question]] = defaultdict(list)
        for question in batch:
            if not question.answer.done():
                by_run[question.run_id].append(question)
        by_experiment: dict[str, list[str]] = defaultdict(list)
        alone: list[str] = []
        now = time.monotonic()
        for run_id, questions in by_run.items():
            experiment = next((q.experiment_name for q in questions if q.experiment_name), None)
            if experiment and batchable(run_id) and self._rest_until.get(experiment, 0) <= now:
                by_experiment[experiment].append(run_id)
            else:
                alone.append(run_id)
        work = [self._read_alone(run_id, by_run[run_id]) for run_id in alone]
        for experiment, run_ids in by_experiment.items():
            for start in range(0, len(run_ids), self.chunk_size):
                chunk = run_ids[start : start + self.chunk_size]
                work.append(self._query(experiment, chunk, by_run))
        await asyncio.gather(*work)

    async def _query(
        self, experiment: str, run_ids: Sequence[str], by_run: dict[str, list[_Question]]
    ) -> None:
        self.counters["queries"] += 1
        try:
            found = await self.hook.query_runs(experiment, run_ids)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.counters["query_failures"] += 1
            if _refused(err) and len(run_ids) > 1:
                half = len(run_ids) // 2
                self.chunk_size = min(self.chunk_size, half)
                log.warning(
                    "Run history refused a query of %s runs (%s); asking for %s at a time",
                    len(run_ids),
                    err,
                    half,
                )
                await asyncio.gather(
                    self._query(experiment, run_ids[:half], by_run),
                    self._query(experiment, run_ids[half:], by_run),
                )
                return
            self._rest_until[experiment] = time.monotonic() + QUERY_REST_SECONDS
            log.warning(
                "Querying runs of experiment %s failed (%s); reading them one by one for %s s",
                experiment,
                err,
                QUERY_REST_SECONDS,
            )
            await asyncio.gather(*(self._read_alone(r, by_run[r]) for r in run_ids))
            return
        statuses = {run.run_id: run.pipeline_status for run in found}
        missing = []
        for run_id in run_ids:
            status = statuses.get(run_id)
            if status is None or status == PipelineRunStatus.UNKNOWN:
                missing.append(run_id)
                continue
            self.counters["from_queries"] += 1
            _settle(by_run[run_id], RunReading(status, experiment, batched=True))
        await asyncio.gather(*(self._read_alone(r, by_run[r]) for r in missing))

    async def _read_alone(self, run_id: str, questions: list[_Question]) -> None:
        async with self._per_run:
            self.counters["per_run_reads"] += 1
            try:
                run = await self.hook.get_run_status(run_id)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                for question in questions:
                    if not question.answer.done():
                        question.answer.set_exception(err)
                return
        given = next((q.experiment_name for q in questions if q.experiment_name), None)
        reading = RunReading(run.status, run.experiment_name or given, batched=False)
        _settle(questions, reading)


def _settle(questions: list[_Question], reading: RunReading) -> None:
    for question in questions:
        if not question.answer.done():
            question.answer.set_result(reading)


def _refused(err: Exception) -> bool:
    return isinstance(err, AzureMLServiceError) and err.status_code == 400


# -------------------------------------------------------------------------------------------
# One reader per event loop and connection
# -------------------------------------------------------------------------------------------
_READERS: dict[tuple[asyncio.AbstractEventLoop, str], BatchedStatusReader] = {}


def acquire_reader(conn_id: str, **options: Any) -> BatchedStatusReader:
    """The running loop's reader for ``conn_id`` (created on first use), held once more.

    :param conn_id: the Airflow connection.
    :param options: :class:`BatchedStatusReader` options for a new reader (tests).
    """
    loop = asyncio.get_running_loop()
    for key in [key for key in _READERS if key[0].is_closed()]:
        del _READERS[key]
    reader = _READERS.get((loop, conn_id))
    if reader is None:
        reader = _READERS[(loop, conn_id)] = BatchedStatusReader(conn_id, **options)
    reader.holders += 1
    return reader


async def release_reader(reader: BatchedStatusReader) -> None:
    """Give back one hold; the last one closes the reader.

    :param reader: what :func:`acquire_reader` returned.
    """
    reader.holders -= 1
    if reader.holders > 0:
        return
    loop = asyncio.get_running_loop()
    if _READERS.get((loop, reader.conn_id)) is reader:
        del _READERS[(loop, reader.conn_id)]
    await reader.close()


def readers() -> list[BatchedStatusReader]:
    """Every live reader of the running loop (diagnostics, tests, benchmarks)."""
    loop = asyncio.get_running_loop()
    return [reader for (owner, _), reader in _READERS.items() if owner is loop]
