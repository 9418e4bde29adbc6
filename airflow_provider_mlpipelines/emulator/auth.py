"""An Entra-compatible token endpoint and the bearer-token check of the API routes.

Only the client-credentials flow is served, with a client secret (``ClientSecretCredential``)
or a federated client assertion (``WorkloadIdentityCredential``); managed identity tokens come
from the App Service-style endpoint (see ``identities.py``). The token endpoint, like Entra ID,
refuses a scope whose audience is another cloud's service (AADSTS500011): a client that asks
the public cloud's scope from a sovereign cloud fails here as it would there.
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
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.clouds import AZURE_PUBLIC_CLOUD, CLOUDS, audience_of_scope
from airflow_provider_mlpipelines.emulator.aad_errors import AadError
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.identities import (
    JWT_BEARER,
    FederatedCredential,
    IdentityError,
    check_federated_assertion,
    check_managed_identity_request,
    managed_identity_answer,
)
from airflow_provider_mlpipelines.emulator.spec_model import Identity
from airflow_provider_mlpipelines.emulator.store import Store

log = logging.getLogger(__name__)

#: Audiences (scope minus ``/.default``) that the pipelines and history APIs accept by default:
#: the public cloud's (``--cloud`` and ``--token-audience`` choose others).
API_AUDIENCES = AZURE_PUBLIC_CLOUD.audiences
DEFAULT_SUFFIX = "/.default"
#: The service audiences of every known cloud.
_SERVICE_AUDIENCES = frozenset().union(*(cloud.audiences for cloud in CLOUDS.values()))
#: How many issued tokens the test aid ``GET /_emulator/admin/tokens`` can list.
ISSUED_TOKENS_KEPT = 10_000


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
    :param audiences: the audiences tokens may be requested for (and the APIs accept).
    :param federated: federated credentials (workload identity) the token endpoint trusts.
    :param managed_identity_client_ids: user-assigned managed identities of the MI endpoint.
    :param managed_identity_secret: the MI endpoint's ``X-IDENTITY-HEADER`` secret.
    """

    def __init__(
        self,
        identity: Identity,
        client_secret: str,
        store: Store,
        lifetime: int,
        *,
        audiences: frozenset[str] = API_AUDIENCES,
        federated: tuple[FederatedCredential, ...] = (),
        managed_identity_client_ids: tuple[str, ...] = (),
        managed_identity_secret: str = "",
    ) -> None:
        self.identity = identity
        self._secret = client_secret
        self._store = store
        self.lifetime = lifetime
        self.audiences = frozenset(a.rstrip("/") for a in audiences)
        self.federated = federated
        self.managed_identity_client_ids = managed_identity_client_ids
        self._mi_secret = managed_identity_secret
        self.tokens_issued = 0
        #: Scopes (or MI resources) asked for, refused ones included: what clients request.
        self.scopes_requested: Counter[str] = Counter()
        #: Tokens issued by how the caller proved who it is.
        self.tokens_by_grant: Counter[str] = Counter()
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
        scope = form.get("scope", "")
        self.scopes_requested[scope] += 1
        client_id = form.get("client_id", "")
        if "client_assertion" in form:
            kind = "client_assertion"
            self._check_assertion(form, client_id)
        else:
            kind = "client_secret"
            self._check_secret(form, client_id, tenant)
        audience = self._audience(_audience_of(scope), tenant)
        token, _ = self._mint(tenant, client_id, audience, base_url)
        self.tokens_by_grant[kind] += 1
        log.debug("Issued a token for %s (%s), audience %s", client_id, kind, audience)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": token,
        }

    def issue_managed_identity(
        self, query: dict[str, str], header_secret: str | None, base_url: str
    ) -> dict[str, Any]:
        """Answer an App Service managed identity token request (``GET /msi/token``).

        :param query: the query parameters.
        :param header_secret: the ``X-IDENTITY-HEADER`` value.
        :param base_url: the emulator's base URL (the token's issuer).
        :raises IdentityError: for a wrong secret, an unknown identity or resource.
        """
        tenant = self.identity.tenant_id
        if not self._mi_secret:
            raise IdentityError(404, "The emulator serves no managed identity endpoint.")
        client_id, resource = check_managed_identity_request(
            query, header_secret, self._mi_secret, self.managed_identity_client_ids, tenant
        )
        self.scopes_requested[resource] += 1
        try:
            audience = self._audience(resource.rstrip("/"), tenant)
        except AadError as exc:
            raise IdentityError(400, f"AADSTS{exc.code}: {exc.description}") from None
        token, record = self._mint(tenant, client_id, audience, base_url)
        self.tokens_by_grant["managed_identity"] += 1
        log.debug("Issued a managed identity token for %s, audience %s", client_id, audience)
        return managed_identity_answer(token, record.expires_at, resource, client_id)

    def _check_secret(self, form: dict[str, str], client_id: str, tenant: str) -> None:
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

    def _check_assertion(self, form: dict[str, str], client_id: str) -> None:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise AadError(
                400,
                "invalid_request",
                90023,
                f"client_assertion_type must be '{JWT_BEARER}'.",
            )
        try:
            check_federated_assertion(
                form["client_assertion"], client_id, self.federated, time.time()
            )
        except IdentityError as exc:
            raise AadError(exc.status, exc.aad_error, exc.aad_code, exc.message) from None

    def _audience(self, audience: str, tenant: str) -> str:
        # Entra ID of one cloud knows nothing of another cloud's service principals; other
        # resources (storage...) get tokens, which the APIs then refuse (401), as in Azure.
        if audience.rstrip("/") in _SERVICE_AUDIENCES - self.audiences:
            raise AadError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {audience} was not found in the tenant named "
                f"{tenant}. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You "
                "might have sent your authentication request to the wrong tenant (or cloud).",
            )
        return audience

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

    def check(self, authorization: str | None, audiences: frozenset[str] | None = None) -> None:
        """Accept a request only with a valid, unexpired bearer token of an API audience.

        :param authorization: the ``Authorization`` header.
        :param audiences: the audiences of this route's plane (v2: ARM or ML, contract 1.4),
            checked with ARM's error codes; every API audience of the cloud when ``None``.
        :raises EmulatorError: 401 naming what is wrong (never echoing the token).
        """
        arm = audiences is not None
        accepted = self.audiences if audiences is None else audiences

        def refuse(message: str, arm_code: str) -> EmulatorError:
            return _unauthorized(message, arm_code if arm else "Unauthorized")

        if not authorization:
            raise refuse(
                "The request has no Authorization header; send 'Bearer <token>'",
                "AuthenticationFailed",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise refuse(
                "The Authorization header is not of the form 'Bearer <token>'",
                "AuthenticationFailed",
            )
        record = self._tokens.get(_digest(token.strip()))
        if record is None:
            raise refuse(
                "The access token was not issued by this emulator", "InvalidAuthenticationToken"
            )
        if record.expires_at <= time.time():
            raise refuse(
                "The access token has expired; acquire a new one", "ExpiredAuthenticationToken"
            )
        if record.audience.rstrip("/") not in accepted:
            raise refuse(
                f"The access token's audience '{record.audience}' is not accepted; request "
                f"one of the scopes {sorted(a + DEFAULT_SUFFIX for a in accepted)}",
                "InvalidAuthenticationTokenAudience",
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
    return audience_of_scope(scopes[0])


def _unauthorized(message: str, code: str = "Unauthorized") -> EmulatorError:
    return EmulatorError(
        401, code, message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
