"""Train step of the example pipeline component: fit price ~ sqft by gradient descent.

Standard library only. Writes ``model.json`` (slope, intercept, rows) to the output folder.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="folder holding prepared.csv")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--model", required=True, help="output folder")
    args = parser.parse_args()
    with (Path(args.data) / "prepared.csv").open(newline="", encoding="utf-8") as handle:
        pairs = [(float(r["sqft"]), float(r["price"])) for r in csv.DictReader(handle)]
    if not pairs:
        raise SystemExit("prepared.csv has no rows")
    # Scale x so a fixed learning rate converges whatever the units.
    scale = max(abs(x) for x, _ in pairs) or 1.0
    slope = intercept = 0.0
    for _ in range(args.epochs):
        grad_s = grad_i = 0.0
        for x, y in pairs:
            error = slope * x / scale + intercept - y
            grad_s += error * x / scale
            grad_i += error
        slope -= args.learning_rate * grad_s / len(pairs)
        intercept -= args.learning_rate * grad_i / len(pairs)
    out = Path(args.model)
    out.mkdir(parents=True, exist_ok=True)
    model = {"slope": slope / scale, "intercept": intercept, "rows": len(pairs)}
    (out / "model.json").write_text(json.dumps(model), encoding="utf-8")
    print(f"trained on {len(pairs)} rows: {model}")


if __name__ == "__main__":
    main()
