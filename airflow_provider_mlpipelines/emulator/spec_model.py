"""The workspace spec's data model: identity, datastores, datasets, pipelines and their steps.

These are the values :mod:`.workspace` builds from a spec file once it is validated; the rest of
the emulator reads them and never needs the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api.models import DataPath, DatasetValue
from airflow_provider_mlpipelines.api.status import ParameterType


class WorkspaceSpecError(ValueError):
    """The workspace spec is invalid; the message names the offending place."""


@dataclass(frozen=True)
class Identity:
    """Who the emulated service is and which service principal may call it."""

    tenant_id: str = "7e1a0000-0000-4000-8000-000000000001"
    client_id: str = "7e1a0000-0000-4000-8000-000000000002"
    client_secret: str | None = None
    subscription_id: str = "7e1a0000-0000-4000-8000-000000000003"
    resource_group: str = "rg-mlpipelines-emulator"
    workspace_name: str = "ws-emulator"


@dataclass(frozen=True)
class DatastoreSpec:
    """A datastore: a folder under the state dir, optionally seeded from ``seed``."""

    name: str
    seed: Path | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: a file or folder in a datastore."""

    name: str
    id: str
    version: str
    datastore: str
    path: str


@dataclass(frozen=True)
class ParameterSpec:
    """A declared parameter with its type and typed default."""

    name: str
    type: ParameterType
    default: Any
    description: str | None = None


@dataclass(frozen=True)
class DataInputSpec:
    """A data-path parameter (``default`` is a ``DataPath``) or a dataset parameter."""

    name: str
    is_dataset: bool
    default: DatasetValue
    description: str | None = None


@dataclass(frozen=True)
class StepSpec:
    """One step: a real command (``process``) or a timer (``simulated``)."""

    name: str
    kind: str
    command: tuple[str, ...] = ()
    outputs: dict[str, DataPath] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    duration: str = "0"
    outcome: str = "Finished"
    #: Names of the steps this one waits for (a v2 graph's edges). Steps are held in a
    #: topological order and run in it; empty means "after the previous step", which is how
    #: v1 spec pipelines chain. The studio draws the graph from this.
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline: declared inputs and ordered steps."""

    name: str
    steps: tuple[StepSpec, ...]
    parameters: tuple[ParameterSpec, ...] = ()
    data_inputs: tuple[DataInputSpec, ...] = ()
    description: str | None = None
    continue_on_step_failure: bool = False

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    def data_input(self, name: str) -> DataInputSpec | None:
        return next((d for d in self.data_inputs if d.name == name), None)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def data_input_names(self) -> list[str]:
        return [d.name for d in self.data_inputs]


@dataclass(frozen=True)
class WorkspaceSpec:
    """Everything the emulator serves, as loaded from a spec file."""

    identity: Identity
    default_datastore: str
    datastores: dict[str, DatastoreSpec]
    datasets: tuple[DatasetSpec, ...]
    pipelines: dict[str, PipelineSpec]
    spec_dir: Path

    def dataset_by_id(self, dataset_id: str) -> DatasetSpec | None:
        return next((d for d in self.datasets if d.id == dataset_id), None)

    def dataset_by_name(self, name: str, version: str | None = None) -> DatasetSpec | None:
        return next(
            (d for d in self.datasets if d.name == name and version in (None, "", d.version)),
            None,
        )
