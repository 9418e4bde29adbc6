"""Trigger that waits for an Azure ML pipeline run in the triggerer's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import BaseTrigger, TriggerEvent
from airflow_provider_mlpipelines._lifecycle import explain, read_states_from_trigger
from airflow_provider_mlpipelines._waiting import (
    DEFAULT_OUTAGE_TOLERANCE,
    TRANSIENT_ERRORS,
    OutageTolerance,
    ProgressLogger,
    error_event,
    terminal_event,
    timeout_event,
)
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import AzureMLPipelinesError, AzureMLServerError
from airflow_provider_mlpipelines.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_mlpipelines.triggers._batched_reads import (
    BatchedStatusReader,
    acquire_reader,
    release_reader,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook


#: How early (wall clock against the loop's clock) a bounded read may end and still be the
#: wait's end.
END_SLACK_SECONDS = 0.5

#: Seconds ``on_kill`` may take to decide and cancel; below the triggerer's own bound
#: (``[triggerer] on_kill_timeout``, 30 s by default).
ON_KILL_SECONDS = 28.0


class AzureMLPipelineRunTrigger(BaseTrigger):
    """Poll a pipeline run until it is terminal, then fire one event.

    Every argument is a plain value, so a triggerer restart rebuilds the trigger and carries on.
    The event is a dict with ``status`` (``terminal``, ``timeout`` or ``error``), ``run_id``, and
    ``run_status`` / ``timeout`` and ``canceled`` / ``message`` respectively.

    :param run_id: the pipeline run to wait for.
    :param azure_ml_pipelines_conn_id: the Airflow connection.
    :param poll_interval: seconds between status polls.
    :param end_time: epoch seconds after which waiting stops with a ``timeout`` event.
    :param timeout: the wait's length in seconds that ``end_time`` came from, for messages.
    :param cancel_on_timeout: cancel the run when ``end_time`` is reached.
    :param cancel_on_kill: cancel the run when a user stops the deferred task (Airflow 3.3+);
        never when the trigger only moves to another triggerer.
    :param step_progress_interval: seconds between reads of the steps' states for progress logs
        while the run is Running; 0 (the default) reads only the run's status, one request per
        poll (a positive value adds one request per interval: see BENCHMARKS.md).
    :param outage_tolerance: seconds of consecutive transient service errors to wait out.
    :param experiment_name: the run's experiment; lets the run's status be read in batches
        (without it, the first read is per run and names it on v1).
    :param batch_status_reads: read the status with the other triggers of this process that
        watch runs of the same connection, one run-history ``runs:query`` per chunk of runs at
        each multiple of ``poll_interval`` (see
        :mod:`airflow_provider_mlpipelines.triggers._batched_reads`); ``False`` reads it per
        run, ``poll_interval`` after the last answer (v2: an Azure Resource Manager read).
    """

    def __init__(
        self,
        run_id: str,
        *,
        azure_ml_pipelines_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        timeout: float | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        step_progress_interval: float = 0.0,
        outage_tolerance: float = DEFAULT_OUTAGE_TOLERANCE,
        experiment_name: str | None = None,
        batch_status_reads: bool = True,
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.azure_ml_pipelines_conn_id = azure_ml_pipelines_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.timeout = timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.step_progress_interval = float(step_progress_interval)
        self.outage_tolerance = float(outage_tolerance)
        self.experiment_name = experiment_name
        self.batch_status_reads = bool(batch_status_reads)
        self._reader: BatchedStatusReader | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "run_id": self.run_id,
                "azure_ml_pipelines_conn_id": self.azure_ml_pipelines_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "timeout": self.timeout,
                "cancel_on_timeout": self.cancel_on_timeout,
                "cancel_on_kill": self.cancel_on_kill,
                "step_progress_interval": self.step_progress_interval,
                "outage_tolerance": self.outage_tolerance,
                "experiment_name": self.experiment_name,
                "batch_status_reads": self.batch_status_reads,
            },
        )

    @cached_property
    def hook(self) -> AzureMLPipelinesAsyncHook:
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
            AzureMLPipelinesAsyncHook,
        )

        # A Retry-After that would outlast the wait's end fails the call instead.
        return AzureMLPipelinesAsyncHook(
            azure_ml_pipelines_conn_id=self.azure_ml_pipelines_conn_id, deadline=self.end_time
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except AzureMLPipelinesError as err:
            event = error_event(self.run_id, str(err))
        except Exception as err:  # an event explains it better than a crashed trigger
            self.log.exception("Watching pipeline run %s failed", self.run_id)
            event = error_event(self.run_id, f"{type(err).__name__}: {err}")
        finally:
            await self._release_reader()
            await self._close_hook()
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        progress = ProgressLogger(self.log, self.run_id)
        outage = OutageTolerance(self.outage_tolerance)
        next_step_read = 0.0
        while True:
            try:
                status = await self._read_status()
                if status is None:  # the wait's end came first
                    return await self._timed_out()
                steps = None
                if self._should_read_steps(status, next_step_read):
                    next_step_read = time.monotonic() + self.step_progress_interval
                    steps = await self.hook.get_step_statuses(self.run_id)
                progress.update(status, steps)
            except TRANSIENT_ERRORS as err:
                outage.absorb(err, self.log, self.run_id)
            else:
                outage.reset()
                if status.is_terminal:
                    return terminal_event(self.run_id, status)
            if self.end_time is not None and time.time() >= self.end_time:
                return await self._timed_out()
            await asyncio.sleep(self._next_pause())

    async def _read_status(self) -> PipelineRunStatus | None:
        """The run's status: batched with other triggers, or per run; ``None`` past the end."""
        if not self.batch_status_reads:
            return (await self.hook.get_pipeline_run(self.run_id)).status
        if self._reader is None:
            self._reader = acquire_reader(self.azure_ml_pipelines_conn_id)
        question = self._reader.read(self.run_id, self.experiment_name, self.poll_interval)
        try:
            if self.end_time is None:
                reading = await question
            else:
                # The shared reader has no deadline of its own: this wait's end bounds it.
                reading = await asyncio.wait_for(question, max(0.0, self.end_time - time.time()))
        except asyncio.TimeoutError as err:
            if self.end_time is not None and time.time() >= self.end_time - END_SLACK_SECONDS:
                return None
            # A timeout of the read itself is not the wait's end: an outage, never a cancel.
            raise AzureMLServerError(
                "read run status", self.run_id, message="the read timed out"
            ) from err
        self.experiment_name = self.experiment_name or reading.experiment_name
        if reading.batched and reading.status.is_failure:
            # Run history's word ends the wait; the service's own read of the run makes the
            # event say exactly what the synchronous path would (Failed or Canceled).
            return (await self.hook.get_pipeline_run(self.run_id)).status
        return reading.status

    async def _release_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await release_reader(reader)

    def _should_read_steps(self, status: PipelineRunStatus, next_read: float) -> bool:
        return (
            self.step_progress_interval > 0
            and status == PipelineRunStatus.RUNNING
            and time.monotonic() >= next_read
        )

    def _next_pause(self) -> float:
        if self.batch_status_reads:
            return 0.0  # the shared reader answers at the next point of the interval's grid
        if self.end_time is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.end_time - time.time()))

    async def _timed_out(self) -> dict[str, Any]:
        canceled = self.cancel_on_timeout and await self._cancel_quietly("the wait timed out")
        self.log.error("Pipeline run %s did not finish in time", self.run_id)
        return timeout_event(self.run_id, self.timeout or 0.0, canceled)

    async def _cancel_quietly(self, reason: str) -> bool:
        try:
            await self.hook.cancel_pipeline_run(self.run_id)
        except AzureMLPipelinesError as err:
            self.log.error("Could not cancel pipeline run %s (%s): %s", self.run_id, reason, err)
            return False
        self.log.info("Canceled pipeline run %s because %s", self.run_id, reason)
        return True

    async def on_kill(self) -> None:
        """Cancel the run when a user stopped the deferred task (called by Airflow 3.3+).

        The triggerer calls this both for a user's action on the task and when this triggerer
        lost the trigger to another one (its heartbeat went stale); only the first may cancel
        the run (see :mod:`airflow_provider_mlpipelines._lifecycle`).
        """
        work = asyncio.ensure_future(asyncio.wait_for(self._kill(), ON_KILL_SECONDS))
        while not work.done():
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                # The triggerer cancels a cancelled trigger's task again at each sync with its
                # supervisor while on_kill runs: finish deciding (bounded) rather than stop
                # halfway through a user's stop.
                continue
            except Exception:
                break
        if not work.cancelled() and work.exception() is not None:
            self.log.warning(
                "Stopping the wait for pipeline run %s: %s", self.run_id, work.exception()
            )

    async def _kill(self) -> None:
        try:
            if self.cancel_on_kill and await self._stopped_by_user():
                await self._cancel_quietly("the task was killed")
        finally:
            await self._close_hook()

    async def _stopped_by_user(self) -> bool:
        ti = getattr(self, "task_instance", None)
        if ti is None:
            self.log.warning(
                "Trigger for pipeline run %s stopped with no task instance to ask; "
                "leaving the pipeline run going",
                self.run_id,
            )
            return False
        try:
            ti_state, dag_run_state = await read_states_from_trigger(ti)
        except Exception as err:  # failing to read must not cancel a run that may go on
            self.log.warning(
                "Trigger for pipeline run %s stopped and the task's state could not be read "
                "(%s); leaving the pipeline run going",
                self.run_id,
                err,
            )
            return False
        return explain(self.log, ti_state, dag_run_state)

    async def _close_hook(self) -> None:
        if "hook" in self.__dict__:
            await self.__dict__.pop("hook").close()
