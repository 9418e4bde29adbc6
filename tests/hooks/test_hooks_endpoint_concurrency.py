"""Endpoint updates against real writers: concurrent adds, lost answers, empty lookups, and a
``Retry-After`` longer than our own backoff cap, all over HTTPS against the session emulator.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hook_fault_proxy import Fault, FaultProxy
from hook_helpers import Faults, publish

from airflow_provider_mlpipelines.clients.v1.endpoint_changes import endpoint_by_name
from airflow_provider_mlpipelines.clients.v1.endpoints import MAX_ENDPOINT_UPDATE_ATTEMPTS
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConflictError,
    AzureMLNotFoundError,
    AzureMLThrottledError,
)
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

ConnMaker = Callable[..., str]
ROUNDS = 5


class NoWait:
    """The hook's ``sleep``: records each wait without spending it (the wait's length is what
    these tests check; the retry that follows is real)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def stats(emulator: EmulatorProcess) -> dict[str, Any]:
    return emulator.admin("GET", "/_emulator/stats")


def new_endpoint(hook: AzureMLPipelinesHook, emulator: EmulatorProcess, prefix: str) -> Any:
    first = publish(hook, emulator, "simulated")
    return hook.create_pipeline_endpoint(f"{prefix}-{uuid.uuid4().hex[:8]}", first.id)


@pytest.fixture
def reset_drops(emulator: EmulatorProcess) -> Any:
    """Switch drops off after the test (``Faults.reset`` leaves them alone)."""
    yield
    emulator.set_faults(drop_rate=0.0, drop_mode="before", path_contains="", latency_seconds=0.0)


def test_two_writers_adding_to_one_endpoint_at_once_both_land(
    emulator: EmulatorProcess, session_hook: AzureMLPipelinesHook, faults: Faults
) -> None:
    endpoint = new_endpoint(session_hook, emulator, "concurrent")
    pipelines = {
        writer: [publish(session_hook, emulator, "simulated").id for _ in range(ROUNDS)]
        for writer in ("a", "b")
    }
    conflicts_before = stats(emulator)["responses"].get("412", 0)
    # Latency on the endpoint routes widens the read-modify-write window, and the barrier
    # starts both writers' rounds together, so their reads see the same Etag.
    faults.set(latency_seconds=0.2, path_contains="PipelineEndpoints")
    barrier = threading.Barrier(2, timeout=120)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        hook = AzureMLPipelinesHook(session_hook.azure_ml_pipelines_conn_id)
        try:
            for pipeline_id in pipelines[name]:
                barrier.wait()
                hook.add_pipeline_version(endpoint.id, pipeline_id, set_default=name == "a")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            hook.close()

    threads = [threading.Thread(target=writer, args=(name,)) for name in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    faults.reset()
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    stored = session_hook.get_pipeline_endpoint(endpoint.id)
    listed = [v.pipeline_id for v in stored.versions]
    expected = [endpoint.versions[0].pipeline_id, *pipelines["a"], *pipelines["b"]]
    assert sorted(listed) == sorted(expected), "a version was lost or added twice"
    assert len(set(stored.version_names)) == len(stored.version_names) == 1 + 2 * ROUNDS
    assert sorted(int(v) for v in stored.version_names) == list(range(1 + 2 * ROUNDS))
    # The writers really collided: some writes were refused as stale and redone.
    assert stats(emulator)["responses"].get("412", 0) > conflicts_before


def test_a_write_whose_answer_was_lost_is_not_resent_blindly(
    emulator: EmulatorProcess, session_hook: AzureMLPipelinesHook, reset_drops: Any
) -> None:
    endpoint = new_endpoint(session_hook, emulator, "lost-answer")
    added = publish(session_hook, emulator, "simulated")
    puts_before = stats(emulator)["requests"].get("update endpoint", 0)
    drops_before = stats(emulator)["faults"].get("drop_after", 0)
    # Every PUT to this endpoint is carried out and then its connection closed unanswered.
    # The GET path is PipelineEndpoints/Id/{id}, so reads are not affected.
    emulator.set_faults(
        drop_rate=1.0, drop_mode="after", path_contains=f"PipelineEndpoints/{endpoint.id}"
    )

    update = session_hook.add_pipeline_version(endpoint.id, added.id, set_default=True)
    emulator.set_faults(drop_rate=0.0, drop_mode="before", path_contains="")

    assert stats(emulator)["faults"].get("drop_after", 0) == drops_before + 1
    assert stats(emulator)["requests"].get("update endpoint", 0) == puts_before + 1
    stored = session_hook.get_pipeline_endpoint(endpoint.id)
    assert stored.version_names == ["0", "1"]
    assert stored.pipeline_id_of("1") == added.id
    assert stored.default_version == "1"
    assert (update.changed, update.replaced_default) == (True, "0")


def test_an_endpoint_that_keeps_changing_is_given_up_after_a_bounded_number_of_writes(
    emulator: EmulatorProcess,
    session_hook: AzureMLPipelinesHook,
    make_conn: ConnMaker,
    proxy: FaultProxy,
) -> None:
    endpoint = new_endpoint(session_hook, emulator, "always-stale")
    added = publish(session_hook, emulator, "simulated")
    # Every write is refused as stale, as if another writer changed the endpoint each time;
    # far more often than the bound, so that a loop without one ends in a success instead.
    put_path = rf"/PipelineEndpoints/{endpoint.id}$"
    proxy.add(
        Fault("PUT", put_path, "respond", status=412, times=10 * MAX_ENDPOINT_UPDATE_ATTEMPTS)
    )
    hook = AzureMLPipelinesHook(make_conn(emulator, host=proxy.base_url))
    with hook, pytest.raises(AzureMLConflictError) as raised:
        hook.add_pipeline_version(endpoint.id, added.id, set_default=True)

    assert f"gave up after {MAX_ENDPOINT_UPDATE_ATTEMPTS} attempts" in str(raised.value)
    assert raised.value.status_code == 412
    assert len(proxy.requests_to("PUT", put_path)) == MAX_ENDPOINT_UPDATE_ATTEMPTS
    # Each write was recomputed on a fresh read, and none reached the service.
    assert len(proxy.requests_to("GET", rf"/PipelineEndpoints/Id/{endpoint.id}")) == (
        MAX_ENDPOINT_UPDATE_ATTEMPTS
    )
    assert session_hook.get_pipeline_endpoint(endpoint.id).version_names == ["0"]


def test_concurrent_creation_of_one_endpoint_by_name_puts_both_pipelines_in_it(
    emulator: EmulatorProcess, session_hook: AzureMLPipelinesHook, faults: Faults
) -> None:
    name = f"created-twice-{uuid.uuid4().hex[:8]}"
    pipelines = [publish(session_hook, emulator, "simulated").id for _ in range(2)]
    conflicts_before = stats(emulator)["responses"].get("409", 0)
    # Both lookups answer "none" before either creation lands.
    faults.set(latency_seconds=0.3, path_contains="PipelineEndpoints")
    barrier = threading.Barrier(2, timeout=120)
    results: dict[str, Any] = {}

    def ensure(pipeline_id: str) -> None:
        hook = AzureMLPipelinesHook(session_hook.azure_ml_pipelines_conn_id)
        try:
            barrier.wait()
            results[pipeline_id] = hook.ensure_pipeline_in_endpoint(name, pipeline_id)
        except BaseException as exc:
            results[pipeline_id] = exc
        finally:
            hook.close()

    threads = [threading.Thread(target=ensure, args=(p,)) for p in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    faults.reset()

    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    stored = session_hook.get_pipeline_endpoint(name=name)
    assert sorted(v.pipeline_id for v in stored.versions) == sorted(pipelines)
    assert stats(emulator)["responses"].get("409", 0) == conflicts_before + 1
    # The creator replaced no default; the other one replaced the creator's version "0".
    replaced = sorted(str(r.replaced_default) for r in results.values())
    assert replaced == ["0", "None"]


def test_lookup_by_name_answered_200_with_an_empty_body_is_no_endpoint(
    emulator: EmulatorProcess, make_conn: ConnMaker, proxy: FaultProxy
) -> None:
    for body in (b"null", b"{}"):
        proxy.add(Fault("GET", r"/PipelineEndpoints/Name", "respond", status=200, body=body))
        proxy.add(Fault("GET", r"/PipelineEndpoints/Name", "respond", status=200, body=body))
        hook = AzureMLPipelinesHook(make_conn(emulator, host=proxy.base_url))
        with hook:
            assert hook.find_pipeline_endpoint("ghost") is None
            with pytest.raises(AzureMLNotFoundError, match="no endpoint named 'ghost'"):
                hook.get_pipeline_endpoint(name="ghost")
    assert len(proxy.requests_to("GET", r"/PipelineEndpoints/Name")) == 4


def test_retry_after_beyond_our_backoff_cap_is_waited_out_when_it_fits_the_deadline(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    faults: Faults,
    session_hook: AzureMLPipelinesHook,
) -> None:
    endpoint = new_endpoint(session_hook, emulator, "retry-after")
    conn_id = make_conn(emulator)
    faults.set(
        fail_next=1, fail_status=429, retry_after_seconds=90, path_contains=f"Id/{endpoint.id}"
    )
    hook = AzureMLPipelinesHook(conn_id, deadline=time.time() + 600)
    sleeps = NoWait()
    hook.sleep = sleeps  # type: ignore[method-assign]
    with hook:
        assert hook.get_pipeline_endpoint(endpoint.id).id == endpoint.id
    assert sleeps.waits == [90.0], "the service's Retry-After must not be cut to 60 s"


def test_retry_after_beyond_the_deadline_fails_at_once_naming_both(
    emulator: EmulatorProcess,
    make_conn: ConnMaker,
    faults: Faults,
    session_hook: AzureMLPipelinesHook,
) -> None:
    endpoint = new_endpoint(session_hook, emulator, "retry-after")
    conn_id = make_conn(emulator)
    gets_before = stats(emulator)["requests"].get("get endpoint", 0)
    faults.set(
        fail_next=1, fail_status=429, retry_after_seconds=90, path_contains=f"Id/{endpoint.id}"
    )
    hook = AzureMLPipelinesHook(conn_id, deadline=time.time() + 30)
    sleeps = NoWait()
    hook.sleep = sleeps  # type: ignore[method-assign]
    with hook, pytest.raises(AzureMLThrottledError) as raised:
        hook.get_pipeline_endpoint(endpoint.id)
    message = str(raised.value)
    assert "429" in message
    assert "asked to retry after 90 s, beyond the task's deadline" in message
    assert sleeps.waits == []
    assert stats(emulator)["requests"].get("get endpoint", 0) == gets_before + 1


@pytest.mark.parametrize("raw", [None, "", {}, [], {"Name": "ghost"}])
def test_an_empty_lookup_body_reads_as_no_endpoint(raw: object) -> None:
    with pytest.raises(AzureMLNotFoundError, match="no endpoint named 'ghost'"):
        endpoint_by_name(raw, "ghost")


def test_a_lookup_body_naming_an_endpoint_is_kept() -> None:
    body = {"Id": "e1", "Name": "ghost", "DefaultVersion": "0"}
    assert endpoint_by_name(body, "ghost") is body
