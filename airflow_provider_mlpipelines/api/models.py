"""Entities of the pipelines and run-history APIs as small dataclasses.

Each field names its JSON key with :func:`wire`; :class:`WireModel` turns a dataclass into the
service's JSON and back. Parsing is tolerant (missing keys take defaults, enums accept names
and numeric forms, unknown keys are ignored); rendering omits ``None`` like the official SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from airflow_provider_mlpipelines.api.status import (
    EntityStatus,
    ParameterType,
    PipelineRunStatus,
    StepRunStatus,
)

M = TypeVar("M", bound="WireModel")


def wire(
    key: str,
    *,
    default: Any = None,
    factory: Callable[[], Any] | None = None,
    parse: Callable[[Any], Any] | None = None,
    dump: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare a dataclass field stored under the JSON key ``key``."""
    metadata = {"wire": key, "parse": parse, "dump": dump}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class WireModel:
    """Mixin giving a dataclass ``from_json``/``to_json`` through its :func:`wire` fields."""

    @classmethod
    def from_json(cls: type[M], data: Mapping[str, Any] | None) -> M:
        data = data or {}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f.metadata.get("wire")
            if key is None or key not in data or data[key] is None:
                continue
            parse = f.metadata.get("parse")
            kwargs[f.name] = parse(data[key]) if parse else data[key]
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            key = f.metadata.get("wire")
            value = getattr(self, f.name)
            if key is None or value is None:
                continue
            dump = f.metadata.get("dump")
            body[key] = dump(value) if dump else value
        return body

    @classmethod
    def wire_keys(cls) -> frozenset[str]:
        """The JSON keys this model understands, exactly as the service spells them."""
        return frozenset(f.metadata["wire"] for f in fields(cls) if "wire" in f.metadata)  # type: ignore[arg-type]


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in dict(value).items()}


def _enum_value(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def _list_of(model: type[M]) -> Callable[[Any], list[M]]:
    return lambda items: [model.from_json(item) for item in items]


def _dump_list(items: list[WireModel]) -> list[dict[str, Any]]:
    return [item.to_json() for item in items]


def _dump_model(item: WireModel) -> dict[str, Any]:
    return item.to_json()


# --------------------------------------------------------------------------------------------
# Data references
# --------------------------------------------------------------------------------------------
@dataclass
class DataPath(WireModel):
    """A location in a datastore: ``{"DataStoreName", "RelativePath"}``."""

    datastore_name: str = wire("DataStoreName", default="")
    relative_path: str = wire("RelativePath", default="")


@dataclass
class DatasetReference(WireModel):
    """A registered dataset: ``{"Id", "Name", "Version"}``."""

    id: str | None = wire("Id")
    name: str | None = wire("Name")
    version: str | None = wire("Version")


@dataclass
class SavedDatasetReference(WireModel):
    id: str = wire("Id", default="")


@dataclass
class DatasetValue(WireModel):
    """``DataSetDefinitionValue``: exactly one of a saved dataset, a dataset or a literal path."""

    saved_dataset: SavedDatasetReference | None = wire(
        "SavedDataSetReference", parse=SavedDatasetReference.from_json, dump=_dump_model
    )
    dataset: DatasetReference | None = wire(
        "DataSetReference", parse=DatasetReference.from_json, dump=_dump_model
    )
    literal: DataPath | None = wire("LiteralValue", parse=DataPath.from_json, dump=_dump_model)


# --------------------------------------------------------------------------------------------
# Pipeline interface (declared inputs)
# --------------------------------------------------------------------------------------------
def _parameter_type_wire(value: ParameterType) -> str:
    return value.wire


@dataclass
class PipelineParameter(WireModel):
    """A declared pipeline parameter of ``GraphInterface.Parameters``."""

    name: str = wire("Name", default="")
    documentation: str | None = wire("Documentation")
    default_value: str | None = wire("DefaultValue", parse=str)
    is_optional: bool = wire("IsOptional", default=False)
    type: ParameterType = wire(
        "Type",
        default=ParameterType.UNDEFINED,
        parse=ParameterType.parse,
        dump=_parameter_type_wire,
    )
    min_max_rules: Any = wire("MinMaxRules")
    enum_rules: Any = wire("EnumRules")


@dataclass
class DataPathParameter(WireModel):
    """A declared data-path parameter of ``GraphInterface.DataPathParameters``."""

    name: str = wire("Name", default="")
    default_value: DataPath | None = wire(
        "DefaultValue", parse=DataPath.from_json, dump=_dump_model
    )
    is_optional: bool = wire("IsOptional", default=False)
    data_type_id: str | None = wire("DataTypeId")


@dataclass
class DatasetParameter(WireModel):
    """A declared dataset parameter of ``GraphInterface.DataPathParameterList``."""

    name: str = wire("Name", default="")
    default_value: DatasetValue | None = wire(
        "DefaultValue", parse=DatasetValue.from_json, dump=_dump_model
    )
    is_optional: bool = wire("IsOptional", default=False)


@dataclass
class PipelineInterface(WireModel):
    """``EntityInterface``: every input a pipeline declares."""

    parameters: list[PipelineParameter] = wire(
        "Parameters", factory=list, parse=_list_of(PipelineParameter), dump=_dump_list
    )
    data_path_parameters: list[DataPathParameter] = wire(
        "DataPathParameters",
        factory=list,
        parse=_list_of(DataPathParameter),
        dump=_dump_list,
    )
    dataset_parameters: list[DatasetParameter] = wire(
        "DataPathParameterList",
        factory=list,
        parse=_list_of(DatasetParameter),
        dump=_dump_list,
    )

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def data_path_names(self) -> list[str]:
        return [p.name for p in self.data_path_parameters]

    @property
    def dataset_names(self) -> list[str]:
        return [p.name for p in self.dataset_parameters]


# --------------------------------------------------------------------------------------------
# Published pipelines
# --------------------------------------------------------------------------------------------
@dataclass
class PublishedPipeline(WireModel):
    """``PipelineEntity``: a published pipeline."""

    id: str = wire("Id", default="")
    name: str = wire("Name", default="")
    description: str | None = wire("Description")
    version: str | None = wire("Version")
    graph_id: str | None = wire("GraphId")
    total_run_steps: int | None = wire("TotalRunSteps", parse=int)
    parameter_assignments: dict[str, str] = wire(
        "ParameterAssignments", factory=dict, parse=_str_map
    )
    dataset_assignments: dict[str, Any] = wire("DataSetDefinitionValueAssignments", factory=dict)
    url: str | None = wire("Url")
    etag: str | None = wire("Etag")
    created_date: str | None = wire("CreatedDate")
    last_modified_date: str | None = wire("LastModifiedDate")
    status: EntityStatus = wire(
        "EntityStatus",
        default=EntityStatus.ACTIVE,
        parse=EntityStatus.parse,
        dump=_enum_value,
    )
    continue_run_on_step_failure: bool | None = wire("ContinueRunOnStepFailure")
    properties: dict[str, str] = wire("Properties", factory=dict, parse=_str_map)
    enable_notification: bool | None = wire("EnableNotification")


@dataclass
class PipelineCreationInfo(WireModel):
    """``PipelineCreationInfo``: the body that publishes a pipeline."""

    name: str = wire("Name", default="")
    description: str | None = wire("Description")
    version: str | None = wire("Version")
    graph: dict[str, Any] | None = wire("Graph")
    graph_interface: dict[str, Any] | None = wire("GraphInterface")
    graph_layout: dict[str, Any] | None = wire("GraphLayout")
    parameter_assignments: dict[str, str] | None = wire("ParameterAssignments")
    data_path_assignments: dict[str, Any] | None = wire("DataPathAssignments")
    dataset_assignments: dict[str, Any] | None = wire("DataSetDefinitionValueAssignments")
    continue_run_on_step_failure: bool | None = wire("ContinueRunOnStepFailure")
    composite_nodes_enabled: bool | None = wire("CompositeNodesEnabled")
    tags: dict[str, str] | None = wire("tags")
    properties: dict[str, str] | None = wire("Properties")
    enable_notification: bool | None = wire("EnableNotification")


# --------------------------------------------------------------------------------------------
# Pipeline endpoints
# --------------------------------------------------------------------------------------------
@dataclass
class PipelineVersion(WireModel):
    """One entry of an endpoint's ``PipelineVersionList``."""

    version: str = wire("Version", default="", parse=str)
    pipeline_id: str = wire("PipelineId", default="")


@dataclass
class PipelineEndpoint(WireModel):
    """``PipelineEndpointEntity``: one fixed URL in front of many pipeline versions."""

    id: str = wire("Id", default="")
    name: str = wire("Name", default="")
    description: str | None = wire("Description")
    default_version: str | None = wire("DefaultVersion", parse=str)
    versions: list[PipelineVersion] = wire(
        "PipelineVersionList",
        factory=list,
        parse=_list_of(PipelineVersion),
        dump=_dump_list,
    )
    url: str | None = wire("Url")
    swagger_url: str | None = wire("SwaggerUrl")
    etag: str | None = wire("Etag")
    created_date: str | None = wire("CreatedDate")
    last_modified_date: str | None = wire("LastModifiedDate")
    status: EntityStatus = wire(
        "EntityStatus",
        default=EntityStatus.ACTIVE,
        parse=EntityStatus.parse,
        dump=_enum_value,
    )
    properties: dict[str, str] = wire("Properties", factory=dict, parse=_str_map)
    tags: dict[str, str] = wire("tags", factory=dict, parse=_str_map)

    def pipeline_id_of(self, version: str | None = None) -> str | None:
        """The pipeline id behind ``version`` (the default version when ``None``)."""
        wanted = self.default_version if version is None else str(version)
        return next((v.pipeline_id for v in self.versions if v.version == wanted), None)

    def version_of(self, pipeline_id: str) -> str | None:
        """The version under which ``pipeline_id`` is listed, if it is."""
        return next((v.version for v in self.versions if v.pipeline_id == pipeline_id), None)

    @property
    def version_names(self) -> list[str]:
        return [v.version for v in self.versions]


@dataclass
class PipelineEndpointCreationInfo(WireModel):
    """``PipelineEndpointCreationInfo``: the body that creates an endpoint."""

    name: str = wire("Name", default="")
    description: str | None = wire("Description")
    pipeline_id: str = wire("PipelineId", default="")
    properties: dict[str, str] | None = wire("Properties")


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


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
@dataclass
class ServiceErrorInfo:
    """What an error body says, from either the PascalCase or the camelCase form."""

    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    correlation: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: Any) -> ServiceErrorInfo:
        if not isinstance(body, Mapping):
            return cls()
        error = body.get("Error") or body.get("error") or {}
        correlation = body.get("Correlation") or body.get("correlation") or {}
        if not isinstance(error, Mapping):
            return cls(message=str(error))

        def pick(*keys: str) -> Any:
            return next((error[k] for k in keys if error.get(k) is not None), None)

        details = pick("Details", "details") or []
        return cls(
            code=pick("Code", "code"),
            message=pick("Message", "message"),
            target=pick("Target", "target"),
            details=[d for d in details if isinstance(d, Mapping)],
            correlation={str(k): str(v) for k, v in dict(correlation).items()}
            if isinstance(correlation, Mapping)
            else {},
        )

    def to_json(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Render the error body; PascalCase for the pipelines service, camelCase for history."""
        keys = (
            ("code", "message", "target", "details")
            if camel_case
            else ("Code", "Message", "Target", "Details")
        )
        error = dict(zip(keys, (self.code, self.message, self.target, self.details), strict=True))
        root = "error" if camel_case else "Error"
        corr = "correlation" if camel_case else "Correlation"
        return {root: error, corr: self.correlation}
