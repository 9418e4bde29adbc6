"""Submissions whose outcome is unknown are looked up, never resent blindly: 503 answers, a runs
list that lags behind new runs or answers in pages, endpoint submit URLs with ``parentRunId``.

One emulator of this module's own: its runs-list settings (``list_delay_seconds``,
``runs_page_size``) and ``error_mode`` must not leak into other tests. Every test counts what
the emulator received (``/_emulator/stats``) and the runs that exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hook_helpers import SleepRecorder, conn_json, publish, runs_tagged

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.clients.v1.bodies import runs_page
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

CONN_ID = "aml_submit_lookup"
SUBMIT_ROUTE = routes.PIPELINE_SUBMIT.name
LIST_ROUTE = routes.PIPELINE_RUNS.name
#: Settings of this module's tests, put back after each one.
RESET = {
    "fail_next": 0,
    "error_mode": "before",
    "drop_rate": 0.0,
    "drop_mode": "before",
    "list_delay_seconds": 0.0,
    "runs_page_size": 0,
    "path_contains": "",
}


@pytest.fixture(scope="module")
def own_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path_factory.mktemp("submit-lookup"))
    try:
        process.start()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", conn_json(process))
            yield process
    finally:
        process.stop()


@pytest.fixture
def emulator(own_emulator: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """This module's emulator; its settings are put back after the test."""
    try:
        yield own_emulator
    finally:
        own_emulator.set_faults(**RESET)


@pytest.fixture
def hook(emulator: EmulatorProcess) -> Iterator[tuple[AzureMLPipelinesHook, SleepRecorder]]:
    created = AzureMLPipelinesHook(CONN_ID, retry_backoff=0.05)
    sleeps = SleepRecorder()
    created.sleep = sleeps  # type: ignore[method-assign]
    try:
        yield created, sleeps
    finally:
        created.close()


@pytest.fixture(scope="module")
def pipeline(own_emulator: EmulatorProcess) -> Any:
    with AzureMLPipelinesHook(CONN_ID) as publisher:
        return publish(publisher, own_emulator, "simulated")


def submission(hook: AzureMLPipelinesHook, case: str) -> Any:
    return hook.build_submission(
        experiment_name="lookup", parameters={"duration_seconds": 0}, tags={"case": case}
    )


def requests_to(emulator: EmulatorProcess, route: str) -> int:
    return int(emulator.stats()["requests"].get(route, 0))


# --------------------------------------------------------------------------------------------
# A 503 does not prove the refusal of a submission
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [503, 500, 502, 504])
def test_5xx_after_the_run_was_created_is_resolved_by_lookup_not_resent(
    emulator: EmulatorProcess,
    hook: tuple[AzureMLPipelinesHook, SleepRecorder],
    pipeline: Any,
    status: int,
) -> None:
    # None of these answers proves that the service refused the submission.
    client, _ = hook
    client.get_published_pipeline(pipeline.id)  # token first: the fault is for the submit
    case = uuid.uuid4().hex
    posts_before = requests_to(emulator, SUBMIT_ROUTE)
    faults_before = emulator.stats()["faults"].get(f"{status}_after", 0)
    emulator.set_faults(
        fail_next=1, fail_status=status, error_mode="after", path_contains="PipelineSubmit"
    )

    run = client.submit_pipeline_run(pipeline.id, submission(client, case))

    assert [r.id for r in runs_tagged(client, pipeline, "case", case)] == [run.id]
    assert requests_to(emulator, SUBMIT_ROUTE) - posts_before == 1
    assert emulator.stats()["faults"].get(f"{status}_after") == faults_before + 1


def test_503_before_handling_is_resent_once_the_lookup_finds_nothing(
    emulator: EmulatorProcess, hook: tuple[AzureMLPipelinesHook, SleepRecorder], pipeline: Any
) -> None:
    client, _ = hook
    client.runs_list_lag_seconds = 0  # the list is consistent here; the lag is tested below
    client.get_published_pipeline(pipeline.id)
    case = uuid.uuid4().hex
    posts_before = requests_to(emulator, SUBMIT_ROUTE)
    lists_before = requests_to(emulator, LIST_ROUTE)
    emulator.set_faults(fail_next=1, fail_status=503, path_contains="PipelineSubmit")

    run = client.submit_pipeline_run(pipeline.id, submission(client, case))

    assert [r.id for r in runs_tagged(client, pipeline, "case", case)] == [run.id]
    assert requests_to(emulator, SUBMIT_ROUTE) - posts_before == 2
    # One lookup between the two attempts, one by runs_tagged above.
    assert requests_to(emulator, LIST_ROUTE) - lists_before == 2


# --------------------------------------------------------------------------------------------
# A runs list that shows new runs late
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["503 after", "drop after"])
def test_lookup_waits_for_a_lagging_runs_list_instead_of_resending(
    emulator: EmulatorProcess,
    hook: tuple[AzureMLPipelinesHook, SleepRecorder],
    pipeline: Any,
    fault: str,
) -> None:
    client, sleeps = hook
    client.get_published_pipeline(pipeline.id)
    case = uuid.uuid4().hex
    posts_before = requests_to(emulator, SUBMIT_ROUTE)
    lists_before = requests_to(emulator, LIST_ROUTE)
    emulator.set_faults(list_delay_seconds=3)
    if fault == "503 after":
        emulator.set_faults(
            fail_next=1, fail_status=503, error_mode="after", path_contains="PipelineSubmit"
        )
    else:
        # Every submit is dropped after handling: only the lookup can end this without
        # creating a run per attempt.
        emulator.set_faults(drop_rate=1.0, drop_mode="after", path_contains="PipelineSubmit")

    run = client.submit_pipeline_run(pipeline.id, submission(client, case))

    emulator.set_faults(**RESET)
    assert [r.id for r in runs_tagged(client, pipeline, "case", case)] == [run.id]
    assert requests_to(emulator, SUBMIT_ROUTE) - posts_before == 1
    # The first looks found nothing (the run was not listed yet) and were repeated.
    assert requests_to(emulator, LIST_ROUTE) - lists_before >= 3
    assert sleeps.waits and sum(sleeps.waits) >= 2


def test_the_runs_list_hides_new_runs_for_the_configured_delay(
    emulator: EmulatorProcess, hook: tuple[AzureMLPipelinesHook, SleepRecorder], pipeline: Any
) -> None:
    client, _ = hook
    emulator.set_faults(list_delay_seconds=600)
    case = uuid.uuid4().hex
    run = client.submit_pipeline_run(pipeline.id, submission(client, case))
    # Got by id at once, absent from the list.
    assert client.get_pipeline_run(run.id).id == run.id
    assert runs_tagged(client, pipeline, "case", case) == []
    emulator.set_faults(list_delay_seconds=0)
    assert [r.id for r in runs_tagged(client, pipeline, "case", case)] == [run.id]


# --------------------------------------------------------------------------------------------
# A runs list in pages
# --------------------------------------------------------------------------------------------
def test_runs_list_follows_every_page(
    emulator: EmulatorProcess, hook: tuple[AzureMLPipelinesHook, SleepRecorder], pipeline: Any
) -> None:
    client, _ = hook
    for _ in range(3):
        client.submit_pipeline_run(pipeline.id, submission(client, "paging"))
    everything = [r.id for r in client.list_pipeline_runs(pipeline.id)]
    assert len(everything) >= 3
    emulator.set_faults(runs_page_size=1)
    lists_before = requests_to(emulator, LIST_ROUTE)

    paged = [r.id for r in client.list_pipeline_runs(pipeline.id)]

    assert paged == everything
    assert requests_to(emulator, LIST_ROUTE) - lists_before == len(everything)


def test_lookup_finds_a_run_on_a_later_page(
    emulator: EmulatorProcess, hook: tuple[AzureMLPipelinesHook, SleepRecorder], pipeline: Any
) -> None:
    client, _ = hook
    client.submit_pipeline_run(pipeline.id, submission(client, "earlier"))
    case = uuid.uuid4().hex
    posts_before = requests_to(emulator, SUBMIT_ROUTE)
    emulator.set_faults(runs_page_size=1)
    emulator.set_faults(
        fail_next=1, fail_status=503, error_mode="after", path_contains="PipelineSubmit"
    )

    run = client.submit_pipeline_run(pipeline.id, submission(client, case))

    assert requests_to(emulator, SUBMIT_ROUTE) - posts_before == 1
    assert [r.id for r in runs_tagged(client, pipeline, "case", case)] == [run.id]
    assert run.tags[SUBMISSION_ID_TAG]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, ([], None)),
        ([{"Id": "a"}], ([{"Id": "a"}], None)),
        ({"value": [{"Id": "a"}], "continuationToken": "t"}, ([{"Id": "a"}], "t")),
        ({"Value": [], "ContinuationToken": None}, ([], None)),
        ({"value": [], "continuationToken": ""}, ([], None)),
    ],
)
def test_runs_page_reads_both_shapes(data: Any, expected: tuple[Any, Any]) -> None:
    assert runs_page(data) == expected


@pytest.mark.parametrize("data", [{"runs": []}, "text", {"value": {}}])
def test_runs_page_refuses_other_shapes(data: Any) -> None:
    with pytest.raises(ValueError, match="neither an array of runs nor a page"):
        runs_page(data)


# --------------------------------------------------------------------------------------------
# parentRunId on an endpoint submit URL
# --------------------------------------------------------------------------------------------
def test_parent_run_id_of_an_endpoint_submit_url_is_kept(
    emulator: EmulatorProcess,
    hook: tuple[AzureMLPipelinesHook, SleepRecorder],
    pipeline: Any,
) -> None:
    client, _ = hook
    parent = emulator.manifest["pipeline_runs"]["train"]
    endpoint = client.create_pipeline_endpoint(f"parent-{uuid.uuid4().hex[:8]}", pipeline.id)
    assert endpoint.url
    for url in (f"{endpoint.url}?parentRunId={parent}", f"{endpoint.url}/0?parentRunId={parent}"):
        run = client.submit_to_url(url, submission(client, "parent"))
        history = client.get_history_run(run.id, "lookup")
        assert history.parent_run_id == parent, url
