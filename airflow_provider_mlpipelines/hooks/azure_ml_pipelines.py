"""Hooks for Azure Machine Learning pipelines: published pipelines, endpoints and runs.

:class:`AzureMLPipelinesHook` reads the connection, builds credential and transport, picks the
client its ``api`` extra names (:mod:`airflow_provider_mlpipelines.clients`) and delegates every
operation to it; :class:`AzureMLPipelinesAsyncHook` (triggers) does the same over ``aiohttp``.
No wire format is spoken here; importing this module imports neither azure-identity nor aiohttp.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api.run_tags import RUNS_LIST_LAG_SECONDS
from airflow_provider_mlpipelines.clients.core.diagnostics import connection_test_result
from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.submission_input import build_submission
from airflow_provider_mlpipelines.clients.core.tokens import SyncTokenProvider
from airflow_provider_mlpipelines.clients.core.transport import SyncTransport
from airflow_provider_mlpipelines.clients.v1.client import V1Client
from airflow_provider_mlpipelines.clients.v2.client import V2Client
from airflow_provider_mlpipelines.get_provider_info import CONNECTION_UI_BEHAVIOUR
from airflow_provider_mlpipelines.hooks._async_hook import AzureMLPipelinesAsyncHook
from airflow_provider_mlpipelines.hooks._base import (
    AzureMLPipelinesHookBase,
    LineageReads,
    connection_form_widgets,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import (
        HistoryRun,
        HistoryRunDetails,
        PipelineEndpoint,
        PipelineInterface,
        PipelineRun,
        PipelineSubmissionInfo,
        PipelineVersion,
        PublishedPipeline,
        StepStatus,
    )
    from airflow_provider_mlpipelines.api.results import EndpointUpdate, SubmitUrl
    from airflow_provider_mlpipelines.api.status import EntityStatus
    from airflow_provider_mlpipelines.clients.protocol import PipelinesClient, RunTarget

__all__ = ["AzureMLPipelinesAsyncHook", "AzureMLPipelinesHook"]


class AzureMLPipelinesHook(LineageReads, AzureMLPipelinesHookBase):
    """Publish pipelines, manage endpoints, submit runs and read their state.

    Every operation is the connection's API client's (:attr:`client`); failures raise the
    classes of :mod:`airflow_provider_mlpipelines.exceptions`. On v2 a published pipeline is a
    pipeline component version, an endpoint a batch endpoint, a version a deployment, a run a
    pipeline job; what v2 lacks is refused, naming what to use instead.

    :param azure_ml_pipelines_conn_id: the Airflow connection (type ``azure_ml_pipelines``).
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_backoff: overrides the connection's ``retry_backoff_seconds``.
    :param request_timeout: overrides the connection's ``request_timeout_seconds``.
    :param deadline: epoch seconds by which the caller must be done; a ``Retry-After`` that
        ends later fails the call at once instead of being cut short or outlasting it.
    """

    #: How a retry waits; tests may replace it on an instance.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    #: Build a submission from plain values (the same model for both APIs).
    build_submission = staticmethod(build_submission)

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
        self._runs_list_lag_seconds = RUNS_LIST_LAG_SECONDS

    # Airflow 2.11 reads the form only from this class's own attributes (3: get_provider_info()).
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Form fields of the connection's extras (Airflow 2.11)."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form (Airflow 2.11)."""
        return CONNECTION_UI_BEHAVIOUR

    # Connection, credential, transport and client
    @cached_property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read from Airflow once per hook)."""
        return self._load_settings_sync()

    @cached_property
    def tokens(self) -> SyncTokenProvider:
        """Bearer tokens from the connection's azure-identity credential, cached."""
        return SyncTokenProvider(self.settings)

    @cached_property
    def session(self) -> Any:
        """The pooled ``requests.Session``; verifies TLS with the CA bundle when one is set."""
        import requests

        session = requests.Session()
        session.verify = self.settings.verify
        return session

    @cached_property
    def transport(self) -> SyncTransport:
        """Sends calls with :attr:`tokens` (v2: the ARM token) over :attr:`session`."""
        return self._transport(self.tokens)

    @cached_property
    def client(self) -> PipelinesClient:
        """The client of the API the connection names (``api`` extra: ``v1`` or ``v2``)."""
        settings = self.settings
        if settings.api == "v2":
            # Invokes and the pipeline-job header need a second token, for the Azure ML
            # audience, cached and renewed like the ARM one.
            ml_tokens = SyncTokenProvider(settings, scope=settings.ml_scope)
            return V2Client(settings, self.transport, self._transport(ml_tokens), self._sleep)
        return V1Client(
            settings,
            self.transport,
            sleep=self._sleep,
            runs_list_lag_seconds=self._runs_list_lag_seconds,
        )

    @property
    def runs_list_lag_seconds(self) -> float:
        """v1: how long a new run may take to show in its pipeline's runs list."""
        return self._runs_list_lag_seconds

    @runs_list_lag_seconds.setter
    def runs_list_lag_seconds(self, value: float) -> None:
        self._runs_list_lag_seconds = value
        client = self.__dict__.get("client")
        if isinstance(client, V1Client):
            client.runs_list_lag_seconds = value

    @property
    def listing_lag_seconds(self) -> float:
        """How long a new run may take to be found by :meth:`runs_of_task` (v2: none)."""
        return self.client.listing_lag_seconds

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)  # looked up at each wait: ``sleep`` may be replaced at any time

    def _transport(self, tokens: SyncTokenProvider) -> SyncTransport:
        return SyncTransport(
            self.settings, tokens, self.session, sleep=self._sleep, deadline=self.deadline
        )

    def get_conn(self) -> Any:
        """The ``requests.Session``."""
        return self.session

    def close(self) -> None:
        """Close the session and the credentials; the hook reopens them if used again."""
        for name in ("client", "transport", "session", "tokens"):
            resource = self.__dict__.pop(name, None)
            close = getattr(resource, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> AzureMLPipelinesHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """One real authenticated call: ``(True, summary)`` or ``(False, reason)``, no secret."""
        no_retry = RetryPolicy(max_retries=0)
        return connection_test_result(
            lambda: self.settings, lambda: self.client.probe_workspace(no_retry)
        )

    # Published pipelines (v2: pipeline component versions)
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline:
        """A published pipeline by id (v2: ARM id or ``azureml:name:version``)."""
        return self.client.get_published_pipeline(pipeline_id)

    def list_published_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        """Every published pipeline; ``active_only`` leaves out disabled and deprecated ones."""
        return self.client.list_published_pipelines(active_only)

    def find_published_pipeline(
        self, name: str, version: str | None = None, active_only: bool = True
    ) -> PublishedPipeline | None:
        """The newest published pipeline called ``name`` (and ``version``), else ``None``."""
        return self.client.find_published_pipeline(name, version, active_only)

    def publish_pipeline_from_run(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        properties: dict[str, str] | None = None,
    ) -> PublishedPipeline:
        """Publish the graph of the run ``run_id`` as ``name`` (``version``)."""
        return self.client.publish_pipeline_from_run(
            run_id,
            name=name,
            version=version,
            description=description,
            continue_on_step_failure=continue_on_step_failure,
            properties=properties,
        )

    def publish_pipeline_once(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        if_exists: str = "reuse",
        properties: dict[str, str] | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> tuple[PublishedPipeline, bool]:
        """Publish ``run_id`` as ``name`` unless a pipeline of the same source already is.

        :param if_exists: ``reuse`` returns the pipeline of the same source; ``fail`` raises
            unless it carries every one of ``properties`` (the same publisher made it).
        :return: the pipeline, and whether it was published now.
        """
        return self.client.publish_pipeline_once(
            run_id,
            name=name,
            version=version,
            if_exists=if_exists,
            properties=properties,
            description=description,
            continue_on_step_failure=continue_on_step_failure,
        )

    def set_published_pipeline_status(self, pipeline_id: str, status: EntityStatus | str) -> None:
        """Enable, disable or deprecate a published pipeline (name, code or enum)."""
        self.client.set_published_pipeline_status(pipeline_id, status)

    def get_pipeline_interface(self, pipeline_id: str) -> PipelineInterface:
        """The parameters and data inputs a published pipeline declares."""
        return self.client.get_pipeline_interface(pipeline_id)

    def get_pipeline_url(self, pipeline_id: str) -> str:
        """The studio URL of a published pipeline (no I/O)."""
        return self.client.get_pipeline_url(pipeline_id)

    # Endpoints (v2: batch endpoints, whose versions are deployments)
    def create_pipeline_endpoint(
        self, name: str, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpoint:
        """Create an endpoint whose first (default) version is ``pipeline_id``."""
        return self.client.create_pipeline_endpoint(name, pipeline_id, description)

    def get_pipeline_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None
    ) -> PipelineEndpoint:
        """The endpoint with ``endpoint_id`` or called ``name`` (give exactly one)."""
        return self.client.get_pipeline_endpoint(endpoint_id, name=name)

    def find_pipeline_endpoint(self, name: str) -> PipelineEndpoint | None:
        """The endpoint called ``name``, or ``None`` if there is none."""
        return self.client.find_pipeline_endpoint(name)

    def list_pipeline_endpoints(
        self, active_only: bool = True, batch_size: int = 100
    ) -> list[PipelineEndpoint]:
        """The workspace's endpoints (at most ``batch_size``)."""
        return self.client.list_pipeline_endpoints(active_only, batch_size)

    def add_pipeline_to_endpoint(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> PipelineEndpoint:
        """Add ``pipeline_id`` as the endpoint's next version (kept if already there)."""
        return self.client.add_pipeline_to_endpoint(
            endpoint_id, pipeline_id, set_default=set_default
        )

    def add_pipeline_version(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> EndpointUpdate:
        """Like :meth:`add_pipeline_to_endpoint`, and say which default version it replaced."""
        return self.client.add_pipeline_version(endpoint_id, pipeline_id, set_default=set_default)

    def ensure_pipeline_in_endpoint(
        self,
        name: str,
        pipeline_id: str,
        *,
        description: str | None = None,
        set_default: bool = True,
        deployment_name: str | None = None,
    ) -> EndpointUpdate:
        """Put ``pipeline_id`` behind the endpoint ``name``, creating the endpoint if needed.

        :param deployment_name: v2 only: the deployment's name (derived when ``None``).
        """
        return self.client.ensure_pipeline_in_endpoint(
            name,
            pipeline_id,
            description=description,
            set_default=set_default,
            deployment_name=deployment_name,
        )

    def set_pipeline_endpoint_default_version(
        self, endpoint_id: str, version: str
    ) -> PipelineEndpoint:
        """Make ``version`` the default; an unknown version is refused before any write."""
        return self.client.set_pipeline_endpoint_default_version(endpoint_id, version)

    def change_default_version(self, endpoint_id: str, version: str) -> EndpointUpdate:
        """Make ``version`` the default, and say which default it replaced."""
        return self.client.change_default_version(endpoint_id, version)

    def set_pipeline_endpoint_status(
        self, endpoint_id: str, status: EntityStatus | str
    ) -> PipelineEndpoint:
        """Enable or disable an endpoint (name, code or enum)."""
        return self.client.set_pipeline_endpoint_status(endpoint_id, status)

    def list_pipeline_endpoint_versions(self, endpoint_id: str) -> list[PipelineVersion]:
        """The endpoint's versions and the pipelines behind them."""
        return self.client.list_pipeline_endpoint_versions(endpoint_id)

    def list_pipeline_endpoint_pipelines(
        self, endpoint_id: str, active_only: bool = False
    ) -> list[PublishedPipeline]:
        """The published pipelines behind the endpoint's versions."""
        return self.client.list_pipeline_endpoint_pipelines(endpoint_id, active_only)

    # Submissions
    def check_submission(
        self, submission: PipelineSubmissionInfo, parent_run_id: str | None = None
    ) -> None:
        """Refuse, before anything is sent, what the connection's API cannot run."""
        self.client.check_submission(submission, parent_run_id)

    def validate_submission(
        self, interface: PipelineInterface, submission: PipelineSubmissionInfo, *, target: str
    ) -> None:
        """Check a submission against the declared inputs; ``target`` names it in messages."""
        self.client.validate_submission(interface, submission, target=target)

    def submit_pipeline_run(
        self,
        pipeline_id: str,
        submission: PipelineSubmissionInfo,
        *,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """Submit a run of ``pipeline_id``; an ambiguous failure is looked up, not resent."""
        return self.client.submit_pipeline_run(pipeline_id, submission, parent_run_id=parent_run_id)

    def submit_pipeline_endpoint_run(
        self,
        endpoint_id: str,
        submission: PipelineSubmissionInfo,
        *,
        pipeline_version: str | None = None,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """Submit a run to an endpoint: its default version, or ``pipeline_version``."""
        return self.client.submit_pipeline_endpoint_run(
            endpoint_id,
            submission,
            pipeline_version=pipeline_version,
            parent_run_id=parent_run_id,
        )

    def submit_to_url(self, url: str, submission: PipelineSubmissionInfo) -> PipelineRun:
        """Submit to a pipeline's or endpoint's submit ``Url`` of the connection's workspace."""
        return self.client.submit_to_url(url, submission)

    def parse_submit_url(self, url: str) -> SubmitUrl:
        """Read a submit ``Url`` without calling the service (refused if not the workspace's)."""
        return self.client.parse_submit_url(url)

    def runs_of_task(
        self,
        target: RunTarget,
        identity: Mapping[str, str],
        tries: Sequence[int],
        since: float | None = None,
    ) -> list[PipelineRun]:
        """The runs tries ``tries`` of the task instance ``identity`` submitted since ``since``."""
        return self.client.runs_of_task(target, identity, tries, since)

    def list_pipeline_runs(self, pipeline_id: str) -> list[PipelineRun]:
        """Every run of a published pipeline (the list may lag behind new runs)."""
        return self.client.list_pipeline_runs(pipeline_id)

    # Runs (v2: pipeline jobs) and their steps
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A run and its status."""
        return self.client.get_pipeline_run(run_id)

    def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a run."""
        self.client.cancel_pipeline_run(run_id)

    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step of a run, by node id (v2: by step name)."""
        return self.client.get_step_statuses(run_id)

    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log: ``STDOUT``, ``STDERR`` or ``JobLog``."""
        return self.client.get_step_log(run_id, node_id, kind)

    def get_history_run(self, run_id: str, experiment_name: str | None = None) -> HistoryRun:
        """A run as run history reports it (a pipeline run or a step run)."""
        return self.client.get_history_run(run_id, experiment_name)

    def get_history_run_details(self, run_id: str, experiment_name: str) -> HistoryRunDetails:
        """The run-history ``details`` of a run: status, error, warnings, log files."""
        return self.client.get_history_run_details(run_id, experiment_name)

    def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """Every child run (step run) of a run, following continuation tokens."""
        return self.client.list_child_runs(run_id, experiment_name, page_size)

    def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        """A failed or canceled run's account: each failed step with its stderr's tail."""
        return self.client.describe_run_failure(run_id, max_log_lines)

    def get_run_url(self, run_id: str) -> str:
        """The studio URL of a run (no I/O besides reading the connection)."""
        return self.client.get_run_url(run_id)
