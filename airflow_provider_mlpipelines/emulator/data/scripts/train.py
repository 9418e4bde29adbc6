"""Train a linear regression of house prices by batch gradient descent (stdlib only).

The learning rate and the number of epochs really change the model: few epochs or a small
rate leave it under-trained. Writes the model (standardisation and coefficients) as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from housing import FEATURES, TARGET, fail, features_of, mse, read_rows


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--training-data", required=True, help="CSV with sqft,rooms,age,price")
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--sleep-seconds", type=float, default=0.0, help="wait before training")
    parser.add_argument("--model-out", required=True, help="where to write the model JSON")
    return parser.parse_args()


def train(rows: list[dict[str, str]], learning_rate: float, epochs: int) -> dict[str, object]:
    """Fit the model.

    :param rows: training rows.
    :param learning_rate: gradient descent step size.
    :param epochs: passes over the data.
    """
    xs = [features_of(r) for r in rows]
    ys = [float(r[TARGET]) for r in rows]
    mean = [statistics.fmean(col) for col in zip(*xs, strict=True)]
    std = [statistics.pstdev(col) or 1.0 for col in zip(*xs, strict=True)]
    scaled = [[(v - m) / s for v, m, s in zip(x, mean, std, strict=True)] for x in xs]
    weights = [0.0] * len(FEATURES)
    bias = 0.0
    n = len(rows)
    for _ in range(epochs):
        residuals = [
            bias + sum(w * v for w, v in zip(weights, x, strict=True)) - y
            for x, y in zip(scaled, ys, strict=True)
        ]
        bias -= learning_rate * 2 * sum(residuals) / n
        for j in range(len(weights)):
            weights[j] -= (
                learning_rate
                * 2
                * sum(r * x[j] for r, x in zip(residuals, scaled, strict=True))
                / n
            )
    return {
        "features": list(FEATURES),
        "mean": mean,
        "std": std,
        "weights": weights,
        "bias": bias,
        "learning_rate": learning_rate,
        "epochs": epochs,
    }


def main() -> None:
    """Train, write the model, print the metrics."""
    args = parse_args()
    if args.epochs < 1:
        fail(f"--epochs must be at least 1, got {args.epochs}")
    if not args.learning_rate > 0:
        fail(f"--learning-rate must be positive, got {args.learning_rate}")
    if args.sleep_seconds > 0:
        print(f"sleeping {args.sleep_seconds:g} s before training", flush=True)
        time.sleep(args.sleep_seconds)
    rows = read_rows(args.training_data)
    model = train(rows, args.learning_rate, args.epochs)
    model["train_mse"] = mse(model, rows)
    out = Path(args.model_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model, indent=2), encoding="utf-8")
    print(f"rows={len(rows)} epochs={args.epochs} learning_rate={args.learning_rate:g}")
    print(f"train_mse={model['train_mse']:.4f}")
    print(f"model written to {out}")


if __name__ == "__main__":
    main()
