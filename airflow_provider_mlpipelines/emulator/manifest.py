"""The manifest: everything a client needs to talk to a running emulator.

Written to ``{state_dir}/manifest.json`` (atomically, mode 0600, once the server accepts
connections) and served at ``/_emulator/manifest``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.emulator.workspace import Identity
from airflow_provider_mlpipelines.get_provider_info import CONNECTION_TYPE

MANIFEST_FILE = "manifest.json"


def build_manifest(
    *,
    base_url: str,
    identity: Identity,
    client_secret: str,
    ca_bundle: Path,
    discovery_url: str,
    pipeline_runs: dict[str, str],
    datastores: dict[str, Path],
    state_dir: Path,
) -> dict[str, Any]:
    """The manifest document.

    :param base_url: ``https://host:port`` of the emulator.
    :param identity: tenant, client and workspace names.
    :param client_secret: the client's secret.
    :param ca_bundle: the CA file clients must trust.
    :param discovery_url: the workspace discovery URL.
    :param pipeline_runs: pipeline name -> id of a finished run to publish from.
    :param datastores: datastore name -> its folder.
    :param state_dir: the state dir.
    """
    studio = f"{base_url}/studio"
    ca = str(ca_bundle.resolve())
    return {
        "base_url": base_url,
        "tenant_id": identity.tenant_id,
        "client_id": identity.client_id,
        "client_secret": client_secret,
        "subscription_id": identity.subscription_id,
        "resource_group": identity.resource_group,
        "workspace_name": identity.workspace_name,
        "ca_bundle": ca,
        "discovery_url": discovery_url,
        "studio_url": studio,
        "pid": os.getpid(),
        "state_dir": str(state_dir.resolve()),
        "pipeline_runs": dict(pipeline_runs),
        "datastores": {name: str(path) for name, path in datastores.items()},
        "airflow_conn": {
            "conn_type": CONNECTION_TYPE,
            "login": identity.client_id,
            "password": client_secret,
            "host": base_url,
            "extra": {
                "subscription_id": identity.subscription_id,
                "resource_group": identity.resource_group,
                "workspace_name": identity.workspace_name,
                "tenant_id": identity.tenant_id,
                "authority_host": base_url,
                "ca_bundle": ca,
                "studio_url": studio,
            },
        },
    }


def write_manifest(state_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest atomically, readable by the owner only (it holds the secret).

    :param state_dir: the state dir.
    :param manifest: the document.
    """
    path = state_dir / MANIFEST_FILE
    tmp = state_dir / f".{MANIFEST_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    os.replace(tmp, path)
    return path
