"""Code asset versions of the emulated workspace: folders in a datastore that steps run in.

:mod:`.assets` serves their routes and the blob upload behind them; :mod:`.components` resolves
a command component's ``code`` to the local folder through :class:`CodeAssets`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_mlpipelines.emulator.records import Record, utc_now

#: Where uploaded folders land in the datastore (the service's own prefix).
UPLOAD_PREFIX = "LocalUpload"


@dataclass
class CodeRecord(Record):
    """A code asset version: a folder in a datastore."""

    name: str
    version: str
    code_uri: str
    datastore: str | None = None
    path: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


class CodeAssets:
    """Code versions, pending uploads and blob metadata of the emulated workspace.

    :param store: where code versions are persisted.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.codes: dict[str, CodeRecord] = {}
        #: container -> (datastore, signature) of each pending upload.
        self.uploads: dict[str, tuple[str, str]] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        for doc in store.load("v2-code"):
            code = CodeRecord.from_doc(doc)
            self.codes[code.key] = code

    def start_upload(self, datastore: str) -> tuple[str, str]:
        """A new upload container in ``datastore``; returns (container, signature)."""
        container = uuid.uuid4().hex
        signature = secrets.token_urlsafe(24)
        self.uploads[container] = (datastore, signature)
        return container, signature

    def put(self, name: str, version: str, code_uri: str, props: dict[str, str]) -> CodeRecord:
        location = _datastore_location(code_uri)
        code = CodeRecord(
            name=name,
            version=version,
            code_uri=code_uri,
            datastore=location[0] if location else None,
            path=location[1] if location else None,
            properties=props,
        )
        existing = self.codes.get(code.key)
        if existing is not None and existing.code_uri == code_uri:
            return existing
        self.codes[code.key] = code
        self.store.mark_dirty("v2-code", code.key, code)
        return code

    def by_arm_id(self, value: str) -> CodeRecord | None:
        """The code version an ``azureml:/subscriptions/.../codes/{n}/versions/{v}`` names."""
        parts = value.split("/codes/", 1)
        if len(parts) != 2 or "/versions/" not in parts[1]:
            return None
        name, _, version = parts[1].partition("/versions/")
        return self.codes.get(f"{name}/{version.strip('/')}")


def _datastore_location(code_uri: str) -> tuple[str, str] | None:
    """(datastore, path) of a code URI served by this emulator's ``/_storage`` route."""
    parts = urlsplit(code_uri).path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "_storage":
        return None
    return parts[1], "/".join([UPLOAD_PREFIX, *parts[2:]])
