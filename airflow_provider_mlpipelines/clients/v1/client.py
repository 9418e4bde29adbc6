"""The v1 client: published pipelines, runs and run history of the SDK v1 pipelines service.

:class:`V1Client` implements
:class:`~airflow_provider_mlpipelines.clients.protocol.PipelinesClient` for a connection whose
``api`` is ``v1``; its endpoint and submission operations live in the classes it builds on
(:mod:`.endpoints`, :mod:`.submissions`), its request building in :mod:`.calls`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.datastores import DataLocation, v1_step_outputs
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
from airflow_provider_mlpipelines.clients.core.checks import check_id, entity_status, quoted
from airflow_provider_mlpipelines.clients.core.publishing import (
    SOURCE_RUN_PROPERTY,
    choose_existing,
    describe_source,
    existing_pipelines,
    newest,
    source_properties,
)
from airflow_provider_mlpipelines.clients.core.reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
    step_names,
    tail_lines,
)
from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
from airflow_provider_mlpipelines.clients.core.studio import studio_url
from airflow_provider_mlpipelines.clients.v1 import calls
from airflow_provider_mlpipelines.clients.v1.calls import active_only_query, check_log_kind
from airflow_provider_mlpipelines.clients.v1.submissions import V1Submissions
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLPipelinesError,
)

log = logging.getLogger(__name__)


class V1Client(V1Submissions):
    """Publish pipelines, manage pipeline endpoints, submit runs and read their state (v1).

    Every method makes authenticated REST calls through the transport; failed calls raise the
    classes of :mod:`airflow_provider_mlpipelines.exceptions`.
    """

    # ---------------------------------------------------------------------------------------
    # Published pipelines
    # ---------------------------------------------------------------------------------------
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline:
        """A published pipeline.

        :param pipeline_id: the published pipeline's id.
        """
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        data = self._json(routes.PIPELINE_GET, quoted(pipeline_id), pipeline_id=pipeline_id)
        return PublishedPipeline.from_json(data)

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

    def find_published_pipeline(
        self, name: str, version: str | None = None, active_only: bool = True
    ) -> PublishedPipeline | None:
        """The published pipeline called ``name`` (and ``version``), the newest if several.

        It says nothing of where the pipeline came from; to reuse a pipeline only when it was
        published from a given run, see
        :mod:`~airflow_provider_mlpipelines.clients.core.publishing`.

        :param name: the pipeline's name (exact match).
        :param version: its version; ``None`` matches every version.
        :param active_only: ignore disabled and deprecated pipelines.
        """
        return newest(
            p
            for p in self.list_published_pipelines(active_only)
            if p.name == name and (version is None or p.version == str(version))
        )

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
        :param description: the description of a new pipeline.
        :param continue_on_step_failure: a new pipeline's default for continuing after a step
            fails.
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
            run_id,
            name=name,
            version=version,
            properties=properties,
            description=description,
            continue_on_step_failure=continue_on_step_failure,
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
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """A pipeline run and its status.

        :param run_id: the pipeline run.
        """
        return PipelineRun.from_json(self._send(calls.run_call(self.settings, run_id)).json())

    def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask the service to cancel a pipeline run.

        :param run_id: the pipeline run.
        """
        self._send(calls.cancel_call(self.settings, run_id))

    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        """The status of each step (graph node) of a run, by node id.

        :param run_id: the pipeline run.
        """
        reply = self._send(calls.step_statuses_call(self.settings, run_id))
        return StepStatus.map_from_json(reply.json())

    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        """A step's log.

        :param run_id: the pipeline run.
        :param node_id: the step's node id (a key of :meth:`get_step_statuses`).
        :param kind: ``STDOUT``, ``STDERR`` or ``JobLog`` (``routes.STEP_LOG_KINDS``).
        """
        call = calls.step_log_call(self.settings, run_id, node_id, check_log_kind(kind))
        return self._send(call).text_value()

    def get_history_run(self, run_id: str, experiment_name: str | None = None) -> HistoryRun:
        """A run as run history reports it (a pipeline run or a step run).

        :param run_id: the run.
        :param experiment_name: its experiment, when known (selects the experiment route).
        """
        return HistoryRun.from_json(
            self._send(calls.history_run_call(self.settings, run_id, experiment_name)).json()
        )

    def get_history_run_details(self, run_id: str, experiment_name: str) -> HistoryRunDetails:
        """The run-history ``details`` of a run: status, error, warnings, log files.

        :param run_id: the run.
        :param experiment_name: its experiment.
        """
        call = calls.history_details_call(self.settings, run_id, experiment_name)
        return HistoryRunDetails.from_json(self._send(call).json())

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
            call = calls.child_page_call(self.settings, run_id, experiment_name, page_size, token)
            page = HistoryRunPage.from_json(self._send(call).json())
            children.extend(page.value)
            token = calls.next_continuation(page.continuation_token, seen)
            if token is None:
                return children

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

    def get_run_outputs(self, run_id: str) -> list[DataLocation]:
        """Each step's outputs (``POST .../Outputs`` per step), named ``{node id}/{output}``.

        :param run_id: the pipeline run.
        """
        found: list[DataLocation] = []
        for node_id in sorted(self.get_step_statuses(run_id)):
            reply = self._send(calls.step_outputs_call(self.settings, run_id, node_id))
            found.extend(v1_step_outputs(node_id, reply.json()))
        return found

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
        """The studio URL of a run (no I/O).

        :param run_id: the run.
        """
        return studio_url(self.settings, "runs", run_id)

    def get_pipeline_url(self, pipeline_id: str) -> str:
        """The studio URL of a published pipeline (no I/O).

        :param pipeline_id: the published pipeline.
        """
        return studio_url(self.settings, "pipelines", pipeline_id)

    def probe_workspace(self, policy: RetryPolicy | None = None) -> int:
        """The number of active published pipelines, read once with ``policy``."""
        return len(self._list_published_pipelines(True, policy))
