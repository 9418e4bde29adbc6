"""The emulator's other choice for each v2 behaviour no evidence settles (docs/emulator.md).

The defaults are checked in test_v2_routes.py; here one emulator runs with every switch the
other way, so a test of the provider can run under either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_v2_routes import (
    CANCEL_API,
    _literal_inputs,
    scoring_endpoint,
    started,
)
from v2_client import V2Client

OTHER_WAY = (
    "--invoke-job-name",
    "honour",
    "--invoke-display-name",
    "generated",
    "--invoke-experiment",
    "endpoint",
    "--invoke-repeatability",
    "honour",
    "--cancel-ended",
    "accept",
    "--lro-retry-after",
    "1",
)


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2Client]:
    yield from started(tmp_path_factory.mktemp("emulator-v2-other"), *OTHER_WAY)


@pytest.fixture(scope="module")
def scoring(v2: V2Client) -> dict[str, Any]:
    return scoring_endpoint(v2, "nightly")


def test_honoured_job_name_names_the_job_and_a_taken_one_is_409(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    uri = scoring["properties"]["scoringUri"]
    name = f"airflow-{uuid.uuid4().hex[:12]}"
    body = _literal_inputs()
    body["properties"]["name"] = name
    body["properties"]["properties"] = {"experimentName": "asked-for"}
    assert v2.invoke(uri, body).json()["name"] == name
    assert v2.invoke(uri, body).status_code == 409
    # The endpoint's name is the experiment, whatever was asked for.
    assert v2.job(name)["properties"]["experimentName"] == "nightly"


def test_generated_display_names_ignore_what_was_asked(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    job = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs()).json()
    assert job["name"].startswith("batchjob-")
    display = v2.job(job["name"])["properties"]["displayName"]
    assert display == job["properties"]["name"] and display.count("_") == 2


def test_an_honoured_repeatability_id_answers_the_first_job(
    v2: V2Client, scoring: dict[str, Any]
) -> None:
    uri = scoring["properties"]["scoringUri"]
    key = {"repeatability_request-id": str(uuid.uuid4())}
    first = v2.invoke(uri, _literal_inputs(), headers=key)
    assert v2.invoke(uri, _literal_inputs(), headers=key).json()["name"] == first.json()["name"]


def test_lro_answers_carry_the_retry_after_asked_for(v2: V2Client) -> None:
    response = v2.arm(
        "PUT",
        "/batchEndpoints/lro-retry",
        json={"location": "eastus2", "properties": {"authMode": "aadToken"}},
    )
    assert response.headers["Retry-After"] == "1"
    assert v2.wait_operation(response)["status"] == "Succeeded"


def test_a_cancel_of_an_ended_job_is_accepted(v2: V2Client, scoring: dict[str, Any]) -> None:
    job = v2.invoke(scoring["properties"]["scoringUri"], _literal_inputs()).json()
    deadline = time.monotonic() + 120
    while v2.job(job["name"])["properties"]["status"] != "Completed":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert v2.arm("POST", f"/jobs/{job['name']}/cancel", CANCEL_API).status_code == 200
