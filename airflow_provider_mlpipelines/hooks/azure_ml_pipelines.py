"""Hooks for Azure Machine Learning SDK v1 published pipelines, pipeline endpoints and runs.

:class:`AzureMLPipelinesHook` speaks the REST API with ``requests``;
:class:`AzureMLPipelinesAsyncHook` (for triggers) with ``aiohttp``. Both share the connection
parsing, the token cache, the retry policy and the error mapping of the private modules next
to this one. Importing this module imports neither azure-identity nor aiohttp.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    HistoryRunDetails,
    HistoryRunPage,
    PipelineCreationInfo,
    PipelineInterface,
    PipelineRun,
    PublishedPipeline,
    StepStatus,
)
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLPipelinesError,
)
from airflow_provider_mlpipelines.get_provider_info import CONNECTION_UI_BEHAVIOUR
from airflow_provider_mlpipelines.hooks import _calls
from airflow_provider_mlpipelines.hooks._async_hook import AzureMLPipelinesAsyncHook
from airflow_provider_mlpipelines.hooks._base import (
    AzureMLPipelinesHookBase,
    active_only_query,
    check_id,
    check_log_kind,
    connection_form_widgets,
    entity_status,
    quoted,
    serves_v2,
)
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings
from airflow_provider_mlpipelines.hooks._diagnostics import connection_test_result
from airflow_provider_mlpipelines.hooks._endpoint_ops import PipelineEndpointOperations
from airflow_provider_mlpipelines.hooks._publishing import (
    SOURCE_RUN_PROPERTY,
    choose_existing,
    describe_source,
    existing_pipelines,
    newest,
    source_properties,
)
from airflow_provider_mlpipelines.hooks._reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
    step_names,
    tail_lines,
)
from airflow_provider_mlpipelines.hooks._retry import RetryPolicy
from airflow_provider_mlpipelines.hooks._submissions import RunSubmissions
from airflow_provider_mlpipelines.hooks._tokens import SyncTokenProvider
from airflow_provider_mlpipelines.hooks._transport import (
    Call,
    Reply,
    SyncTransport,
    build_call,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.hooks._v2_client import V2Client

log = logging.getLogger(__name__)

__all__ = ["AzureMLPipelinesAsyncHook", "AzureMLPipelinesHook"]


class AzureMLPipelinesHook(RunSubmissions, PipelineEndpointOperations, AzureMLPipelinesHookBase):
    """Publish pipelines, manage pipeline endpoints, submit runs and read their state.

    Every method makes authenticated REST calls with one pooled ``requests.Session``; failed
    calls raise the classes of :mod:`airflow_provider_mlpipelines.exceptions`.

    :param azure_ml_pipelines_conn_id: the Airflow connection (type ``azure_ml_pipelines``).
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_backoff: overrides the connection's ``retry_backoff_seconds``.
    :param request_timeout: overrides the connection's ``request_timeout_seconds``.
    :param deadline: epoch seconds by which the caller must be done; a ``Retry-After`` that
        ends later fails the call at once instead of being cut short or outlasting it.
    """

    #: How a retry waits; tests may replace it on an instance.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    # Airflow 2.11 reads the connection form only from the hook class's own attributes (not a
    # base class's); Airflow 3 reads get_provider_info() instead.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Form fields of the connection's extras (Airflow 2.11)."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form (Airflow 2.11)."""
        return CONNECTION_UI_BEHAVIOUR

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
        return SyncTransport(
            self.settings, self.tokens, self.session, sleep=self.sleep, deadline=self.deadline
        )

    @cached_property
    def v2(self) -> V2Client | None:
        """The v2 client on a v2 connection (``api`` extra), else ``None``.

        Its ARM calls share this hook's transport; invokes and the pipeline-job header use
        a second token, for the Azure ML audience, cached and renewed the same way.
        """
        if self.settings.api != "v2":
            return None
        from airflow_provider_mlpipelines.hooks._v2_client import V2Client

        ml_tokens = SyncTokenProvider(self.settings, scope=self.settings.ml_scope)
        ml = SyncTransport(
            self.settings, ml_tokens, self.session, sleep=self.sleep, deadline=self.deadline
        )
        return V2Client(self.settings, self.transport, ml, sleep=self.sleep)

    def get_conn(self) -> Any:
        """The ``requests.Session`` (Airflow's conventional accessor)."""
        return self.session

    def close(self) -> None:
        """Close the session and the credential; the hook reopens them if used again."""
        client = self.__dict__.pop("v2", None)
        if client is not None:
            client.ml.tokens.close()
        for name in ("transport", "session", "tokens"):
            resource = self.__dict__.pop(name, None)
            close = getattr(resource, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> AzureMLPipelinesHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    # Plumbing
    # ---------------------------------------------------------------------------------------
    def _call(self, route: routes.Route, resource: str | None = None, **kwargs: Any) -> Call:
        return build_call(self.settings, route, resource, **kwargs)

    def _send(self, call: Call, policy: RetryPolicy | None = None) -> Reply:
        return self.transport.execute(call, policy=policy)

    def _json(self, route: routes.Route, resource: str | None = None, **kwargs: Any) -> Any:
        return self._send(self._call(route, resource, **kwargs)).json()

    # ---------------------------------------------------------------------------------------
    # Published pipelines
    # ---------------------------------------------------------------------------------------
    @serves_v2
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline:
        """A published pipeline.

        :param pipeline_id: the published pipeline's id.
        """
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        data = self._json(routes.PIPELINE_GET, quoted(pipeline_id), pipeline_id=pipeline_id)
        return PublishedPipeline.from_json(data)

    @serves_v2
    def list_published_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        """Every published pipeline of the workspace.

        :param active_only: leave out disabled and deprecated pipelines.
        """
        return self._list_published_pipelines(active_only)

    def _list_published_pipelines(
        self, active_only: bool, policy: RetryPolicy | None = None
    ) -> list[PublishedPipeline]:
        call = self._call(routes.PIPELINE_LIST, params=active_only_query(active_only))
        data = self._send(call, policy).json()
        return [PublishedPipeline.from_json(item) for item in data or []]

    @serves_v2
    def find_published_pipeline(
        self, name: str, version: str | None = None, active_only: bool = True
    ) -> PublishedPipeline | None:
        """The published pipeline called ``name`` (and ``version``), the newest if several.

        It says nothing of where the pipeline came from; to reuse a pipeline only when it was
        published from a given run, see :mod:`~airflow_provider_mlpipelines.hooks._publishing`.

        :param name: the pipeline's name (exact match).
        :param version: its version; ``None`` matches every version.
        :param active_only: ignore disabled and deprecated pipelines.
        """
        return newest(
            p
            for p in self.list_published_pipelines(active_only)
            if p.name == name and (version is None or p.version == str(version))
        )

    @serves_v2
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
        """Publish the graph of an existing pipeline run, as ``PipelineRun.publish_pipeline`` does.

        The pipeline's properties record its source (``airflow.source_run_id`` and
        ``airflow.source_graph_id``), which the service's answer does not otherwise name; they
        take precedence over the same keys in ``properties``.

        :param run_id: a pipeline run whose graph becomes the published pipeline.
        :param name: the published pipeline's name.
        :param version: its version label.
        :param description: its description.
        :param continue_on_step_failure: its default for continuing after a step fails.
        :param properties: its properties.
        """
        run = self.get_pipeline_run(run_id)
        if not run.graph_id:
            raise AzureMLInvalidInputError(f"pipeline run {run_id!r} has no graph to publish")
        graph = self._json(routes.GRAPH_GET, quoted(run.graph_id), graph_id=run.graph_id)
        interface = self._json(routes.GRAPH_INTERFACE, quoted(run.graph_id), graph_id=run.graph_id)
        info = PipelineCreationInfo(
            name=name,
            description=description,
            version=None if version is None else str(version),
            graph=graph,
            graph_interface=interface,
            dataset_assignments=run.dataset_assignments or None,
            continue_run_on_step_failure=continue_on_step_failure,
            properties={**(properties or {}), **source_properties(run)},
        )
        resource = f"{name!r} from run {run_id!r}"
        call = self._call(routes.PIPELINE_CREATE, resource, body=info.to_json(), idempotent=False)
        return PublishedPipeline.from_json(self._send(call).json())

    @serves_v2
    def publish_pipeline_once(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        if_exists: str = "reuse",
        properties: dict[str, str] | None = None,
        **publish_kwargs: Any,
    ) -> tuple[PublishedPipeline, bool]:
        """Publish ``run_id`` as ``name`` unless a pipeline of the same source already is.

        An active pipeline has the same source when it was published from this run or another
        run of its graph, or this run is a run of it. With a ``version``, only that version
        counts, and another source under it raises; without one, the same source under any
        version counts, and other pipelines of the name do not matter.

        :param run_id: the pipeline run to publish.
        :param name: the pipeline's name.
        :param version: its version label, or ``None``.
        :param if_exists: ``reuse`` returns the pipeline of the same source; ``fail`` raises
            instead, unless that pipeline carries every one of ``properties`` (the same
            publisher, e.g. an earlier try of one task instance, published it).
        :param properties: properties of a new pipeline, which also mark the publisher.
        :param publish_kwargs: ``description`` and ``continue_on_step_failure`` of a new one.
        :return: the pipeline, and whether it was published now.
        :raises AzureMLConflictError: naming the existing pipeline and both runs.
        """
        properties = dict(properties or {})
        existing = existing_pipelines(
            self.list_published_pipelines(active_only=True),
            self.get_pipeline_run(run_id),
            name,
            version,
        )
        pipeline = choose_existing(
            existing,
            run_id=run_id,
            name=name,
            version=version,
            if_exists=if_exists,
            own_properties=properties,
        )
        if pipeline is not None:
            log.info(
                "Reusing published pipeline %s (%s version %s), published from %s",
                pipeline.id,
                name,
                pipeline.version,
                describe_source(pipeline),
            )
            return pipeline, False
        pipeline = self.publish_pipeline_from_run(
            run_id, name=name, version=version, properties=properties, **publish_kwargs
        )
        log.info("Published pipeline %s (%s) from run %s", pipeline.id, name, run_id)
        if SOURCE_RUN_PROPERTY not in pipeline.properties:
            log.warning(
                "The service did not return the %s property of pipeline %s: a later publish "
                "can recognise its source only by its graph",
                SOURCE_RUN_PROPERTY,
                pipeline.id,
            )
        return pipeline, True

    @serves_v2
    def set_published_pipeline_status(self, pipeline_id: str, status: EntityStatus | str) -> None:
        """Enable, disable or deprecate a published pipeline.

        :param pipeline_id: the published pipeline.
        :param status: ``Active``, ``Disabled`` or ``Deprecated`` (name, code or enum).
        """
        wanted = entity_status(status)
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        self._send(
            self._call(
                routes.PIPELINE_SET_STATUS,
                quoted(pipeline_id),
                body=wanted.value,
                pipeline_id=pipeline_id,
            )
        )

    @serves_v2
    def get_pipeline_interface(self, pipeline_id: str) -> PipelineInterface:
        """The parameters, data paths and datasets that a published pipeline declares.

        :param pipeline_id: the published pipeline (its interface is read via its graph).
        """
        pipeline = self.get_published_pipeline(pipeline_id)
        if not pipeline.graph_id:
            raise AzureMLInvalidInputError(f"published pipeline {pipeline_id!r} has no graph id")
        data = self._json(
            routes.GRAPH_INTERFACE, quoted(pipeline.graph_id), graph_id=pipeline.graph_id
        )
        return PipelineInterface.from_json(data)

    # ---------------------------------------------------------------------------------------
    # Runs
    # ---------------------------------------------------------------------------------------
    @serves_v2
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run and its status.

        :param run_id: the pipeline run.
        """
        return PipelineRun.from_json(self._send(_calls.run_call(self.settings, run_id)).json())

    @serves_v2
    def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a pipeline run.

        :param run_id: the pipeline run.
        """
        self._send(_calls.cancel_call(self.settings, run_id))

    @serves_v2
    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step (graph node) of a run, by node id.

        :param run_id: the pipeline run.
        """
        reply = self._send(_calls.step_statuses_call(self.settings, run_id))
        return StepStatus.map_from_json(reply.json())

    @serves_v2
    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log.

        :param run_id: the pipeline run.
        :param node_id: the step's node id (a key of :meth:`get_step_statuses`).
        :param kind: ``STDOUT``, ``STDERR`` or ``JobLog`` (``routes.STEP_LOG_KINDS``).
        """
        call = _calls.step_log_call(self.settings, run_id, node_id, check_log_kind(kind))
        return self._send(call).text_value()

    @serves_v2
    def get_history_run(self, run_id: str, experiment_name: str | None = None) -> HistoryRun:
        """A run as run history reports it (a pipeline run or a step run).

        :param run_id: the run.
        :param experiment_name: its experiment, when known (selects the experiment route).
        """
        return HistoryRun.from_json(
            self._send(_calls.history_run_call(self.settings, run_id, experiment_name)).json()
        )

    @serves_v2
    def get_history_run_details(self, run_id: str, experiment_name: str) -> HistoryRunDetails:
        """The run-history ``details`` of a run: status, error, warnings, log files.

        :param run_id: the run.
        :param experiment_name: its experiment.
        """
        call = _calls.history_details_call(self.settings, run_id, experiment_name)
        return HistoryRunDetails.from_json(self._send(call).json())

    @serves_v2
    def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """Every child run (step run) of a run, following continuation tokens.

        :param run_id: the parent run.
        :param experiment_name: its experiment.
        :param page_size: runs per page (``$top``).
        """
        children: list[HistoryRun] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            call = _calls.child_page_call(self.settings, run_id, experiment_name, page_size, token)
            page = HistoryRunPage.from_json(self._send(call).json())
            children.extend(page.value)
            token = _calls.next_continuation(page.continuation_token, seen)
            if token is None:
                return children

    @serves_v2
    def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        """A readable account of a failed or canceled run, for exception messages.

        It names each failed step (node id, name when known, status, status detail) with the
        last ``max_log_lines`` lines of its stderr.

        :param run_id: the pipeline run.
        :param max_log_lines: stderr lines kept per failed step.
        """
        run = self.get_pipeline_run(run_id)
        failed = failed_steps(self.get_step_statuses(run_id))
        names = self._step_names(run) if failed else {}
        items = [self._failed_step(run_id, step, names, max_log_lines) for step in failed]
        return render_run_failure(run, items, max_log_lines)

    def _failed_step(
        self, run_id: str, step: StepStatus, names: Mapping[str, str], max_log_lines: int
    ) -> FailedStep:
        try:
            tail = tail_lines(self.get_step_log(run_id, step.node_id), max_log_lines)
        except AzureMLPipelinesError as exc:
            return FailedStep(step, names.get(step.node_id), log_problem=str(exc))
        return FailedStep(step, names.get(step.node_id), log_tail=tail)

    def _step_names(self, run: PipelineRun) -> dict[str, str]:
        if not run.experiment_name:
            return {}
        try:
            return step_names(self.list_child_runs(run.id, run.experiment_name))
        except AzureMLPipelinesError as exc:
            log.info("Step names of run %s unavailable: %s", run.id, exc)
            return {}

    # ---------------------------------------------------------------------------------------
    # URLs and diagnostics
    # ---------------------------------------------------------------------------------------
    def get_run_url(self, run_id: str) -> str:
        """The studio URL of a run (no I/O besides reading the connection).

        :param run_id: the run.
        """
        return self._studio_url(self.settings, "runs", run_id)

    @serves_v2
    def get_pipeline_url(self, pipeline_id: str) -> str:
        """The studio URL of a published pipeline.

        :param pipeline_id: the published pipeline.
        """
        return self._studio_url(self.settings, "pipelines", pipeline_id)

    def test_connection(self) -> tuple[bool, str]:
        """Make one real authenticated call (list pipelines) and explain any failure.

        :return: ``(True, summary)`` or ``(False, reason)``; never contains the secret.
        """
        no_retry = RetryPolicy(max_retries=0)

        def probe() -> int:
            client = self.v2
            if client is not None:
                return client.count_endpoints(no_retry)
            return len(self._list_published_pipelines(True, no_retry))

        return connection_test_result(lambda: self.settings, probe)
