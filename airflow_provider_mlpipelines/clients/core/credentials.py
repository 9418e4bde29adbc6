"""From connection settings to an azure-identity credential (client secret, workload or
managed identity, or the default chain).

azure-identity is imported inside :func:`build_credential`, never at module import: DAG files
import the operator modules, which import the hooks.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings, config_error

log = logging.getLogger(__name__)


def build_credential(settings: ConnectionSettings, *, asynchronous: bool = False) -> Any:
    """Create the azure-identity credential the settings call for.

    Order: client secret (login, password and tenant), workload identity, a user-assigned
    managed identity, else ``DefaultAzureCredential`` (which also covers a system-assigned
    managed identity).

    :param settings: the connection settings.
    :param asynchronous: build the ``azure.identity.aio`` variant (for the async hook).
    """
    if asynchronous:
        from azure.identity import aio as identity
    else:
        from azure import identity  # type: ignore[no-redef]
    _quiet_azure_http_logging()
    kind = settings.credential_kind
    options = _credential_options(settings)
    log.debug("Connection %s authenticates with %s", settings.conn_id, kind)
    if kind == "client_secret":
        # The kind implies a client id and secret, and the settings check demands a tenant.
        return identity.ClientSecretCredential(
            settings.tenant_id or "",
            settings.client_id or "",
            settings.client_secret or "",
            **options,
        )
    if kind == "workload_identity":
        _check_workload_environment(settings)
        return identity.WorkloadIdentityCredential(
            tenant_id=settings.tenant_id,
            client_id=settings.managed_identity_client_id or settings.client_id,
            **options,
        )
    if kind == "managed_identity":
        # A managed identity talks to the local metadata endpoint: no authority applies.
        transport = {k: v for k, v in options.items() if k == "connection_verify"}
        return identity.ManagedIdentityCredential(
            client_id=settings.managed_identity_client_id, **transport
        )
    return identity.DefaultAzureCredential(**options)


def _check_workload_environment(settings: ConnectionSettings) -> None:
    """Name what a workload identity lacks, in the terms of the pod it runs in.

    The values come from the environment the AKS workload identity webhook sets, at the
    moment a token is needed (a worker's environment, not the DAG processor's).
    """
    missing = []
    if not os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        missing.append("AZURE_FEDERATED_TOKEN_FILE (the projected service account token)")
    if not (
        settings.managed_identity_client_id
        or settings.client_id
        or os.environ.get("AZURE_CLIENT_ID")
    ):
        missing.append("a client id (AZURE_CLIENT_ID, or the connection's login)")
    if not (settings.tenant_id or os.environ.get("AZURE_TENANT_ID")):
        missing.append("a tenant (AZURE_TENANT_ID, or the tenant_id extra)")
    if missing:
        raise config_error(
            settings.conn_id,
            "workload_identity",
            "is set but this process lacks " + "; ".join(missing),
        )


def _quiet_azure_http_logging() -> None:
    """Keep azure-core's per-request header dumps (INFO) out of task logs, unless configured."""
    http_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    if http_log.level == logging.NOTSET:
        http_log.setLevel(logging.WARNING)


def _credential_options(settings: ConnectionSettings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.authority_host:
        options["authority"] = settings.authority_host
        # Instance discovery asks login.microsoftonline.com about the authority, which a
        # sovereign or local authority cannot satisfy.
        options["disable_instance_discovery"] = True
    if settings.ca_bundle:
        options["connection_verify"] = settings.ca_bundle
    return options
