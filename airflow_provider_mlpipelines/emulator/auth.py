"""An Entra-compatible token endpoint and the bearer-token check of the API routes.

Only the client-credentials flow is served, which is what ``ClientSecretCredential`` uses.
Access tokens are JWT-shaped (three base64url parts, unsigned, with a random third part that
makes them unguessable) and opaque to the emulator: a token is valid when its SHA-256 is in the
issued set and it has not expired. Only hashes are stored, never tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.store import Store
from airflow_provider_mlpipelines.emulator.workspace import Identity

log = logging.getLogger(__name__)

#: Audiences (scope minus ``/.default``) that the pipelines and history APIs accept.
API_AUDIENCES = frozenset(
    {
        "https://management.azure.com",
        "https://management.core.windows.net",
        "https://ml.azure.com",
    }
)
DEFAULT_SUFFIX = "/.default"
#: How many issued tokens the test aid ``GET /_emulator/admin/tokens`` can list.
ISSUED_TOKENS_KEPT = 10_000


class AadError(Exception):
    """An error of the token endpoint, rendered in Entra's OAuth error format.

    :param status: HTTP status (400 or 401).
    :param error: the OAuth ``error`` code, e.g. ``invalid_client``.
    :param code: the ``AADSTS`` number.
    :param description: the readable description (never contains a secret).
    """

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def body(self, trace_id: str) -> dict[str, Any]:
        """The response body.

        :param trace_id: the request id, echoed as trace and correlation id.
        """
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.description} Trace ID: {trace_id} "
                f"Correlation ID: {trace_id} Timestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": trace_id,
        }


@dataclass
class TokenRecord:
    """What the emulator remembers of an issued token."""

    expires_at: float
    audience: str
    client_id: str

    def to_doc(self) -> dict[str, Any]:
        return {
            "expires_at": self.expires_at,
            "audience": self.audience,
            "client_id": self.client_id,
        }


class TokenAuthority:
    """Issues and checks access tokens for the workspace's service principal.

    :param identity: the tenant and client id that may authenticate.
    :param client_secret: the client's secret.
    :param store: where token hashes are remembered across restarts.
    :param lifetime: seconds an access token is valid.
    """

    def __init__(self, identity: Identity, client_secret: str, store: Store, lifetime: int) -> None:
        self.identity = identity
        self._secret = client_secret
        self._store = store
        self.lifetime = lifetime
        self.tokens_issued = 0
        # Test aid only (``GET /_emulator/admin/tokens``): the tokens this process issued, in
        # memory, so that tests can prove no token leaks into logs. Never persisted.
        self.issued: deque[tuple[str, TokenRecord]] = deque(maxlen=ISSUED_TOKENS_KEPT)
        now = time.time()
        self._tokens: dict[str, TokenRecord] = {}
        for doc in store.load("token_index"):
            record = TokenRecord(doc["expires_at"], doc["audience"], doc["client_id"])
            if record.expires_at > now:
                self._tokens[doc["hash"]] = record

    @property
    def valid_tokens(self) -> int:
        """How many issued tokens have not expired."""
        now = time.time()
        return sum(1 for t in self._tokens.values() if t.expires_at > now)

    def set_lifetime(self, seconds: Any) -> int:
        """Change the lifetime of tokens issued from now on (issued ones keep theirs).

        :param seconds: the new lifetime, at least 1 second.
        :raises EmulatorError: 400 for anything but a whole number >= 1.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
            raise EmulatorError(
                400,
                "InvalidBody",
                f"lifetime_seconds must be a whole number of seconds >= 1, got {seconds!r}",
            )
        self.lifetime = seconds
        log.info("Access tokens issued from now on live %d s", seconds)
        return seconds

    def issued_tokens(self) -> list[dict[str, Any]]:
        """The tokens this process issued (test aid), oldest first."""
        return [{"access_token": token, **record.to_doc()} for token, record in self.issued]

    # ---------------------------------------------------------------------------- discovery
    def openid_configuration(self, tenant: str, base_url: str) -> dict[str, Any]:
        """The tenant's OpenID configuration document.

        :param tenant: the tenant in the path.
        :param base_url: the emulator's base URL (the authority host).
        :raises AadError: 400 for an unknown tenant.
        """
        self._check_tenant(tenant)
        root = f"{base_url}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "issuer": f"{root}/v2.0",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid"],
            "grant_types_supported": ["client_credentials"],
            "tenant_region_scope": None,
            "cloud_instance_name": "emulator",
            "request_uri_parameter_supported": False,
        }

    # ---------------------------------------------------------------------------- tokens
    def issue(self, tenant: str, form: dict[str, str], base_url: str) -> dict[str, Any]:
        """Answer a token request of the client-credentials flow.

        :param tenant: the tenant in the path.
        :param form: the posted form fields.
        :param base_url: the emulator's base URL (the token's issuer).
        :raises AadError: for an unknown tenant, grant type, client, secret or a bad scope.
        """
        self._check_tenant(tenant)
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise AadError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'; the emulator serves "
                "client_credentials only.",
            )
        client_id = form.get("client_id", "")
        if client_id != self.identity.client_id:
            raise AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'.",
            )
        if not hmac.compare_digest(form.get("client_secret", "").encode(), self._secret.encode()):
            raise AadError(
                401,
                "invalid_client",
                7000215,
                f"Invalid client secret provided for app '{client_id}'.",
            )
        audience = _audience_of(form.get("scope", ""))
        token, _ = self._mint(tenant, client_id, audience, base_url)
        log.debug("Issued a token for %s, audience %s", client_id, audience)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": token,
        }

    def _mint(
        self, tenant: str, client_id: str, audience: str, base_url: str
    ) -> tuple[str, TokenRecord]:
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": f"{base_url}/{tenant}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "appid": client_id,
            "azp": client_id,
            "tid": tenant,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client_id}")),
            "sub": client_id,
            "jti": uuid.uuid4().hex,
            "ver": "2.0",
        }
        header = {"typ": "JWT", "alg": "none"}
        token = ".".join(
            (
                _b64(json.dumps(header).encode()),
                _b64(json.dumps(claims).encode()),
                secrets.token_urlsafe(32),
            )
        )
        record = TokenRecord(float(claims["exp"]), audience, client_id)
        digest = _digest(token)
        self._tokens[digest] = record
        self._store.mark_dirty("token_index", digest, _TokenDoc(digest, record))
        self.tokens_issued += 1
        self.issued.append((token, record))
        self._forget_expired(now)
        return token, record

    def _forget_expired(self, now: float) -> None:
        # Cheap amortised cleanup: only when the set has grown.
        if len(self._tokens) < 1024 or self.tokens_issued % 256:
            return
        for digest in [d for d, t in self._tokens.items() if t.expires_at <= now]:
            del self._tokens[digest]
            self._store.delete("token_index", digest)

    def check(self, authorization: str | None) -> None:
        """Accept a request only with a valid, unexpired bearer token of an API audience.

        :param authorization: the ``Authorization`` header.
        :raises EmulatorError: 401 naming what is wrong (never echoing the token).
        """
        if not authorization:
            raise _unauthorized("The request has no Authorization header; send 'Bearer <token>'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("The Authorization header is not of the form 'Bearer <token>'")
        record = self._tokens.get(_digest(token.strip()))
        if record is None:
            raise _unauthorized("The access token was not issued by this emulator")
        if record.expires_at <= time.time():
            raise _unauthorized("The access token has expired; acquire a new one")
        if record.audience.rstrip("/") not in API_AUDIENCES:
            raise _unauthorized(
                f"The access token's audience '{record.audience}' is not accepted; request "
                "scope https://management.azure.com/.default"
            )

    def _check_tenant(self, tenant: str) -> None:
        if tenant != self.identity.tenant_id:
            raise AadError(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check that the tenant id is right.",
            )


@dataclass
class _TokenDoc:
    digest: str
    record: TokenRecord

    def to_doc(self) -> dict[str, Any]:
        return {"hash": self.digest, **self.record.to_doc()}


def _audience_of(scope: str) -> str:
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith(DEFAULT_SUFFIX):
        raise AadError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope '{scope}' is not valid. Client credential flows must "
            "have exactly one scope value with /.default suffixed to the resource identifier.",
        )
    return scopes[0][: -len(DEFAULT_SUFFIX)]


def _unauthorized(message: str) -> EmulatorError:
    return EmulatorError(
        401, "Unauthorized", message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
