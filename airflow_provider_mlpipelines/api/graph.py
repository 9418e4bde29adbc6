"""Graph and step-output entities of the pipelines service.

``GraphEntity`` is what ``GET {WS}/Graphs/{graphId}`` returns and what publishing posts back as
``PipelineCreationInfo.Graph``; ``NodeOutput`` is one value of the ``{outputName: NodeOutput}``
map returned by ``POST {WS}/PipelineRuns/{runId}/Outputs`` (``AEVA/models/graph_entity.py``,
``graph_module_node.py``, ``node_output.py``, ``data_location.py``, ``azure_blob_reference.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    WireModel,
    _dump_list,
    _dump_model,
    _enum_value,
    _list_of,
    wire,
)
from airflow_provider_mlpipelines.api.status import EntityStatus


@dataclass
class GraphModuleNode(WireModel):
    """One step (module node) of a graph; ``Id`` is the node id used by the step routes."""

    id: str = wire("Id", default="")
    module_id: str | None = wire("ModuleId")
    module_type: str | None = wire("ModuleType")
    comment: str | None = wire("Comment")
    module_parameters: list[dict[str, Any]] | None = wire("ModuleParameters")


@dataclass
class GraphEntity(WireModel):
    """``GraphEntity``: the steps of a pipeline and how they connect."""

    id: str = wire("Id", default="")
    module_nodes: list[GraphModuleNode] = wire(
        "ModuleNodes", factory=list, parse=_list_of(GraphModuleNode), dump=_dump_list
    )
    dataset_nodes: list[dict[str, Any]] = wire("DatasetNodes", factory=list)
    edges: list[dict[str, Any]] = wire("Edges", factory=list)
    etag: str | None = wire("Etag")
    created_date: str | None = wire("CreatedDate")
    last_modified_date: str | None = wire("LastModifiedDate")
    entity_status: EntityStatus | None = wire(
        "EntityStatus", parse=EntityStatus.parse, dump=_enum_value
    )


@dataclass
class AzureBlobReference(WireModel):
    """Where a blob lives: container, relative path and the datastore that names it."""

    container: str | None = wire("Container")
    account: str | None = wire("Account")
    relative_path: str | None = wire("RelativePath")
    aml_data_store_name: str | None = wire("AmlDataStoreName")
    uri: str | None = wire("Uri")


@dataclass
class DataReference(WireModel):
    """``DataReference``: ``Type`` (``"AzureBlob"`` or its code ``"1"``) and the reference."""

    type: str | None = wire("Type")
    azure_blob_reference: AzureBlobReference | None = wire(
        "AzureBlobReference", parse=AzureBlobReference.from_json, dump=_dump_model
    )


@dataclass
class DataLocation(WireModel):
    """``DataLocation`` of a step output."""

    storage_type: str | None = wire("StorageType")
    storage_id: str | None = wire("StorageId")
    uri: str | None = wire("Uri")
    data_reference: DataReference | None = wire(
        "DataReference", parse=DataReference.from_json, dump=_dump_model
    )


@dataclass
class NodeOutput(WireModel):
    """``NodeOutput``: one named output of a step."""

    data_type_id: str | None = wire("DataTypeId")
    logical_size_in_bytes: int | None = wire("LogicalSizeInBytes")
    physical_size_in_bytes: int | None = wire("PhysicalSizeInBytes")
    hash: str | None = wire("Hash")
    data_location: DataLocation | None = wire(
        "DataLocation", parse=DataLocation.from_json, dump=_dump_model
    )

    @classmethod
    def map_from_json(cls, data: dict[str, Any] | None) -> dict[str, NodeOutput]:
        """Parse the ``{outputName: NodeOutput}`` map of the outputs route."""
        return {name: cls.from_json(item) for name, item in (data or {}).items()}


@dataclass
class WorkspaceDiscovery(WireModel):
    """The flat discovery document: base URLs of the services of a workspace (the keys of
    the recorded answer, tests/fixtures/recordings/workspace_discovery.json)."""

    api: str | None = wire("api")
    history: str | None = wire("history")
    studio: str | None = wire("studio")
    catalog: str | None = wire("catalog")
    experimentation: str | None = wire("experimentation")
    hyperdrive: str | None = wire("hyperdrive")
    labeling: str | None = wire("labeling")
    modelmanagement: str | None = wire("modelmanagement")
    pipelines: str | None = wire("pipelines")
