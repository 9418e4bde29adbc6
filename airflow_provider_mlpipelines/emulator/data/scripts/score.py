"""Score input rows with a trained model; write a predictions CSV (id, prediction)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from housing import features_of, load_model, predict, read_rows


def main() -> None:
    """Predict a price for every input row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="CSV with id,sqft,rooms,age")
    parser.add_argument("--output", required=True, help="predictions CSV to write")
    parser.add_argument("--round-digits", type=int, default=2)
    args = parser.parse_args()
    model = load_model(args.model)
    rows = read_rows(args.input)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    total = 0.0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "prediction"])
        for row in rows:
            value = round(predict(model, features_of(row)), args.round_digits)
            total += value
            writer.writerow([row["id"], value])
    print(f"input={args.input}")
    print(f"rows={len(rows)} mean_prediction={total / len(rows):.2f}")
    print(f"predictions written to {out}")


if __name__ == "__main__":
    main()
