"""The rules that decide, from the deployment's jobs, whether a lost invoke made a job."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_mlpipelines.api.v2.models import Job
from airflow_provider_mlpipelines.clients.v2.calls import task_job_name
from airflow_provider_mlpipelines.clients.v2.invokes import (
    InvokeTarget,
    invoked_job,
    is_marker,
    unmarked_jobs,
)
from airflow_provider_mlpipelines.exceptions import AzureMLUndecidableSubmissionError

NOW = time.time()
MARKER = task_job_name({"airflow.dag_id": "d", "airflow.task_id": "t"}, 1)
TARGET = InvokeTarget("scoring", "blue", MARKER, "exp", NOW)


def job(name: str, display: str, *, ago: float = 1.0, deployment: str = "blue", **kw: Any) -> Job:
    created = datetime.fromtimestamp(NOW - ago, timezone.utc).isoformat()
    return Job.from_json(
        {
            "name": name,
            "systemData": {"createdAt": created},
            "properties": {
                "displayName": display,
                "experimentName": kw.get("experiment", "exp"),
                "description": kw.get(
                    "description",
                    f"Pipeline submission for endpoint: scoring, deployment: {deployment}.",
                ),
                "tags": {"azureml.deploymentname": deployment, "azureml.batchrun": "true"},
            },
        }
    )


def test_the_requested_name_marks_the_job_as_its_name_or_its_display_name() -> None:
    assert is_marker(MARKER) and not is_marker("blue_store_3k1gd32x")
    by_display = job("batchjob-1", MARKER)
    assert invoked_job([job("batchjob-0", "brave_leaf_12345678"), by_display], TARGET) is by_display
    by_name = job(MARKER, MARKER)
    assert invoked_job([by_name], TARGET) is by_name


def test_no_job_or_only_other_submissions_jobs_mean_the_invoke_made_none() -> None:
    other = task_job_name({"airflow.dag_id": "d", "airflow.task_id": "other"}, 1)
    assert invoked_job([], TARGET) is None
    assert invoked_job([job("batchjob-2", other)], TARGET) is None


@pytest.mark.parametrize(
    ("unrelated", "why"),
    [
        ({"ago": 3600.0}, "created before the invoke was sent"),
        ({"deployment": "green"}, "another deployment"),
        (
            {"description": "Pipeline submission for endpoint: other, deployment: blue."},
            "another endpoint",
        ),
        ({"experiment": "someone-else"}, "another experiment"),
    ],
)
def test_jobs_that_cannot_be_the_invokes_are_not_candidates(
    unrelated: dict[str, Any], why: str
) -> None:
    assert invoked_job([job("batchjob-3", "calm_river_1a2b3c4d", **unrelated)], TARGET) is None, why


def test_an_unmarked_job_that_may_be_the_invokes_is_said_to_be_undecidable() -> None:
    with pytest.raises(AzureMLUndecidableSubmissionError, match="batchjob-4"):
        invoked_job([job("batchjob-4", "calm_river_1a2b3c4d")], TARGET)
    # The endpoint's own name is the experiment when the service ignores the requested one.
    with pytest.raises(AzureMLUndecidableSubmissionError):
        invoked_job([job("batchjob-5", "calm_river_1a2b3c4d", experiment="scoring")], TARGET)


def test_a_retry_refuses_when_an_unmarked_job_of_the_endpoint_exists_since_the_run_began() -> None:
    unmarked_jobs([job("batchjob-6", MARKER)], "scoring", ["blue"], NOW - 60, [MARKER])
    with pytest.raises(AzureMLUndecidableSubmissionError, match="batchjob-7"):
        unmarked_jobs(
            [job("batchjob-7", "quiet_stone_9f8e7d6c")], "scoring", ["blue"], NOW - 60, [MARKER]
        )
    # Older than the run's start: not the earlier try's.
    unmarked_jobs(
        [job("batchjob-8", "quiet_stone_9f8e7d6c", ago=3600)],
        "scoring",
        ["blue"],
        NOW - 60,
        [MARKER],
    )
