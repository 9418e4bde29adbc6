"""Records rendered as the contract's entities, through the models of ``api/``.

Nothing here decides anything: it maps fields. Run and step states go out as numeric codes
and entity states as names (the models' own rendering rules).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.graph import (
    AzureBlobReference,
    DataLocation,
    DataReference,
    GraphEntity,
    GraphModuleNode,
    NodeOutput,
)
from airflow_provider_mlpipelines.api.models import (
    DataPathParameter,
    DatasetParameter,
    HistoryRun,
    HistoryRunDetails,
    PipelineEndpoint,
    PipelineInterface,
    PipelineParameter,
    PipelineRun,
    PipelineVersion,
    PublishedPipeline,
    RunStatusInfo,
    ServiceErrorInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.status import EntityStatus, PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.admin_access import SIGNATURE_PARAM, AdminKey
from airflow_provider_mlpipelines.emulator.records import (
    EndpointRecord,
    GraphRecord,
    PipelineRecord,
    RunRecord,
    StepRecord,
)
from airflow_provider_mlpipelines.emulator.spec_model import Identity, PipelineSpec

#: Run-history words for the pipelines service's run and step states.
_HISTORY_RUN_STATUS = {
    PipelineRunStatus.NOT_STARTED: "NotStarted",
    PipelineRunStatus.QUEUED: "Queued",
    PipelineRunStatus.RUNNING: "Running",
    PipelineRunStatus.FAILED: "Failed",
    PipelineRunStatus.FINISHED: "Completed",
    PipelineRunStatus.CANCELED: "Canceled",
    PipelineRunStatus.UNKNOWN: "NotResponding",
}
_HISTORY_STEP_STATUS = {
    StepRunStatus.NOT_STARTED: "NotStarted",
    StepRunStatus.QUEUED: "Queued",
    StepRunStatus.RUNNING: "Running",
    StepRunStatus.FAILED: "Failed",
    StepRunStatus.FINISHED: "Completed",
    StepRunStatus.CANCELED: "Canceled",
    StepRunStatus.PARTIALLY_EXECUTED: "Failed",
    StepRunStatus.BYPASSED: "Completed",
}
_EXPERIMENT_NAMESPACE = uuid.UUID("0d7c2f4e-8a51-4c3b-9e6f-12ab34cd56ef")
PIPELINE_RUN_TYPE = "azureml.PipelineRun"
STEP_RUN_TYPE = "azureml.StepRun"


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of the emulator's own entities.

    :param base_url: ``https://host:port`` of the emulator, without a trailing slash.
    :param identity: the workspace the routes are scoped to.
    :param admin_key: signs the step log URLs, which are then fetched without the admin header
        (as the service's log URLs carry a SAS); unsigned when ``None``.
    """

    base_url: str
    identity: Identity
    admin_key: AdminKey | None = field(default=None, compare=False)

    @property
    def scope(self) -> dict[str, str]:
        return {
            "subscription_id": self.identity.subscription_id,
            "resource_group": self.identity.resource_group,
            "workspace_name": self.identity.workspace_name,
        }

    def pipeline_submit(self, pipeline_id: str) -> str:
        return self.base_url + routes.PIPELINE_SUBMIT.format(**self.scope, pipeline_id=pipeline_id)

    def endpoint_submit(self, endpoint_id: str) -> str:
        return self.base_url + routes.ENDPOINT_SUBMIT.format(**self.scope, endpoint_id=endpoint_id)

    def step_log(self, step_run_id: str, kind: str) -> str:
        path = f"/_emulator/logs/{step_run_id}/{kind}"
        if self.admin_key is None:
            return self.base_url + path
        return f"{self.base_url}{path}?{SIGNATURE_PARAM}={self.admin_key.sign(path)}"


def node_id_for(pipeline_name: str, step_name: str) -> str:
    """The stable node id of a step (8 hex digits, like the service's node ids).

    :param pipeline_name: the pipeline.
    :param step_name: the step.
    """
    return hashlib.sha256(f"{pipeline_name}/{step_name}".encode()).hexdigest()[:8]


def module_id_for(pipeline_name: str, step_name: str) -> str:
    """The module id of a step: what the graph's node of the step executes.

    :param pipeline_name: the pipeline.
    :param step_name: the step.
    """
    return f"emulator:{pipeline_name}/{step_name}"


def experiment_id_for(name: str) -> str:
    """A stable experiment id for an experiment name.

    :param name: the experiment name.
    """
    return str(uuid.uuid5(_EXPERIMENT_NAMESPACE, name))


# -------------------------------------------------------------------------------- graphs
def graph_entity(graph: GraphRecord, spec: PipelineSpec) -> dict[str, Any]:
    """``GraphEntity`` of a graph.

    :param graph: the record.
    :param spec: its parsed pipeline snapshot.
    """
    nodes = [
        GraphModuleNode(
            id=node_id_for(spec.name, step.name),
            module_id=module_id_for(spec.name, step.name),
            module_type="None",
            comment=step.name,
        )
        for step in spec.steps
    ]
    return GraphEntity(
        id=graph.id,
        module_nodes=nodes,
        etag=graph.etag,
        created_date=graph.created,
        last_modified_date=graph.created,
        entity_status=EntityStatus.ACTIVE,
    ).to_json()


def graph_interface(spec: PipelineSpec) -> PipelineInterface:
    """``EntityInterface`` of a pipeline: every declared input with its default.

    :param spec: the pipeline.
    """
    return PipelineInterface(
        parameters=[
            PipelineParameter(
                name=p.name,
                documentation=p.description,
                default_value=params_mod.to_wire(p.type, p.default),
                is_optional=True,
                type=p.type,
            )
            for p in spec.parameters
        ],
        data_path_parameters=[
            DataPathParameter(name=d.name, default_value=d.default.literal, is_optional=True)
            for d in spec.data_inputs
            if not d.is_dataset
        ],
        dataset_parameters=[
            DatasetParameter(name=d.name, default_value=d.default, is_optional=True)
            for d in spec.data_inputs
            if d.is_dataset
        ],
    )


# -------------------------------------------------------------------------------- pipelines
def pipeline_entity(pipeline: PipelineRecord, spec: PipelineSpec, urls: Urls) -> dict[str, Any]:
    """``PipelineEntity`` of a published pipeline.

    :param pipeline: the record.
    :param spec: the pipeline snapshot of its graph.
    :param urls: URL builder.
    """
    return PublishedPipeline(
        id=pipeline.id,
        name=pipeline.name,
        description=pipeline.description,
        version=pipeline.version,
        graph_id=pipeline.graph_id,
        total_run_steps=len(spec.steps),
        parameter_assignments=dict(pipeline.parameter_assignments),
        dataset_assignments=dict(pipeline.dataset_assignments),
        url=urls.pipeline_submit(pipeline.id),
        etag=pipeline.etag,
        created_date=pipeline.created,
        last_modified_date=pipeline.modified,
        status=pipeline.status,
        continue_run_on_step_failure=pipeline.continue_on_step_failure,
        properties=dict(pipeline.properties),
        enable_notification=pipeline.enable_notification,
    ).to_json()


def endpoint_entity(endpoint: EndpointRecord, urls: Urls) -> dict[str, Any]:
    """``PipelineEndpointEntity`` of an endpoint.

    :param endpoint: the record.
    :param urls: URL builder.
    """
    return PipelineEndpoint(
        id=endpoint.id,
        name=endpoint.name,
        description=endpoint.description,
        default_version=endpoint.default_version,
        versions=[PipelineVersion(version=v, pipeline_id=p) for v, p in endpoint.versions],
        url=urls.endpoint_submit(endpoint.id),
        etag=endpoint.etag,
        created_date=endpoint.created,
        last_modified_date=endpoint.modified,
        status=endpoint.status,
        properties=dict(endpoint.properties),
        tags=dict(endpoint.tags),
    ).to_json()


# -------------------------------------------------------------------------------- runs
def run_entity(run: RunRecord) -> dict[str, Any]:
    """``PipelineRunEntity`` of a run.

    :param run: the record.
    """
    failed = run.status is PipelineRunStatus.FAILED or any(
        s.status is StepRunStatus.FAILED for s in run.steps
    )
    return PipelineRun(
        id=run.id,
        description=run.description,
        status_info=RunStatusInfo(
            status=run.status,
            status_detail=run.status_detail,
            creation_time=run.created,
            end_time=run.end_time,
        ),
        graph_id=run.graph_id,
        is_submitted=True,
        has_errors=failed,
        has_warnings=False,
        parameter_assignments=dict(run.parameters),
        dataset_assignments=dict(run.dataset_assignments),
        experiment_name=run.experiment_name,
        pipeline_id=run.pipeline_id,
        run_source=run.run_source,
        run_type=run.run_type,
        total_run_steps=len(run.steps),
        schedule_id=run.schedule_id,
        tags=dict(run.tags),
        properties=dict(run.properties),
        entity_status=EntityStatus.ACTIVE,
        etag=run.etag,
        created_date=run.created,
        last_modified_date=run.modified,
    ).to_json()


def step_status(run: RunRecord, step: StepRecord, urls: Urls) -> dict[str, Any]:
    """``TaskStatus`` of a step.

    :param run: the run it belongs to.
    :param step: the step.
    :param urls: URL builder.
    """
    return StepStatus(
        node_id=step.node_id,
        status=step.status,
        status_detail=step.status_detail,
        creation_time=step.creation_time or run.created,
        schedule_time=step.schedule_time,
        start_time=step.start_time,
        end_time=step.end_time,
        run_id=step.run_id,
        request_id=run.id,
        real_time_log_path=urls.step_log(step.run_id, "STDOUT") if step.kind == "process" else None,
        has_warnings=False,
    ).to_json()


def node_outputs(step: StepRecord, datastore_roots: dict[str, Path]) -> dict[str, Any]:
    """``{outputName: NodeOutput}`` of a step, locating each output as a local file URI.

    :param step: the step.
    :param datastore_roots: datastore name -> its folder.
    """
    result = {}
    for name, location in step.outputs.items():
        datastore, relative = location["datastore"], location["path"]
        local = datastore_roots[datastore] / relative
        size = local.stat().st_size if local.is_file() else None
        result[name] = NodeOutput(
            data_type_id="AnyDirectory" if local.is_dir() else "AnyFile",
            logical_size_in_bytes=size,
            physical_size_in_bytes=size,
            data_location=DataLocation(
                storage_type="AzureBlob",
                uri=local.as_uri(),
                data_reference=DataReference(
                    type="AzureBlob",
                    azure_blob_reference=AzureBlobReference(
                        container=datastore,
                        relative_path=relative,
                        aml_data_store_name=datastore,
                        uri=local.as_uri(),
                    ),
                ),
            ),
        ).to_json()
    return result


# -------------------------------------------------------------------------------- history
def _error_of(detail: str | None, code: str) -> dict[str, Any]:
    return ServiceErrorInfo(code=code, message=detail or "The run failed.").to_json(camel_case=True)


def history_run(run: RunRecord) -> dict[str, Any]:
    """Run-history ``RunDto`` of a pipeline run.

    :param run: the record.
    """
    return history_run_model(run).to_json()


def history_step(run: RunRecord, step: StepRecord) -> dict[str, Any]:
    """Run-history ``RunDto`` of a step's child run.

    :param run: the parent pipeline run.
    :param step: the step.
    """
    return history_step_model(run, step).to_json()


def history_run_model(run: RunRecord) -> HistoryRun:
    error = None
    if run.status is PipelineRunStatus.FAILED:
        error = _error_of(run.status_detail, "UserError")
    return HistoryRun(
        run_id=run.id,
        parent_run_id=run.parent_run_id,
        experiment_id=experiment_id_for(run.experiment_name),
        name=run.pipeline_name,
        display_name=run.pipeline_name,
        status=_HISTORY_RUN_STATUS[run.status],
        start_time_utc=run.start_time,
        end_time_utc=run.end_time,
        created_utc=run.created,
        run_type=PIPELINE_RUN_TYPE,
        properties=dict(run.properties),
        tags=dict(run.tags),
        error=error,
    )


def history_step_model(run: RunRecord, step: StepRecord) -> HistoryRun:
    error = None
    if step.status is StepRunStatus.FAILED:
        error = _error_of(step.status_detail, "UserError")
    return HistoryRun(
        run_id=step.run_id,
        parent_run_id=run.id,
        experiment_id=experiment_id_for(run.experiment_name),
        name=step.name,
        display_name=step.name,
        status=_HISTORY_STEP_STATUS[step.status],
        start_time_utc=step.start_time,
        end_time_utc=step.end_time,
        created_utc=step.creation_time or run.created,
        run_type=STEP_RUN_TYPE,
        properties={HistoryRun.NODE_ID_TAG: step.node_id, "StepType": step.kind},
        tags={HistoryRun.NODE_ID_TAG: step.node_id, HistoryRun.PIPELINE_TAG: run.id},
        error=error,
    )


def history_details(run: RunRecord, step: StepRecord | None, urls: Urls) -> dict[str, Any]:
    """The run-history ``details`` view of a pipeline run or of one of its steps.

    :param run: the pipeline run.
    :param step: the step, when the details are a child run's.
    :param urls: URL builder.
    """
    dto = history_step_model(run, step) if step is not None else history_run_model(run)
    log_files = {}
    if step is not None and step.kind == "process":
        log_files = {
            "user_logs/std_log.txt": urls.step_log(step.run_id, "STDOUT"),
            "user_logs/std_err.txt": urls.step_log(step.run_id, "STDERR"),
        }
    return HistoryRunDetails(
        run_id=dto.run_id,
        status=dto.status,
        start_time_utc=dto.start_time_utc,
        end_time_utc=dto.end_time_utc,
        error=dto.error,
        warnings=[],
        log_files=log_files,
        properties=dto.properties,
        tags=dto.tags,
    ).to_json()
