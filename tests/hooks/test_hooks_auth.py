"""Tokens and credentials against the emulator's Entra-compatible endpoint; test_connection."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from hook_certs import self_signed_certificate
from hook_fault_proxy import running_proxy
from hook_helpers import wait_past_renewal_point

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import AzureMLAuthenticationError
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

ConnMaker = Callable[..., str]
WRONG_SECRET = "wrong-secret-0123456789abcdef"


def tokens_issued(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["tokens_issued"])


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_one_token_serves_many_calls(
    emulator: EmulatorProcess, make_conn: ConnMaker, train_pipeline: Any
) -> None:
    before = tokens_issued(emulator)
    with AzureMLPipelinesHook(make_conn(emulator)) as hook:
        for _ in range(5):
            hook.get_published_pipeline(train_pipeline.id)
    assert tokens_issued(emulator) == before + 1


def test_token_is_reacquired_before_it_expires(
    emulator_factory: Callable[..., EmulatorProcess], make_conn: ConnMaker
) -> None:
    # 10 s tokens are renewed in their last 2 s: a call then must not use the cached one.
    short = emulator_factory(token_lifetime=10)
    with AzureMLPipelinesHook(make_conn(short)) as hook:
        hook.list_published_pipelines()
        first_count = tokens_issued(short)
        for _ in range(2):
            due = wait_past_renewal_point(hook.tokens._cache)
            hook.list_published_pipelines()
            assert hook.tokens._cache.cached.token != due.token, "the due token was used"
        assert tokens_issued(short) == first_count + 2
        statuses = short.stats()["responses"]
        assert set(statuses) == {"200"}, statuses


def test_refused_token_is_renewed_once(
    emulator: EmulatorProcess, make_conn: ConnMaker, train_pipeline: Any
) -> None:
    with AzureMLPipelinesHook(make_conn(emulator)) as hook:
        hook.get_published_pipeline(train_pipeline.id)
        before = tokens_issued(emulator)
        # A token the service no longer accepts (revoked, or from a restarted tenant).
        hook.tokens._cache.store(AccessToken("revoked-token", int(time.time()) + 3600), 0.0)
        assert hook.get_published_pipeline(train_pipeline.id).id == train_pipeline.id
        assert tokens_issued(emulator) == before + 1


def test_wrong_secret_is_an_authentication_error_without_the_secret(
    emulator: EmulatorProcess, make_conn: ConnMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with AzureMLPipelinesHook(make_conn(emulator, password=WRONG_SECRET)) as hook:
        with pytest.raises(AzureMLAuthenticationError) as raised:
            hook.list_published_pipelines()
        assert "acquire token" in str(raised.value)
        assert WRONG_SECRET not in str(raised.value)
        assert WRONG_SECRET not in repr(raised.value)
        shown = "".join(traceback.format_exception(raised.value))
        assert "AADSTS" in shown and WRONG_SECRET not in shown
    assert WRONG_SECRET not in caplog.text


async def test_wrong_secret_async(emulator: EmulatorProcess, make_conn: ConnMaker) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesAsyncHook

    async with AzureMLPipelinesAsyncHook(make_conn(emulator, password=WRONG_SECRET)) as hook:
        with pytest.raises(AzureMLAuthenticationError) as raised:
            await hook.get_pipeline_run("any")
    assert WRONG_SECRET not in str(raised.value)


def test_test_connection_succeeds(emulator: EmulatorProcess, make_conn: ConnMaker) -> None:
    with AzureMLPipelinesHook(make_conn(emulator)) as hook:
        ok, message = hook.test_connection()
    assert ok, message
    assert emulator.manifest["workspace_name"] in message


def test_test_connection_with_a_wrong_secret(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    with AzureMLPipelinesHook(make_conn(emulator, password=WRONG_SECRET)) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Authentication failed")
    assert WRONG_SECRET not in message


def test_test_connection_with_an_unknown_workspace(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    with AzureMLPipelinesHook(make_conn(emulator, workspace_name="no-such-ws")) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Workspace not found") and "'no-such-ws'" in message


def test_test_connection_with_an_unreachable_host(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    host = f"https://127.0.0.1:{closed_port()}"
    with AzureMLPipelinesHook(make_conn(emulator, host=host)) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach {host}")


def test_test_connection_when_tls_verification_fails(
    emulator: EmulatorProcess, make_conn: ConnMaker, tmp_path: Path
) -> None:
    # A service whose certificate the connection's CA bundle does not vouch for.
    certfile, keyfile = self_signed_certificate(tmp_path)
    with running_proxy(
        emulator.base_url, emulator.ca_bundle, certfile=certfile, keyfile=keyfile
    ) as untrusted:
        with AzureMLPipelinesHook(make_conn(emulator, host=untrusted.base_url)) as hook:
            ok, message = hook.test_connection()
        assert untrusted.seen == []
    assert not ok
    assert message.startswith(f"TLS verification of {untrusted.base_url} failed")


def test_test_connection_with_an_invalid_connection(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    with AzureMLPipelinesHook(make_conn(emulator, subscription_id=None)) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert "subscription_id" in message


def test_secret_and_tokens_are_registered_with_the_log_masker(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import redact  # type: ignore[no-redef]

    with AzureMLPipelinesHook(make_conn(emulator)) as hook:
        hook.list_published_pipelines()
        token = hook.tokens.token()
    secret = emulator.manifest["client_secret"]
    assert redact(f"secret={secret} token={token}") == "secret=*** token=***"


def test_test_connection_when_the_authority_is_not_trusted(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    with AzureMLPipelinesHook(make_conn(emulator, ca_bundle=None)) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert message.startswith(f"TLS verification of the authority {emulator.base_url} failed")


def test_test_connection_when_the_authority_is_unreachable(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    authority = f"https://127.0.0.1:{closed_port()}"
    with AzureMLPipelinesHook(make_conn(emulator, authority_host=authority)) as hook:
        ok, message = hook.test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach the authority {authority}")


def test_airflow_builds_this_hook_for_the_connection_type(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    from airflow_provider_mlpipelines._compat import BaseHook

    conn_id = make_conn(emulator)
    built = BaseHook.get_connection(conn_id).get_hook()
    try:
        assert type(built) is AzureMLPipelinesHook
        assert built.azure_ml_pipelines_conn_id == conn_id
    finally:
        built.close()
