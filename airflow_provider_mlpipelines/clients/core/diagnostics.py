"""``test_connection``: one real call, and a clear reason when it fails (never a secret)."""

from __future__ import annotations

from collections.abc import Callable

from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.tokens import scrub
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAuthenticationError,
    AzureMLConnectionConfigError,
    AzureMLNotFoundError,
    AzureMLPipelinesError,
    AzureMLServiceError,
)

_TLS_ERROR_NAMES = ("SSLError", "ClientConnectorCertificateError", "ClientSSLError")
_TLS_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "SSLError", "SSL:")
_UNREACHABLE_MARKERS = (
    "Failed to establish a new connection",
    "Connection refused",
    "Name or service not known",
    "Cannot connect to host",
    "timed out",
)
#: azure-identity's authority when the connection names none.
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


def connection_test_result(
    get_settings: Callable[[], ConnectionSettings], count_pipelines: Callable[[], int]
) -> tuple[bool, str]:
    """Run the probe and translate its outcome for the connection form.

    :param get_settings: loads the connection's settings (may raise a config error).
    :param count_pipelines: lists the workspace's published pipelines (v2: batch endpoints),
        one attempt only.
    :return: ``(True, summary)`` or ``(False, reason)``.
    """
    try:
        settings = get_settings()
    except AzureMLConnectionConfigError as exc:
        return False, f"Invalid connection: {exc}"
    except Exception as exc:  # an unknown conn id, a secrets backend failure...
        return False, f"Cannot read the connection: {type(exc).__name__}: {exc}"
    try:
        count = count_pipelines()
    except AzureMLPipelinesError as exc:
        return False, scrub(failure_reason(settings, exc), settings.client_secret)
    what = "batch endpoint(s)" if settings.api == "v2" else "active published pipeline(s)"
    return True, (
        f"Connected to workspace {settings.workspace_name!r} at {settings.base_url}: {count} {what}"
    )


def failure_reason(settings: ConnectionSettings, error: AzureMLPipelinesError) -> str:
    """Why the probe failed, worded for someone filling in the connection form."""
    where = f"{settings.base_url} (workspace {settings.workspace_name!r})"
    if isinstance(error, AzureMLAuthenticationError):
        if error.status_code is None:
            return _token_failure_reason(settings, error)
        return f"Authentication failed: the service refused the token: {error}"
    if isinstance(error, AzureMLNotFoundError):
        return (
            f"Workspace not found at {where}; check subscription_id, resource_group and "
            f"workspace_name: {error}"
        )
    if isinstance(error, AzureMLServiceError) and error.status_code is None:
        if error.code in _TLS_ERROR_NAMES:
            return f"TLS verification of {settings.base_url} failed (check ca_bundle): {error}"
        return f"Cannot reach {settings.base_url}: {error}"
    return f"The service at {where} answered with an error: {error}"


def _token_failure_reason(settings: ConnectionSettings, error: AzureMLAuthenticationError) -> str:
    # azure-identity reports network trouble with the authority as an authentication error;
    # its message is the only way to tell a TLS or connection problem from a refusal.
    authority = settings.authority_host or DEFAULT_AUTHORITY
    text = str(error)
    if any(marker in text for marker in _TLS_MARKERS):
        return f"TLS verification of the authority {authority} failed (check ca_bundle): {text}"
    if any(marker in text for marker in _UNREACHABLE_MARKERS):
        return f"Cannot reach the authority {authority}: {text}"
    return f"Authentication failed: could not obtain a token: {text}"
