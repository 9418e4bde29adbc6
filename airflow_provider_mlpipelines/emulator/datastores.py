"""Datastores as folders under the state dir, and data references resolved to local paths.

What storage a datastore reports (its ``datastoreType``, account and container) is a switch,
``--datastore-storage``, since the folders stand in for whatever a real workspace has:
``AzureBlob`` (the default, as a workspace's own ``workspaceblobstore``), ``AzureDataLakeGen2``,
or ``AzureFile``, a type clients have no OpenLineage name for.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Literal

from airflow_provider_mlpipelines.api.models import DatasetValue
from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request, listing
from airflow_provider_mlpipelines.emulator.spec_model import DatasetSpec, WorkspaceSpec
from airflow_provider_mlpipelines.emulator.v2.behaviour import JOB_OUTPUT_URIS

log = logging.getLogger(__name__)

StorageKind = Literal["AzureBlob", "AzureDataLakeGen2", "AzureFile"]
STORAGE_KINDS: tuple[StorageKind, ...] = ("AzureBlob", "AzureDataLakeGen2", "AzureFile")
#: The storage account every emulated datastore reports.
STORAGE_ACCOUNT = "mlpipelinesemulator"
#: What a real datastore reports as its ``endpoint`` in the public cloud.
STORAGE_ENDPOINT = "core.windows.net"


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of what datastores and job outputs report."""
    group = parser.add_argument_group("datastores", "What the data behind runs looks like.")
    group.add_argument(
        "--datastore-storage",
        choices=STORAGE_KINDS,
        default="AzureBlob",
        help="The type every datastore reports on GET .../datastores/{name} (v1 and v2), with "
        f"account {STORAGE_ACCOUNT!r} and the datastore's name as container (default "
        "AzureBlob).",
    )
    group.add_argument(
        "--job-output-uri",
        choices=JOB_OUTPUT_URIS,
        default="datastore",
        help="v2: what a pipeline job's properties.outputs.{name}.uri answers once a step wrote "
        "it: azureml://datastores/{ds}/paths/{path}, or null (default datastore).",
    )


class Datastores:
    """The workspace's datastores: each is a folder ``{state_dir}/datastores/{name}``.

    :param root: the folder holding one sub-folder per datastore.
    :param workspace: the spec declaring them and the registered datasets.
    """

    def __init__(
        self, root: Path, workspace: WorkspaceSpec, storage: StorageKind = "AzureBlob"
    ) -> None:
        self.workspace = workspace
        self.roots = {name: (root / name).resolve() for name in workspace.datastores}
        self.storage: StorageKind = storage

    def describe(self, name: str) -> dict[str, str]:
        """The storage datastore ``name`` reports: ``kind``, ``account``, ``container``,
        ``endpoint``.

        :param name: the datastore's name.
        :raises EmulatorError: 404 for a datastore the workspace does not have.
        """
        if name not in self.roots:
            raise EmulatorError(404, "UserError", f"Datastore '{name}' was not found", "datastore")
        # A container name is 3-63 lowercase letters, digits and hyphens.
        container = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "data"
        return {
            "kind": self.storage,
            "account": STORAGE_ACCOUNT,
            "container": container,
            "endpoint": STORAGE_ENDPOINT,
        }

    def create_folders(self) -> None:
        """Create every datastore folder."""
        for folder in self.roots.values():
            folder.mkdir(parents=True, exist_ok=True)

    def seed(self) -> list[str]:
        """Copy each datastore's ``seed`` folder in, keeping files that already exist.

        Returns the names of the datastores seeded.
        """
        seeded = []
        for name, spec in self.workspace.datastores.items():
            if spec.seed is None:
                continue
            shutil.copytree(spec.seed, self.roots[name], dirs_exist_ok=True)
            log.info("Seeded datastore %s from %s", name, spec.seed)
            seeded.append(name)
        return seeded

    def resolve(self, datastore: str, relative_path: str, target: str) -> Path:
        """The absolute local path of ``relative_path`` in ``datastore``.

        :param datastore: the datastore name.
        :param relative_path: a path inside it, with ``/`` separators.
        :param target: the field being resolved, for error messages.
        :raises EmulatorError: 400 for an unknown datastore or a path leaving the datastore.
        """
        root = self.roots.get(datastore)
        if root is None:
            raise bad_request(
                f"Datastore '{datastore}' does not exist; "
                f"datastores: {listing(sorted(self.roots))}",
                "DataStoreNotFound",
                target,
            )
        relative = PurePosixPath(relative_path.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts:
            raise bad_request(
                f"Path '{relative_path}' must be relative to datastore '{datastore}' "
                "and must not contain '..'",
                "InvalidDataPath",
                target,
            )
        return root.joinpath(*relative.parts)

    def resolve_value(self, value: DatasetValue, target: str) -> tuple[str, str]:
        """Resolve a ``DataSetDefinitionValue`` to ``(datastore, relative path)``.

        :param value: a saved-dataset reference, a registered dataset or a literal path.
        :param target: the field being resolved, for error messages.
        :raises EmulatorError: 400 when the value is malformed, 404 for an unknown dataset.
        """
        given = [v for v in (value.saved_dataset, value.dataset, value.literal) if v is not None]
        if len(given) != 1:
            raise bad_request(
                "A DataSetDefinitionValue needs exactly one of SavedDataSetReference, "
                "DataSetReference or LiteralValue",
                "InvalidDataSetDefinitionValue",
                target,
            )
        if value.literal is not None:
            self.resolve(value.literal.datastore_name, value.literal.relative_path, target)
            return value.literal.datastore_name, value.literal.relative_path
        if value.saved_dataset is not None:
            dataset = self.workspace.dataset_by_id(value.saved_dataset.id)
            wanted = value.saved_dataset.id
        else:
            reference = value.dataset
            assert reference is not None
            dataset = self._dataset_by_reference(reference.id, reference.name, reference.version)
            wanted = reference.id or f"{reference.name} (version {reference.version or 'latest'})"
        if dataset is None:
            raise EmulatorError(404, "NotFound", f"Dataset '{wanted}' was not found", target)
        return dataset.datastore, dataset.path

    def _dataset_by_reference(
        self, dataset_id: str | None, name: str | None, version: str | None
    ) -> DatasetSpec | None:
        if dataset_id:
            return self.workspace.dataset_by_id(dataset_id)
        if name:
            return self.workspace.dataset_by_name(name, version)
        return None
