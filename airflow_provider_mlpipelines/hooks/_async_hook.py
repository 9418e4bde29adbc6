"""The async hook used by triggers (public name re-exported by ``azure_ml_pipelines``)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    HistoryRunPage,
    PipelineRun,
    StepStatus,
)
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, AzureMLPipelinesError
from airflow_provider_mlpipelines.hooks import _calls
from airflow_provider_mlpipelines.hooks._async_transport import AsyncTransport
from airflow_provider_mlpipelines.hooks._base import AzureMLPipelinesHookBase, check_log_kind
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings
from airflow_provider_mlpipelines.hooks._reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
    step_names,
    tail_lines,
)
from airflow_provider_mlpipelines.hooks._tokens import AsyncTokenProvider
from airflow_provider_mlpipelines.hooks._transport import Call, Reply

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.hooks._v2_async import AsyncV2Runs

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def serves_v2_async(method: F) -> F:
    """The async :func:`~airflow_provider_mlpipelines.hooks._base.serves_v2`: on a v2
    connection the v2 runs client answers."""
    name = method.__name__

    @functools.wraps(method)
    async def dispatch(self: AzureMLPipelinesAsyncHook, *args: Any, **kwargs: Any) -> Any:
        client = await self._v2_runs()
        if client is None:
            return await method(self, *args, **kwargs)
        served = getattr(client, name, None)
        if served is None:
            raise AzureMLInvalidInputError(
                f"{name} is a v1 operation; it is not available on a v2 (batch endpoint) connection"
            )
        return await served(*args, **kwargs)

    return dispatch  # type: ignore[return-value]


class AzureMLPipelinesAsyncHook(AzureMLPipelinesHookBase):
    """Read and cancel pipeline runs from the triggerer's event loop.

    The same connection, token cache, retry policy and error mapping as
    :class:`~airflow_provider_mlpipelines.hooks.azure_ml_pipelines.AzureMLPipelinesHook`, with
    an ``azure.identity.aio`` credential. Every async hook of an event loop shares one
    ``aiohttp.ClientSession`` (per TLS and timeout settings), and every hook of a connection in
    the process shares one cached token, so a triggerer running thousands of these hooks keeps
    one session and acquires one token per token lifetime. Use it as an async context manager,
    or ``await hook.close()`` when done: the last hook to close closes the shared session.

    :param azure_ml_pipelines_conn_id: the Airflow connection (type ``azure_ml_pipelines``).
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_backoff: overrides the connection's ``retry_backoff_seconds``.
    :param request_timeout: overrides the connection's ``request_timeout_seconds``.
    """

    #: How a retry waits; tests may replace it on an instance before the first call.
    sleep: Callable[[float], Awaitable[Any]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        azure_ml_pipelines_conn_id: str = AzureMLPipelinesHookBase.default_conn_name,
        *,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        request_timeout: float | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(
            azure_ml_pipelines_conn_id,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            request_timeout=request_timeout,
            deadline=deadline,
        )
        self._settings: ConnectionSettings | None = None
        self._transport: AsyncTransport | None = None
        self._setup_lock: asyncio.Lock | None = None
        self._v2: AsyncV2Runs | None = None

    async def __aenter__(self) -> AzureMLPipelinesAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the shared HTTP session and token, close the credential; reusable after."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
            await transport.tokens.close()

    # ---------------------------------------------------------------------------------------
    # Plumbing
    # ---------------------------------------------------------------------------------------
    async def get_settings(self) -> ConnectionSettings:
        """The validated connection settings, looked up without blocking the event loop."""
        await self._get_transport()
        assert self._settings is not None
        return self._settings

    async def _get_transport(self) -> AsyncTransport:
        if self._transport is not None:
            return self._transport
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
        async with self._setup_lock:
            if self._transport is None:
                if self._settings is None:
                    self._settings = self._settings_from(await self._connection())
                tokens = AsyncTokenProvider(self._settings)
                self._transport = AsyncTransport(
                    self._settings, tokens, sleep=self.sleep, deadline=self.deadline
                )
        return self._transport

    async def _v2_runs(self) -> AsyncV2Runs | None:
        """The v2 client on a v2 connection (``api`` extra), else ``None``."""
        transport = await self._get_transport()
        if transport.settings.api != "v2":
            return None
        if self._v2 is None or self._v2.transport is not transport:
            from airflow_provider_mlpipelines.hooks._v2_async import AsyncV2Runs

            self._v2 = AsyncV2Runs(transport, sleep=self.sleep)
        return self._v2

    async def _connection(self) -> Any:
        from airflow.exceptions import AirflowNotFoundException
        from asgiref.sync import sync_to_async

        conn_id = self.azure_ml_pipelines_conn_id
        aget_connection = getattr(type(self), "aget_connection", None)
        if aget_connection is None:  # Airflow 2.11
            return await sync_to_async(self.get_connection)(conn_id)
        try:
            return await aget_connection(conn_id)
        except AirflowNotFoundException:
            # ``airflow dags test`` (Airflow 3.3) runs the trigger in-process with a supervisor
            # stand-in that answers connection requests only synchronously: the async lookup
            # then misses connections stored in the metadata DB, the sync one finds them. A
            # connection that really is missing fails the same way on both paths.
            log.debug("Async lookup of connection %s found nothing; trying the sync one", conn_id)
            return await sync_to_async(self.get_connection)(conn_id)

    async def _send(self, build: Any, *args: Any) -> Reply:
        transport = await self._get_transport()
        call: Call = build(transport.settings, *args)
        return await transport.execute(call)

    # ---------------------------------------------------------------------------------------
    # Runs
    # ---------------------------------------------------------------------------------------
    @serves_v2_async
    async def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run and its status.

        :param run_id: the pipeline run.
        """
        return PipelineRun.from_json((await self._send(_calls.run_call, run_id)).json())

    @serves_v2_async
    async def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a pipeline run.

        :param run_id: the pipeline run.
        """
        await self._send(_calls.cancel_call, run_id)

    @serves_v2_async
    async def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step (graph node) of a run, by node id.

        :param run_id: the pipeline run.
        """
        reply = await self._send(_calls.step_statuses_call, run_id)
        return StepStatus.map_from_json(reply.json())

    @serves_v2_async
    async def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log.

        :param run_id: the pipeline run.
        :param node_id: the step's node id.
        :param kind: ``STDOUT``, ``STDERR`` or ``JobLog``.
        """
        reply = await self._send(_calls.step_log_call, run_id, node_id, check_log_kind(kind))
        return reply.text_value()

    @serves_v2_async
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
                _calls.child_page_call, run_id, experiment_name, page_size, token
            )
            page = HistoryRunPage.from_json(reply.json())
            children.extend(page.value)
            token = _calls.next_continuation(page.continuation_token, seen)
            if token is None:
                return children

    @serves_v2_async
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

    # ---------------------------------------------------------------------------------------
    # URLs
    # ---------------------------------------------------------------------------------------
    def get_run_url(self, run_id: str) -> str:
        """The studio URL of a run (no I/O once the hook has made a call).

        :param run_id: the run.
        """
        if self._settings is None:
            # Before any awaited call the connection was not read yet; read it now.
            self._settings = self._load_settings_sync()
        return self._studio_url(self._settings, "runs", run_id)
