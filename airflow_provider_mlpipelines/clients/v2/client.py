"""The v2 client: pipeline components, batch endpoints and pipeline jobs over ARM.

:class:`V2Client` implements :class:`~airflow_provider_mlpipelines.clients.protocol.PipelinesClient`
for a connection whose ``api`` is ``v2``, in the same models as the v1 client
(:class:`PipelineRun`, :class:`PublishedPipeline`, :class:`PipelineEndpoint`), so the
operators, the sensor and the trigger never learn which API a connection speaks. What v2
cannot do raises one :class:`AzureMLInvalidInputError` (:mod:`.gaps`), naming the v2
alternative. The mapping (contract section 11): pipeline endpoint -> batch endpoint; endpoint
version -> deployment (its name is the version); published pipeline -> pipeline component
version (its ARM id is the pipeline id); run -> pipeline job (its name is the run id).
Components and endpoints live in :mod:`.resources`, jobs and submissions in :mod:`.jobs`.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from airflow_provider_mlpipelines.api.datastores import (
    DataLocation,
    DatastoreStorage,
    v2_job_outputs,
)
from airflow_provider_mlpipelines.api.models import (
    DataPathParameter,
    HistoryRun,
    HistoryRunDetails,
    PipelineInterface,
    PipelineParameter,
    PipelineRun,
    PipelineSubmissionInfo,
    PublishedPipeline,
)
from airflow_provider_mlpipelines.api.results import SubmitUrl
from airflow_provider_mlpipelines.api.status import EntityStatus, ParameterType
from airflow_provider_mlpipelines.api.v2 import bodies, routes
from airflow_provider_mlpipelines.api.v2.models import DATA_TYPES, ComponentVersion, page_items
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.datastores import DatastoreCache
from airflow_provider_mlpipelines.clients.core.publishing import (
    SOURCE_RUN_PROPERTY,
    choose_existing,
    existing_pipelines,
    newest,
)
from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
from airflow_provider_mlpipelines.clients.core.studio import component_url, studio_url
from airflow_provider_mlpipelines.clients.v2 import calls
from airflow_provider_mlpipelines.clients.v2.gaps import refuse
from airflow_provider_mlpipelines.clients.v2.jobs import PARAMETER_TYPES, V2Jobs
from airflow_provider_mlpipelines.clients.v2.resources import component_ref

log = logging.getLogger(__name__)


class V2Client(V2Jobs):
    """Azure ML v2 behind the operator-facing operations of the protocol.

    :param settings: the connection settings (``api`` is ``v2``; ``base_url`` the ARM host).
    :param arm: a transport whose tokens are for Azure Resource Manager.
    :param ml: a transport whose tokens are for Azure ML (invoke, the pipeline-job header).
    :param sleep: how to wait between polls of a long-running operation.
    """

    @property
    def listing_lag_seconds(self) -> float:
        """None: a v2 job is read by its name, never looked for in a lagging list."""
        return 0.0

    # ---------------------------------------------------------------------------------------
    # Published pipelines = pipeline component versions
    # ---------------------------------------------------------------------------------------
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline:
        return self.pipeline_of(self.component(pipeline_id))

    def get_pipeline_interface(self, pipeline_id: str) -> PipelineInterface:
        """The component's inputs as the v1 interface: literals as parameters, uri inputs as
        data paths, so that the same validation names the same problems."""
        component = self.component(pipeline_id)
        return PipelineInterface(
            parameters=[
                PipelineParameter(
                    name=item.name,
                    default_value=item.default,
                    is_optional=item.optional or item.default is not None,
                    type=PARAMETER_TYPES.get(item.type, ParameterType.UNDEFINED),
                )
                for item in component.inputs
                if item.is_literal
            ],
            data_path_parameters=[
                DataPathParameter(name=item.name, is_optional=item.optional)
                for item in component.inputs
                if item.type in DATA_TYPES
            ],
        )

    def get_pipeline_url(self, pipeline_id: str) -> str:
        """The studio page of a component version (no I/O)."""
        parts = component_ref(check_id(pipeline_id, "pipeline_id"))
        return component_url(self.settings, parts["name"], parts["version"])

    def set_published_pipeline_status(self, pipeline_id: str, status: EntityStatus | str) -> None:
        raise refuse("pipeline status")

    def list_published_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        raise refuse("pipeline list")

    def find_published_pipeline(
        self, name: str, version: str | None = None, active_only: bool = True
    ) -> PublishedPipeline | None:
        """The newest version of the component ``name`` (or its version ``version``); v2
        components are never disabled, so ``active_only`` keeps all."""
        return newest(
            pipeline
            for pipeline in map(self.pipeline_of, self.component_versions(name))
            if version is None or pipeline.version == str(version)
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
        """Register ``name``/``version`` from the pipeline job ``run_id`` unless that job is
        already registered under the name (contract section 5.1); the v1 reuse rules apply.
        """
        if continue_on_step_failure is not None:
            raise refuse("continue_on_step_failure")
        run_id = check_id(run_id, "pipeline_run_id")
        properties = dict(properties or {})
        source = self.get_pipeline_run(run_id)
        versions = [self.pipeline_of(c) for c in self.component_versions(name)]
        chosen = choose_existing(
            existing_pipelines(versions, source, name, version),
            run_id=run_id,
            name=name,
            version=version,
            if_exists=if_exists,
            own_properties=properties,
        )
        if chosen is not None:
            log.info("Reusing component %s, registered from job %s", chosen.id, run_id)
            return chosen, False
        if version is None:
            version = _next_version(v.version for v in versions)
        pipeline = self.publish_pipeline_from_run(
            run_id, name=name, version=str(version), description=description, properties=properties
        )
        return pipeline, True

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
        """Register ``name``/``version`` from the pipeline job ``run_id``, without looking for
        an existing one (see :meth:`publish_pipeline_once`); the properties become its tags.

        :raises AzureMLConflictError: that version exists, made from another job.
        """
        if continue_on_step_failure is not None:
            raise refuse("continue_on_step_failure")
        run_id = check_id(run_id, "pipeline_run_id")
        if version is None:
            version = _next_version(c.version for c in self.component_versions(name))
        # MLClient names the source job by its ARM id; the service does not echo it back
        # (tests/fixtures/recordings/component_from_job.json), so the component's tags record
        # it too, for a later publish to recognise its source.
        source = routes.job_id(**self.settings.workspace, name=run_id)
        body = bodies.component_from_job_body(source, name, str(version), description)
        body["properties"]["tags"] = {**(properties or {}), SOURCE_RUN_PROPERTY: run_id}
        call = calls.arm_call(
            self.settings,
            routes.COMPONENT_FROM_JOB_PUT,
            f"{name!r} version {version!r} from job {run_id!r}",
            body=body,
            component_name=name,
            version=str(version),
        )
        component = ComponentVersion.from_json(self.arm.execute(call).json())
        self._components[component.id] = component
        log.info("Registered component %s from job %s", component.id, run_id)
        return self.pipeline_of(component)

    # ---------------------------------------------------------------------------------------
    # What v2 has no equivalent for, URLs and diagnostics
    # ---------------------------------------------------------------------------------------
    def list_pipeline_runs(self, pipeline_id: str) -> list[PipelineRun]:
        raise refuse("runs list")

    def get_history_run(self, run_id: str, experiment_name: str | None = None) -> HistoryRun:
        raise refuse("run history")

    def get_history_run_details(self, run_id: str, experiment_name: str) -> HistoryRunDetails:
        raise refuse("run history")

    def submit_to_url(self, url: str, submission: PipelineSubmissionInfo) -> PipelineRun:
        raise refuse("rest_endpoint")

    def parse_submit_url(self, url: str) -> SubmitUrl:
        raise refuse("rest_endpoint")

    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        raise refuse("step logs")

    # ---------------------------------------------------------------------------------------
    # Data, for lineage
    # ---------------------------------------------------------------------------------------
    @cached_property
    def datastores(self) -> DatastoreCache:
        """The datastores read so far (one ARM read per datastore and client)."""
        return DatastoreCache(self._read_datastore)

    def get_datastore(self, name: str) -> DatastoreStorage | None:
        """The storage behind datastore ``name`` (read once; ``None`` when unreadable).

        :param name: the datastore's name.
        """
        return self.datastores.get(name)

    def _read_datastore(self, name: str) -> DatastoreStorage:
        name = check_id(name, "datastore")
        call = calls.arm_call(
            self.settings, routes.DATASTORE_GET, quoted(name), datastore_name=name
        )
        return DatastoreStorage.from_v2_json(name, self.arm.execute(call).json())

    def get_run_outputs(self, run_id: str) -> list[DataLocation]:
        """The job's ``properties.outputs`` that have a uri (one job GET).

        :param run_id: the job's name.
        """
        return v2_job_outputs(self.arm.execute(calls.job_call(self.settings, run_id)).json())

    def get_run_url(self, run_id: str) -> str:
        """The studio page of a job (no I/O)."""
        return studio_url(self.settings, "runs", run_id)

    def probe_workspace(self, policy: RetryPolicy | None = None) -> int:
        """The workspace's batch endpoints, read once with ``policy``, after an ML token was
        acquired too: what ``test_connection`` checks on a v2 connection (both audiences)."""
        self.ml.tokens.token()
        call = calls.arm_call(self.settings, routes.ENDPOINT_LIST)
        items, _ = page_items(self.arm.execute(call, policy=policy).json())
        return len(items)

    def close(self) -> None:
        """Close the Azure ML token's credential (the ARM transport is the hook's)."""
        self.ml.tokens.close()


def _next_version(existing: Any) -> str:
    numbers = [int(v) for v in existing if v is not None and str(v).isdigit()]
    return str(max(numbers, default=0) + 1)
