"""Process-wide sharing of tokens and HTTP sessions between hooks, against the emulator.

A triggerer runs every trigger in one event loop; each trigger has its own async hook. These
tests check that such hooks share one token acquisition and one ``aiohttp`` session, that the
last hook to close closes the session, that a new event loop gets a new session, and that the
shared token is still renewed when it nears expiry or is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from hook_helpers import ASYNC_RENEWABLE_TOKEN_LIFETIME, await_past_renewal_point

from airflow_provider_mlpipelines.clients.core.async_transport import SHARED_SESSIONS
from airflow_provider_mlpipelines.clients.core.settings import settings_from_connection
from airflow_provider_mlpipelines.clients.core.tokens import SHARED_TOKENS, TokenKey
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import AzureMLAuthenticationError
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import (
    AzureMLPipelinesAsyncHook,
    AzureMLPipelinesHook,
)

ConnMaker = Callable[..., str]
HOOKS = 200
WRONG_SECRET = "wrong-secret-shared-0123456789"


def tokens_issued(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["tokens_issued"])


def run_requests(emulator: EmulatorProcess) -> int:
    return int(emulator.stats()["requests"].get("get run", 0))


def token_key(conn_id: str) -> TokenKey:
    """The shared-token key of an ``AIRFLOW_CONN_*`` connection of this test."""
    from airflow.models.connection import Connection

    uri = os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]
    return TokenKey.of(settings_from_connection(Connection.from_json(uri, conn_id=conn_id)))


async def poll_all(hooks: list[AzureMLPipelinesAsyncHook], run_id: str) -> list[Any]:
    return await asyncio.gather(*(hook.get_pipeline_run(run_id) for hook in hooks))


async def close_all(hooks: list[AzureMLPipelinesAsyncHook]) -> None:
    await asyncio.gather(*(hook.close() for hook in hooks))


async def test_many_async_hooks_in_one_loop_share_one_token_and_one_session(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    tokens_before, requests_before = tokens_issued(emulator), run_requests(emulator)
    hooks = [AzureMLPipelinesAsyncHook(conn_id) for _ in range(HOOKS)]
    try:
        runs = await poll_all(hooks, run_id)
        sessions = {id(hook._transport.session) for hook in hooks if hook._transport}
        shared = SHARED_TOKENS.held(token_key(conn_id))
        assert shared is not None and shared.holders == HOOKS
    finally:
        await close_all(hooks)
    assert {run.id for run in runs} == {run_id}
    assert len(sessions) == 1
    assert tokens_issued(emulator) - tokens_before == 1
    assert run_requests(emulator) - requests_before == HOOKS
    assert SHARED_TOKENS.held(token_key(conn_id)) is None


async def test_the_session_stays_open_until_the_last_hook_closes(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    hooks = [AzureMLPipelinesAsyncHook(conn_id) for _ in range(3)]
    try:
        await poll_all(hooks, run_id)
        assert hooks[0]._transport is not None
        session = hooks[0]._transport.session
        assert session in SHARED_SESSIONS.open_sessions()
        await hooks[0].close()
        await hooks[1].close()
        assert not session.closed
        # The remaining hook still works with the shared session...
        assert (await hooks[2].get_pipeline_run(run_id)).id == run_id
        # ...and a hook opened now joins it rather than opening another.
        await hooks[0].get_pipeline_run(run_id)
        assert hooks[0]._transport is not None and hooks[0]._transport.session is session
        await hooks[0].close()
        await hooks[2].close()
        assert session.closed
        assert session not in SHARED_SESSIONS.open_sessions()
    finally:
        await close_all(hooks)


def test_a_new_event_loop_gets_a_new_session_and_reuses_the_token(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    before = tokens_issued(emulator)
    first_loop = asyncio.new_event_loop()
    first_hook = AzureMLPipelinesAsyncHook(conn_id)
    try:
        first_loop.run_until_complete(first_hook.get_pipeline_run(run_id))
        assert first_hook._transport is not None
        first_session = first_hook._transport.session

        async def in_second_loop() -> Any:
            async with AzureMLPipelinesAsyncHook(conn_id) as second_hook:
                await second_hook.get_pipeline_run(run_id)
                assert second_hook._transport is not None
                session = second_hook._transport.session
                assert session is not first_session
                assert not first_session.closed
            return session

        second_session = asyncio.run(in_second_loop())
        assert second_session.closed
        assert not first_session.closed
    finally:
        first_loop.run_until_complete(first_hook.close())
        first_loop.close()
    assert first_session.closed
    # The first hook held the connection's token the whole time, so the second loop used it.
    assert tokens_issued(emulator) - before == 1


async def test_the_shared_token_is_renewed_before_it_expires(
    emulator_factory: Callable[..., EmulatorProcess], make_conn: ConnMaker
) -> None:
    short = emulator_factory(token_lifetime=ASYNC_RENEWABLE_TOKEN_LIFETIME)
    conn_id = make_conn(short)
    run_id = short.manifest["pipeline_runs"]["simulated"]
    hooks = [AzureMLPipelinesAsyncHook(conn_id) for _ in range(HOOKS)]
    try:
        await poll_all(hooks, run_id)
        assert tokens_issued(short) == 1
        shared = SHARED_TOKENS.held(token_key(conn_id))
        assert shared is not None
        await await_past_renewal_point(shared.cache)
        runs = await poll_all(hooks, run_id)
        await poll_all(hooks, run_id)
    finally:
        await close_all(hooks)
    stats = short.stats()
    assert {run.id for run in runs} == {run_id}
    assert stats["tokens_issued"] == 2
    assert set(stats["responses"]) == {"200"}, stats["responses"]


async def test_a_refused_shared_token_is_renewed_once_for_all_hooks(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    hooks = [AzureMLPipelinesAsyncHook(conn_id) for _ in range(HOOKS)]
    try:
        await poll_all(hooks, run_id)
        shared = SHARED_TOKENS.held(token_key(conn_id))
        assert shared is not None
        # A token the service no longer accepts, as after a revocation: every hook gets a 401.
        shared.cache.store(AccessToken("revoked-token", int(time.time()) + 3600), time.time())
        before = tokens_issued(emulator)
        runs = await poll_all(hooks, run_id)
    finally:
        await close_all(hooks)
    assert {run.id for run in runs} == {run_id}
    assert tokens_issued(emulator) - before == 1


def test_sync_and_async_hooks_of_a_connection_share_the_token(
    emulator: EmulatorProcess, make_conn: ConnMaker
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    before = tokens_issued(emulator)
    first, second = AzureMLPipelinesHook(conn_id), AzureMLPipelinesHook(conn_id)
    try:
        first.get_pipeline_run(run_id)
        second.get_pipeline_run(run_id)

        async def read_async() -> Any:
            async with AzureMLPipelinesAsyncHook(conn_id) as hook:
                return await hook.get_pipeline_run(run_id)

        assert asyncio.run(read_async()).id == run_id
        assert tokens_issued(emulator) - before == 1
    finally:
        first.close()
        second.close()
    # Nobody holds the token any more: it is forgotten, and the next hook acquires anew.
    assert SHARED_TOKENS.held(token_key(conn_id)) is None
    with AzureMLPipelinesHook(conn_id) as third:
        third.get_pipeline_run(run_id)
    assert tokens_issued(emulator) - before == 2


def test_a_wrong_secret_never_gets_the_token_of_the_right_one(
    emulator: EmulatorProcess, make_conn: ConnMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = make_conn(emulator)
    run_id = emulator.manifest["pipeline_runs"]["simulated"]
    with AzureMLPipelinesHook(conn_id) as good:
        good.get_pipeline_run(run_id)
        # The same connection id, edited to a wrong secret while the good hook is alive.
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        conn = json.loads(os.environ[variable])
        monkeypatch.setenv(variable, json.dumps({**conn, "password": WRONG_SECRET}))
        bad = AzureMLPipelinesHook(conn_id)
        try:
            with pytest.raises(AzureMLAuthenticationError) as raised:
                bad.get_pipeline_run(run_id)
        finally:
            bad.close()
    assert WRONG_SECRET not in str(raised.value)


def test_token_keys_hold_no_secret(emulator: EmulatorProcess, make_conn: ConnMaker) -> None:
    conn_id = make_conn(emulator)
    key = token_key(conn_id)
    secret = emulator.manifest["client_secret"]
    assert secret not in repr(key)
    assert key.secret_fingerprint and secret not in key.secret_fingerprint
    assert key.conn_id == conn_id
    assert key.tenant_id == emulator.manifest["tenant_id"]
    assert key.client_id == emulator.manifest["client_id"]
    assert key.credential_kind == "client_secret"
