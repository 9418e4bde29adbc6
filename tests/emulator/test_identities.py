"""The emulator's managed identity endpoint and cloud audiences, spoken to with raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.identities import system_assigned_client_id
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

MI_CLIENT_ID = "5a1e0000-0000-4000-8000-0000000000a1"
CHINA_ARM = "https://management.chinacloudapi.cn"


@pytest.fixture(scope="module")
def china(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator-mi"),
        extra_args=["--cloud", "AzureChinaCloud", "--managed-identity-client-id", MI_CLIENT_ID],
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def mi_get(emulator: EmulatorProcess, header: str | None = None, **params: str) -> Any:
    endpoint = emulator.manifest["managed_identity"]
    query = {"api-version": "2019-08-01", "resource": CHINA_ARM, **params}
    secret = endpoint["header"] if header is None else header
    return requests.get(
        endpoint["endpoint"],
        params=query,
        headers={"X-IDENTITY-HEADER": secret},
        verify=emulator.ca_bundle,
        timeout=30,
    )


def list_pipelines(emulator: EmulatorProcess, token: str) -> requests.Response:
    path = routes.PIPELINE_LIST.format(
        subscription_id=emulator.manifest["subscription_id"],
        resource_group=emulator.manifest["resource_group"],
        workspace_name=emulator.manifest["workspace_name"],
    )
    return requests.get(
        emulator.base_url + path,
        headers={"Authorization": f"Bearer {token}"},
        verify=emulator.ca_bundle,
        timeout=30,
    )


def test_a_user_assigned_identity_gets_a_token_the_api_accepts(china: EmulatorProcess) -> None:
    answer = mi_get(china, client_id=MI_CLIENT_ID)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["client_id"] == MI_CLIENT_ID and body["resource"] == CHINA_ARM
    assert isinstance(body["expires_on"], str) and body["expires_on"].isdigit()
    assert list_pipelines(china, body["access_token"]).status_code == 200


def test_without_client_id_the_system_assigned_identity_answers(china: EmulatorProcess) -> None:
    body = mi_get(china).json()
    assert body["client_id"] == system_assigned_client_id(china.manifest["tenant_id"])


@pytest.mark.parametrize(
    ("header", "params", "status", "words"),
    [
        ("wrong-secret", {}, 401, "X-IDENTITY-HEADER"),
        (None, {"api-version": "2018-02-01"}, 400, "2019-08-01"),
        (None, {"client_id": "not-assigned"}, 400, "Unable to load the proper Managed Identity"),
        (None, {"mi_res_id": "/subscriptions/x"}, 400, "client_id"),
        (None, {"resource": "https://management.azure.com"}, 400, "AADSTS500011"),
    ],
)
def test_refusals_name_the_problem(
    china: EmulatorProcess, header: str | None, params: dict[str, str], status: int, words: str
) -> None:
    issued = china.stats()["tokens_issued"]
    answer = mi_get(china, header, **params)
    assert answer.status_code == status
    assert words in answer.json()["message"]
    assert china.stats()["tokens_issued"] == issued


def test_the_token_endpoint_refuses_another_clouds_service_but_not_other_resources(
    china: EmulatorProcess,
) -> None:
    manifest = china.manifest
    url = f"{manifest['base_url']}/{manifest['tenant_id']}/oauth2/v2.0/token"

    def token(scope: str) -> requests.Response:
        form = {
            "grant_type": "client_credentials",
            "client_id": manifest["client_id"],
            "client_secret": manifest["client_secret"],
            "scope": scope,
        }
        return requests.post(url, data=form, verify=china.ca_bundle, timeout=30)

    public = token("https://management.azure.com/.default")
    assert public.status_code == 400
    assert public.json()["error"] == "invalid_resource"
    assert public.json()["error_codes"] == [500011]
    # Another resource of the tenant gets a token, which the service then refuses (401).
    storage = token("https://storage.azure.cn/.default")
    assert storage.status_code == 200
    assert list_pipelines(china, storage.json()["access_token"]).status_code == 401
    china_token = token(f"{CHINA_ARM}/.default")
    assert list_pipelines(china, china_token.json()["access_token"]).status_code == 200
    scopes = china.stats()["token_scopes"]
    assert scopes["https://management.azure.com/.default"] >= 1
