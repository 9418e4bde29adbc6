"""The async v2 client: read, cancel and explain pipeline jobs from the triggerer's event loop.

The same calls and the same mapping to shared models as the sync v2 client
(:mod:`~airflow_provider_mlpipelines.clients.v2.calls`), over the async transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from airflow_provider_mlpipelines.api import routes as v1_routes
from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    PipelineRun,
    RunStatusInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.routes import fill_template
from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.clients.core.async_transport import AsyncTransport
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
)
from airflow_provider_mlpipelines.clients.core.run_query import query_all
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.studio import studio_url
from airflow_provider_mlpipelines.clients.core.transport import Call, Reply
from airflow_provider_mlpipelines.clients.v2 import calls
from airflow_provider_mlpipelines.clients.v2.gaps import V2_GAPS, refuse
from airflow_provider_mlpipelines.clients.v2.resources import V2Resources
from airflow_provider_mlpipelines.exceptions import (
    AzureMLNotFoundError,
    AzureMLPipelinesError,
    AzureMLServiceError,
)

log = logging.getLogger(__name__)


#: Run-history host lookups under way, by event loop and workspace.
_HISTORY_LOOKUPS: dict[tuple[asyncio.AbstractEventLoop, tuple[str, ...]], asyncio.Future[str]] = {}


class AsyncV2Client:
    """v2 jobs for the async hook: implements
    :class:`~airflow_provider_mlpipelines.clients.protocol.AsyncPipelinesClient`.

    :param transport: an async transport whose tokens are for Azure Resource Manager.
    :param sleep: how to wait between polls of a long-running operation.
    """

    def __init__(
        self, transport: AsyncTransport, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    ) -> None:
        self.transport = transport
        self.sleep = sleep

    @property
    def settings(self) -> ConnectionSettings:
        return self.transport.settings

    async def _json(self, call: Call) -> Any:
        return (await self.transport.execute(call)).json()

    async def get_pipeline_run(self, run_id: str) -> PipelineRun:
        return calls.run_from_job(await self._json(calls.job_call(self.settings, run_id)))

    async def cancel_pipeline_run(self, run_id: str) -> None:
        """As the sync client's: a refused cancel of a job that has ended cancels nothing."""
        call = calls.cancel_call(self.settings, run_id)
        try:
            reply = await self.transport.execute(call)
        except AzureMLServiceError as refused:
            if not calls.may_mean_ended(refused):
                raise
            run = await self.get_pipeline_run(run_id)
            if not run.status.is_terminal:
                raise
            log.info("Job %s had already ended (%s); nothing to cancel", run_id, run.status.value)
            return
        await self._finish_operation(call, reply)

    async def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        return calls.step_statuses(await self._children(run_id))

    async def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """A job's steps from run history (see the sync client's for the unused arguments)."""
        return await self._children(run_id)

    async def _children(self, run_id: str) -> list[HistoryRun]:
        children: list[HistoryRun] = []
        token: str | None = None
        seen: set[str] = set()
        base = await self._history()
        while True:
            page, token = calls.parse_children(
                await self._json(calls.children_call(self.settings, base, run_id, token))
            )
            children.extend(page)
            if not token or token in seen:
                return children
            seen.add(token)

    async def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        run = await self.get_pipeline_run(run_id)
        failed = failed_steps(await self.get_step_statuses(run_id))
        items = [FailedStep(step, log_problem=V2_GAPS["step logs"]) for step in failed]
        return render_run_failure(run, items, max_log_lines)

    async def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        raise refuse("step logs")

    async def query_runs(self, experiment_name: str, run_ids: Sequence[str]) -> list[HistoryRun]:
        """Many jobs of one experiment in one ``runs:query`` on the run-history host: no ARM
        read, so waiting for jobs spends nothing of the subscription's ARM budget.

        :param experiment_name: the jobs' experiment.
        :param run_ids: the job names.
        """
        return await query_all(self.transport, await self._history(), experiment_name, run_ids)

    async def get_run_status(self, run_id: str) -> PipelineRun:
        """A job's status from run history (``GET .../runs/{name}``), not from ARM.

        Run history holds the job's status in the same words as ARM's job resource; it does
        not name the experiment (``experiment_name`` is ``None``). Where run history cannot
        answer (its host not found or not trusted, or the job not in it yet), the job is read
        from ARM, so that a wait never depends on run history alone.

        :param run_id: the job name.
        """
        run_id = check_id(run_id, "run_id")
        try:
            base = await self._history()
        except AzureMLPipelinesError as err:
            log.info("Run history unavailable (%s); reading job %s from ARM", err, run_id)
            return await self.get_pipeline_run(run_id)
        path = fill_template(
            v1_routes.HISTORY_RUN.template, {**self.settings.workspace, "run_id": run_id}
        )
        call = Call(Operation("get job status", quoted(run_id)), "GET", base + path)
        try:
            found = HistoryRun.from_json(await self._json(call) or {})
        except AzureMLNotFoundError:
            return await self.get_pipeline_run(run_id)
        return PipelineRun(
            id=found.run_id or run_id,
            status_info=RunStatusInfo(
                status=found.pipeline_status, creation_time=found.created_utc
            ),
            tags=dict(found.tags),
            properties=dict(found.properties),
        )

    def get_run_url(self, run_id: str) -> str:
        """The studio page of a job (no I/O)."""
        return studio_url(self.settings, "runs", run_id)

    async def _history(self) -> str:
        # Once per workspace and process: a triggerer's thousands of triggers share it, and
        # those that ask while it is being looked up wait for that one lookup.
        key = calls.workspace_key(self.settings)
        known = calls.HISTORY_BASES.get(key)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        lookup = _HISTORY_LOOKUPS.get((loop, key))
        if lookup is None:
            lookup = _HISTORY_LOOKUPS[(loop, key)] = asyncio.ensure_future(self._look_up_history())
            lookup.add_done_callback(lambda _: _HISTORY_LOOKUPS.pop((loop, key), None))
        return await asyncio.shield(lookup)

    async def _look_up_history(self) -> str:
        workspace = await self._json(calls.arm_call(self.settings, routes.WORKSPACE_GET))
        url = pick(workspace, "properties", "discoveryUrl")
        discovery = None
        if url:
            discovery = await self._json(calls.discovery_call(self.settings, str(url)))
        return calls.remember_history_base(self.settings, discovery)

    async def _finish_operation(self, call: Call, reply: Reply) -> Reply:
        """Follow a long-running operation to its end, as the sync client does."""
        watch = calls.OperationWatch(
            self.settings,
            call,
            reply,
            V2Resources.lro_timeout_seconds,
            V2Resources.lro_poll_seconds,
        )
        while not watch.done:
            await self.sleep(watch.wait())
            watch.update(await self.transport.execute(watch.poll_call()))
        return watch.reply
