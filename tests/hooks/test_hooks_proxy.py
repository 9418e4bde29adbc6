"""Behind an egress proxy: every path of the provider reaches the service through it.

A real ``CONNECT`` proxy (``connect_proxy.py``) stands between the provider and the emulator.
The connection names the emulator's service as ``localhost`` and its authority as
``127.0.0.1`` (its certificate covers both), so tunnels to the service and to the token
endpoint are told apart; the tests set their own ``HTTPS_PROXY`` and ``NO_PROXY``, whatever
the machine has. Each path is run with fresh sessions and its tunnels are counted: publish and
submit (sync hook and ``requests``; token from the sync credential), the deferred wait (the
trigger: the async hook's ``aiohttp`` session, token from the ``azure.identity.aio``
credential) and the sensor (``dag.test()`` of a poking sensor). A ``NO_PROXY`` entry for the
hosts makes all of it bypass the proxy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connect_proxy import ConnectProxy, running_connect_proxy
from hook_helpers import conn_json

from airflow_provider_mlpipelines.clients.core.async_transport import env_proxy
from airflow_provider_mlpipelines.clients.core.tokens import SHARED_TOKENS, TokenKey
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger
from tests.airflow_helpers import load_dagbag, task_state
from tests.v2_helpers import v2_conn_json

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with running_connect_proxy() as started:
        yield started


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: ConnectProxy) -> Callable[[str], None]:
    """Route HTTPS through ``proxy``; the returned function sets ``NO_PROXY`` (both cases)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy.url)

    def no_proxy(value: str) -> None:
        monkeypatch.setenv("NO_PROXY", value)
        monkeypatch.setenv("no_proxy", value)

    # Something, but not the emulator: a machine's own NO_PROXY must not decide the test.
    no_proxy("example.invalid")
    return no_proxy


@pytest.fixture
def proxied_conn(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The default connection: the service at ``localhost``, the authority at ``127.0.0.1``.

    Returns the ``host:port`` of the service's and of the authority's tunnels.
    """
    service, authority = f"localhost:{emulator.port}", f"127.0.0.1:{emulator.port}"
    conn = conn_json(emulator, host=f"https://{service}", authority_host=f"https://{authority}")
    monkeypatch.setenv(CONN_ENV_VAR, conn)
    return service, authority


def _forget_cached_token() -> None:
    """Drop the process-wide token of the default connection, if some hook still holds it.

    Sync and async hooks of one connection share one token while any of them is open (a hook
    of another test may be): without this, a block could reuse a token instead of asking the
    authority, and the proxy would see no token tunnel for it.
    """
    with AzureMLPipelinesHook() as hook:
        held = SHARED_TOKENS.held(TokenKey.of(hook.settings))
        if held is not None:
            held.cache.clear()


@pytest.fixture(scope="module")
def sensor_dag() -> Any:
    """The poking sensor DAG of ``tests/dags``, with a metadata database for ``dag.test()``."""
    from airflow.utils import db

    db.initdb()
    bag = load_dagbag(str(Path(__file__).resolve().parents[1] / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("mlp_test_sensor_poke")


class Counter:
    """Tunnels to one target opened during a block: ``with counter.during("publish"): ...``."""

    def __init__(self, proxy: ConnectProxy, target: str) -> None:
        self.proxy = proxy
        self.target = target
        self.by_path: dict[str, int] = {}

    def during(self, path: str) -> Any:
        counter = self

        class _Block:
            def __enter__(self) -> None:
                self.before = counter.proxy.count(counter.target)

            def __exit__(self, *exc: object) -> None:
                counter.by_path[path] = counter.proxy.count(counter.target) - self.before

        return _Block()


async def _trigger_event(run_id: str) -> dict[str, Any]:
    return await _first_event(AzureMLPipelineRunTrigger(run_id, poll_interval=0.2))


async def _first_event(trigger: AzureMLPipelineRunTrigger) -> dict[str, Any]:
    generator = trigger.run()
    event = await generator.__anext__()
    await generator.aclose()
    return event.payload


def _publish(emulator: EmulatorProcess, name: str) -> str:
    with AzureMLPipelinesHook() as hook:
        run_id = emulator.manifest["pipeline_runs"]["simulated"]
        return hook.publish_pipeline_from_run(run_id, name=name, version="1").id


def _submit(pipeline_id: str) -> str:
    with AzureMLPipelinesHook() as hook:
        submission = hook.build_submission(
            experiment_name="proxy-tests", parameters={"duration_seconds": 0.2}
        )
        return hook.submit_pipeline_run(pipeline_id, submission).id


def test_every_path_goes_through_the_proxy(
    emulator: EmulatorProcess,
    proxy: ConnectProxy,
    proxy_env: Callable[[str], None],
    proxied_conn: tuple[str, str],
    sensor_dag: Any,
) -> None:
    service, authority = proxied_conn
    api, tokens = Counter(proxy, service), Counter(proxy, authority)
    _forget_cached_token()
    with api.during("publish"), tokens.during("publish"):
        pipeline_id = _publish(emulator, "proxy-publish")
    with api.during("submit"):
        run_id = _submit(pipeline_id)
    _forget_cached_token()
    with api.during("deferred wait"), tokens.during("deferred wait"):
        event = asyncio.run(_trigger_event(run_id))
    assert event.get("run_status") == "Finished", event
    with api.during("sensor"):
        dag_run = sensor_dag.test(run_conf={"run_id": run_id})
    assert task_state(dag_run, "wait") == "success"
    # Service calls of every path, and token requests of the sync and the async credential.
    assert all(count > 0 for count in api.by_path.values()), api.by_path
    assert set(api.by_path) == {"publish", "submit", "deferred wait", "sensor"}
    assert tokens.by_path["publish"] > 0 and tokens.by_path["deferred wait"] > 0, tokens.by_path
    assert proxy.refused == []


def test_no_proxy_for_the_host_bypasses_the_proxy(
    emulator: EmulatorProcess,
    proxy: ConnectProxy,
    proxy_env: Callable[[str], None],
    proxied_conn: tuple[str, str],
) -> None:
    service, authority = proxied_conn
    proxy_env("example.invalid,localhost,127.0.0.1")
    pipeline_id = _publish(emulator, "proxy-bypass")
    run_id = _submit(pipeline_id)
    event = asyncio.run(_trigger_event(run_id))
    assert event.get("run_status") == "Finished", event
    assert proxy.count(service) == 0 and proxy.count(authority) == 0, proxy.targets()


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://svc:443/x", ("http://proxy:3128", None)),
        ({"HTTPS_PROXY": "proxy:3128"}, "https://svc/x", ("http://proxy:3128", None)),
        ({"ALL_PROXY": "http://all:8080"}, "https://svc/x", ("http://all:8080", None)),
        ({"HTTP_PROXY": "http://plain:80"}, "https://svc/x", (None, None)),
        (
            {"HTTPS_PROXY": "http://user:p%40ss@proxy:3128"},
            "https://svc/x",
            ("http://proxy:3128", ("user", "p@ss")),
        ),
        (
            {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "svc"},
            "https://svc:8443/x",
            (None, None),
        ),
        (
            {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": ".example.com"},
            "https://ws.example.com/x",
            (None, None),
        ),
        (
            {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "svc:9999"},
            "https://svc:8443/x",
            ("http://proxy:3128", None),
        ),
        (
            {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"},
            "https://svc/x",
            ("http://lower:2", None),
        ),
    ],
)
def test_the_async_transport_picks_the_proxy_like_requests(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    url: str,
    expected: tuple[str | None, tuple[str, str] | None],
) -> None:
    import requests.utils

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert env_proxy(url) == expected
    # The same choice as requests (credentials aside).
    chosen = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if chosen and "://" not in chosen:
        chosen = "http://" + chosen
    bare = None if chosen is None else chosen.replace("user:p%40ss@", "")
    assert bare == expected[0]


def test_a_v2_connection_goes_through_the_proxy_too(
    emulator: EmulatorProcess,
    proxy: ConnectProxy,
    proxy_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # v2 talks to other routes (ARM) with two tokens (ARM and Azure ML), over the same sync
    # and async transports: both must take the proxy.
    service, authority = f"localhost:{emulator.port}", f"127.0.0.1:{emulator.port}"
    conn = json.loads(v2_conn_json(emulator, authority_host=f"https://{authority}"))
    conn["host"] = f"https://{service}"
    monkeypatch.setenv("AIRFLOW_CONN_AML_V2_PROXIED", json.dumps(conn))
    api, tokens = Counter(proxy, service), Counter(proxy, authority)
    with api.during("sync"), tokens.during("sync"), AzureMLPipelinesHook("aml_v2_proxied") as hook:
        assert hook.settings.api == "v2"
        ok, message = hook.test_connection()  # an ARM and an ML token, a list of endpoints
    assert ok, message
    job = emulator.manifest["v2_pipeline_jobs"]["simulated"]
    with api.during("deferred wait"), tokens.during("deferred wait"):
        trigger = AzureMLPipelineRunTrigger(
            job, azure_ml_pipelines_conn_id="aml_v2_proxied", poll_interval=0.2
        )
        event = asyncio.run(_first_event(trigger))
    assert event.get("run_status") == "Finished", event
    assert all(count > 0 for count in api.by_path.values()), api.by_path
    # Two tokens for the sync hook (ARM, ML); the trigger's credential asks for its own.
    assert tokens.by_path["sync"] >= 2 and tokens.by_path["deferred wait"] >= 1, tokens.by_path
    assert proxy.refused == []
