"""Records of the v2 side: batch endpoints, deployments, component versions and jobs.

Plain dataclasses persisted through the v1 store (kinds prefixed ``v2-``); rendering them as ARM
JSON is the job of ``render``. A job's state lives in the v1 run of the same id: these records
hold only what v2 adds (endpoint, deployment, component, names, tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mlpipelines.emulator.records import Record, utc_now

#: ``provisioningState`` values used by the emulator (contract section 2).
SUCCEEDED = "Succeeded"
CREATING = "Creating"
UPDATING = "Updating"
DELETING = "Deleting"


@dataclass
class BatchEndpointRecord(Record):
    """A batch endpoint."""

    name: str
    location: str
    auth_mode: str = "AADToken"
    description: str | None = None
    default_deployment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = CREATING
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)


@dataclass
class DeploymentRecord(Record):
    """A pipeline component deployment under a batch endpoint."""

    endpoint: str
    name: str
    location: str
    component_id: str
    settings: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = CREATING
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)

    @property
    def key(self) -> str:
        return f"{self.endpoint}/{self.name}"


@dataclass
class ComponentRecord(Record):
    """A pipeline component version: a pipeline graph under a name and version.

    :param graph_id: the v1 graph its jobs run (empty for a command component).
    :param source_job: the pipeline job it was made from, if any.
    :param spec: the ``componentSpec`` a user registered (``None`` for one made from a job).
    :param content: what makes two registrations "the same" (immutability), as JSON text.
    """

    name: str
    version: str
    graph_id: str
    description: str | None = None
    source_job: str | None = None
    is_anonymous: bool = False
    is_archived: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    spec: dict[str, Any] | None = None
    content: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def kind(self) -> str:
        """``command`` or ``pipeline``."""
        return str((self.spec or {}).get("type") or "pipeline").lower()


@dataclass
class JobRecord(Record):
    """A pipeline job; its run (same id as ``name``) carries the status and steps.

    :param endpoint: the batch endpoint whose invoke created it, if any.
    :param repeatability_id: the invoke's ``repeatability_request-id``, for deduplication.
    """

    name: str
    component_key: str
    experiment_name: str
    display_name: str | None = None
    endpoint: str | None = None
    deployment: str | None = None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    repeatability_id: str | None = None
    cancel_requested: bool = False
    created: str = field(default_factory=utc_now)
