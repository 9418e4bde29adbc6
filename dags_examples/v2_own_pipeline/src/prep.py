"""Prepare step of the example pipeline component: keep the first rows of every CSV file.

Standard library only, so it runs with any Python (the emulator runs it with its own).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", required=True, help="folder of CSV files")
    parser.add_argument("--max-rows", type=int, required=True)
    parser.add_argument("--drop", default=None, help="a column to leave out")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    sources = sorted(Path(args.raw).glob("*.csv"))
    if not sources:
        raise SystemExit(f"no CSV file in {args.raw}")
    rows: list[dict[str, str]] = []
    for source in sources:
        with source.open(newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    rows = rows[: args.max_rows]
    columns = [c for c in rows[0] if c != args.drop]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "prepared.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"prepared {len(rows)} rows from {len(sources)} file(s) into {out}")


if __name__ == "__main__":
    main()
