"""The decision of ``_lifecycle``: which task states mean a user stopped a waiting task."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_mlpipelines._lifecycle import explain, handling_task_timeout, is_user_stop

try:
    from airflow.sdk.exceptions import AirflowTaskTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef,attr-defined]


@pytest.mark.parametrize(
    ("ti_state", "dag_run_state", "user"),
    [
        ("failed", "running", True),  # marked failed
        ("success", "running", True),  # marked success
        ("skipped", "running", True),
        ("running", "failed", True),  # DAG run marked failed
        ("running", "success", True),
        ("running", "running", False),  # the worker is going away
        ("deferred", "running", False),  # the trigger moved to another triggerer
        ("up_for_retry", "running", False),  # heartbeat lost: the retry re-attaches
        ("restarting", "running", False),  # cleared while running: the new try re-attaches
        ("queued", "running", False),
        (None, None, False),
    ],
)
def test_is_user_stop(ti_state: str | None, dag_run_state: str | None, user: bool) -> None:
    assert is_user_stop(ti_state, dag_run_state) is user


def test_explain_logs_the_decision(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("lifecycle-test")
    with caplog.at_level(logging.INFO, logger="lifecycle-test"):
        assert explain(log, "running", "running") is False
        assert explain(log, "failed", "running") is True
    assert "still running" in caplog.text and "leaving the pipeline run going" in caplog.text
    assert "stopped by a user (task instance failed" in caplog.text


def test_handling_task_timeout_only_inside_its_handler() -> None:
    assert handling_task_timeout() is False
    try:
        raise AirflowTaskTimeout("execution_timeout")
    except AirflowTaskTimeout:
        assert handling_task_timeout() is True
    try:
        raise ValueError("something else")
    except ValueError:
        assert handling_task_timeout() is False
