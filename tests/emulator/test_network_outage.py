"""The network-outage fault: connections reset for N seconds while runs keep executing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess


def _reset(call: Callable[[], requests.Response]) -> str:
    """Make one request that the outage must reset; returns the error's text."""
    with pytest.raises(requests.ConnectionError) as caught:
        call()
    return str(caught.value)


def _poll(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)
    return value


def test_an_outage_resets_service_and_token_requests_while_the_run_goes_on(
    emulator_factory: Callable[..., EmulatorProcess],
    client_for: Callable[[EmulatorProcess], ApiClient],
) -> None:
    emulator = emulator_factory()
    api = client_for(emulator)
    pipeline = api.publish("simulated")
    run = api.submit(pipeline["Id"], ParameterAssignments={"duration_seconds": "2"})
    run_url = api.url(routes.RUN_GET, run_id=run["Id"])
    token_url = f"{emulator.base_url}/{emulator.manifest['tenant_id']}/oauth2/v2.0/token"
    headers = {"Authorization": f"Bearer {api.token()}"}

    assert emulator.network_outage(300) > 250
    # Fresh connections each time (no retries in requests' default adapter): one request
    # each, so the counters below are exact.
    service = _reset(
        lambda: requests.get(run_url, headers=headers, verify=emulator.ca_bundle, timeout=30)
    )
    token = _reset(
        lambda: requests.post(
            token_url,
            data={"grant_type": "client_credentials"},
            verify=emulator.ca_bundle,
            timeout=30,
        )
    )
    for message in (service, token):
        # A reset seen during the TLS handshake surfaces as an unexpected EOF instead.
        lowered = message.lower()
        assert any(word in lowered for word in ("reset", "aborted", "eof occurred")), message

    # The emulator's own routes still answer, and the run finishes inside the outage.
    stats = _poll(
        lambda: (s := emulator.stats())["runs_in_flight"] == 0 and s,
        "the run finishing during the outage",
    )
    assert emulator.outage_left() > 0, "the outage ended before the run did"
    assert stats["faults"]["outage_reset"] == 2
    assert stats["responses"]["444"] == 2

    assert emulator.network_outage(0) == 0
    answer = requests.get(run_url, headers=headers, verify=emulator.ca_bundle, timeout=30)
    assert answer.status_code == 200
    # Finished, not Failed: an outage is not a restart.
    status = answer.json()["Status"]
    assert PipelineRunStatus.from_status(status["StatusCode"]) == PipelineRunStatus.FINISHED, status
    assert emulator.stats()["faults"]["outage_reset"] == 2


def test_an_outage_set_by_flag_is_on_from_start_and_ends_by_itself(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emulator = emulator_factory(extra_args=["--fault-outage-seconds", "600"])
    tenant = emulator.manifest["tenant_id"]
    openid = f"{emulator.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
    assert emulator.outage_left() > 0
    _reset(lambda: requests.get(openid, verify=emulator.ca_bundle, timeout=30))

    assert 0 < emulator.network_outage(3) <= 3
    _poll(lambda: emulator.outage_left() == 0, "the outage ending", timeout=30)
    answer = requests.get(openid, verify=emulator.ca_bundle, timeout=30)
    assert answer.status_code == 200
    assert emulator.stats()["faults"]["outage_reset"] == 1


def test_a_negative_outage_is_refused(emulator: EmulatorProcess) -> None:
    with pytest.raises(requests.HTTPError) as caught:
        emulator.network_outage(-1)
    assert caught.value.response.status_code == 400
    assert "outage_seconds must be >= 0" in caught.value.response.text
