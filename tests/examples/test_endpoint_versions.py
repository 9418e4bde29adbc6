"""example_mlpipelines_endpoint_versions, run with dag.test() against the session emulator."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import task_state, xcom

DAG_ID = "example_mlpipelines_endpoint_versions"
BASELINE_MODEL = "models/baseline/model.json"


@pytest.fixture
def scoring_endpoint(
    examples_hook: Any, deployment: dict[str, Any], unique_name: Callable[[str], str]
) -> str:
    """A fresh scoring endpoint whose default version "0" is the published scoring pipeline."""
    pipeline = examples_hook.publish_pipeline_from_run(
        deployment["pipeline_runs"]["score"], name="housing-score", version=unique_name("v")
    )
    name = unique_name("housing-scoring")
    examples_hook.create_pipeline_endpoint(name, pipeline.id)
    return name


@pytest.fixture
def shifted_model(datastore_dir: Path) -> str:
    """A model whose predictions are about 20 % below the baseline's; its datastore path."""
    model = json.loads((datastore_dir / BASELINE_MODEL).read_text(encoding="utf-8"))
    model["bias"] *= 0.8
    model["weights"] = [w * 0.8 for w in model["weights"]]
    relative = f"models/test-{uuid.uuid4().hex[:8]}/model.json"
    target = datastore_dir / relative
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(model), encoding="utf-8")
    return relative


def predictions(datastore_dir: Path, run_id: str) -> dict[str, float]:
    path = datastore_dir / "predictions" / f"{run_id}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["id"]: float(row["prediction"]) for row in csv.DictReader(handle)}


def test_a_candidate_that_agrees_stays_the_default(
    run_example: Callable[..., Any],
    examples_hook: Any,
    datastore_dir: Path,
    scoring_endpoint: str,
    unique_name: Callable[[str], str],
) -> None:
    dag_run = run_example(
        DAG_ID,
        endpoint_name=scoring_endpoint,
        candidate_label=unique_name("candidate"),
        candidate_model=BASELINE_MODEL,
    )
    assert dag_run.state == "success"
    made = xcom(dag_run, "make_candidate_default")
    assert (made["version"], made["previous_default_version"]) == ("1", "0")
    candidate_run = examples_hook.get_pipeline_run(xcom(dag_run, "score_with_candidate"))
    reference_run = examples_hook.get_pipeline_run(xcom(dag_run, "score_with_previous_default"))
    endpoint = examples_hook.get_pipeline_endpoint(name=scoring_endpoint)
    assert candidate_run.pipeline_id == endpoint.pipeline_id_of("1")
    assert reference_run.pipeline_id == endpoint.pipeline_id_of("0")
    assert predictions(datastore_dir, candidate_run.id) == predictions(
        datastore_dir, reference_run.id
    )
    comparison = xcom(dag_run, "compare_predictions")
    assert comparison["rows"] == 40
    assert comparison["mean_relative_change"] == 0
    assert task_state(dag_run, "roll_back_default_version") == "skipped"
    assert task_state(dag_run, "fail_if_a_run_failed") == "skipped"
    assert endpoint.default_version == "1"


def test_a_candidate_that_deviates_is_rolled_back(
    run_example: Callable[..., Any],
    examples_hook: Any,
    datastore_dir: Path,
    scoring_endpoint: str,
    shifted_model: str,
    unique_name: Callable[[str], str],
) -> None:
    dag_run = run_example(
        DAG_ID,
        endpoint_name=scoring_endpoint,
        candidate_label=unique_name("candidate"),
        candidate_model=shifted_model,
        scoring_date="2026-01-02",
    )
    assert dag_run.state == "success"
    comparison = xcom(dag_run, "compare_predictions")
    assert comparison["rows"] == 60
    assert comparison["mean_relative_change"] == pytest.approx(0.2, abs=0.05)
    candidate = predictions(datastore_dir, xcom(dag_run, "score_with_candidate"))
    reference = predictions(datastore_dir, xcom(dag_run, "score_with_previous_default"))
    assert all(candidate[key] < reference[key] for key in reference)
    assert task_state(dag_run, "roll_back_default_version") == "success"
    assert xcom(dag_run, "roll_back_default_version") == "0"
    endpoint = examples_hook.get_pipeline_endpoint(name=scoring_endpoint)
    assert endpoint.default_version == "0", "the previous default must be restored"
    assert endpoint.version_names == ["0", "1"], "the candidate stays available as a version"


def test_a_candidate_whose_run_fails_is_rolled_back_and_fails_the_dag_run(
    run_example: Callable[..., Any],
    examples_hook: Any,
    scoring_endpoint: str,
    unique_name: Callable[[str], str],
) -> None:
    dag_run = run_example(
        DAG_ID,
        endpoint_name=scoring_endpoint,
        candidate_label=unique_name("candidate"),
        candidate_model="models/does-not-exist/model.json",
    )
    assert dag_run.state == "failed"
    assert task_state(dag_run, "score_with_candidate") == "failed"
    assert xcom(dag_run, "score_with_candidate", "run_status") == "Failed"
    assert task_state(dag_run, "score_with_previous_default") == "success"
    assert task_state(dag_run, "compare_predictions") == "upstream_failed"
    assert task_state(dag_run, "roll_back_default_version") == "success"
    assert task_state(dag_run, "fail_if_a_run_failed") == "failed"
    assert examples_hook.get_pipeline_endpoint(name=scoring_endpoint).default_version == "0"


def test_a_candidate_that_already_is_the_default_has_nothing_to_roll_back_to(
    run_example: Callable[..., Any],
    examples_hook: Any,
    scoring_endpoint: str,
    unique_name: Callable[[str], str],
) -> None:
    label = unique_name("candidate")
    conf = {
        "endpoint_name": scoring_endpoint,
        "candidate_label": label,
        "candidate_model": BASELINE_MODEL,
    }
    first = run_example(DAG_ID, **conf)
    assert first.state == "success"
    # The same candidate again: it is the default already, so it replaced no version.
    again = run_example(DAG_ID, **conf)
    made = xcom(again, "make_candidate_default")
    assert (made["version"], made["previous_default_version"]) == ("1", None)
    assert task_state(again, "score_with_previous_default") == "failed"
    assert task_state(again, "roll_back_default_version") == "skipped"
    assert again.state == "failed", "nothing was compared, so the DAG run must not be green"
    endpoint = examples_hook.get_pipeline_endpoint(name=scoring_endpoint)
    assert (endpoint.default_version, endpoint.version_names) == ("1", ["0", "1"])
