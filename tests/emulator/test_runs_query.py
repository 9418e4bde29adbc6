"""Run history's batch read ``runs:query`` on the session emulator: the filter forms azureml-core
writes, selecting v1 runs, v2 jobs and the step runs of both; the experiment in the path;
paging with ``top`` and continuation tokens; ``orderby``; the 400s; and the switches for what
the real service does not document (``--runs-query-*``, ``/_emulator/admin/runs-query``).

The module makes its own experiment (three v1 runs of the ``simulated`` pipeline, one of them
failing, and one v2 job of the same pipeline's source component), so every expected set is
exact: no other test writes into it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_client import ApiClient
from v2_client import V2Client

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

ADMIN = "/_emulator/admin/runs-query"
JOB_API = "2024-01-01-preview"


@dataclass(frozen=True)
class World:
    """The module's experiment and what is in it."""

    experiment: str
    other: str
    pipeline_id: str
    ok: str
    ops: str
    failed: str
    job: str
    stranger: str
    steps: dict[str, list[str]]
    mid: datetime

    @property
    def parents(self) -> set[str]:
        return {self.ok, self.ops, self.failed, self.job}

    @property
    def step_ids(self) -> set[str]:
        return {step for steps in self.steps.values() for step in steps}


def _simulated(api: ApiClient, pipeline_id: str, experiment: str, **body: Any) -> str:
    params = {"duration_seconds": "0", **body.pop("params", {})}
    run = api.submit(pipeline_id, ExperimentName=experiment, ParameterAssignments=params, **body)
    return str(run["Id"])


def _children(api: ApiClient, experiment: str, run_id: str) -> list[str]:
    page = api.ok(routes.HISTORY_RUN_CHILDREN, experiment_name=experiment, run_id=run_id)
    return [child["runId"] for child in page["value"]]


@pytest.fixture(scope="module")
def world(api: ApiClient, published: dict[str, dict[str, Any]]) -> World:
    experiment = f"query-{uuid.uuid4().hex[:8]}"
    other = f"{experiment}-other"
    pid = published["simulated"]["Id"]
    ok = _simulated(api, pid, experiment, tags={"team": "ml", "batch": "1"})
    ops = _simulated(api, pid, experiment, tags={"team": "ops"})
    # A moment strictly between the first two runs' creation and the last two's.
    time.sleep(0.05)
    mid = datetime.now(timezone.utc)
    time.sleep(0.05)
    failed = _simulated(api, pid, experiment, params={"outcome": "Failed"})
    stranger = _simulated(api, pid, other, tags={"team": "ml"})
    v2 = V2Client(api.manifest)
    try:
        component = f"{v2.ws}/components/simulated_source/versions/1"
        job = f"query-job-{uuid.uuid4().hex[:8]}"
        body = {
            "properties": {
                "jobType": "Pipeline",
                "componentId": component,
                "experimentName": experiment,
                "inputs": {"duration_seconds": {"jobInputType": "literal", "value": "0"}},
                "tags": {"team": "ml"},
            }
        }
        created = v2.arm("PUT", f"/jobs/{job}", JOB_API, json=body)
        assert created.status_code == 201, created.text
        assert v2.wait_job(job)["properties"]["status"] == "Completed"
    finally:
        v2.close()
    for run_id in (ok, ops, failed, stranger):
        api.wait(run_id)
    steps = {run_id: _children(api, experiment, run_id) for run_id in (ok, ops, failed, job)}
    assert all(len(ids) == 2 for ids in steps.values()), steps
    return World(experiment, other, pid, ok, ops, failed, job, stranger, steps, mid)


def _query(api: ApiClient, experiment: str, body: Any) -> requests.Response:
    return api.request(routes.HISTORY_RUNS_QUERY, body=body, experiment_name=experiment)


def _page(api: ApiClient, experiment: str, **body: Any) -> dict[str, Any]:
    response = _query(api, experiment, body)
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"value", "continuationToken", "nextLink"}
    assert page["nextLink"] is None
    return page


def _ids(api: ApiClient, world: World, flt: str | None) -> set[str]:
    page = _page(api, world.experiment, filter=flt)
    assert page["continuationToken"] is None
    ids = [dto["runId"] for dto in page["value"]]
    assert len(ids) == len(set(ids))
    return set(ids)


def _all_pages(api: ApiClient, experiment: str, **body: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = _page(api, experiment, **body, continuationToken=token)
        pages.append([dto["runId"] for dto in page["value"]])
        token = page["continuationToken"]
        if token is None:
            return pages


def _error(response: requests.Response, code: str) -> str:
    """The message of a run-history 400 with ``code``, after checking the body's shape."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "correlation"}
    assert body["correlation"]["requestId"] == response.headers["x-ms-request-id"]
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


@contextlib.contextmanager
def _settings(emulator: EmulatorProcess, **settings: Any) -> Iterator[dict[str, Any]]:
    earlier = emulator.admin("GET", ADMIN)
    try:
        yield emulator.admin("PUT", ADMIN, json=settings)
    finally:
        emulator.admin("PUT", ADMIN, json=earlier)


# ---------------------------------------------------------------------------- filters
def test_run_ids_select_v1_runs_v2_jobs_and_steps_as_the_per_run_get_answers(
    api: ApiClient, world: World
) -> None:
    v1_step, v2_step = world.steps[world.ok][0], world.steps[world.job][1]
    wanted = [world.ok, v1_step, world.job, v2_step]
    # As get_runs_by_run_ids writes it (unquoted), and quoted both ways.
    flt = (
        f"RunId eq {world.ok} or RunId eq '{v1_step}' or RunId eq {world.job} "
        f'or RunId eq "{v2_step}"'
    )
    page = _page(api, world.experiment, filter=flt)
    assert sorted(dto["runId"] for dto in page["value"]) == sorted(wanted)
    for dto in page["value"]:
        run_id = dto["runId"]
        assert dto == api.ok(
            routes.HISTORY_EXPERIMENT_RUN, experiment_name=world.experiment, run_id=run_id
        )
        assert dto == api.ok(routes.HISTORY_RUN, run_id=run_id)
    by_id = {dto["runId"]: dto for dto in page["value"]}
    assert by_id[v1_step]["parentRunId"] == world.ok
    assert by_id[v2_step]["parentRunId"] == world.job
    assert _ids(api, world, f"RunId eq {uuid.uuid4()}") == set()


def test_status_tag_property_parent_and_type_filters(api: ApiClient, world: World) -> None:
    failed_work = next(
        step
        for step in world.steps[world.failed]
        if api.ok(routes.HISTORY_RUN, run_id=step)["status"] == "Failed"
    )
    assert _ids(api, world, "(Status eq Failed)") == {world.failed, failed_work}
    assert _ids(api, world, "(Status eq Completed) and (ParentRunId eq null)") == {
        world.ok,
        world.ops,
        world.job,
    }
    assert _ids(api, world, '(Tags/team eq "ml")') == {world.ok, world.job}
    assert _ids(api, world, "(Tags/team ne null or Tags/team eq null)") == {
        world.ok,
        world.ops,
        world.job,
    }
    assert _ids(api, world, "(Tags/batch ne null or Tags/batch eq null)") == {world.ok}
    # A run without the tag is not "not ml": comparisons on a missing key are false.
    assert _ids(api, world, "(Tags/team ne 'ml')") == {world.ops}
    pipeline = f'(Properties/azureml.pipelineid eq "{world.pipeline_id}")'
    assert _ids(api, world, pipeline) == {world.ok, world.ops, world.failed}
    has_step_type = "(Properties/StepType ne null or Properties/StepType eq null)"
    assert _ids(api, world, has_step_type) == world.step_ids
    assert _ids(api, world, "(ParentRunId eq null)") == world.parents
    assert _ids(api, world, f"(ParentRunId eq {world.job})") == set(world.steps[world.job])
    step_type = "(RunType eq azureml.StepRun or Properties/azureml.runsource eq azureml.StepRun)"
    assert _ids(api, world, step_type) == world.step_ids
    pipeline_type = "(RunType eq azureml.PipelineRun)"
    assert _ids(api, world, pipeline_type) == world.parents
    assert _ids(api, world, None) == _ids(api, world, "  ") == world.parents | world.step_ids


def test_created_utc_takes_the_time_as_the_sdk_writes_it(api: ApiClient, world: World) -> None:
    # azureml-core formats a datetime with str(): a space between date and time.
    later = {world.failed, world.job, *world.steps[world.failed], *world.steps[world.job]}
    assert _ids(api, world, f"(CreatedUtc ge {world.mid})") == later
    assert _ids(api, world, f"(CreatedUtc gt {world.mid.isoformat()})") == later
    naive = world.mid.replace(tzinfo=None)  # no offset: UTC
    assert _ids(api, world, f"(CreatedUtc ge {naive})") == later
    day_before = world.mid - timedelta(days=1)
    assert _ids(api, world, f"(CreatedUtc ge {day_before})") == world.parents | world.step_ids
    assert _ids(api, world, f"(CreatedUtc gt {world.mid + timedelta(days=1)})") == set()


def test_and_binds_tighter_than_or(api: ApiClient, world: World) -> None:
    either = f"RunId eq {world.ok} or RunId eq {world.failed}"
    assert _ids(api, world, f"{either} and Status eq Failed") == {world.ok, world.failed}
    assert _ids(api, world, f"({either}) and Status eq Failed") == {world.failed}
    nested = f"((RunId eq {world.ok}) or ((Status eq Failed) and (ParentRunId eq null)))"
    assert _ids(api, world, nested) == {world.ok, world.failed}


def test_a_run_and_its_own_step_named_together_come_back_once_each(
    api: ApiClient, world: World
) -> None:
    step = world.steps[world.ok][0]
    named = f"RunId eq {world.ok} or RunId eq {step} or RunId eq {world.ok} or RunId eq nope"
    assert _ids(api, world, named) == {world.ok, step}
    assert _ids(api, world, f"RunId eq {step}") == {step}


def test_only_the_experiment_in_the_path_is_answered(api: ApiClient, world: World) -> None:
    flt = f"RunId eq {world.ok} or RunId eq {world.stranger}"
    assert _ids(api, world, flt) == {world.ok}
    other = _page(api, world.other, filter=flt)["value"]
    assert [dto["runId"] for dto in other] == [world.stranger]
    assert _page(api, f"{world.experiment}-empty")["value"] == []


# ---------------------------------------------------------------------------- paging, order
def test_pages_return_every_run_exactly_once(
    api: ApiClient, world: World, emulator: EmulatorProcess
) -> None:
    everything = world.parents | world.step_ids
    whole = _page(api, world.experiment)
    assert whole["continuationToken"] is None
    one_page = [dto["runId"] for dto in whole["value"]]
    pages = _all_pages(api, world.experiment, top=5)
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [run_id for page in pages for run_id in page] == one_page
    assert set(one_page) == everything and len(one_page) == len(everything)
    # --runs-query-max-top: a larger top is answered in pages of the cap, not refused.
    with _settings(emulator, max_top=4) as settings:
        assert settings["max_top"] == 4
        capped = _all_pages(api, world.experiment, top=500)
    assert [len(page) for page in capped] == [4, 4, 4]
    assert [run_id for page in capped for run_id in page] == one_page
    stats = emulator.stats()["requests"]
    assert stats["query runs"] >= 5
    assert stats["set runs query settings"] >= 2


def test_orderby(api: ApiClient, world: World) -> None:
    def ordered(orderby: Any) -> list[dict[str, Any]]:
        return list(_page(api, world.experiment, orderby=orderby)["value"])

    default = [dto["runId"] for dto in ordered(None)]
    assert default == sorted(default, reverse=True)  # the SDK's default: RunId desc
    assert [dto["runId"] for dto in ordered(["RunId desc"])] == default
    assert [dto["runId"] for dto in ordered("RunId asc")] == sorted(default)
    assert [dto["runId"] for dto in ordered(["runid"])] == sorted(default)

    def key(dto: dict[str, Any], field: str) -> tuple[datetime, str]:
        moment = datetime.fromisoformat(dto[field]) if dto[field] else datetime.min
        return moment.replace(tzinfo=None), dto["runId"]

    created = ordered("CreatedUtc asc")
    assert created == sorted(created, key=lambda dto: key(dto, "createdUtc"))
    assert created[0]["runId"] in {world.ok, *world.steps[world.ok]}
    started = ordered(["StartTimeUtc desc"])
    assert started == sorted(started, key=lambda dto: key(dto, "startTimeUtc"), reverse=True)
    paged = _all_pages(api, world.experiment, orderby="CreatedUtc asc", top=5)
    assert [run_id for page in paged for run_id in page] == [dto["runId"] for dto in created]


# ---------------------------------------------------------------------------- refusals
def test_a_filter_it_cannot_parse_names_the_part_and_its_offset(
    api: ApiClient, world: World
) -> None:
    bad = "(Status eq Completed) anded (RunId eq x)"
    message = _error(_query(api, world.experiment, {"filter": bad}), "InvalidFilter")
    assert "'anded' at offset 22" in message
    assert "Accepted:" in message and "Tags/<key>" in message
    message = _error(_query(api, world.experiment, {"filter": "(Name eq x)"}), "InvalidFilter")
    assert "'Name' at offset 1" in message and "unknown field" in message
    message = _error(_query(api, world.experiment, {"filter": "RunId gt x"}), "InvalidFilter")
    assert "'gt' at offset 6" in message and "eq, ne" in message
    unclosed = "(Tags/team eq 'ml'"
    message = _error(_query(api, world.experiment, {"filter": unclosed}), "InvalidFilter")
    assert "end (offset 18)" in message and "expected ')'" in message
    quote = "RunId eq 'abc"
    message = _error(_query(api, world.experiment, {"filter": quote}), "InvalidFilter")
    assert "offset 9" in message and "not closed" in message
    when = "(CreatedUtc ge yesterday)"
    message = _error(_query(api, world.experiment, {"filter": when}), "InvalidFilter")
    assert "'yesterday' at offset 15" in message and "ISO 8601" in message


def test_bad_top_orderby_and_body_are_400(api: ApiClient, world: World) -> None:
    for top in (0, -3, "5", 2.5, True):
        message = _error(_query(api, world.experiment, {"top": top}), "InvalidQuery")
        assert "top must be a whole number" in message, top
    for orderby in ("Name asc", "RunId sideways", ["RunId asc", "CreatedUtc asc"], 7):
        message = _error(_query(api, world.experiment, {"orderby": orderby}), "InvalidQuery")
        assert "is not supported" in message and "StartTimeUtc" in message, orderby
    assert "'Name asc'" in _error(
        _query(api, world.experiment, {"orderby": "Name asc"}), "InvalidQuery"
    )
    message = _error(_query(api, world.experiment, {"filtre": "x"}), "InvalidBody")
    assert "'filtre'" in message
    _error(_query(api, world.experiment, ["RunId eq x"]), "InvalidBody")


def test_a_token_of_another_query_or_none_at_all_is_400(api: ApiClient, world: World) -> None:
    first = _page(api, world.experiment, filter="(ParentRunId eq null)", top=1)
    token = first["continuationToken"]
    assert token
    same = _page(
        api, world.experiment, filter="(ParentRunId eq null)", top=1, continuationToken=token
    )
    assert same["value"] != first["value"]
    for body in (
        {"filter": "(ParentRunId ne null)", "continuationToken": token},
        {"filter": "(ParentRunId eq null)", "orderby": "RunId asc", "continuationToken": token},
        {"continuationToken": "not-a-token"},
    ):
        message = _error(_query(api, world.experiment, body), "InvalidContinuationToken")
        assert "not one this query returned" in message
    foreign = {"filter": "(ParentRunId eq null)", "continuationToken": token}
    _error(_query(api, world.other, foreign), "InvalidContinuationToken")


def test_max_ids_switch_refuses_a_filter_naming_more(
    api: ApiClient, world: World, emulator: EmulatorProcess
) -> None:
    three = f"RunId eq {world.ok} or RunId eq {world.ops} or RunId eq {world.failed}"
    assert _ids(api, world, three) == {world.ok, world.ops, world.failed}
    with _settings(emulator, max_ids=2):
        message = _error(_query(api, world.experiment, {"filter": three}), "TooManyRunIds")
        assert "names 3 run ids" in message and "at most 2" in message
        two = f"RunId eq {world.ok} or RunId eq {world.ops}"
        assert _ids(api, world, two) == {world.ok, world.ops}
    assert _ids(api, world, three) == {world.ok, world.ops, world.failed}


def test_lag_switch_hides_a_fresh_run_until_it_has_settled(
    api: ApiClient, world: World, emulator: EmulatorProcess
) -> None:
    experiment = f"{world.experiment}-lag"
    settled = _simulated(api, world.pipeline_id, experiment)
    api.wait(settled)
    time.sleep(2.5)
    with _settings(emulator, lag_seconds=2.0):
        fresh = _simulated(api, world.pipeline_id, experiment)
        seen = {dto["runId"] for dto in _page(api, experiment)["value"]}
        assert settled in seen
        assert fresh not in seen
        assert not set(_children(api, experiment, fresh)) & seen
        # Read by id at once: only the query lags.
        assert api.ok(routes.HISTORY_RUN, run_id=fresh)["runId"] == fresh
        deadline = time.monotonic() + 15
        while fresh not in {dto["runId"] for dto in _page(api, experiment)["value"]}:
            assert time.monotonic() < deadline, "the fresh run never appeared"
            time.sleep(0.25)
    assert fresh in {dto["runId"] for dto in _page(api, experiment)["value"]}


def test_admin_route_answers_and_checks_the_settings(emulator: EmulatorProcess) -> None:
    assert emulator.admin("GET", ADMIN) == {"max_ids": 0, "max_top": 500, "lag_seconds": 0.0}
    for bad in ({"max_top": 0}, {"max_ids": -1}, {"lag_seconds": "1"}, {"unknown": 1}, [1]):
        response = requests.put(
            emulator.base_url + ADMIN,
            json=bad,
            headers=emulator.admin_headers(),
            verify=emulator.ca_bundle,
            timeout=30,
        )
        assert response.status_code == 400, (bad, response.text)
    assert emulator.admin("GET", ADMIN) == {"max_ids": 0, "max_top": 500, "lag_seconds": 0.0}


def test_cli_flags_set_the_switches(tmp_path: Path) -> None:
    args = ["--runs-query-max-ids", "3", "--runs-query-max-top", "7", "--runs-query-lag", "1.5"]
    with EmulatorProcess(tmp_path / "emulator", extra_args=args) as process:
        assert process.admin("GET", ADMIN) == {"max_ids": 3, "max_top": 7, "lag_seconds": 1.5}
