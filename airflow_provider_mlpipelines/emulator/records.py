"""The emulator's own records of graphs, pipelines, endpoints and runs.

These are plain mutable dataclasses that the service layer changes and the store persists
(``to_doc``/``from_doc``); rendering them as the contract's JSON is the job of ``render``.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

from airflow_provider_mlpipelines.api.status import EntityStatus, PipelineRunStatus, StepRunStatus

R = TypeVar("R", bound="Record")


def utc_now() -> str:
    """The current time as ISO-8601 UTC (``+00:00``, which ``datetime.fromisoformat`` reads)."""
    return datetime.now(timezone.utc).isoformat()


def new_id() -> str:
    """A new random id in the service's GUID form."""
    return str(uuid.uuid4())


def new_etag() -> str:
    """A new entity tag."""
    return f'"{uuid.uuid4().hex}"'


class Record:
    """Mixin: JSON documents from dataclass fields (enums stored by value)."""

    #: Fields parsed back into enums by :meth:`from_doc`.
    _enums: dict[str, Any] = {}

    def to_doc(self) -> dict[str, Any]:
        doc = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            doc[f.name] = _to_plain(value)
        return doc

    @classmethod
    def from_doc(cls: type[R], doc: dict[str, Any]) -> R:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {key: value for key, value in doc.items() if key in known}
        for name, enum_type in cls._enums.items():
            if values.get(name) is not None:
                values[name] = enum_type.parse(values[name])
        return cls(**values)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Record):
        return value.to_doc()
    if isinstance(value, list):
        return [_to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_plain(item) for key, item in value.items()}
    return value


@dataclass
class GraphRecord(Record):
    """A graph: the snapshot of a pipeline spec that runs and published pipelines execute."""

    id: str
    pipeline_name: str
    pipeline_doc: dict[str, Any]
    created: str = field(default_factory=utc_now)
    etag: str = field(default_factory=new_etag)


@dataclass
class PipelineRecord(Record):
    """A published pipeline."""

    _enums = {"status": EntityStatus}

    id: str
    name: str
    graph_id: str
    description: str | None = None
    version: str | None = None
    status: EntityStatus = EntityStatus.ACTIVE
    continue_on_step_failure: bool = False
    enable_notification: bool | None = None
    parameter_assignments: dict[str, str] = field(default_factory=dict)
    dataset_assignments: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)
    etag: str = field(default_factory=new_etag)

    def touch(self) -> None:
        """Record a modification."""
        self.modified = utc_now()
        self.etag = new_etag()


@dataclass
class EndpointRecord(Record):
    """A pipeline endpoint; ``versions`` is a list of ``[version, pipeline_id]`` pairs."""

    _enums = {"status": EntityStatus}

    id: str
    name: str
    default_version: str
    versions: list[list[str]]
    description: str | None = None
    status: EntityStatus = EntityStatus.ACTIVE
    properties: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)
    etag: str = field(default_factory=new_etag)

    def pipeline_of(self, version: str) -> str | None:
        """The pipeline id listed under ``version``.

        :param version: the version name.
        """
        return next((pid for v, pid in self.versions if v == version), None)

    def touch(self) -> None:
        """Record a modification."""
        self.modified = utc_now()
        self.etag = new_etag()


@dataclass
class StepRecord(Record):
    """One step of a run, with its child run id and (for real steps) its process."""

    _enums = {"status": StepRunStatus}

    node_id: str
    name: str
    kind: str
    run_id: str
    status: StepRunStatus = StepRunStatus.NOT_STARTED
    status_detail: str | None = None
    creation_time: str | None = None
    schedule_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    pid_start_ticks: int | None = None
    command: list[str] | None = None
    duration: float | None = None
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class RunRecord(Record):
    """A pipeline run; its ``id`` is also its run-history run id."""

    _enums = {"status": PipelineRunStatus}

    id: str
    graph_id: str
    pipeline_name: str
    experiment_name: str
    pipeline_id: str | None = None
    endpoint_id: str | None = None
    parent_run_id: str | None = None
    description: str | None = None
    status: PipelineRunStatus = PipelineRunStatus.NOT_STARTED
    status_detail: str | None = None
    created: str = field(default_factory=utc_now)
    start_time: str | None = None
    end_time: str | None = None
    modified: str = field(default_factory=utc_now)
    etag: str = field(default_factory=new_etag)
    parameters: dict[str, str] = field(default_factory=dict)
    data_inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    dataset_assignments: dict[str, Any] = field(default_factory=dict)
    continue_on_step_failure: bool = False
    run_source: str | None = None
    run_type: str | None = None
    schedule_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RunRecord:
        record = super().from_doc({**doc, "steps": []})
        record.steps = [StepRecord.from_doc(step) for step in doc.get("steps", [])]
        return record

    def step(self, node_id: str) -> StepRecord | None:
        """The step with node id ``node_id``.

        :param node_id: the node id.
        """
        return next((s for s in self.steps if s.node_id == node_id), None)

    def touch(self) -> None:
        """Record a modification."""
        self.modified = utc_now()
        self.etag = new_etag()
