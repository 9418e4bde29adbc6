"""Entities of Azure ML v2 as read from the wire, and the request bodies sent to it.

Reading is tolerant: the service (and the emulator, by contract section 1.6) may answer keys in
any casing, fields may be missing, and an unknown job status never ends a wait. Writing uses the
exact camelCase of the contract, which is what ``MLClient`` sends. Parsed entities are plain
frozen dataclasses: no wire key leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.api.v2.routes import parse_component_id


def pick(data: Mapping[str, Any] | None, *path: str, default: Any = None) -> Any:
    """Follow ``path`` through nested mappings, matching each key case-insensitively.

    An exact match wins over a case-insensitive one, so a body that carries both spellings is
    read the way the contract spells it.
    """
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping):
            return default
        if key in current:
            current = current[key]
            continue
        lowered = key.lower()
        current = next(
            (value for name, value in current.items() if str(name).lower() == lowered), None
        )
        if current is None:
            return default
    return default if current is None else current


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _segment_after(resource_id: str, marker: str) -> str | None:
    """The path segment that follows ``/{marker}/`` in an ARM id (case-insensitive)."""
    parts = resource_id.split("/")
    for index, part in enumerate(parts[:-1]):
        if part.lower() == marker.lower() and parts[index + 1]:
            return parts[index + 1]
    return None


# --------------------------------------------------------------------------------------------
# Entities read from the service
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchEndpoint:
    """A batch endpoint (v1: pipeline endpoint).

    :param default_deployment: the deployment invoked without an explicit one, or ``None``.
    :param scoring_uri: where jobs are created; always read from the service, never built.
    """

    name: str
    id: str
    location: str | None
    scoring_uri: str | None
    default_deployment: str | None
    provisioning_state: str | None
    description: str | None = None
    auth_mode: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchEndpoint:
        props = pick(data, "properties", default={})
        return cls(
            name=str(pick(data, "name", default="")),
            id=str(pick(data, "id", default="")),
            location=pick(data, "location"),
            scoring_uri=pick(props, "scoringUri"),
            default_deployment=pick(props, "defaults", "deploymentName") or None,
            provisioning_state=pick(props, "provisioningState"),
            description=pick(props, "description"),
            auth_mode=pick(props, "authMode"),
            tags=_str_map(pick(data, "tags")),
            properties=_str_map(pick(props, "properties")),
        )


@dataclass(frozen=True)
class BatchDeployment:
    """A pipeline component deployment behind a batch endpoint (v1: an endpoint version).

    :param component_id: the ARM id of the deployed pipeline component version.
    :param endpoint_name: taken from the deployment's ``id`` (the SDK does the same).
    """

    name: str
    id: str
    endpoint_name: str | None
    component_id: str | None
    provisioning_state: str | None
    description: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchDeployment:
        props = pick(data, "properties", default={})
        config = pick(props, "deploymentConfiguration", default={})
        resource_id = str(pick(data, "id", default=""))
        return cls(
            name=str(pick(data, "name", default="")),
            id=resource_id,
            endpoint_name=_segment_after(resource_id, "batchEndpoints"),
            component_id=pick(config, "componentId", "assetId"),
            provisioning_state=pick(props, "provisioningState"),
            description=pick(props, "description"),
            settings=_str_map(pick(config, "settings")),
            tags=_str_map(pick(data, "tags")),
        )


#: Literal input types a component may declare, and the Python types their values may have.
LITERAL_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
#: Data input types that an Airflow ``data_path_assignments`` entry can fill: what components
#: declare (``path`` is what the service derives for a component registered from a job,
#: tests/fixtures/recordings/component_from_job.json) and the job input types of the ARM API.
DATA_TYPES = ("uri_folder", "uri_file", "path", "mltable", "mlflow_model", "custom_model")
#: Input type words as services and clients spell them, by their letters alone (any casing,
#: with or without ``_``), and the one word used here.
_TYPE_WORDS = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "urifolder": "uri_folder",
    "urifile": "uri_file",
    "path": "path",
    "mltable": "mltable",
    "mlflowmodel": "mlflow_model",
    "custommodel": "custom_model",
}


def input_type(word: Any) -> str:
    """A declared input type in one spelling: ``UriFolder``, ``uri_folder`` -> ``uri_folder``;
    ``Integer`` -> ``integer``; a word not known here is kept, lower-cased."""
    text = str(word if word is not None else "string").strip()
    return _TYPE_WORDS.get(text.replace("_", "").lower(), text.lower())


def flag(value: Any) -> bool:
    """A boolean the service may answer as a JSON boolean or as ``"True"``/``"False"``."""
    return value is True or str(value).strip().lower() == "true"


@dataclass(frozen=True)
class ComponentInput:
    """One input a pipeline component declares (``componentSpec.inputs``)."""

    name: str
    type: str
    default: str | None = None
    optional: bool = False

    @property
    def is_literal(self) -> bool:
        return self.type in LITERAL_TYPES


@dataclass(frozen=True)
class ComponentVersion:
    """A registered component version (v1: a published pipeline).

    :param source_job: the pipeline job it was made from, if any (contract section 5.1).
    """

    id: str
    component_name: str
    version: str
    type: str | None
    inputs: tuple[ComponentInput, ...]
    description: str | None = None
    is_archived: bool = False
    source_job: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComponentVersion:
        props = pick(data, "properties", default={})
        spec = pick(props, "componentSpec", default={})
        resource_id = str(pick(data, "id", default=""))
        parts = parse_component_id(resource_id) or {}
        declared = pick(spec, "inputs", default={})
        inputs = tuple(
            ComponentInput(
                name=str(name),
                type=input_type(pick(body, "type")),
                default=None if pick(body, "default") is None else str(pick(body, "default")),
                optional=flag(pick(body, "optional")),
            )
            for name, body in (declared.items() if isinstance(declared, Mapping) else ())
            if isinstance(body, Mapping)
        )
        return cls(
            id=resource_id,
            component_name=parts.get("component_name") or str(pick(spec, "name", default="")),
            version=parts.get("version") or str(pick(data, "name", default="")),
            type=pick(spec, "type"),
            inputs=inputs,
            # The service answers a component's description in its spec only
            # (properties.description is null: tests/fixtures/recordings/component_get.json).
            description=pick(props, "description") or pick(spec, "description"),
            is_archived=flag(pick(props, "isArchived")),
            source_job=pick(spec, "sourceJobId") or pick(spec, "source_job_id"),
            tags=_str_map(pick(props, "tags")),
        )

    def input_named(self, name: str) -> ComponentInput | None:
        return next((item for item in self.inputs if item.name == name), None)


@dataclass(frozen=True)
class Job:
    """A pipeline job: a batch job created by an invoke, or a pipeline job submitted directly.

    :param raw_status: the service's own word (``Completed``...), as shown to users.
    :param status: the same mapped onto the provider's one status model.
    """

    name: str
    id: str
    raw_status: str | None
    status: PipelineRunStatus
    experiment_name: str | None = None
    display_name: str | None = None
    component_id: str | None = None
    studio_url: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None
    description: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        props = pick(data, "properties", default={})
        raw = pick(props, "status")
        studio = pick(props, "services", "Studio", "endpoint") or pick(
            props, "interactionEndpoints", "Studio", "endpoint"
        )
        return cls(
            name=str(pick(data, "name", default="")),
            id=str(pick(data, "id", default="")),
            raw_status=None if raw is None else str(raw),
            status=PipelineRunStatus.from_status(raw),
            experiment_name=pick(props, "experimentName"),
            # An invoke's answer carries the display name as ``properties.name``; a job's GET
            # as ``properties.displayName`` (tests/fixtures/recordings/batch_invoke.json).
            display_name=pick(props, "displayName") or pick(props, "name"),
            component_id=pick(props, "componentId"),
            studio_url=studio,
            tags=_str_map(pick(props, "tags")),
            properties=_str_map(pick(props, "properties")),
            created_at=pick(data, "systemData", "createdAt"),
            description=pick(props, "description"),
        )


@dataclass(frozen=True)
class OperationStatus:
    """The status document of a long-running operation (``Azure-AsyncOperation`` URL)."""

    status: str
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationStatus:
        return cls(
            status=str(pick(data, "status", default="InProgress")),
            error_code=pick(data, "error", "code"),
            error_message=pick(data, "error", "message"),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.lower() in LRO_TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status.lower() == "succeeded"


#: Terminal statuses of an ARM long-running operation (contract section 2); anything else waits.
LRO_TERMINAL = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class ArmError:
    """The ARM error body ``{"error": {"code", "message", "target"}}`` (contract section 9)."""

    code: str | None
    message: str | None
    target: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> ArmError:
        if not isinstance(data, Mapping):
            return cls(None, None)
        return cls(
            code=pick(data, "error", "code"),
            message=pick(data, "error", "message"),
            target=pick(data, "error", "target"),
        )


def page_items(data: Any) -> tuple[list[Any], str | None]:
    """The items of an ARM list page and its ``nextLink`` (absent on the last page)."""
    if not isinstance(data, Mapping):
        return [], None
    items = pick(data, "value", default=[])
    return (list(items) if isinstance(items, list) else []), pick(data, "nextLink") or None
