"""Entities of the pipelines and run-history APIs as small dataclasses.

Each field names its JSON key with :func:`wire` (see :mod:`.wire_model`). The run entities live
in :mod:`.runs` and are re-exported here: this module stays the import path of every entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mlpipelines.api.runs import (
    HistoryRun,
    HistoryRunDetails,
    HistoryRunPage,
    PipelineRun,
    PipelineSubmissionInfo,
    RunStatusInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.status import EntityStatus, ParameterType
from airflow_provider_mlpipelines.api.wire_model import (
    WireModel,
    _dump_list,
    _dump_model,
    _enum_value,
    _list_of,
    _str_map,
    wire,
)

__all__ = [
    "DataPath",
    "DataPathParameter",
    "DatasetParameter",
    "DatasetReference",
    "DatasetValue",
    "HistoryRun",
    "HistoryRunDetails",
    "HistoryRunPage",
    "PipelineCreationInfo",
    "PipelineEndpoint",
    "PipelineEndpointCreationInfo",
    "PipelineInterface",
    "PipelineParameter",
    "PipelineRun",
    "PipelineSubmissionInfo",
    "PipelineVersion",
    "PublishedPipeline",
    "RunStatusInfo",
    "SavedDatasetReference",
    "ServiceErrorInfo",
    "StepStatus",
    "WireModel",
    "wire",
]


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
    #: ARM's ``InnerError`` chain, outermost first (``["NotFound", "ComponentNotFound"]``).
    inner_codes: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, body: Any) -> ServiceErrorInfo:
        """Read the pipelines service's ``{"Error", "Correlation"}``, run history's camelCase
        form and ARM's ``{"error": {..., "additionalInfo": [{"type", "info"}]}}``, where the
        correlation ids and the inner error chain are ``additionalInfo`` items (as recorded
        answers of the real service show; ``tests/fixtures/recordings/errors.json``)."""
        if not isinstance(body, Mapping):
            return cls()
        error = body.get("Error") or body.get("error") or {}
        correlation = body.get("Correlation") or body.get("correlation") or {}
        if not isinstance(error, Mapping):
            return cls(message=str(error))

        def pick(*keys: str) -> Any:
            return next((error[k] for k in keys if error.get(k) is not None), None)

        details = pick("Details", "details") or []
        additional = _additional_info(pick("AdditionalInfo", "additionalInfo"))
        found = dict(correlation) if isinstance(correlation, Mapping) else {}
        if isinstance(additional.get("correlation"), Mapping):
            found.update(additional["correlation"])
        return cls(
            code=pick("Code", "code"),
            message=pick("Message", "message"),
            target=pick("Target", "target"),
            details=[d for d in details if isinstance(d, Mapping)],
            correlation={str(k): str(v) for k, v in found.items() if v is not None},
            inner_codes=_inner_codes(additional.get("innererror")),
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


def _additional_info(items: Any) -> dict[str, Any]:
    """ARM's ``additionalInfo`` items by lower-cased type: ``{"type", "info": {"value"}}``."""
    found: dict[str, Any] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("type"), str):
            info = item.get("info")
            value = info.get("value", info) if isinstance(info, Mapping) else info
            found[item["type"].lower()] = value
    return found


def _inner_codes(inner: Any) -> list[str]:
    codes: list[str] = []
    while isinstance(inner, Mapping) and len(codes) < 10:
        if inner.get("code"):
            codes.append(str(inner["code"]))
        inner = inner.get("innerError") or inner.get("InnerError")
    return codes
