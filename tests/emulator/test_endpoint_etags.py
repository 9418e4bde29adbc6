"""Concurrent writers of one endpoint, as raw requests: the Etag and version-label rules."""

from __future__ import annotations

import uuid
from typing import Any

from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes


def _created(api: ApiClient) -> tuple[dict[str, Any], str, str]:
    """A new endpoint (version "0") and two more published pipelines to add to it."""
    name = f"etag-{uuid.uuid4().hex[:8]}"
    first, second, third = (api.publish("simulated", Version=f"{name}-{n}")["Id"] for n in range(3))
    endpoint = api.ok(routes.ENDPOINT_CREATE, body={"Name": name, "PipelineId": first})
    return endpoint, second, third


def _with_version(endpoint: dict[str, Any], version: str, pipeline_id: str) -> dict[str, Any]:
    listed = [*endpoint["PipelineVersionList"], {"Version": version, "PipelineId": pipeline_id}]
    return dict(endpoint, PipelineVersionList=listed)


def test_a_put_with_a_stale_etag_is_refused_with_412_and_changes_nothing(api: ApiClient) -> None:
    endpoint, mine, theirs = _created(api)
    # Both writers read the same entity; the first write wins and changes the Etag.
    first = api.ok(
        routes.ENDPOINT_UPDATE, body=_with_version(endpoint, "1", mine), endpoint_id=endpoint["Id"]
    )
    assert first["Etag"] != endpoint["Etag"]
    stale = api.request(
        routes.ENDPOINT_UPDATE,
        body=_with_version(endpoint, "1", theirs),
        endpoint_id=endpoint["Id"],
    )
    assert stale.status_code == 412, stale.text
    error = stale.json()["Error"]
    assert (error["Code"], error["Target"]) == ("EtagMismatch", "Etag")
    assert endpoint["Etag"] in error["Message"]
    stored = api.ok(routes.ENDPOINT_GET_BY_ID, endpoint_id=endpoint["Id"])
    assert stored["PipelineVersionList"] == first["PipelineVersionList"]
    assert stored["Etag"] == first["Etag"]
    # On a fresh read the second writer's change goes through as the next version.
    again = api.ok(
        routes.ENDPOINT_UPDATE, body=_with_version(stored, "2", theirs), endpoint_id=endpoint["Id"]
    )
    assert [v["PipelineId"] for v in again["PipelineVersionList"]][1:] == [mine, theirs]


def test_a_version_label_taken_by_another_pipeline_is_a_409_without_an_etag(
    api: ApiClient,
) -> None:
    endpoint, mine, theirs = _created(api)
    api.ok(
        routes.ENDPOINT_UPDATE, body=_with_version(endpoint, "1", mine), endpoint_id=endpoint["Id"]
    )
    unconditional = dict(_with_version(endpoint, "1", theirs))
    unconditional.pop("Etag")
    taken = api.request(routes.ENDPOINT_UPDATE, body=unconditional, endpoint_id=endpoint["Id"])
    assert taken.status_code == 409, taken.text
    assert taken.json()["Error"]["Code"] == "DuplicateVersion"
    stored = api.ok(routes.ENDPOINT_GET_BY_ID, endpoint_id=endpoint["Id"])
    assert [v["PipelineId"] for v in stored["PipelineVersionList"]][1:] == [mine]
