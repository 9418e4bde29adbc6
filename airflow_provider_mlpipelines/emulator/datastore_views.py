"""GET of one datastore on both planes: the v1 data store service and v2 ARM.

The bodies carry what a real datastore without stored secrets answers (the shapes of
``api/datastores.py``); the storage they name is the ``--datastore-storage`` switch
(:class:`~airflow_provider_mlpipelines.emulator.datastores.Datastores`). No credential is
ever part of an answer: the emulated datastores have none.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from airflow_provider_mlpipelines.api.v2 import routes as v2_routes
from airflow_provider_mlpipelines.emulator.http import context_of, json_response
from airflow_provider_mlpipelines.emulator.v2.handling import arm, arm_urls


def _storage(request: web.Request) -> tuple[str, dict[str, str]]:
    name = request.match_info["datastore_name"]
    return name, context_of(request).workspace.datastores.describe(name)


def _is_default(request: web.Request, name: str) -> bool:
    return name == context_of(request).workspace.workspace.default_datastore


async def get_v1_datastore(request: web.Request) -> web.Response:
    """GET ``/datastore/v1.0{WS}/datastores/{name}`` (azureml-core's ``DataStore``)."""
    name, storage = _storage(request)
    return json_response(
        {
            "name": name,
            "dataStoreType": storage["kind"],
            "hasBeenValidated": True,
            "tags": {},
            "azureStorageSection": {
                "accountName": storage["account"],
                "containerName": storage["container"],
                "endpoint": storage["endpoint"],
                "protocol": "https",
                "credentialType": "None",
            },
        }
    )


@arm
async def get_v2_datastore(request: web.Request) -> web.Response:
    """GET ``{WS}/datastores/{name}`` on ARM (``DatastoreProperties``)."""
    name, storage = _storage(request)
    props: dict[str, Any] = {
        "description": None,
        "tags": {},
        "properties": None,
        "isDefault": _is_default(request, name),
        "credentials": {"credentialsType": "None"},
        "datastoreType": storage["kind"],
        "accountName": storage["account"],
        "endpoint": storage["endpoint"],
        "protocol": "https",
        "serviceDataAccessAuthIdentity": "None",
    }
    if storage["kind"] == "AzureDataLakeGen2":
        props["filesystem"] = storage["container"]
    elif storage["kind"] == "AzureFile":
        props["fileShareName"] = storage["container"]
    else:
        props["containerName"] = storage["container"]
    urls = arm_urls(request)
    return json_response(
        {
            "id": v2_routes.DATASTORE_GET.format(**urls.scope(), datastore_name=name),
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": props,
        }
    )
