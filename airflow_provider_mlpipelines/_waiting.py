"""Waiting for a pipeline run: the one set of rules shared by operators, sensor and trigger.

The synchronous path (:func:`wait_for_run`) and the deferred path (the trigger, then
:func:`handle_trigger_event` on the worker) both end in :func:`raise_for_run_outcome`, so a run
that ends ``Failed`` or ``Canceled`` fails the task the same way whichever path waited for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLPipelineRunCanceledError,
    AzureMLPipelineRunFailedError,
    AzureMLPipelineRunTimeoutError,
    AzureMLPipelinesError,
    AzureMLServerError,
    AzureMLThrottledError,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import StepStatus
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

#: Errors worth waiting out while a run is being watched: the service may come back.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (AzureMLServerError, AzureMLThrottledError)

#: How long consecutive transient errors are tolerated while waiting, by default.
DEFAULT_OUTAGE_TOLERANCE = 300.0

# Trigger event vocabulary; events are plain dicts so they survive serialization.
EVENT_TERMINAL = "terminal"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"


class ProgressLogger:
    """Log a run's progress only when its status or its count of finished steps changes.

    :param log: where to log.
    :param run_id: the run being watched.
    """

    def __init__(self, log: logging.Logger | Any, run_id: str) -> None:
        self.log = log
        self.run_id = run_id
        self._status: PipelineRunStatus | None = None
        self._done: int | None = None

    def update(
        self, status: PipelineRunStatus, steps: Mapping[str, StepStatus] | None = None
    ) -> bool:
        """Record an observation; return whether it was news (and was logged)."""
        done = sum(1 for s in steps.values() if s.status.is_terminal) if steps else None
        news = status != self._status or (done is not None and done != self._done)
        if not news:
            return False
        self._status = status
        if done is not None:
            self._done = done
        if steps:
            self.log.info(
                "Pipeline run %s is %s: %d of %d steps done", self.run_id, status, done, len(steps)
            )
        else:
            self.log.info("Pipeline run %s is %s", self.run_id, status)
        return True


class OutageTolerance:
    """Absorb consecutive transient errors for up to ``seconds``, then let the last one through.

    :param seconds: how long the service may keep failing before the wait gives up.
    :param clock: monotonic clock, replaceable in tests of this pure logic.
    """

    def __init__(
        self, seconds: float = DEFAULT_OUTAGE_TOLERANCE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._since: float | None = None

    def absorb(self, error: Exception, log: logging.Logger | Any, run_id: str) -> None:
        """Swallow ``error`` while within the tolerance; re-raise it once the tolerance is spent."""
        now = self._clock()
        if self._since is None:
            self._since = now
        if now - self._since > self.seconds:
            raise error
        log.warning(
            "Could not read pipeline run %s (%s); still waiting, for up to %.0f s of errors",
            run_id,
            error,
            self.seconds,
        )

    def reset(self) -> None:
        self._since = None


def raise_for_run_outcome(
    hook: AzureMLPipelinesHook, run_id: str, status: PipelineRunStatus
) -> None:
    """Return when ``status`` is success; raise the run's failure with its steps' account."""
    if status.is_success:
        return
    if not status.is_terminal:
        raise AzureMLPipelinesError(f"Pipeline run {run_id} is still {status}, not finished")
    detail = _describe_failure(hook, run_id)
    error_class = (
        AzureMLPipelineRunCanceledError
        if status == PipelineRunStatus.CANCELED
        else AzureMLPipelineRunFailedError
    )
    raise error_class(run_id, status.value, detail)


def _describe_failure(hook: AzureMLPipelinesHook, run_id: str) -> str | None:
    try:
        return hook.describe_run_failure(run_id)
    except AzureMLPipelinesError as err:
        return f"(the failed steps could not be read: {err})"


def cancel_run_quietly(hook: AzureMLPipelinesHook, run_id: str, log: logging.Logger | Any) -> bool:
    """Cancel ``run_id``; log instead of raising, since this runs while a task is already ending."""
    try:
        hook.cancel_pipeline_run(run_id)
    except AzureMLPipelinesError as err:
        log.error("Could not cancel pipeline run %s: %s", run_id, err)
        return False
    log.info("Canceled pipeline run %s", run_id)
    return True


def wait_for_run(
    hook: AzureMLPipelinesHook,
    run_id: str,
    *,
    poll_interval: float,
    timeout: float | None,
    cancel_on_timeout: bool,
    log: logging.Logger | Any,
    outage_tolerance: float = DEFAULT_OUTAGE_TOLERANCE,
    sleep: Callable[[float], None] = time.sleep,
) -> PipelineRunStatus:
    """Poll ``run_id`` until it is terminal and return its status (it does not judge it).

    :param hook: the hook to poll with.
    :param run_id: the run.
    :param poll_interval: seconds between polls.
    :param timeout: seconds after which to stop waiting (``None``: no limit).
    :param cancel_on_timeout: cancel the run when the timeout is reached.
    :param log: where progress goes.
    :param outage_tolerance: seconds of consecutive transient service errors to wait out.
    :param sleep: the sleep function (replaceable in tests).
    :raises AzureMLPipelineRunTimeoutError: when the timeout was reached first.
    """
    deadline = time.monotonic() + timeout if timeout is not None else None
    progress = ProgressLogger(log, run_id)
    outage = OutageTolerance(outage_tolerance)
    while True:
        try:
            status = _observe(hook, run_id, progress)
        except TRANSIENT_ERRORS as err:
            outage.absorb(err, log, run_id)
        else:
            outage.reset()
            if status.is_terminal:
                return status
        if deadline is not None and time.monotonic() >= deadline:
            canceled = cancel_on_timeout and cancel_run_quietly(hook, run_id, log)
            raise AzureMLPipelineRunTimeoutError(run_id, float(timeout or 0), canceled)
        remaining = poll_interval if deadline is None else deadline - time.monotonic()
        sleep(max(min(poll_interval, remaining), 0.0))


def _observe(
    hook: AzureMLPipelinesHook, run_id: str, progress: ProgressLogger
) -> PipelineRunStatus:
    run = hook.get_pipeline_run(run_id)
    steps = hook.get_step_statuses(run_id) if run.status == PipelineRunStatus.RUNNING else None
    progress.update(run.status, steps)
    return run.status


def terminal_event(run_id: str, status: PipelineRunStatus) -> dict[str, Any]:
    return {"status": EVENT_TERMINAL, "run_id": run_id, "run_status": status.value}


def timeout_event(run_id: str, timeout: float, canceled: bool) -> dict[str, Any]:
    return {"status": EVENT_TIMEOUT, "run_id": run_id, "timeout": timeout, "canceled": canceled}


def error_event(run_id: str, message: str) -> dict[str, Any]:
    return {"status": EVENT_ERROR, "run_id": run_id, "message": message}


def handle_trigger_event(
    hook: AzureMLPipelinesHook, event: Mapping[str, Any] | None
) -> PipelineRunStatus:
    """Turn a trigger's event into the task's outcome, exactly as the synchronous path would.

    :return: the run's status when it succeeded.
    :raises AzureMLPipelinesError: for a failed, canceled or timed-out run, or a trigger error.
    """
    if not event or "run_id" not in event:
        raise AzureMLPipelinesError(f"Unexpected event from the trigger: {event!r}")
    run_id = str(event["run_id"])
    kind = event.get("status")
    if kind == EVENT_TERMINAL:
        status = PipelineRunStatus.parse(event.get("run_status"))
        raise_for_run_outcome(hook, run_id, status)
        return status
    if kind == EVENT_TIMEOUT:
        raise AzureMLPipelineRunTimeoutError(
            run_id, float(event.get("timeout") or 0), bool(event.get("canceled"))
        )
    message = event.get("message") or "unknown error"
    raise AzureMLPipelinesError(f"Waiting for pipeline run {run_id} failed: {message}")
