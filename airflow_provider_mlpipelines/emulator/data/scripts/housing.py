"""Shared helpers of the example steps: CSV reading and the linear model (stdlib only)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

FEATURES = ("sqft", "rooms", "age")
TARGET = "price"


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` to stderr and exit with ``code`` (a failed step).

    :param message: why the step fails.
    :param code: the exit code.
    """
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def read_rows(path: str) -> list[dict[str, str]]:
    """The rows of a CSV file with a header.

    :param path: the file.
    """
    source = Path(path)
    if not source.is_file():
        fail(f"input file not found: {source}")
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        fail(f"input file has no rows: {source}")
    return rows


def features_of(row: dict[str, str]) -> list[float]:
    """The feature vector of a row.

    :param row: a CSV row.
    """
    return [float(row[name]) for name in FEATURES]


def predict(model: dict[str, Any], x: list[float]) -> float:
    """The model's prediction for raw features ``x``.

    :param model: a model written by ``train.py``.
    :param x: the features, in ``FEATURES`` order.
    """
    scaled = [(v - m) / s for v, m, s in zip(x, model["mean"], model["std"], strict=True)]
    return model["bias"] + sum(w * v for w, v in zip(model["weights"], scaled, strict=True))


def load_model(path: str) -> dict[str, Any]:
    """Read a model file.

    :param path: the JSON file written by ``train.py``.
    """
    source = Path(path)
    if not source.is_file():
        fail(f"model file not found: {source}")
    return json.loads(source.read_text(encoding="utf-8"))


def mse(model: dict[str, Any], rows: list[dict[str, str]]) -> float:
    """Mean squared error of the model on labelled rows.

    :param model: the model.
    :param rows: rows with the target column.
    """
    errors = [(predict(model, features_of(r)) - float(r[TARGET])) ** 2 for r in rows]
    return sum(errors) / len(errors)
