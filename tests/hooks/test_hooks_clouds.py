"""Sovereign clouds: the ``cloud`` extra sets authority, token scope, service host and studio.

The pure tests resolve settings from real Airflow connections; the emulator tests start an
emulator that emulates the China cloud (``--cloud AzureChinaCloud``: its token endpoint issues
tokens only for China audiences and answers AADSTS500011 otherwise, as Entra ID does) and
count the scopes that reached its token endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import BaseHook
from airflow_provider_mlpipelines.api.clouds import normalize_region
from airflow_provider_mlpipelines.clients.core.credentials import (
    _credential_options as credential_options,
)
from airflow_provider_mlpipelines.clients.core.settings import (
    ConnectionSettings,
    settings_from_connection,
)
from airflow_provider_mlpipelines.emulator.app import SERVICE_ROUTES
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAuthenticationError,
    AzureMLInvalidInputError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)
from tests.v2_helpers import v2_conn_json

WORKSPACE = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}
CHINA_SCOPE = "https://management.chinacloudapi.cn/.default"
PUBLIC_SCOPE = "https://management.azure.com/.default"


def settings_for(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> ConnectionSettings:
    fields.setdefault("conn_type", "azure_ml_pipelines")
    monkeypatch.setenv("AIRFLOW_CONN_AML_CLOUD", json.dumps(fields))
    return settings_from_connection(BaseHook.get_connection("aml_cloud"))


@pytest.mark.parametrize(
    ("cloud", "authority", "scope", "base_url", "studio"),
    [
        (
            None,
            None,  # azure-identity's own default, the public authority
            PUBLIC_SCOPE,
            "https://westeurope.api.azureml.ms",
            "https://ml.azure.com",
        ),
        (
            "AzureChinaCloud",
            "https://login.chinacloudapi.cn",
            CHINA_SCOPE,
            "https://chinaeast2.api.ml.azure.cn",
            "https://studio.ml.azure.cn",
        ),
        (
            "azureusgovernment",  # names are matched case-insensitively
            "https://login.microsoftonline.us",
            "https://management.usgovcloudapi.net/.default",
            "https://usgovvirginia.api.ml.azure.us",
            "https://ml.azure.us",
        ),
    ],
)
def test_the_cloud_sets_authority_scope_host_and_studio_together(
    monkeypatch: pytest.MonkeyPatch,
    cloud: str | None,
    authority: str | None,
    scope: str,
    base_url: str,
    studio: str,
) -> None:
    region = base_url.split("//")[1].split(".", maxsplit=1)[0]
    extra = {**WORKSPACE, "region": region, **({"cloud": cloud} if cloud else {})}
    settings = settings_for(monkeypatch, extra=extra)
    assert settings.authority_host == authority
    assert settings.token_scope == scope
    assert settings.base_url == base_url
    assert settings.studio_url == studio


def test_each_cloud_setting_can_be_overridden_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(
        monkeypatch,
        extra={
            **WORKSPACE,
            "cloud": "AzureChinaCloud",
            "region": "chinanorth3",
            "authority_host": "https://login.partner.example",
            "token_scope": "https://management.core.chinacloudapi.cn//.default",
            "studio_url": "https://studio.example/",
        },
    )
    assert settings.authority_host == "https://login.partner.example"
    assert settings.token_scope == "https://management.core.chinacloudapi.cn//.default"
    assert settings.studio_url == "https://studio.example"
    # Not overridden: still the China cloud's.
    assert settings.base_url == "https://chinanorth3.api.ml.azure.cn"


def test_a_private_link_host_is_used_unchanged_in_any_cloud(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = "https://ws-guid.workspace.chinaeast2.privatelink.api.ml.azure.cn/prefix"
    settings = settings_for(
        monkeypatch, host=host, extra={**WORKSPACE, "cloud": "AzureChinaCloud", "region": "x"}
    )
    assert settings.base_url == host
    assert settings.token_scope == CHINA_SCOPE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("West Europe", "westeurope"),
        ("westeurope", "westeurope"),
        ("WestEurope", "westeurope"),
        ("  East US 2 ", "eastus2"),
        ("china-east-2", "chinaeast2"),
        ("west/europe", None),
        ("2east", None),
    ],
)
def test_region_names_are_normalised(given: str, expected: str | None) -> None:
    assert normalize_region(given) == expected


def test_a_display_region_name_gives_the_regional_host(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(monkeypatch, extra={**WORKSPACE, "region": "West Europe"})
    assert settings.base_url == "https://westeurope.api.azureml.ms"
    assert settings.region == "westeurope"


@pytest.mark.parametrize(
    ("extra", "field", "hint"),
    [
        (
            {"cloud": "AzureGermanCloud"},
            "cloud",
            "'AzureChinaCloud', 'AzureCloud', 'AzureUSGovernment'",
        ),
        ({"region": "west/europe"}, "region", "'westeurope'"),
        ({"token_scope": "https://management.azure.com"}, "token_scope", "/.default"),
        ({"token_scope": "a/.default b/.default"}, "token_scope", "one resource scope"),
    ],
)
def test_invalid_cloud_settings_name_the_field_and_the_valid_values(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], field: str, hint: str
) -> None:
    with pytest.raises(AzureMLInvalidInputError) as raised:
        settings_for(monkeypatch, host="h", extra={**WORKSPACE, **extra})
    assert f"'{field}'" in str(raised.value)
    assert hint in str(raised.value)


def test_the_cloud_authority_is_what_the_credential_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(
        monkeypatch,
        extra={**WORKSPACE, "cloud": "AzureUSGovernment", "region": "usgovarizona"},
    )
    options = credential_options(settings)
    assert options["authority"] == "https://login.microsoftonline.us"


# --------------------------------------------------------------------------------------------
# Against an emulator of the China cloud
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def china_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator-china"), extra_args=["--cloud", "AzureChinaCloud"]
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def token_scopes(emulator: EmulatorProcess) -> dict[str, int]:
    return dict(emulator.stats()["token_scopes"])


def service_calls(stats: dict[str, Any]) -> int:
    """How many pipelines and history API requests the emulator received."""
    names = {route.name for route, _ in SERVICE_ROUTES}
    return sum(count for name, count in stats["requests"].items() if name in names)


def test_the_china_emulator_issues_only_china_audiences(china_emulator: EmulatorProcess) -> None:
    manifest = china_emulator.manifest
    assert manifest["cloud"] == "AzureChinaCloud"
    assert manifest["token_scope"] == CHINA_SCOPE
    assert manifest["airflow_conn"]["extra"]["cloud"] == "AzureChinaCloud"


def test_a_china_connection_requests_the_china_scope(
    china_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    before = token_scopes(china_emulator)
    run_id = china_emulator.manifest["pipeline_runs"]["simulated"]
    # Host and authority point at the emulator; everything else comes from cloud=AzureChinaCloud.
    conn_id = make_conn(china_emulator, cloud="AzureChinaCloud", studio_url=None)
    with AzureMLPipelinesHook(conn_id) as hook:
        pipeline = hook.publish_pipeline_from_run(run_id, name="china-cloud", version="1")
        submission = hook.build_submission(
            experiment_name="china-cloud", parameters={"duration_seconds": 0.1}
        )
        run = hook.submit_pipeline_run(pipeline.id, submission)
        assert hook.get_run_url(run.id).startswith(f"https://studio.ml.azure.cn/runs/{run.id}?")
    after = token_scopes(china_emulator)
    assert after.get(CHINA_SCOPE, 0) == before.get(CHINA_SCOPE, 0) + 1
    assert after.get(PUBLIC_SCOPE, 0) == before.get(PUBLIC_SCOPE, 0)


async def test_the_async_hook_requests_the_china_scope_too(
    china_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    before = token_scopes(china_emulator).get(CHINA_SCOPE, 0)
    conn_id = make_conn(china_emulator, cloud="AzureChinaCloud")
    async with AzureMLPipelinesAsyncHook(conn_id) as hook:
        run = await hook.get_pipeline_run(china_emulator.manifest["pipeline_runs"]["simulated"])
    assert run.status.is_terminal
    assert token_scopes(china_emulator).get(CHINA_SCOPE, 0) == before + 1


def test_the_public_scope_is_refused_by_the_china_cloud_before_any_call(
    china_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    # The defect this guards against: a China user who sets host and authority but not the
    # cloud (or a provider that ignores it) asks for the public scope and gets AADSTS500011.
    before = china_emulator.stats()
    conn_id = make_conn(china_emulator, cloud=None)
    with AzureMLPipelinesHook(conn_id) as hook, pytest.raises(AzureMLAuthenticationError) as raised:
        hook.list_published_pipelines()
    assert "AADSTS500011" in str(raised.value)
    after = china_emulator.stats()
    assert after["token_scopes"].get(PUBLIC_SCOPE, 0) > before["token_scopes"].get(PUBLIC_SCOPE, 0)
    assert after["tokens_issued"] == before["tokens_issued"]
    assert service_calls(after) == service_calls(before)


def test_a_token_scope_override_is_what_is_requested(
    china_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    classic = "https://management.core.chinacloudapi.cn//.default"
    before = token_scopes(china_emulator).get(classic, 0)
    conn_id = make_conn(china_emulator, cloud="AzureChinaCloud", token_scope=classic)
    with AzureMLPipelinesHook(conn_id) as hook:
        hook.list_published_pipelines()
    assert token_scopes(china_emulator).get(classic, 0) == before + 1


def test_a_v2_connection_in_the_china_cloud_asks_for_both_china_audiences(
    china_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # v2 needs two tokens: Azure Resource Manager (management) and Azure ML (invoke, job
    # header). Both must follow the cloud, or a China user gets AADSTS500011 on the second.
    china_ml, public_ml = "https://ml.azure.cn/.default", "https://ml.azure.com/.default"
    before = token_scopes(china_emulator)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AML_V2_CHINA", v2_conn_json(china_emulator, cloud="AzureChinaCloud")
    )
    with AzureMLPipelinesHook("aml_v2_china") as hook:
        assert hook.settings.api == "v2"
        ok, message = hook.test_connection()
    assert ok, message
    after = token_scopes(china_emulator)
    assert after.get(CHINA_SCOPE, 0) == before.get(CHINA_SCOPE, 0) + 1
    assert after.get(china_ml, 0) == before.get(china_ml, 0) + 1
    for public in (PUBLIC_SCOPE, public_ml):
        assert after.get(public, 0) == before.get(public, 0)
