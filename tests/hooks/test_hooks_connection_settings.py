"""Connection parsing and credential construction: real Airflow connections, no server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import BaseHook
from airflow_provider_mlpipelines.clients.core.credentials import build_credential
from airflow_provider_mlpipelines.clients.core.settings import (
    ConnectionSettings,
    settings_from_connection,
)
from airflow_provider_mlpipelines.exceptions import AzureMLConnectionConfigError
from airflow_provider_mlpipelines.get_provider_info import CONNECTION_UI_BEHAVIOUR
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

SECRET = "s3cr3t-value-never-shown"
WORKSPACE = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}


def env_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> Any:
    """Register ``conn_id`` as an ``AIRFLOW_CONN_*`` JSON variable and read it back."""
    fields.setdefault("conn_type", "azure_ml_pipelines")
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
    return BaseHook.get_connection(conn_id)


def settings_for(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> ConnectionSettings:
    return settings_from_connection(env_connection(monkeypatch, "aml_test", **fields))


def service_principal(**extra: Any) -> dict[str, Any]:
    return {
        "login": "client-id",
        "password": SECRET,
        "host": "https://westeurope.api.azureml.ms",
        "extra": {**WORKSPACE, "tenant_id": "tenant", **extra},
    }


def test_full_connection_with_string_values(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(
        monkeypatch,
        **service_principal(
            max_retries="7",
            retry_backoff_seconds="0.5",
            request_timeout_seconds="12",
            workload_identity="false",
            studio_url="https://studio.example/",
            authority_host="login.example",
        ),
    )
    assert settings.conn_id == "aml_test"
    assert settings.workspace == WORKSPACE
    assert settings.base_url == "https://westeurope.api.azureml.ms"
    assert (settings.max_retries, settings.retry_backoff_seconds) == (7, 0.5)
    assert settings.request_timeout_seconds == 12.0
    assert settings.workload_identity is False
    assert settings.studio_url == "https://studio.example"
    assert settings.authority_host == "https://login.example"
    assert settings.credential_kind == "client_secret"
    assert settings.verify is True


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(monkeypatch, extra={**WORKSPACE, "region": "WestEurope"})
    assert settings.base_url == "https://westeurope.api.azureml.ms"
    assert settings.studio_url == "https://ml.azure.com"
    assert (settings.max_retries, settings.retry_backoff_seconds) == (5, 1.0)
    assert settings.request_timeout_seconds == 60.0
    assert settings.credential_kind == "default"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("myhost.example", None, "https://myhost.example"),
        ("https://myhost.example/prefix/", None, "https://myhost.example/prefix"),
        ("127.0.0.1", 8443, "https://127.0.0.1:8443"),
        ("http://127.0.0.1:9000", None, "http://127.0.0.1:9000"),
        ("http://localhost:9000", None, "http://localhost:9000"),
    ],
)
def test_host_forms(
    monkeypatch: pytest.MonkeyPatch, host: str, port: int | None, expected: str
) -> None:
    settings = settings_for(monkeypatch, host=host, port=port, extra=WORKSPACE)
    assert settings.base_url == expected


def test_host_wins_over_region(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(
        monkeypatch, host="https://api.ml.azure.cn", extra={**WORKSPACE, "region": "x"}
    )
    assert settings.base_url == "https://api.ml.azure.cn"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {"host": "h", "extra": {"resource_group": "rg", "workspace_name": "ws"}},
            "subscription_id",
        ),
        (
            {"host": "h", "extra": {"subscription_id": "s", "workspace_name": "ws"}},
            "resource_group",
        ),
        (
            {"host": "h", "extra": {"subscription_id": "s", "resource_group": "rg"}},
            "workspace_name",
        ),
        ({"extra": WORKSPACE}, "host"),
        ({"host": "http://example.com", "extra": WORKSPACE}, "host"),
        ({"host": "ftp://example.com", "extra": WORKSPACE}, "host"),
        ({"host": "h", "extra": {**WORKSPACE, "max_retries": "many"}}, "max_retries"),
        ({"host": "h", "extra": {**WORKSPACE, "max_retries": "-1"}}, "max_retries"),
        ({"host": "h", "extra": {**WORKSPACE, "request_timeout_seconds": "0"}}, "request_timeout"),
        ({"host": "h", "extra": {**WORKSPACE, "workload_identity": "maybe"}}, "workload_identity"),
        ({"host": "h", "extra": {**WORKSPACE, "authority_host": "http://x"}}, "authority_host"),
        ({"host": "h", "login": "id", "password": SECRET, "extra": WORKSPACE}, "tenant_id"),
        ({"host": "h", "login": "id", "extra": WORKSPACE}, "password"),
    ],
)
def test_invalid_connections_name_the_field_and_the_connection(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(AzureMLConnectionConfigError) as raised:
        settings_for(monkeypatch, **fields)
    assert named in str(raised.value)
    assert "'aml_test'" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_hook_arguments_override_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    env_connection(monkeypatch, "aml_over", **service_principal(max_retries=9))
    hook = AzureMLPipelinesHook("aml_over", max_retries=1, retry_backoff=0.1, request_timeout=3)
    settings = hook.settings
    assert (settings.max_retries, settings.retry_backoff_seconds) == (1, 0.1)
    assert settings.request_timeout_seconds == 3.0
    assert settings.retry_policy.max_retries == 1


def test_secret_is_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    env_connection(monkeypatch, "aml_repr", **service_principal())
    hook = AzureMLPipelinesHook("aml_repr")
    assert SECRET not in repr(hook.settings)
    assert SECRET not in repr(hook)
    assert SECRET not in repr(hook.tokens)


@pytest.fixture
def workload_identity_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """What a Kubernetes pod with workload identity has: a federated token file."""
    token_file = tmp_path / "federated-token"
    token_file.write_text("header.payload.signature")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_CLIENT_ID", "workload-client")


@pytest.mark.parametrize(
    ("fields", "kind", "class_name"),
    [
        (service_principal(), "client_secret", "ClientSecretCredential"),
        (
            {"host": "h", "extra": {**WORKSPACE, "workload_identity": "true", "tenant_id": "t"}},
            "workload_identity",
            "WorkloadIdentityCredential",
        ),
        (
            {"host": "h", "extra": {**WORKSPACE, "managed_identity_client_id": "mi"}},
            "managed_identity",
            "ManagedIdentityCredential",
        ),
        ({"host": "h", "extra": WORKSPACE}, "default", "DefaultAzureCredential"),
    ],
)
@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.usefixtures("workload_identity_environment")
async def test_credential_order(
    monkeypatch: pytest.MonkeyPatch,
    fields: dict[str, Any],
    kind: str,
    class_name: str,
    asynchronous: bool,
) -> None:
    settings = settings_for(monkeypatch, **fields)
    assert settings.credential_kind == kind
    credential = build_credential(settings, asynchronous=asynchronous)
    try:
        assert type(credential).__name__ == class_name
        expected_module = "azure.identity.aio" if asynchronous else "azure.identity"
        assert type(credential).__module__.startswith(expected_module)
        assert asynchronous == type(credential).__module__.startswith("azure.identity.aio")
    finally:
        if asynchronous:
            await credential.close()
        else:
            credential.close()


def test_ui_field_behaviour_is_the_declared_one() -> None:
    assert AzureMLPipelinesHook.get_ui_field_behaviour() is CONNECTION_UI_BEHAVIOUR
    assert AzureMLPipelinesHook.conn_type == "azure_ml_pipelines"
    assert AzureMLPipelinesHook.default_conn_name == "azure_ml_pipelines_default"
    assert AzureMLPipelinesHook.conn_name_attr == "azure_ml_pipelines_conn_id"


def test_form_widgets_cover_every_extra_field() -> None:
    pytest.importorskip("wtforms", reason="Airflow 2.11's connection form needs wtforms")
    pytest.importorskip("flask_appbuilder")
    from airflow_provider_mlpipelines.get_provider_info import CONNECTION_EXTRA_FIELDS

    widgets = AzureMLPipelinesHook.get_connection_form_widgets()
    assert set(widgets) == set(CONNECTION_EXTRA_FIELDS)


def test_importing_the_hook_module_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_mlpipelines.hooks.azure_ml_pipelines;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp',) "
        "or m.startswith('azure.identity')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
