"""Connection settings: an Airflow connection validated once into frozen values.

Shared by both clients and both hooks; the credential they call for is built by
:mod:`~airflow_provider_mlpipelines.clients.core.credentials`.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_mlpipelines._compat import mask_secret
from airflow_provider_mlpipelines.api.clouds import (
    AZURE_PUBLIC_CLOUD,
    CLOUDS,
    DEFAULT_CLOUD,
    AzureCloud,
    find_cloud,
    normalize_region,
)
from airflow_provider_mlpipelines.clients.core.retry import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    RetryPolicy,
)
from airflow_provider_mlpipelines.exceptions import AzureMLConnectionConfigError, format_choices
from airflow_provider_mlpipelines.get_provider_info import CONNECTION_EXTRA_FIELDS

log = logging.getLogger(__name__)

DEFAULT_STUDIO_URL = AZURE_PUBLIC_CLOUD.studio_url
DEFAULT_TOKEN_SCOPE = AZURE_PUBLIC_CLOUD.token_scope
DEFAULT_ML_SCOPE = AZURE_PUBLIC_CLOUD.ml_scope
#: Requests left in an ARM budget at which the client starts pacing (``ratelimit_floor``).
DEFAULT_RATELIMIT_FLOOR = 50
#: Requests per second once at the floor (``ratelimit_pace``): below both of ARM's refills.
DEFAULT_RATELIMIT_PACE = 2.0
#: The service APIs a connection can speak (extra ``api``).
API_VERSIONS = ("v1", "v2")
REQUIRED_EXTRAS = ("subscription_id", "resource_group", "workspace_name")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", "f", ""})


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hooks need from the Airflow connection, validated once.

    The client secret is kept out of ``repr`` so the settings can be logged safely.
    """

    conn_id: str
    subscription_id: str
    resource_group: str
    workspace_name: str
    base_url: str
    api: str = "v1"
    region: str | None = None
    cloud: str = DEFAULT_CLOUD
    token_scope: str = DEFAULT_TOKEN_SCOPE
    ml_scope: str = DEFAULT_ML_SCOPE
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    authority_host: str | None = None
    ca_bundle: str | None = None
    managed_identity_client_id: str | None = None
    workload_identity: bool = False
    studio_url: str = DEFAULT_STUDIO_URL
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    ratelimit_floor: int = DEFAULT_RATELIMIT_FLOOR
    ratelimit_pace: float = DEFAULT_RATELIMIT_PACE

    @property
    def verify(self) -> str | bool:
        """The ``verify`` value for HTTP clients: the CA bundle when set, else system trust."""
        return self.ca_bundle or True

    @property
    def workspace(self) -> dict[str, str]:
        """The workspace placeholders every route needs."""
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.workspace_name,
        }

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries, backoff=self.retry_backoff_seconds)

    @property
    def credential_kind(self) -> str:
        """Which credential :func:`build_credential` creates, in order of precedence."""
        if self.client_id and self.client_secret:
            return "client_secret"
        if self.workload_identity:
            return "workload_identity"
        if self.managed_identity_client_id:
            return "managed_identity"
        return "default"

    def url(self, path: str) -> str:
        """Join the service base URL (which may carry its own path prefix) and ``path``."""
        return self.base_url + path

    def with_overrides(
        self,
        *,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        request_timeout: float | None = None,
    ) -> ConnectionSettings:
        """A copy where the given (non-``None``) hook arguments replace the connection's values."""
        changes: dict[str, Any] = {}
        if max_retries is not None:
            changes["max_retries"] = _non_negative_int(max_retries, "max_retries", self.conn_id)
        if retry_backoff is not None:
            changes["retry_backoff_seconds"] = _non_negative_float(
                retry_backoff, "retry_backoff", self.conn_id
            )
        if request_timeout is not None:
            changes["request_timeout_seconds"] = _positive_float(
                request_timeout, "request_timeout", self.conn_id
            )
        return replace(self, **changes) if changes else self


def settings_from_connection(connection: Any) -> ConnectionSettings:
    """Validate an Airflow connection and turn it into :class:`ConnectionSettings`.

    Extras are read under their plain names (see ``CONNECTION_EXTRA_FIELDS``); values that
    arrive as strings (``"true"``, ``"5"``) are converted.

    :param connection: an Airflow ``Connection`` (anything with ``conn_id``, ``host``,
        ``port``, ``login``, ``password`` and ``extra_dejson``).
    :raises AzureMLConnectionConfigError: a required field is missing or a value is invalid;
        the message names the field and the connection id.
    """
    conn_id = str(getattr(connection, "conn_id", None) or "<unnamed>")
    extras = _extras_of(connection, conn_id)
    required = {key: _require(extras, key, conn_id) for key in REQUIRED_EXTRAS}
    api = _api(extras.get("api"), conn_id)
    cloud = _cloud(extras.get("cloud"), conn_id)
    region = _region(extras.get("region"), conn_id)
    if api == "v2" and _text(connection.host) is None:
        # v2 speaks to Azure Resource Manager, which has one host per cloud, not per region.
        base_url = cloud.resource_manager
    else:
        base_url = service_base_url(connection.host, connection.port, region, conn_id, cloud)
    client_secret = _text(connection.password)
    mask_secret(client_secret)
    settings = ConnectionSettings(
        conn_id=conn_id,
        base_url=base_url,
        api=api,
        region=region,
        cloud=cloud.name,
        token_scope=_scope(extras.get("token_scope"), cloud, conn_id),
        ml_scope=cloud.ml_scope,
        tenant_id=_text(extras.get("tenant_id")),
        client_id=_text(connection.login),
        client_secret=client_secret,
        authority_host=_authority(extras.get("authority_host"), cloud, conn_id),
        ca_bundle=_text(extras.get("ca_bundle")),
        managed_identity_client_id=_text(extras.get("managed_identity_client_id")),
        workload_identity=_bool(extras.get("workload_identity"), "workload_identity", conn_id),
        studio_url=(_text(extras.get("studio_url")) or cloud.studio_url).rstrip("/"),
        max_retries=_optional(extras, "max_retries", _non_negative_int, conn_id),
        retry_backoff_seconds=_optional(
            extras, "retry_backoff_seconds", _non_negative_float, conn_id
        ),
        request_timeout_seconds=_optional(
            extras, "request_timeout_seconds", _positive_float, conn_id
        ),
        ratelimit_floor=_optional(extras, "ratelimit_floor", _non_negative_int, conn_id),
        ratelimit_pace=_optional(extras, "ratelimit_pace", _positive_float, conn_id),
        **required,
    )
    _check_credential_fields(settings)
    return settings


def service_base_url(
    host: Any,
    port: Any,
    region: str | None,
    conn_id: str,
    cloud: AzureCloud = AZURE_PUBLIC_CLOUD,
) -> str:
    """The service base URL from the connection's host (and port), else from the region.

    A host without a scheme gets ``https://``. Plain ``http`` is accepted only for loopback
    hosts: the bearer token must never cross a network unencrypted. A host (a private-link
    workspace host, say) is used as given whatever the cloud.

    :param region: a normalised region; with no host, the cloud's regional API host is used.
    :param cloud: the cloud whose API host pattern applies.
    """
    text = _text(host)
    if text is None:
        if region is None:
            raise config_error(conn_id, "host", "is required when no region is set")
        return cloud.service_url(region)
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise config_error(conn_id, "host", f"{text!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise config_error(conn_id, "host", "plain http is only allowed for loopback addresses")
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{int(port)}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def is_loopback(hostname: str) -> bool:
    """Whether ``hostname`` names this machine (``localhost`` or a loopback address)."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_credential_fields(settings: ConnectionSettings) -> None:
    if bool(settings.client_id) != bool(settings.client_secret) and not (
        settings.workload_identity or settings.managed_identity_client_id
    ):
        missing = "password" if settings.client_id else "login"
        raise config_error(
            settings.conn_id, missing, "a service principal needs both client id and secret"
        )
    if settings.credential_kind == "client_secret" and not settings.tenant_id:
        raise config_error(settings.conn_id, "tenant_id", "a service principal needs its tenant id")


# --------------------------------------------------------------------------------------------
# Value parsing
# --------------------------------------------------------------------------------------------
def _extras_of(connection: Any, conn_id: str) -> Mapping[str, Any]:
    try:
        extras = connection.extra_dejson
    except Exception as exc:  # Airflow raises different types for a malformed extra
        raise config_error(conn_id, "extra", f"not valid JSON ({type(exc).__name__})") from None
    if not isinstance(extras, Mapping):
        raise config_error(conn_id, "extra", "must be a JSON object")
    unknown = sorted(set(extras) - set(CONNECTION_EXTRA_FIELDS))
    if unknown:
        log.warning("Connection %s: ignoring unknown extra fields %s", conn_id, unknown)
    return extras


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _require(extras: Mapping[str, Any], key: str, conn_id: str) -> str:
    value = _text(extras.get(key))
    if value is None:
        raise config_error(conn_id, key, "is required")
    return value


def _api(value: Any, conn_id: str) -> str:
    text = (_text(value) or "v1").lower()
    if text not in API_VERSIONS:
        raise config_error(
            conn_id, "api", f"{value!r} is not one of {format_choices(API_VERSIONS)}"
        )
    return text


def _cloud(value: Any, conn_id: str) -> AzureCloud:
    name = _text(value)
    if name is None:
        return AZURE_PUBLIC_CLOUD
    cloud = find_cloud(name)
    if cloud is None:
        raise config_error(
            conn_id, "cloud", f"{name!r} is not one of {format_choices(sorted(CLOUDS))}"
        )
    return cloud


def _region(value: Any, conn_id: str) -> str | None:
    text = _text(value)
    if text is None:
        return None
    region = normalize_region(text)
    if region is None:
        raise config_error(conn_id, "region", f"{text!r} is not a region name such as 'westeurope'")
    return region


def _scope(value: Any, cloud: AzureCloud, conn_id: str) -> str:
    text = _text(value)
    if text is None:
        return cloud.token_scope
    # Client-credential flows take exactly one resource scope (Entra ID's AADSTS1002012).
    if " " in text or not text.startswith("https://") or not text.endswith("/.default"):
        raise config_error(
            conn_id,
            "token_scope",
            f"{text!r} is not one resource scope such as {cloud.token_scope!r}",
        )
    return text


def _authority(value: Any, cloud: AzureCloud, conn_id: str) -> str | None:
    text = _text(value)
    if text is None:
        # azure-identity defaults to the public cloud's authority; any other cloud needs its own.
        return None if cloud is AZURE_PUBLIC_CLOUD else cloud.authority_host
    if "://" not in text:
        text = "https://" + text
    if not text.startswith("https://"):
        raise config_error(conn_id, "authority_host", "must be an https URL")
    return text.rstrip("/")


def _bool(value: Any, key: str, conn_id: str) -> bool:
    if isinstance(value, bool):
        return value
    word = "" if value is None else str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise config_error(conn_id, key, f"{value!r} is not a boolean")


def _optional(extras: Mapping[str, Any], key: str, convert: Any, conn_id: str) -> Any:
    value = extras.get(key)
    if _text(value) is None:
        # The extra keys and the settings' field names are the same.
        return ConnectionSettings.__dataclass_fields__[key].default
    return convert(value, key, conn_id)


def _non_negative_int(value: Any, key: str, conn_id: str) -> int:
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or number != int(number):
        raise config_error(conn_id, key, f"{value!r} is not a non-negative integer")
    return int(number)


def _non_negative_float(value: Any, key: str, conn_id: str) -> float:
    number = _float(value, key, conn_id)
    if number < 0:
        raise config_error(conn_id, key, f"{value!r} must not be negative")
    return number


def _positive_float(value: Any, key: str, conn_id: str) -> float:
    number = _float(value, key, conn_id)
    if number <= 0:
        raise config_error(conn_id, key, f"{value!r} must be positive")
    return number


def _float(value: Any, key: str, conn_id: str) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise config_error(conn_id, key, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise config_error(conn_id, key, f"{value!r} is not a finite number")
    return number


def config_error(conn_id: str, field_name: str, problem: str) -> AzureMLConnectionConfigError:
    return AzureMLConnectionConfigError(f"Connection {conn_id!r}: {field_name!r} {problem}")


__all__ = [
    "DEFAULT_STUDIO_URL",
    "DEFAULT_TOKEN_SCOPE",
    "ConnectionSettings",
    "config_error",
    "is_loopback",
    "service_base_url",
    "settings_from_connection",
]
