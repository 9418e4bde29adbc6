"""A user's clear gets a fresh run; an automatic retry finds the run of its earlier try even when
the endpoint's default version changed, or when the runs list shows new runs late.

The operator's ``execute`` is called with a task instance that carries what Airflow gives the
running task (``try_number``, ``max_tries``); the hook and the emulator are real. The same
behaviour on a real scheduler is in ``tests/e2e/test_clear_reruns.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import PipelineRun
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.operators._submission import (
    first_try_since_clear,
    submitted_before_clear,
)
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

from .conftest import RecordingTaskInstance

RETRIES = 2


class AirflowTaskInstance(RecordingTaskInstance):
    """A task instance with the ``max_tries`` that Airflow keeps: ``retries`` at first, raised
    to ``try_number + retries`` by each clear (Airflow 2.11 and 3.3)."""

    def __init__(self, *, run_id: str, try_number: int, max_tries: int) -> None:
        super().__init__(run_id=run_id, try_number=try_number)
        self.max_tries = max_tries


def _operator(**kwargs: Any) -> AzureMLSubmitPipelineRunOperator:
    kwargs.setdefault("deferrable", False)
    return AzureMLSubmitPipelineRunOperator(
        task_id="submit",
        experiment_name="clears",
        poll_interval=0.2,
        timeout=120,
        retries=RETRIES,
        **kwargs,
    )


def _mine(hook: Any, pipeline_ids: list[str], airflow_run_id: str) -> list[Any]:
    return [
        run
        for pipeline_id in pipeline_ids
        for run in hook.list_pipeline_runs(pipeline_id)
        if run.tags.get("airflow.run_id") == airflow_run_id
    ]


@pytest.mark.parametrize(
    ("max_tries", "retries", "first_try"),
    [
        (2, 2, 1),  # never cleared: tries 1, 2 and 3 are one series
        (4, 2, 3),  # cleared after try 2 (max_tries = 2 + 2): try 3 starts a new series
        (0, 0, 1),  # retries=0, never cleared
        (1, 0, 2),  # retries=0, cleared after try 1 (max_tries = 1 + 0)
        (None, 2, None),  # a task instance that does not say
    ],
)
def test_first_try_since_clear(max_tries: int | None, retries: int, first_try: int | None) -> None:
    ti = RecordingTaskInstance(try_number=3)
    if max_tries is not None:
        ti.max_tries = max_tries  # type: ignore[attr-defined]
    assert first_try_since_clear(ti, retries) == first_try


@pytest.mark.parametrize(
    ("run_tags", "try_number", "first_try", "before"),
    [
        ({"airflow.try_number": "1"}, 2, 1, False),  # an automatic retry's earlier try
        ({"airflow.try_number": "2"}, 3, 3, True),  # cleared after try 2
        # Cleared after try 2, and try 3 died before it submitted: try 4 is a retry, but the
        # run it finds is still from before the clear.
        ({"airflow.try_number": "2"}, 4, 3, True),
        ({"airflow.try_number": "3"}, 4, 3, False),  # try 3 (after the clear) submitted it
        ({}, 3, 3, True),  # no tag: this try is the first since the clear
        ({"airflow.try_number": "x"}, 4, 3, False),  # no readable tag, a retry
        ({"airflow.try_number": "1"}, 2, None, False),  # unknown: never called a clear
    ],
)
def test_submitted_before_clear(
    run_tags: dict[str, str], try_number: int, first_try: int | None, before: bool
) -> None:
    run = PipelineRun(id="r", tags=run_tags)
    ti = RecordingTaskInstance(try_number=try_number)
    assert submitted_before_clear(run, first_try, ti) is before


def test_clear_after_a_finished_run_submits_a_fresh_one(
    hook: Any, published: dict[str, Any]
) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    target = {"published_pipeline_id": published["simulated"]}
    first = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
    first_run = _operator(**target, parameters={"duration_seconds": 0.2}).execute({"ti": first})  # type: ignore[arg-type]
    assert first.xcoms["run_status"] == "Finished"

    # A user clears the succeeded task: max_tries = 1 + retries, the next try is 2.
    cleared = AirflowTaskInstance(run_id=airflow_run_id, try_number=2, max_tries=1 + RETRIES)
    second_run = _operator(**target, parameters={"duration_seconds": 0.2}).execute(
        {"ti": cleared}  # type: ignore[arg-type]
    )

    assert second_run != first_run
    assert cleared.xcoms["run_id"] == second_run and cleared.xcoms["run_status"] == "Finished"
    runs = _mine(hook, [published["simulated"]], airflow_run_id)
    assert sorted((r.tags["airflow.try_number"], r.id) for r in runs) == [
        ("1", first_run),
        ("2", second_run),
    ]

    # An automatic retry after that clear (try 3) reports the run of try 2: no third run.
    retried = AirflowTaskInstance(run_id=airflow_run_id, try_number=3, max_tries=1 + RETRIES)
    assert _operator(**target).execute({"ti": retried}) == second_run  # type: ignore[arg-type]
    assert len(_mine(hook, [published["simulated"]], airflow_run_id)) == 2


def test_clear_while_the_earlier_run_still_goes_reattaches(
    hook: Any, published: dict[str, Any]
) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    target = {"published_pipeline_id": published["simulated"]}
    first = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
    run_id = _operator(
        **target, parameters={"duration_seconds": 3}, wait_for_completion=False
    ).execute({"ti": first})  # type: ignore[arg-type]

    cleared = AirflowTaskInstance(run_id=airflow_run_id, try_number=2, max_tries=1 + RETRIES)
    assert _operator(**target).execute({"ti": cleared}) == run_id  # type: ignore[arg-type]
    assert [r.id for r in _mine(hook, [published["simulated"]], airflow_run_id)] == [run_id]


def test_retry_finds_its_run_after_the_endpoint_default_version_changed(
    hook: Any, session_conn: dict[str, Any]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    source = session_conn["pipeline_runs"]["simulated"]
    old, new = (
        hook.publish_pipeline_from_run(source, name=f"default-change-{suffix}", version=v).id
        for v in ("1", "2")
    )
    endpoint = hook.create_pipeline_endpoint(f"default-change-{suffix}", old)
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    target = {"pipeline_endpoint_name": endpoint.name}
    first = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
    run_id = _operator(
        **target, parameters={"duration_seconds": 0.2}, wait_for_completion=False
    ).execute({"ti": first})  # type: ignore[arg-type]
    assert hook.get_pipeline_run(run_id).pipeline_id == old

    # Between the tries, the endpoint's default moves to a version with another pipeline.
    hook.add_pipeline_to_endpoint(endpoint.id, new, set_default=True)
    assert hook.get_pipeline_endpoint(endpoint.id).pipeline_id_of(None) == new

    # No task state store (as on Airflow 2.11): only the identity tags can find the run.
    retried = AirflowTaskInstance(run_id=airflow_run_id, try_number=2, max_tries=RETRIES)
    assert _operator(**target).execute({"ti": retried}) == run_id  # type: ignore[arg-type]
    assert [r.id for r in _mine(hook, [old, new], airflow_run_id)] == [run_id]


def test_retry_finds_its_run_in_a_runs_list_that_lags(
    hook: Any, published: dict[str, Any], emulator: EmulatorProcess
) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    target = {"published_pipeline_id": published["simulated"]}
    with emulator.faults(list_delay_seconds=4):
        first = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
        run_id = _operator(
            **target, parameters={"duration_seconds": 0.2}, wait_for_completion=False
        ).execute({"ti": first})  # type: ignore[arg-type]
        # The retry starts at once, while the run is not listed yet.
        assert _mine(hook, [published["simulated"]], airflow_run_id) == []
        retried = AirflowTaskInstance(run_id=airflow_run_id, try_number=2, max_tries=RETRIES)
        assert _operator(**target).execute({"ti": retried}) == run_id  # type: ignore[arg-type]
    assert [r.id for r in _mine(hook, [published["simulated"]], airflow_run_id)] == [run_id]


def test_retry_of_a_cleared_try_that_never_submitted_still_runs_afresh(
    hook: Any, published: dict[str, Any]
) -> None:
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    target = {"published_pipeline_id": published["simulated"]}
    first = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
    first_run = _operator(**target, parameters={"duration_seconds": 0.2}).execute({"ti": first})  # type: ignore[arg-type]

    # Cleared after try 1; try 2 died before it submitted anything; try 3 is its retry.
    retried = AirflowTaskInstance(run_id=airflow_run_id, try_number=3, max_tries=1 + RETRIES)
    new_run = _operator(**target, parameters={"duration_seconds": 0.2}).execute({"ti": retried})  # type: ignore[arg-type]

    assert new_run != first_run
    assert len(_mine(hook, [published["simulated"]], airflow_run_id)) == 2


def test_retry_finds_its_run_on_a_later_page_of_the_runs_list(
    hook: Any, session_conn: dict[str, Any], emulator: EmulatorProcess
) -> None:
    # A pipeline of its own, so that the number of its runs (and pages) is known.
    pipeline_id = hook.publish_pipeline_from_run(
        session_conn["pipeline_runs"]["simulated"], name=f"paged-{uuid.uuid4().hex[:8]}"
    ).id
    target = {"published_pipeline_id": pipeline_id}

    def submit(airflow_run_id: str) -> str:
        ti = AirflowTaskInstance(run_id=airflow_run_id, try_number=1, max_tries=RETRIES)
        operator = _operator(
            **target, parameters={"duration_seconds": 0.2}, wait_for_completion=False
        )
        return str(operator.execute({"ti": ti}))  # type: ignore[arg-type]

    # Runs of other DAG runs before and after it: the run is on neither the first nor the
    # last page, whichever order the list is in.
    airflow_run_id = f"manual__{uuid.uuid4().hex}"
    before = [submit(f"other_before_{n}") for n in range(2)]
    run_id = submit(airflow_run_id)
    after = [submit(f"other_after_{n}") for n in range(2)]
    assert len({*before, run_id, *after}) == 5

    lists = routes.PIPELINE_RUNS.name
    lists_before = emulator.stats()["requests"].get(lists, 0)
    with emulator.faults(runs_page_size=1):
        # No task state store (as on Airflow 2.11): only the identity tags can find the run.
        retried = AirflowTaskInstance(run_id=airflow_run_id, try_number=2, max_tries=RETRIES)
        assert _operator(**target).execute({"ti": retried}) == run_id  # type: ignore[arg-type]
    # The pages up to the run's were read, and nothing was submitted again.
    assert emulator.stats()["requests"].get(lists, 0) - lists_before >= 3
    assert [r.id for r in _mine(hook, [pipeline_id], airflow_run_id)] == [run_id]
    assert len(hook.list_pipeline_runs(pipeline_id)) == 5
