"""example_mlpipelines_batch_scoring, run with dag.test() against the session emulator."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.airflow_helpers import INLINE_TRIGGER_LOGGER, deferrals

from .conftest import xcom

DAG_ID = "example_mlpipelines_batch_scoring"
QUEUE_SECONDS = 3


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_predictions_match_input(predictions: Path, scored_input: Path) -> int:
    """The predictions file has one finite prediction per input row, in order."""
    output, given = read_rows(predictions), read_rows(scored_input)
    assert [row["id"] for row in output] == [row["id"] for row in given]
    assert list(output[0]) == ["id", "prediction"]
    assert all(math.isfinite(float(row["prediction"])) for row in output)
    return len(output)


def test_scores_the_input_of_the_logical_date_and_waits_deferred(
    run_example: Callable[..., Any],
    examples_hook: Any,
    emulator: EmulatorProcess,
    datastore_dir: Path,
    unique_name: Callable[[str], str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=INLINE_TRIGGER_LOGGER)
    endpoint_name = unique_name("housing-scoring")
    # The scoring step takes well under a second; a run already finished when the operator
    # first looks is reported without deferring, so the runs queue first, as on a real cluster.
    with emulator.faults(queue_seconds=QUEUE_SECONDS):
        dag_run = run_example(
            DAG_ID,
            logical_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
            endpoint_name=endpoint_name,
        )
    assert dag_run.state == "success"
    run_id = xcom(dag_run, "score")
    assert xcom(dag_run, "score", "run_status") == "Finished"
    assert run_id in xcom(dag_run, "score", "run_url")
    captured = capfd.readouterr()
    output = captured.out + captured.err + caplog.text
    assert deferrals(dag_run, "score", output) >= 1, "the wait did not go through a trigger"
    predictions = datastore_dir / "predictions" / f"{run_id}.csv"
    rows = assert_predictions_match_input(predictions, datastore_dir / "scoring/2026-01-01.csv")
    assert rows == 40
    assert xcom(dag_run, "check_predictions")["rows"] == 40
    endpoint = examples_hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.version_names == ["0"]
    assert examples_hook.get_pipeline_run(run_id).tags["scoring_date"] == "2026-01-01"


def test_the_scoring_date_param_picks_another_day_and_the_endpoint_is_left_alone(
    run_example: Callable[..., Any],
    examples_hook: Any,
    datastore_dir: Path,
    unique_name: Callable[[str], str],
) -> None:
    endpoint_name = unique_name("housing-scoring")
    first = run_example(DAG_ID, endpoint_name=endpoint_name, scoring_date="2026-01-02")
    assert first.state == "success"
    again = run_example(DAG_ID, endpoint_name=endpoint_name, scoring_date="2026-01-02")
    assert again.state == "success"
    for dag_run in (first, again):
        predictions = datastore_dir / "predictions" / f"{xcom(dag_run, 'score')}.csv"
        scored = datastore_dir / "scoring/2026-01-02.csv"
        assert assert_predictions_match_input(predictions, scored) == 60
    assert xcom(first, "score") != xcom(again, "score")
    endpoint = examples_hook.get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.version_names == ["0"], "ensuring the endpoint must not add versions"
    # The default stayed "0": there is nothing to roll back to, so no rollback target.
    assert xcom(again, "ensure_scoring_endpoint")["previous_default_version"] is None


def test_a_day_without_input_fails_the_dag_run(
    run_example: Callable[..., Any], unique_name: Callable[[str], str]
) -> None:
    dag_run = run_example(
        DAG_ID, endpoint_name=unique_name("housing-scoring"), scoring_date="1999-12-31"
    )
    assert dag_run.state == "failed"
    assert xcom(dag_run, "score", "run_status") == "Failed"
    assert xcom(dag_run, "check_predictions") is None
