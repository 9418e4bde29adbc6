"""Identities other than the service principal: managed identities and federated credentials.

- **Managed identity**, App Service style (what azure-identity's ``ManagedIdentityCredential``
  uses when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set): ``GET /msi/token`` with
  ``api-version=2019-08-01``, ``resource`` and, for a user-assigned identity, ``client_id``;
  the ``X-IDENTITY-HEADER`` header must carry the endpoint's secret. The answer holds
  ``access_token``, ``expires_on`` (epoch seconds, as text), ``resource``, ``token_type`` and
  ``client_id``. Only the client ids configured here are assigned; a request without one gets
  the system-assigned identity.
- **Workload identity federation**: the token endpoint accepts, instead of a client secret, a
  ``client_assertion`` of type ``urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` for an
  application with a federated credential configured here. The emulator checks the assertion's
  ``iss``, ``sub``, ``aud`` and ``exp`` claims only; it does not check the signature (there is
  no issuer key discovery), so tests may write unsigned assertions.
"""

from __future__ import annotations

import base64
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

#: The audience Entra ID requires in a federated assertion.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The api-version of the App Service managed identity protocol that azure-identity speaks.
MANAGED_IDENTITY_API_VERSION = "2019-08-01"
MANAGED_IDENTITY_PATH = "/msi/token"


class IdentityError(Exception):
    """A refused managed identity or federated request.

    :param status: the HTTP status.
    :param message: what is wrong (never contains a secret).
    :param aad_error: the OAuth ``error`` code, for the token endpoint.
    :param aad_code: the ``AADSTS`` number, for the token endpoint.
    """

    def __init__(self, status: int, message: str, aad_error: str = "", aad_code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.aad_error = aad_error
        self.aad_code = aad_code

    def managed_identity_body(self, correlation_id: str) -> dict[str, Any]:
        """The App Service endpoint's error body."""
        return {"statusCode": self.status, "message": self.message, "correlationId": correlation_id}


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential of an application: which external tokens it trusts.

    :param client_id: the application (client) id the credential belongs to.
    :param issuer: the ``iss`` an assertion must carry (e.g. the cluster's OIDC issuer URL).
    :param subject: the ``sub`` an assertion must carry
        (e.g. ``system:serviceaccount:airflow:worker``).
    :param audience: the ``aud`` an assertion must carry.
    """

    client_id: str
    issuer: str
    subject: str
    audience: str = TOKEN_EXCHANGE_AUDIENCE

    def to_doc(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "issuer": self.issuer,
            "subject": self.subject,
            "audience": self.audience,
        }


def system_assigned_client_id(tenant_id: str) -> str:
    """The client id the emulator gives its system-assigned managed identity."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/system-assigned"))


def check_federated_assertion(
    assertion: str, client_id: str, federated: tuple[FederatedCredential, ...], now: float
) -> None:
    """Accept ``assertion`` for ``client_id`` when a federated credential of it matches.

    :param assertion: the posted ``client_assertion`` (a JWT).
    :param client_id: the posted ``client_id``.
    :param federated: the configured federated credentials.
    :param now: the current time (epoch seconds).
    :raises IdentityError: naming the AADSTS code of the refusal, as Entra ID does.
    """
    mine = [cred for cred in federated if cred.client_id == client_id]
    if not mine:
        raise IdentityError(
            400,
            f"Application with identifier '{client_id}' was not found in the directory, or "
            "has no federated identity credential.",
            "unauthorized_client",
            700016,
        )
    claims = _jwt_claims(assertion)
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    audiences = claims.get("aud", [])
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or expires <= now:
        raise IdentityError(
            400,
            "Client assertion is not within its valid time range (exp is missing or past).",
            "invalid_client",
            700024,
        )
    for cred in mine:
        if cred.issuer == issuer and cred.subject == subject and cred.audience in audiences:
            return
    raise IdentityError(
        400,
        "No matching federated identity record found for presented assertion. Assertion "
        f"Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: "
        f"'{','.join(map(str, audiences))}'.",
        "invalid_client",
        70021,
    )


def check_managed_identity_request(
    query: dict[str, str],
    header_secret: str | None,
    expected_secret: str,
    client_ids: tuple[str, ...],
    tenant_id: str,
) -> tuple[str, str]:
    """Validate an App Service managed identity token request.

    Returns the identity's client id and the requested resource.

    :param query: the query parameters.
    :param header_secret: the ``X-IDENTITY-HEADER`` value.
    :param expected_secret: the endpoint's secret (``IDENTITY_HEADER``).
    :param client_ids: the user-assigned identities' client ids.
    :param tenant_id: the tenant (for the system-assigned identity's id).
    :raises IdentityError: for a missing secret, api-version, resource or an unknown identity.
    """
    if not header_secret or not hmac.compare_digest(header_secret, expected_secret):
        raise IdentityError(401, "The X-IDENTITY-HEADER header is missing or wrong.")
    version = query.get("api-version", "")
    if version != MANAGED_IDENTITY_API_VERSION:
        raise IdentityError(
            400, f"api-version '{version}' is not supported; use {MANAGED_IDENTITY_API_VERSION}."
        )
    resource = query.get("resource", "")
    if not resource:
        raise IdentityError(400, "The resource query parameter is required.")
    for unsupported in ("mi_res_id", "object_id", "principal_id"):
        if unsupported in query:
            raise IdentityError(
                400,
                f"'{unsupported}' is not supported by the emulator; select the identity "
                "by client_id.",
            )
    client_id = query.get("client_id")
    if client_id is None:
        return system_assigned_client_id(tenant_id), resource
    if client_id not in client_ids:
        raise IdentityError(
            400,
            f"Unable to load the proper Managed Identity: no user-assigned identity with "
            f"client_id '{client_id}' is assigned to this resource.",
        )
    return client_id, resource


def managed_identity_answer(
    token: str, expires_at: float, resource: str, client_id: str
) -> dict[str, Any]:
    """The App Service endpoint's answer (``expires_on`` is text there, not a number)."""
    return {
        "access_token": token,
        "expires_on": str(int(expires_at)),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    }


def _jwt_claims(assertion: str) -> dict[str, Any]:
    parts = assertion.strip().split(".")
    if len(parts) != 3:
        raise IdentityError(
            400,
            "The client assertion is not a JWT (three dot-separated parts).",
            "invalid_client",
            50027,
        )
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise IdentityError(
            400, "The client assertion's claims are not a JSON object.", "invalid_client", 50027
        )
    return claims
