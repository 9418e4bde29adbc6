"""Entities of pipeline runs: the submission body, run and step statuses, run-history runs.

Re-exported by :mod:`airflow_provider_mlpipelines.api.models`, the import path to use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_mlpipelines.api.status import EntityStatus, PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.api.wire_model import (
    WireModel,
    _dump_list,
    _dump_model,
    _enum_value,
    _list_of,
    _str_map,
    wire,
)


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------
@dataclass
class PipelineSubmissionInfo(WireModel):
    """``PipelineSubmissionInfo``: the body of a run submission."""

    experiment_name: str = wire("ExperimentName", default="")
    description: str | None = wire("Description")
    run_source: str | None = wire("RunSource")
    run_type: str | None = wire("RunType")
    parameter_assignments: dict[str, str] | None = wire("ParameterAssignments")
    data_path_assignments: dict[str, Any] | None = wire("DataPathAssignments")
    dataset_assignments: dict[str, Any] | None = wire("DataSetDefinitionValueAssignments")
    schedule_id: str | None = wire("ScheduleId")
    continue_run_on_step_failure: bool | None = wire("ContinueRunOnStepFailure")
    enable_notification: bool | None = wire("EnableNotification")
    tags: dict[str, str] | None = wire("tags")
    properties: dict[str, str] | None = wire("Properties")


def _run_status_dump(value: PipelineRunStatus) -> int | str:
    # The service reports run and step states by numeric code; states without one by name.
    try:
        return value.code
    except ValueError:
        return value.value


@dataclass
class RunStatusInfo(WireModel):
    """The ``Status`` object of a pipeline run."""

    status: PipelineRunStatus = wire(
        "StatusCode",
        default=PipelineRunStatus.NOT_STARTED,
        parse=PipelineRunStatus.from_status,
        dump=_run_status_dump,
    )
    status_detail: str | None = wire("StatusDetail")
    creation_time: str | None = wire("CreationTime")
    end_time: str | None = wire("EndTime")


@dataclass
class PipelineRun(WireModel):
    """``PipelineRunEntity``: a pipeline run as the pipelines service reports it."""

    id: str = wire("Id", default="")
    description: str | None = wire("Description")
    status_info: RunStatusInfo = wire(
        "Status", factory=RunStatusInfo, parse=RunStatusInfo.from_json, dump=_dump_model
    )
    graph_id: str | None = wire("GraphId")
    is_submitted: bool | None = wire("IsSubmitted")
    has_errors: bool | None = wire("HasErrors")
    has_warnings: bool | None = wire("HasWarnings")
    parameter_assignments: dict[str, str] = wire(
        "ParameterAssignments", factory=dict, parse=_str_map
    )
    dataset_assignments: dict[str, Any] = wire("DataSetDefinitionValueAssignments", factory=dict)
    experiment_name: str | None = wire("RunHistoryExperimentName")
    pipeline_id: str | None = wire("PipelineId")
    run_source: str | None = wire("RunSource")
    run_type: str | None = wire("RunType")
    total_run_steps: int | None = wire("TotalRunSteps", parse=int)
    schedule_id: str | None = wire("ScheduleId")
    tags: dict[str, str] = wire("tags", factory=dict, parse=_str_map)
    properties: dict[str, str] = wire("Properties", factory=dict, parse=_str_map)
    entity_status: EntityStatus | None = wire(
        "EntityStatus", parse=EntityStatus.parse, dump=_enum_value
    )
    etag: str | None = wire("Etag")
    created_date: str | None = wire("CreatedDate")
    last_modified_date: str | None = wire("LastModifiedDate")

    @property
    def status(self) -> PipelineRunStatus:
        return self.status_info.status

    @property
    def status_detail(self) -> str | None:
        return self.status_info.status_detail


def _step_status_dump(value: StepRunStatus) -> int:
    return value.code


@dataclass
class StepStatus(WireModel):
    """``TaskStatus``: the status of one step; ``node_id`` is the key it was listed under."""

    node_id: str = ""
    status: StepRunStatus = wire(
        "StatusCode",
        default=StepRunStatus.NOT_STARTED,
        parse=StepRunStatus.parse,
        dump=_step_status_dump,
    )
    status_detail: str | None = wire("StatusDetail")
    creation_time: str | None = wire("CreationTime")
    schedule_time: str | None = wire("ScheduleTime")
    start_time: str | None = wire("StartTime")
    end_time: str | None = wire("EndTime")
    run_id: str | None = wire("RunId")
    request_id: str | None = wire("RequestId")
    real_time_log_path: str | None = wire("RealTimeLogPath")
    has_warnings: bool | None = wire("HasWarnings")
    reuse_info: Any = wire("ReuseInfo")

    @classmethod
    def map_from_json(cls, data: Mapping[str, Any] | None) -> dict[str, StepStatus]:
        """Parse the ``{nodeId: TaskStatus}`` map of the all-nodes status route."""
        result = {}
        for node_id, item in (data or {}).items():
            step = cls.from_json(item)
            step.node_id = node_id
            result[node_id] = step
        return result


# --------------------------------------------------------------------------------------------
# Run history (camelCase)
# --------------------------------------------------------------------------------------------
@dataclass
class HistoryRun(WireModel):
    """``RunDto`` of the run-history service."""

    NODE_ID_TAG: ClassVar[str] = "azureml.nodeid"
    PIPELINE_TAG: ClassVar[str] = "azureml.pipeline"

    run_id: str = wire("runId", default="")
    parent_run_id: str | None = wire("parentRunId")
    experiment_id: str | None = wire("experimentId")
    name: str | None = wire("name")
    display_name: str | None = wire("displayName")
    status: str | None = wire("status")
    start_time_utc: str | None = wire("startTimeUtc")
    end_time_utc: str | None = wire("endTimeUtc")
    created_utc: str | None = wire("createdUtc")
    run_type: str | None = wire("runType")
    properties: dict[str, str] = wire("properties", factory=dict, parse=_str_map)
    tags: dict[str, str] = wire("tags", factory=dict, parse=_str_map)
    error: dict[str, Any] | None = wire("error")

    @property
    def pipeline_status(self) -> PipelineRunStatus:
        """The status in the pipelines service's vocabulary (``Completed`` -> ``Finished``)."""
        return PipelineRunStatus.from_status(self.status)

    @property
    def node_id(self) -> str | None:
        return self.tags.get(self.NODE_ID_TAG)


@dataclass
class HistoryRunDetails(WireModel):
    """The ``details`` view of a run-history run."""

    run_id: str = wire("runId", default="")
    status: str | None = wire("status")
    start_time_utc: str | None = wire("startTimeUtc")
    end_time_utc: str | None = wire("endTimeUtc")
    error: dict[str, Any] | None = wire("error")
    warnings: list[Any] = wire("warnings", factory=list)
    log_files: dict[str, str] = wire("logFiles", factory=dict)
    properties: dict[str, str] = wire("properties", factory=dict, parse=_str_map)
    tags: dict[str, str] = wire("tags", factory=dict, parse=_str_map)


@dataclass
class HistoryRunPage(WireModel):
    """One page of child runs: ``{"value": [...], "continuationToken": ...}``."""

    value: list[HistoryRun] = wire(
        "value", factory=list, parse=_list_of(HistoryRun), dump=_dump_list
    )
    continuation_token: str | None = wire("continuationToken")
