"""The async hook used by triggers (public name re-exported by ``azure_ml_pipelines``).

It reads the connection without blocking the event loop, builds the async transport, picks
the async client the connection's ``api`` names and delegates to it
(:class:`~airflow_provider_mlpipelines.clients.protocol.AsyncPipelinesClient`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.clients.core.async_transport import AsyncTransport
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.studio import studio_url
from airflow_provider_mlpipelines.clients.core.tokens import AsyncTokenProvider
from airflow_provider_mlpipelines.clients.v1.async_client import AsyncV1Client
from airflow_provider_mlpipelines.clients.v2.async_client import AsyncV2Client
from airflow_provider_mlpipelines.hooks._base import AzureMLPipelinesHookBase

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import HistoryRun, PipelineRun, StepStatus
    from airflow_provider_mlpipelines.clients.protocol import AsyncPipelinesClient

log = logging.getLogger(__name__)


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
        self._client: AsyncPipelinesClient | None = None
        self._client_transport: AsyncTransport | None = None

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

    async def get_client(self) -> AsyncPipelinesClient:
        """The async client of the API the connection names (``api`` extra)."""
        transport = await self._get_transport()
        if self._client is None or self._client_transport is not transport:
            # A closed hook builds a new transport when used again; its client follows.
            self._client_transport = transport
            if transport.settings.api == "v2":
                self._client = AsyncV2Client(transport, sleep=self.sleep)
            else:
                self._client = AsyncV1Client(transport)
        return self._client

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

    # ---------------------------------------------------------------------------------------
    # Runs (v2: pipeline jobs)
    # ---------------------------------------------------------------------------------------
    async def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A run and its status."""
        return await (await self.get_client()).get_pipeline_run(run_id)

    async def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a run."""
        await (await self.get_client()).cancel_pipeline_run(run_id)

    async def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step of a run, by node id (v2: by step name)."""
        return await (await self.get_client()).get_step_statuses(run_id)

    async def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log: ``STDOUT``, ``STDERR`` or ``JobLog``."""
        return await (await self.get_client()).get_step_log(run_id, node_id, kind)

    async def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """Every child run (step run) of a run, following continuation tokens."""
        return await (await self.get_client()).list_child_runs(run_id, experiment_name, page_size)

    async def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        """A readable account of a failed or canceled run (as the sync hook's)."""
        return await (await self.get_client()).describe_run_failure(run_id, max_log_lines)

    async def query_runs(self, experiment_name: str, run_ids: Sequence[str]) -> list[HistoryRun]:
        """Many runs of one experiment in one run-history ``runs:query`` (every page)."""
        return await (await self.get_client()).query_runs(experiment_name, run_ids)

    async def get_run_status(self, run_id: str) -> PipelineRun:
        """One run's status the cheapest way the API has (v2: run history, not ARM)."""
        return await (await self.get_client()).get_run_status(run_id)

    def get_run_url(self, run_id: str) -> str:
        """The studio URL of a run (no I/O once the hook has made a call).

        :param run_id: the run.
        """
        if self._settings is None:
            # Before any awaited call the connection was not read yet; read it now.
            self._settings = self._load_settings_sync()
        return studio_url(self._settings, "runs", run_id)
