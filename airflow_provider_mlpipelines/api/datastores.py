"""Datastores and data locations on the wire: the storage behind a datastore, and where a run
wrote its outputs.

Sources of the field names:

- v2, ARM ``GET {WS}/datastores/{name}``: ``properties.datastoreType`` (``AzureBlob``,
  ``AzureDataLakeGen2``, ``AzureFile``, ...), ``accountName``, ``containerName`` (blob) or
  ``filesystem`` (ADLS Gen2), ``endpoint`` (``core.windows.net``): the recorded answer of
  azure-ai-ml's test suite (Azure/azure-sdk-for-python, ``sdk/ml/azure-ai-ml/tests/recordings/
  datastore/e2etests/test_datastore.pyTestDatastoretest_credential_less_adls_gen2_store.json``)
  and azure-ai-ml 1.35.2's generated ``AzureBlobDatastore`` / ``AzureDataLakeGen2Datastore``.
- v1, ``GET /datastore/v1.0{WS}/datastores/{name}``: azureml-core 1.61's generated ``DataStore``
  (``dataStoreType``; ``azureStorageSection`` with ``accountName``, ``containerName``,
  ``endpoint``), which also serves ``AzureDataLakeGen2`` (the container is the filesystem,
  ``azureml/data/datastore_client.py``). That section may carry an account key or SAS token:
  nothing but the four names above is ever read from it.
- A step output of v1 (``NodeOutput.DataLocation.DataReference.AzureBlobReference``:
  ``AmlDataStoreName``, ``RelativePath``) and a job output of v2 (``properties.outputs.{name}.
  uri``, ``azureml://datastores/{ds}/paths/{path}`` or the long form with the workspace).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.v2.bodies import parse_datastore_uri
from airflow_provider_mlpipelines.api.v2.models import pick

#: The datastore types whose storage has an OpenLineage name (``wasbs``/``abfss``).
BLOB = "AzureBlob"
ADLS_GEN2 = "AzureDataLakeGen2"
PUBLIC_STORAGE_SUFFIX = "core.windows.net"


@dataclass(frozen=True)
class DatastoreStorage:
    """The storage a datastore names.

    :param name: the datastore's name.
    :param kind: its type as the service spells it (``AzureBlob``, ``AzureDataLakeGen2``...).
    :param account: the storage account, if the type has one.
    :param container: the blob container or ADLS Gen2 filesystem.
    :param endpoint: the storage DNS suffix (``core.windows.net`` in the public cloud).
    """

    name: str
    kind: str | None
    account: str | None = None
    container: str | None = None
    endpoint: str | None = None

    @classmethod
    def from_v2_json(cls, name: str, data: Mapping[str, Any] | None) -> DatastoreStorage:
        props = pick(data, "properties", default={}) or {}
        return cls(
            name=name,
            kind=_text(pick(props, "datastoreType")),
            account=_text(pick(props, "accountName")),
            container=_text(pick(props, "containerName") or pick(props, "filesystem")),
            endpoint=_text(pick(props, "endpoint")),
        )

    @classmethod
    def from_v1_json(cls, name: str, data: Mapping[str, Any] | None) -> DatastoreStorage:
        section = pick(data, "azureStorageSection", default={}) or {}
        return cls(
            name=name,
            kind=_text(pick(data, "dataStoreType")),
            account=_text(pick(section, "accountName")),
            container=_text(pick(section, "containerName")),
            endpoint=_text(pick(section, "endpoint")),
        )


@dataclass(frozen=True)
class DataLocation:
    """Where a run wrote one output: a path in a datastore, or a URI of another kind.

    :param output: the output's name (v1: ``{step}/{output}``).
    :param datastore: the datastore, when the location is a datastore path.
    :param path: the path inside it.
    :param uri: the location as the service gave it, when it is not a datastore path.
    """

    output: str
    datastore: str | None = None
    path: str | None = None
    uri: str | None = None


def location_of_uri(output: str, uri: str | None) -> DataLocation | None:
    """A v2 job output's ``uri`` as a :class:`DataLocation` (``None`` for no uri).

    :param output: the output's name.
    :param uri: ``azureml://[...workspace/]datastores/{ds}/paths/{path}``, or any other URI.
    """
    if not uri:
        return None
    parsed = parse_datastore_uri(uri)
    if parsed is None:
        return DataLocation(output, uri=uri)
    return DataLocation(output, parsed[0], parsed[1].strip("/"))


def v2_job_outputs(job: Mapping[str, Any] | None) -> list[DataLocation]:
    """The located outputs of a v2 job (``properties.outputs``; an output without a uri is
    left out: the service answers ``uri`` null for an output left at its default path)."""
    outputs = pick(job, "properties", "outputs", default={}) or {}
    found = []
    for name, output in sorted(outputs.items()):
        location = location_of_uri(str(name), pick(output, "uri"))
        if location is not None:
            found.append(location)
    return found


def v1_step_outputs(step: str, data: Mapping[str, Any] | None) -> list[DataLocation]:
    """The located outputs of one v1 step (the ``{outputName: NodeOutput}`` map).

    :param step: the step's name, prefixed to each output's.
    :param data: the answer of ``POST {WS}/PipelineRuns/{runId}/Outputs``.
    """
    found = []
    for name, output in sorted((data or {}).items()):
        location = pick(output, "DataLocation", default={}) or {}
        blob = pick(location, "DataReference", "AzureBlobReference", default={}) or {}
        datastore = pick(blob, "AmlDataStoreName")
        path = pick(blob, "RelativePath")
        if datastore and path:
            found.append(DataLocation(f"{step}/{name}", str(datastore), str(path).lstrip("/")))
        elif pick(location, "Uri"):
            found.append(DataLocation(f"{step}/{name}", uri=str(pick(location, "Uri"))))
    return found


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
