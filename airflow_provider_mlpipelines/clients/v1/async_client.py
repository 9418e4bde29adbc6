"""The async v1 client: read, cancel and explain pipeline runs from the triggerer's event loop.

:class:`AsyncV1Client` implements
:class:`~airflow_provider_mlpipelines.clients.protocol.AsyncPipelinesClient` with the same calls
as the sync v1 client (:mod:`.calls`), over the async transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    HistoryRunPage,
    PipelineRun,
    StepStatus,
)
from airflow_provider_mlpipelines.clients.core.async_transport import AsyncTransport
from airflow_provider_mlpipelines.clients.core.reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
    step_names,
    tail_lines,
)
from airflow_provider_mlpipelines.clients.core.run_query import query_all
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.studio import studio_url
from airflow_provider_mlpipelines.clients.core.transport import Call, Reply
from airflow_provider_mlpipelines.clients.v1 import calls
from airflow_provider_mlpipelines.clients.v1.calls import check_log_kind
from airflow_provider_mlpipelines.exceptions import AzureMLPipelinesError

log = logging.getLogger(__name__)


class AsyncV1Client:
    """v1 pipeline runs for the async hook.

    :param transport: an async transport for the connection.
    """

    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport

    @property
    def settings(self) -> ConnectionSettings:
        return self.transport.settings

    async def _send(self, build: Callable[..., Call], *args: Any) -> Reply:
        return await self.transport.execute(build(self.settings, *args))

    # ---------------------------------------------------------------------------------------
    # Runs
    # ---------------------------------------------------------------------------------------
    async def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run and its status.

        :param run_id: the pipeline run.
        """
        return PipelineRun.from_json((await self._send(calls.run_call, run_id)).json())

    async def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a pipeline run.

        :param run_id: the pipeline run.
        """
        await self._send(calls.cancel_call, run_id)

    async def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step (graph node) of a run, by node id.

        :param run_id: the pipeline run.
        """
        reply = await self._send(calls.step_statuses_call, run_id)
        return StepStatus.map_from_json(reply.json())

    async def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log.

        :param run_id: the pipeline run.
        :param node_id: the step's node id.
        :param kind: ``STDOUT``, ``STDERR`` or ``JobLog``.
        """
        reply = await self._send(calls.step_log_call, run_id, node_id, check_log_kind(kind))
        return reply.text_value()

    async def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """Every child run (step run) of a run, following continuation tokens.

        :param run_id: the parent run.
        :param experiment_name: its experiment.
        :param page_size: runs per page.
        """
        children: list[HistoryRun] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            reply = await self._send(
                calls.child_page_call, run_id, experiment_name, page_size, token
            )
            page = HistoryRunPage.from_json(reply.json())
            children.extend(page.value)
            token = calls.next_continuation(page.continuation_token, seen)
            if token is None:
                return children

    async def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        """A readable account of a failed or canceled run (as the sync hook's).

        :param run_id: the pipeline run.
        :param max_log_lines: stderr lines kept per failed step.
        """
        run = await self.get_pipeline_run(run_id)
        failed = failed_steps(await self.get_step_statuses(run_id))
        names = await self._step_names(run) if failed else {}
        items = await asyncio.gather(
            *(self._failed_step(run_id, step, names, max_log_lines) for step in failed)
        )
        return render_run_failure(run, items, max_log_lines)

    async def _step_names(self, run: PipelineRun) -> dict[str, str]:
        if not run.experiment_name:
            return {}
        try:
            return step_names(await self.list_child_runs(run.id, run.experiment_name))
        except AzureMLPipelinesError as exc:
            log.info("Step names of run %s unavailable: %s", run.id, exc)
            return {}

    async def _failed_step(
        self, run_id: str, step: StepStatus, names: Mapping[str, str], max_log_lines: int
    ) -> FailedStep:
        try:
            tail = tail_lines(await self.get_step_log(run_id, step.node_id), max_log_lines)
        except AzureMLPipelinesError as exc:
            return FailedStep(step, names.get(step.node_id), log_problem=str(exc))
        return FailedStep(step, names.get(step.node_id), log_tail=tail)

    async def query_runs(self, experiment_name: str, run_ids: Sequence[str]) -> list[HistoryRun]:
        """Many runs of one experiment in one ``runs:query``, every page followed.

        :param experiment_name: the runs' experiment.
        :param run_ids: the runs.
        """
        return await query_all(self.transport, self.settings.base_url, experiment_name, run_ids)

    async def get_run_status(self, run_id: str) -> PipelineRun:
        """A run's status, from the pipelines API (it names the run's experiment too).

        :param run_id: the pipeline run.
        """
        return await self.get_pipeline_run(run_id)

    # ---------------------------------------------------------------------------------------
    # URLs
    # ---------------------------------------------------------------------------------------
    def get_run_url(self, run_id: str) -> str:
        """The studio URL of a run (no I/O).

        :param run_id: the run.
        """
        return studio_url(self.settings, "runs", run_id)
