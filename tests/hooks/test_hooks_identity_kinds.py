"""Managed identity and workload identity really obtain tokens, from the emulator.

The emulator is started with one user-assigned managed identity (served by its App
Service-style endpoint, which azure-identity's ``ManagedIdentityCredential`` finds through
``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``) and one federated credential (the token endpoint
accepts a ``client_assertion`` whose issuer and subject match, which is what
``WorkloadIdentityCredential`` sends from ``AZURE_FEDERATED_TOKEN_FILE``). Each test counts the
tokens the emulator issued per grant, so a hook that fell back to another credential fails.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.app import SERVICE_ROUTES
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import AzureMLAuthenticationError
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)

MI_CLIENT_ID = "5a1e0000-0000-4000-8000-0000000000a1"
WI_CLIENT_ID = "5a1e0000-0000-4000-8000-0000000000b2"
ISSUER = "https://oidc.aks.example/7e1a-cluster/"
SUBJECT = "system:serviceaccount:airflow:airflow-worker"
IDENTITY_ENV = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
)


@pytest.fixture(scope="module")
def identity_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator-identities"),
        extra_args=[
            "--managed-identity-client-id",
            MI_CLIENT_ID,
            "--federated-credential",
            WI_CLIENT_ID,
            ISSUER,
            SUBJECT,
        ],
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _clean_identity_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only what each test sets may steer azure-identity.
    for name in IDENTITY_ENV:
        monkeypatch.delenv(name, raising=False)


def grants(emulator: EmulatorProcess) -> dict[str, int]:
    return dict(emulator.stats()["tokens_by_grant"])


def service_calls(emulator: EmulatorProcess) -> int:
    names = {route.name for route, _ in SERVICE_ROUTES}
    return sum(n for name, n in emulator.stats()["requests"].items() if name in names)


def publish_and_submit(hook: AzureMLPipelinesHook, emulator: EmulatorProcess, name: str) -> str:
    """Publish the seed run of ``simulated`` and submit a run of it; returns the run id."""
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    pipeline = hook.publish_pipeline_from_run(run_id, name=name, version="1")
    submission = hook.build_submission(experiment_name=name, parameters={"duration_seconds": 0.1})
    return hook.submit_pipeline_run(pipeline.id, submission).id


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.unsigned"


# --------------------------------------------------------------------------------------------
# Managed identity
# --------------------------------------------------------------------------------------------
@pytest.fixture
def managed_identity_env(
    identity_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """What App Service gives a process: the endpoint and its secret header."""
    endpoint = identity_emulator.manifest["managed_identity"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint["endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", endpoint["header"])
    return endpoint


def mi_conn(make_conn: Callable[..., str], emulator: EmulatorProcess, client_id: str) -> str:
    return make_conn(
        emulator,
        login=None,
        password=None,
        authority_host=None,
        managed_identity_client_id=client_id,
    )


@pytest.mark.usefixtures("managed_identity_env")
def test_managed_identity_publishes_and_submits(
    identity_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    before = grants(identity_emulator)
    conn_id = mi_conn(make_conn, identity_emulator, MI_CLIENT_ID)
    with AzureMLPipelinesHook(conn_id) as hook:
        assert hook.settings.credential_kind == "managed_identity"
        run_id = publish_and_submit(hook, identity_emulator, "mi-sync")
        assert hook.get_pipeline_run(run_id).id == run_id
    after = grants(identity_emulator)
    assert after.get("managed_identity", 0) == before.get("managed_identity", 0) + 1
    assert after.get("client_secret", 0) == before.get("client_secret", 0)


@pytest.mark.usefixtures("managed_identity_env")
async def test_managed_identity_async(
    identity_emulator: EmulatorProcess, make_conn: Callable[..., str]
) -> None:
    before = grants(identity_emulator).get("managed_identity", 0)
    conn_id = mi_conn(make_conn, identity_emulator, MI_CLIENT_ID)
    async with AzureMLPipelinesAsyncHook(conn_id) as hook:
        run = await hook.get_pipeline_run(identity_emulator.manifest["pipeline_runs"]["simulated"])
    assert run.status.is_terminal
    assert grants(identity_emulator).get("managed_identity", 0) == before + 1


@pytest.mark.usefixtures("managed_identity_env")
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_an_unassigned_managed_identity_is_refused_before_any_call(
    identity_emulator: EmulatorProcess, make_conn: Callable[..., str], asynchronous: bool
) -> None:
    wrong = "5a1e0000-0000-4000-8000-00000000dead"
    calls, issued = service_calls(identity_emulator), identity_emulator.stats()["tokens_issued"]
    conn_id = mi_conn(make_conn, identity_emulator, wrong)
    with pytest.raises(AzureMLAuthenticationError) as raised:
        if asynchronous:
            async with AzureMLPipelinesAsyncHook(conn_id) as async_hook:
                await async_hook.get_pipeline_run("any-run")
        else:
            with AzureMLPipelinesHook(conn_id) as hook:
                publish_and_submit(hook, identity_emulator, "mi-wrong")
    text = str(raised.value)
    assert "managed_identity credential" in text
    assert "Unable to load the proper Managed Identity" in text and wrong in text
    assert service_calls(identity_emulator) == calls
    assert identity_emulator.stats()["tokens_issued"] == issued


# --------------------------------------------------------------------------------------------
# Workload identity
# --------------------------------------------------------------------------------------------
@pytest.fixture
def federated_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write the projected service account token a pod would have, and point at it."""

    def write(**claims: Any) -> Path:
        now = int(time.time())
        doc = {"iss": ISSUER, "sub": SUBJECT, "aud": ["api://AzureADTokenExchange"]}
        doc.update(iat=now, nbf=now, exp=now + 3600)
        doc.update(claims)
        path = tmp_path / "azure-identity-token"
        path.write_text(unsigned_jwt(doc))
        monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(path))
        return path

    return write


def wi_conn(
    make_conn: Callable[..., str],
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    *,
    tenant_id: str | None = None,
    client_id: str = WI_CLIENT_ID,
) -> str:
    # As on AKS: the webhook sets AZURE_CLIENT_ID and AZURE_TENANT_ID; the connection says
    # "workload identity" and where the authority is.
    monkeypatch.setenv("AZURE_CLIENT_ID", client_id)
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.manifest["tenant_id"])
    return make_conn(
        emulator,
        login=None,
        password=None,
        tenant_id=tenant_id,
        workload_identity=True,
    )


def test_workload_identity_publishes_and_submits(
    identity_emulator: EmulatorProcess,
    make_conn: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    federated_token: Callable[..., Path],
) -> None:
    federated_token()
    before = grants(identity_emulator)
    conn_id = wi_conn(make_conn, identity_emulator, monkeypatch)
    with AzureMLPipelinesHook(conn_id) as hook:
        assert hook.settings.credential_kind == "workload_identity"
        run_id = publish_and_submit(hook, identity_emulator, "wi-sync")
        assert hook.get_pipeline_run(run_id).id == run_id
    after = grants(identity_emulator)
    assert after.get("client_assertion", 0) == before.get("client_assertion", 0) + 1
    assert after.get("client_secret", 0) == before.get("client_secret", 0)


async def test_workload_identity_async(
    identity_emulator: EmulatorProcess,
    make_conn: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    federated_token: Callable[..., Path],
) -> None:
    federated_token()
    before = grants(identity_emulator).get("client_assertion", 0)
    conn_id = wi_conn(make_conn, identity_emulator, monkeypatch)
    async with AzureMLPipelinesAsyncHook(conn_id) as hook:
        run = await hook.get_pipeline_run(identity_emulator.manifest["pipeline_runs"]["simulated"])
    assert run.status.is_terminal
    assert grants(identity_emulator).get("client_assertion", 0) == before + 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong tenant", "AADSTS90002"),
        ("wrong client id", "AADSTS700016"),
        ("wrong subject", "AADSTS70021"),
        ("wrong issuer", "AADSTS70021"),
        ("expired assertion", "AADSTS700024"),
    ],
)
def test_a_wrong_workload_identity_is_refused_before_any_call(
    identity_emulator: EmulatorProcess,
    make_conn: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    federated_token: Callable[..., Path],
    case: str,
    expected: str,
) -> None:
    claims: dict[str, Any] = {
        "wrong subject": {"sub": "system:serviceaccount:other:intruder"},
        "wrong issuer": {"iss": "https://oidc.other.example/"},
        "expired assertion": {"exp": int(time.time()) - 60},
    }.get(case, {})
    federated_token(**claims)
    conn_id = wi_conn(
        make_conn,
        identity_emulator,
        monkeypatch,
        tenant_id="5a1e0000-0000-4000-8000-00000000beef" if case == "wrong tenant" else None,
        client_id="5a1e0000-0000-4000-8000-00000000c1d0"
        if case == "wrong client id"
        else WI_CLIENT_ID,
    )
    calls, issued = service_calls(identity_emulator), identity_emulator.stats()["tokens_issued"]
    with AzureMLPipelinesHook(conn_id) as hook, pytest.raises(AzureMLAuthenticationError) as raised:
        publish_and_submit(hook, identity_emulator, "wi-wrong")
    assert "workload_identity credential" in str(raised.value)
    assert expected in str(raised.value)
    assert service_calls(identity_emulator) == calls
    assert identity_emulator.stats()["tokens_issued"] == issued


def test_workload_identity_without_a_token_file_says_what_is_missing(
    identity_emulator: EmulatorProcess,
    make_conn: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_id = wi_conn(make_conn, identity_emulator, monkeypatch)
    with AzureMLPipelinesHook(conn_id) as hook, pytest.raises(AzureMLAuthenticationError) as raised:
        hook.list_published_pipelines()
    assert "AZURE_FEDERATED_TOKEN_FILE" in str(raised.value)
