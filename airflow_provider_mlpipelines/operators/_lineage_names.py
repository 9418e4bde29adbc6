"""OpenLineage dataset names of the data a run read and wrote.

Following OpenLineage's naming conventions (``spec/Naming.md``: the namespace is the data
source, ``scheme://authority``, the name the path in it), a datastore path is named after the
storage behind the datastore when the datastore can be read and its type has a storage name:

========================  ===============================================================  ======
datastore type            namespace                                                        name
========================  ===============================================================  ======
``AzureBlob``             ``wasbs://{container}@{account}.dfs.{endpoint}``                 path
``AzureDataLakeGen2``     ``abfss://{filesystem}@{account}.dfs.{endpoint}``                path
anything else, unread     ``azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/  path
                          {ws}/datastores/{datastore}``
========================  ===============================================================  ======

``{endpoint}`` is the datastore's storage suffix (``core.windows.net`` in the public cloud).
The ``wasbs`` host is ``.dfs.`` as Naming.md and openlineage-python's
``naming.dataset.WASBS`` helper spell it (not the blob endpoint's ``.blob.``, which Hadoop's
``wasbs://`` URIs carry): names must match what other OpenLineage producers emit. A saved
or registered dataset is named in ``.../workspaces/{ws}/datasets`` by its id (or
``name:version``). A location the service gives as another URI is split at its path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_mlpipelines.exceptions import AzureMLPipelinesError

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.datastores import DataLocation
    from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

log = logging.getLogger(__name__)

#: The schemes of a storage namespace whose dataset URI is ``{namespace}/{name}``; an
#: ``azureml://`` datastore path is ``{namespace}/paths/{name}``.
_STORAGE_SCHEMES = ("wasbs://", "abfss://")


def workspace_namespace(hook: AzureMLPipelinesHook) -> str:
    """``azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}`` of the hook's
    connection: the prefix of every ``azureml://`` dataset namespace this provider names."""
    settings = hook.settings
    return (
        f"azureml://subscriptions/{settings.subscription_id}/resourcegroups/"
        f"{settings.resource_group}/workspaces/{settings.workspace_name}"
    )


def datastore_dataset(hook: AzureMLPipelinesHook, datastore: str, path: str) -> list[str]:
    """``[namespace, name]`` of ``path`` in ``datastore`` (see the module's table).

    :param hook: the hook; its client reads each datastore once.
    :param datastore: the datastore's name.
    :param path: the path inside it.
    """
    # The wire module is imported here, not at the top: DAG files import this module.
    from airflow_provider_mlpipelines.api.datastores import ADLS_GEN2, BLOB, PUBLIC_STORAGE_SUFFIX

    name = str(path).lstrip("/")
    storage = hook.get_datastore(datastore)
    if storage is not None and storage.account and storage.container:
        suffix = storage.endpoint or PUBLIC_STORAGE_SUFFIX
        if storage.kind == BLOB:
            return [f"wasbs://{storage.container}@{storage.account}.dfs.{suffix}", name]
        if storage.kind == ADLS_GEN2:
            return [f"abfss://{storage.container}@{storage.account}.dfs.{suffix}", name]
    if storage is not None:
        log.debug("Datastore %s is of type %s: named in azureml://", datastore, storage.kind)
    return [f"{workspace_namespace(hook)}/datastores/{datastore}", name]


def dataset_uri(namespace: str, name: str) -> str:
    """The one URI of a dataset named ``[namespace, name]`` (asset events' ``outputs``)."""
    if namespace.startswith(_STORAGE_SCHEMES) or "/datastores/" not in namespace:
        return f"{namespace}/{name}"
    return f"{namespace}/paths/{name}"


def submission_inputs(
    hook: AzureMLPipelinesHook, submission: PipelineSubmissionInfo
) -> list[list[str]]:
    """``[namespace, name]`` of every data input of a submission (data paths, datasets).

    :param hook: the hook whose connection names the workspace.
    :param submission: the submission as sent (v2 uri inputs are its data paths).
    """
    found: list[list[str]] = []
    for value in (submission.data_path_assignments or {}).values():
        found.extend(_datastore_path(hook, value))
    for value in (submission.dataset_assignments or {}).values():
        found.extend(_dataset(hook, value))
    return found


def run_outputs(hook: AzureMLPipelinesHook, run_id: str) -> list[list[str]]:
    """``[namespace, name]`` of every output the run wrote, as far as the service says; empty
    (logged) when the outputs cannot be read: lineage never fails the task.

    :param hook: the hook.
    :param run_id: the run (v2: the job).
    """
    try:
        locations = hook.get_run_outputs(run_id)
    except AzureMLPipelinesError as exc:
        log.warning("The outputs of run %s could not be read: %s", run_id, type(exc).__name__)
        return []
    found: list[list[str]] = []
    for location in locations:
        named = _location(hook, location)
        if named is not None and named not in found:
            found.append(named)
    return found


def _location(hook: AzureMLPipelinesHook, location: DataLocation) -> list[str] | None:
    if location.datastore and location.path:
        return datastore_dataset(hook, location.datastore, location.path)
    parts = urlsplit(location.uri or "")
    if not parts.scheme or not parts.netloc:
        log.debug("Output %s has no location to name: %s", location.output, location.uri)
        return None
    return [f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")]


def _datastore_path(hook: AzureMLPipelinesHook, value: Any) -> list[list[str]]:
    if isinstance(value, Mapping) and "LiteralValue" in value:
        value = value["LiteralValue"]
    if not isinstance(value, Mapping):
        return []
    datastore = value.get("DataStoreName") or value.get("datastore")
    path = value.get("RelativePath") or value.get("path")
    if not datastore or not path:
        return []
    return [datastore_dataset(hook, str(datastore), str(path))]


def _dataset(hook: AzureMLPipelinesHook, value: Any) -> list[list[str]]:
    datasets = f"{workspace_namespace(hook)}/datasets"
    if isinstance(value, str):
        return [[datasets, value]]
    if not isinstance(value, Mapping):
        return []
    saved = value.get("SavedDataSetReference") or {}
    if saved.get("Id"):
        return [[datasets, str(saved["Id"])]]
    reference = value.get("DataSetReference") or {}
    if reference.get("Name"):
        return [[datasets, f"{reference['Name']}:{reference.get('Version') or 'latest'}"]]
    if reference.get("Id"):
        return [[datasets, str(reference["Id"])]]
    return _datastore_path(hook, value)
