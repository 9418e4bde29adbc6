"""Code assets and the blob upload behind them: how ``MLClient`` uploads a component's ``code``.

azure-ai-ml 1.35.2 uploads a local ``code`` folder this way (``operations/_code_operations.py``):
list ``codes/{name}/versions?hash=...`` for a version with the same content hash (reused when
found); ``POST codes/{name}/versions/{version}/startPendingUpload``, whose answer holds a SAS
container URI; azure-storage-blob PUTs each file to that URI and sets confirmation metadata on
one of them; then ``PUT codes/{name}/versions/{version}`` with ``codeUri`` = the container URI
plus the folder name. The emulator names itself in the SAS URI, path-style as Azurite does
(``https://{emulator}/_storage/{datastore}/{container}?sig=...``), and stores the bytes under
``LocalUpload/{container}/`` of the workspace datastore, where steps run them.
"""

from __future__ import annotations

import hashlib
import secrets
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import web

from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.http import context_of, json_response, read_json
from airflow_provider_mlpipelines.emulator.v2.checks import not_found, user_error
from airflow_provider_mlpipelines.emulator.v2.codes import UPLOAD_PREFIX, CodeAssets, CodeRecord
from airflow_provider_mlpipelines.emulator.v2.handling import (
    Handler,
    arm_urls,
    check_token,
    client_id_of,
    paged_response,
    v2_service,
)
from airflow_provider_mlpipelines.emulator.v2.render import system_data

#: api-versions azure-ai-ml 1.35.2 sends for code assets (observed against the emulator).
CODE_API_VERSIONS = frozenset({"2023-04-01", "2024-01-01-preview", "2025-12-01"})
STORAGE_PATH = "/_storage/{datastore}/{container}/{blob:.+}"
_CODES = routes.WORKSPACE + "/codes/{code_name}/versions"
_CODE = _CODES + "/{version}"
_META = "x-ms-meta-"


def code_assets(request: web.Request) -> CodeAssets:
    assets = v2_service(request).code_assets
    if assets is None:
        raise EmulatorError(404, "NotFound", "Code assets are not enabled on this emulator")
    return assets


def _arm_code(handler: Handler) -> Handler:
    """An ARM handler of code assets: ARM token, and the api-versions the SDK sends for them."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        check_token(request, context_of(request).arm_audiences)
        version = request.query.get(routes.QUERY_API_VERSION)
        if version not in CODE_API_VERSIONS:
            raise EmulatorError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid for code assets; supported: "
                f"{', '.join(sorted(CODE_API_VERSIONS))}",
                "api-version",
            )
        return await handler(request)

    wrapped.__name__ = handler.__name__
    return wrapped


def _code_body(request: web.Request, code: CodeRecord) -> dict[str, Any]:
    return {
        "id": f"{arm_urls(request).workspace_id()}/codes/{code.name}/versions/{code.version}",
        "name": code.version,
        "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
        "systemData": system_data(code.created, code.created, client_id_of(request)),
        "properties": {
            "description": None,
            "tags": {},
            "properties": dict(code.properties),
            "isArchived": False,
            "isAnonymous": False,
            "codeUri": code.code_uri,
            "provisioningState": "Succeeded",
        },
    }


@_arm_code
async def list_code_versions(request: web.Request) -> web.Response:
    """GET ``codes/{name}/versions``, filtered by ``hash`` as the SDK asks before uploading."""
    assets = code_assets(request)
    name = request.match_info["code_name"]
    wanted = request.query.get("hash")
    # The SDK names anonymous code with a fresh uuid and asks for the content's hash: the
    # service answers any version with that hash (the SDK reads name and version from its id).
    found = [
        c
        for c in assets.codes.values()
        if (c.properties.get("hash_sha256") == wanted if wanted else c.name == name)
    ]
    return paged_response(request, [_code_body(request, c) for c in found])


@_arm_code
async def get_code_version(request: web.Request) -> web.Response:
    name, version = request.match_info["code_name"], request.match_info["version"]
    code = code_assets(request).codes.get(f"{name}/{version}")
    if code is None:
        raise not_found("CodeVersion", f"{name}:{version}")
    return json_response(_code_body(request, code))


@_arm_code
async def start_pending_upload(request: web.Request) -> web.Response:
    """POST ``.../startPendingUpload``: a SAS container URI naming this emulator."""
    body = await read_json(request, required=False) or {}
    kind = pick(body, "pendingUploadType") or "TemporaryBlobReference"
    if str(kind) != "TemporaryBlobReference":
        raise user_error(
            f"pendingUploadType '{kind}' is not supported; use TemporaryBlobReference",
            "pendingUploadType",
        )
    datastore = context_of(request).workspace.workspace.default_datastore
    container, signature = code_assets(request).start_upload(datastore)
    base = arm_urls(request).base.rstrip("/")
    blob_uri = f"{base}/_storage/{datastore}/{container}"
    return json_response(
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": None,
                "credential": {
                    "credentialType": "SAS",
                    "sasUri": f"{blob_uri}?sv=2021-08-06&sr=c&sp=rcw&sig={signature}",
                },
            },
            "pendingUploadId": container,
            "pendingUploadType": "TemporaryBlobReference",
        }
    )


@_arm_code
async def put_code_version(request: web.Request) -> web.Response:
    """PUT ``codes/{name}/versions/{version}``: record where the uploaded folder is."""
    body = await read_json(request)
    props = pick(body, "properties", default={})
    code_uri = pick(props, "codeUri")
    if not code_uri:
        raise user_error("properties.codeUri is required", "codeUri")
    extra = pick(props, "properties", default={}) or {}
    name, version = request.match_info["code_name"], request.match_info["version"]
    assets = code_assets(request)
    created = f"{name}/{version}" not in assets.codes
    code = assets.put(name, version, str(code_uri), {k: str(v) for k, v in extra.items()})
    return json_response(_code_body(request, code), status=201 if created else 200)


# ------------------------------------------------------------------------------ blob storage
def _storage_error(status: int, code: str, message: str) -> web.Response:
    # Blob storage answers errors in XML with the code in x-ms-error-code.
    text = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
    text += f"<Message>{message}</Message></Error>"
    response = web.Response(status=status, text=text, content_type="application/xml")
    response.headers["x-ms-error-code"] = code
    return response


def _blob_target(request: web.Request) -> tuple[Path, str] | web.Response:
    """The local file a blob request names and its metadata key, or the error answer."""
    assets = code_assets(request)
    container = request.match_info["container"]
    upload = assets.uploads.get(container)
    if upload is None or upload[0] != request.match_info["datastore"]:
        return _storage_error(404, "ContainerNotFound", "The specified container does not exist.")
    if not secrets.compare_digest(request.query.get("sig", ""), upload[1]):
        return _storage_error(
            403, "AuthenticationFailed", "The SAS signature does not match this upload."
        )
    blob = request.match_info["blob"]
    datastores = context_of(request).workspace.datastores
    try:
        path = datastores.resolve(upload[0], f"{UPLOAD_PREFIX}/{container}/{blob}", "blob")
    except EmulatorError as exc:
        return _storage_error(400, "InvalidResourceName", exc.message)
    return path, f"{container}/{blob}"


def _blob_headers(path: Path, metadata: dict[str, str]) -> dict[str, str]:
    stat = path.stat()
    headers = {
        "Content-Length": str(stat.st_size),
        "Content-Type": "application/octet-stream",
        "ETag": f'"0x{int(stat.st_mtime_ns):X}"',
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "x-ms-blob-type": "BlockBlob",
        "x-ms-version": "2021-08-06",
    }
    headers.update({f"{_META}{k}": v for k, v in metadata.items()})
    return headers


async def blob_properties(request: web.Request) -> web.StreamResponse:
    """HEAD (or GET) a blob: its properties and metadata, 404 ``BlobNotFound`` when absent."""
    target = _blob_target(request)
    if isinstance(target, web.Response):
        return target
    path, key = target
    if not path.is_file():
        response = web.Response(status=404)
        response.headers["x-ms-error-code"] = "BlobNotFound"
        return response
    headers = _blob_headers(path, code_assets(request).metadata.get(key, {}))
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=path.read_bytes(), headers=headers)


async def put_blob(request: web.Request) -> web.StreamResponse:
    """PUT a whole blob, or its metadata (``comp=metadata``); blocks are not supported."""
    target = _blob_target(request)
    if isinstance(target, web.Response):
        return target
    path, key = target
    assets = code_assets(request)
    comp = request.query.get("comp")
    metadata = {
        k[len(_META) :]: v for k, v in request.headers.items() if k.lower().startswith(_META)
    }
    if comp == "metadata":
        if not path.is_file():
            return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        assets.metadata[key] = {k.lower(): v for k, v in metadata.items()}
    elif comp is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5(usedforsecurity=False)
        # Streamed to the file: a code folder may exceed the server's JSON body limit.
        with path.open("wb") as handle:
            async for chunk in request.content.iter_chunked(1 << 16):
                digest.update(chunk)
                handle.write(chunk)
        assets.metadata[key] = {k.lower(): v for k, v in metadata.items()}
    else:
        return _storage_error(
            400,
            "UnsupportedQueryParameter",
            f"comp={comp} is not supported by the emulator's blob store (whole-blob PUT only)",
        )
    headers = _blob_headers(path, {})
    headers.pop("Content-Length")
    headers["x-ms-request-server-encrypted"] = "true"
    return web.Response(status=200 if comp else 201, headers=headers)


#: (method, path template, stats name, handler) of the code asset and blob routes.
ASSET_ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    ("GET", _CODES, "list code versions", list_code_versions),
    ("GET", _CODE, "get code version", get_code_version),
    ("PUT", _CODE, "create code version", put_code_version),
    ("POST", _CODE + "/startPendingUpload", "start pending upload", start_pending_upload),
    ("HEAD", STORAGE_PATH, "blob properties", blob_properties),
    ("GET", STORAGE_PATH, "get blob", blob_properties),
    ("PUT", STORAGE_PATH, "put blob", put_blob),
)
