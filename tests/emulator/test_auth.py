"""The token endpoint with azure-identity's real credentials, and bearer checks of the APIs."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess


def _credential(manifest: dict[str, Any], **overrides: str) -> ClientSecretCredential:
    values = {
        "tenant_id": manifest["tenant_id"],
        "client_id": manifest["client_id"],
        "client_secret": manifest["client_secret"],
        **overrides,
    }
    return ClientSecretCredential(
        **values,
        authority=manifest["base_url"],
        disable_instance_discovery=True,
        connection_verify=manifest["ca_bundle"],
    )


def _token_post(
    manifest: dict[str, Any], tenant: str | None = None, **form: str
) -> requests.Response:
    fields = {
        "grant_type": "client_credentials",
        "client_id": manifest["client_id"],
        "client_secret": manifest["client_secret"],
        "scope": routes.ARM_SCOPE,
        **form,
    }
    url = f"{manifest['base_url']}/{tenant or manifest['tenant_id']}/oauth2/v2.0/token"
    return requests.post(url, data=fields, verify=manifest["ca_bundle"], timeout=30)


def test_sync_credential_gets_a_jwt_shaped_token_that_the_api_accepts(api: ApiClient) -> None:
    credential = _credential(api.manifest)
    token = credential.get_token(routes.ARM_SCOPE)
    parts = token.token.split(".")
    assert len(parts) == 3
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    assert claims["aud"] == "https://management.azure.com"
    assert claims["tid"] == api.manifest["tenant_id"]
    assert token.expires_on > time.time() + 3000
    response = api.request(routes.PIPELINE_LIST, token=token.token)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


async def test_async_credential_gets_a_token(api: ApiClient) -> None:
    manifest = api.manifest
    async with AsyncClientSecretCredential(
        manifest["tenant_id"],
        manifest["client_id"],
        manifest["client_secret"],
        authority=manifest["base_url"],
        disable_instance_discovery=True,
        connection_verify=manifest["ca_bundle"],
    ) as credential:
        token = await credential.get_token("https://management.core.windows.net//.default")
    assert api.request(routes.PIPELINE_LIST, token=token.token).status_code == 200


def test_openid_configuration_names_the_endpoints(api: ApiClient) -> None:
    tenant = api.manifest["tenant_id"]
    document = api.get(f"/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == f"{api.base_url}/{tenant}/oauth2/v2.0/token"
    assert document["issuer"] == f"{api.base_url}/{tenant}/v2.0"
    assert document["authorization_endpoint"].startswith(api.base_url)
    assert api.get(document["jwks_uri"].removeprefix(api.base_url)).json() == {"keys": []}
    unknown = api.get("/other-tenant/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_tenant"


def test_wrong_secret_fails_without_revealing_it(api: ApiClient) -> None:
    wrong = "not-the-secret-123"
    with pytest.raises(ClientAuthenticationError) as info:
        _credential(api.manifest, client_secret=wrong).get_token(routes.ARM_SCOPE)
    assert "7000215" in str(info.value)
    assert wrong not in str(info.value)
    response = _token_post(api.manifest, client_secret=wrong)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert wrong not in response.text


@pytest.mark.parametrize(
    ("tenant", "form", "status", "error"),
    [
        (None, {"client_id": "someone-else"}, 400, "unauthorized_client"),
        ("another-tenant", {}, 400, "invalid_tenant"),
        (None, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (None, {"scope": "https://management.azure.com/user_impersonation"}, 400, "invalid_scope"),
    ],
)
def test_token_endpoint_errors_are_aad_shaped(
    api: ApiClient, tenant: str | None, form: dict[str, str], status: int, error: str
) -> None:
    response = _token_post(api.manifest, tenant, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith("AADSTS")
    assert api.manifest["client_secret"] not in response.text


def test_api_without_token_is_401_with_the_contract_body(api: ApiClient) -> None:
    response = api.request(routes.PIPELINE_LIST, token=None)
    assert response.status_code == 401
    body = response.json()
    assert body["Error"]["Code"] == "Unauthorized"
    assert "Authorization" in body["Error"]["Message"]
    assert body["Correlation"]["RequestId"] == response.headers["x-ms-request-id"]
    assert response.headers["x-request-id"] == response.headers["x-ms-request-id"]


def test_unknown_token_is_401_and_history_errors_are_camel_case(api: ApiClient) -> None:
    forged = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.forged"
    response = api.request(routes.HISTORY_RUN, token=forged, run_id="x")
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "Unauthorized"
    assert "not issued by this emulator" in body["error"]["message"]
    assert forged not in response.text
    malformed = api.session.get(
        api.url(routes.PIPELINE_LIST),
        headers={"Authorization": "Basic abc"},
        verify=api.ca,
        timeout=30,
    )
    assert malformed.status_code == 401


def test_token_for_another_audience_is_refused(api: ApiClient) -> None:
    storage = _credential(api.manifest).get_token("https://storage.azure.com/.default").token
    response = api.request(routes.PIPELINE_LIST, token=storage)
    assert response.status_code == 401
    assert "audience" in response.json()["Error"]["Message"]


def test_tokens_expire_and_a_new_one_works(emulator_factory: Any, client_for: Any) -> None:
    process: EmulatorProcess = emulator_factory(token_lifetime=2)
    client = client_for(process)
    issued_before = process.stats()["tokens_issued"]
    first = client.token()
    assert client.request(routes.PIPELINE_LIST, token=first).status_code == 200
    # Poll until the emulator refuses it (a 2 s lifetime), rather than sleep past it.
    deadline = time.monotonic() + 30
    while (expired := client.request(routes.PIPELINE_LIST, token=first)).status_code == 200:
        assert time.monotonic() < deadline, "the token was still accepted after 30 s"
        time.sleep(0.1)
    assert expired.status_code == 401
    assert "expired" in expired.json()["Error"]["Message"]
    second = client.token()
    assert second != first
    assert client.request(routes.PIPELINE_LIST, token=second).status_code == 200
    assert process.stats()["tokens_issued"] == issued_before + 2
