"""Evaluate a trained model on labelled validation data; print and write the metrics."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from housing import TARGET, load_model, mse, read_rows


def main() -> None:
    """Compute MSE and R² on the validation rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--metrics-out", required=True)
    args = parser.parse_args()
    model = load_model(args.model)
    rows = read_rows(args.data)
    error = mse(model, rows)
    variance = statistics.pvariance([float(r[TARGET]) for r in rows])
    metrics = {"validation_mse": error, "r2": 1 - error / variance, "rows": len(rows)}
    out = Path(args.metrics_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    print(f"validation_mse={error:.4f} r2={metrics['r2']:.4f} rows={len(rows)}")


if __name__ == "__main__":
    main()
