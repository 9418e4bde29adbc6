"""The manifest: everything a client needs to talk to a running emulator.

Written to ``{state_dir}/manifest.json`` (atomically, mode 0600, once the server accepts
connections) and served at ``/_emulator/manifest``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api.clouds import AZURE_PUBLIC_CLOUD, AzureCloud
from airflow_provider_mlpipelines.emulator.admin_access import ADMIN_KEY_FILE
from airflow_provider_mlpipelines.emulator.identities import (
    MANAGED_IDENTITY_PATH,
    FederatedCredential,
)
from airflow_provider_mlpipelines.emulator.spec_model import Identity
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
    cloud: AzureCloud = AZURE_PUBLIC_CLOUD,
    audiences: frozenset[str] = AZURE_PUBLIC_CLOUD.audiences,
    managed_identity_secret: str = "",
    managed_identity_client_ids: tuple[str, ...] = (),
    federated_credentials: tuple[FederatedCredential, ...] = (),
    v2_pipeline_jobs: dict[str, str] | None = None,
    admin_key_file: Path | None = None,
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
    :param cloud: the emulated cloud.
    :param audiences: the audiences the token endpoint issues tokens for.
    :param managed_identity_secret: the managed identity endpoint's ``IDENTITY_HEADER``.
    :param managed_identity_client_ids: the user-assigned managed identities.
    :param federated_credentials: the federated credentials the token endpoint trusts.
    :param v2_pipeline_jobs: pipeline name -> a v2 pipeline job to register components from.
    :param admin_key_file: the file holding the key of the ``/_emulator/`` routes (its path
        only: the key itself is never in the manifest).
    """
    studio = f"{base_url}/studio"
    ca = str(ca_bundle.resolve())
    extra: dict[str, Any] = {
        "subscription_id": identity.subscription_id,
        "resource_group": identity.resource_group,
        "workspace_name": identity.workspace_name,
        "tenant_id": identity.tenant_id,
        "authority_host": base_url,
        "ca_bundle": ca,
        "studio_url": studio,
    }
    if cloud is not AZURE_PUBLIC_CLOUD:
        extra["cloud"] = cloud.name
    token_scope = cloud.token_scope
    if cloud.resource_manager not in audiences:
        # Custom audiences (--token-audience): the ready-made connection asks for one of them.
        token_scope = sorted(audiences)[0] + "/.default"
        extra["token_scope"] = token_scope
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
        "admin_key_file": str(admin_key_file or state_dir.resolve() / ADMIN_KEY_FILE),
        "pipeline_runs": dict(pipeline_runs),
        "datastores": {name: str(path) for name, path in datastores.items()},
        "cloud": cloud.name,
        "token_audiences": sorted(audiences),
        "token_scope": token_scope,
        "managed_identity": {
            "endpoint": base_url + MANAGED_IDENTITY_PATH,
            "header": managed_identity_secret,
            "client_ids": list(managed_identity_client_ids),
        },
        "federated_credentials": [cred.to_doc() for cred in federated_credentials],
        "airflow_conn": {
            "conn_type": CONNECTION_TYPE,
            "login": identity.client_id,
            "password": client_secret,
            "host": base_url,
            "extra": extra,
        },
        # v2: the ARM routes live under the same base URL (v2 contract section 10).
        "v2_pipeline_jobs": dict(v2_pipeline_jobs or {}),
        "airflow_conn_v2": {
            "conn_type": CONNECTION_TYPE,
            "login": identity.client_id,
            "password": client_secret,
            "host": base_url,
            "extra": {**extra, "api": "v2"},
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
