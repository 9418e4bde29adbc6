"""The helper functions of the example DAG files (pure functions: files in, verdicts out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import load_example_module

scoring = load_example_module("example_mlpipelines_batch_scoring.py")
versions = load_example_module("example_mlpipelines_endpoint_versions.py")
retraining = load_example_module("example_mlpipelines_retraining.py")


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_predictions_accepts_one_finite_prediction_per_input_row(tmp_path: Path) -> None:
    scored = write_csv(tmp_path / "in.csv", "id,sqft", "a,1", "b,2")
    predictions = write_csv(tmp_path / "out.csv", "id,prediction", "a,10.5", "b,11.5")
    summary = scoring.check_predictions_file(predictions, scored)
    assert summary["rows"] == 2
    assert summary["mean_prediction"] == 11.0


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (["a,10.5"], "1 predictions for 2 input rows"),
        (["b,1", "a,2"], "ids differ"),
        (["a,10.5", "b,nan"], "non-finite"),
    ],
)
def test_check_predictions_refuses_wrong_files(
    tmp_path: Path, rows: list[str], problem: str
) -> None:
    scored = write_csv(tmp_path / "in.csv", "id,sqft", "a,1", "b,2")
    predictions = write_csv(tmp_path / "out.csv", "id,prediction", *rows)
    with pytest.raises(ValueError, match=problem):
        scoring.check_predictions_file(predictions, scored)


def test_check_predictions_refuses_a_file_without_the_column(tmp_path: Path) -> None:
    scored = write_csv(tmp_path / "in.csv", "id,sqft", "a,1")
    predictions = write_csv(tmp_path / "out.csv", "id,price", "a,1")
    with pytest.raises(ValueError, match="no column 'prediction'"):
        scoring.check_predictions_file(predictions, scored)


def test_compare_prediction_files_measures_the_mean_relative_change(tmp_path: Path) -> None:
    reference = write_csv(tmp_path / "ref.csv", "id,prediction", "a,100", "b,200")
    candidate = write_csv(tmp_path / "new.csv", "id,prediction", "b,220", "a,100")
    comparison = versions.compare_prediction_files(candidate, reference)
    assert comparison["rows"] == 2
    assert comparison["mean_relative_change"] == pytest.approx(0.05)
    assert comparison["max_relative_change"] == pytest.approx(0.1)


def test_compare_prediction_files_refuses_different_houses(tmp_path: Path) -> None:
    reference = write_csv(tmp_path / "ref.csv", "id,prediction", "a,100")
    candidate = write_csv(tmp_path / "new.csv", "id,prediction", "z,100")
    with pytest.raises(ValueError, match="do not score the same houses"):
        versions.compare_prediction_files(candidate, reference)


@pytest.mark.parametrize(
    ("comparison", "previous", "threshold", "expected"),
    [
        ({"mean_relative_change": 0.2}, "0", "0.05", True),
        ({"mean_relative_change": 0.01}, "0", 0.05, False),
        (None, "3", 0.05, True),  # the candidate could not be verified
        (None, "None", 0.05, False),  # nothing to go back to
        ({"mean_relative_change": 0.2}, None, 0.05, False),
    ],
)
def test_needs_rollback(
    comparison: dict[str, float] | None, previous: str | None, threshold: object, expected: bool
) -> None:
    assert versions.needs_rollback(comparison, previous, threshold) is expected


def test_read_training_metrics(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "run-1"
    with pytest.raises(FileNotFoundError, match="run-1 wrote no model"):
        retraining.read_training_metrics(str(tmp_path), "run-1")
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}", encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps({"r2": 0.9}), encoding="utf-8")
    report = retraining.read_training_metrics(str(tmp_path), "run-1")
    assert report == {"run_id": "run-1", "model_path": str(folder / "model.json"), "r2": 0.9}
