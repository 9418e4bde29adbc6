"""Regenerate the example data of the default workspace (deterministic; output is committed).

Run from this folder: ``python make_data.py``; then retrain the baseline model with
``python train.py --training-data ../datastore/housing/train.csv --learning-rate 0.1
--epochs 100 --model-out ../datastore/models/baseline/model.json``.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

DATASTORE = Path(__file__).resolve().parent.parent / "datastore"


def house(rng: random.Random, size_mean: float) -> tuple[float, int, int]:
    """One house: living area (m²), rooms, age (years).

    :param rng: the random source.
    :param size_mean: mean living area.
    """
    sqft = max(25.0, rng.gauss(size_mean, 30.0))
    rooms = max(1, min(8, round(sqft / 30 + rng.gauss(0, 0.7))))
    age = rng.randint(0, 80)
    return round(sqft, 1), rooms, age


def price(rng: random.Random, sqft: float, rooms: int, age: int) -> float:
    """The (noisy) price in thousands: linear in the features.

    :param rng: the random source.
    :param sqft: living area.
    :param rooms: rooms.
    :param age: age in years.
    """
    return round(50 + 3.0 * sqft + 15 * rooms - 0.8 * age + rng.gauss(0, 20), 1)


def write_labelled(path: Path, rng: random.Random, count: int) -> None:
    """Write ``count`` labelled rows.

    :param path: the CSV file.
    :param rng: the random source.
    :param count: how many rows.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sqft", "rooms", "age", "price"])
        for _ in range(count):
            sqft, rooms, age = house(rng, 110.0)
            writer.writerow([sqft, rooms, age, price(rng, sqft, rooms, age)])


def write_unlabelled(path: Path, rng: random.Random, count: int, size_mean: float) -> None:
    """Write ``count`` rows to score.

    :param path: the CSV file.
    :param rng: the random source.
    :param count: how many rows.
    :param size_mean: mean living area of that day's houses.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sqft", "rooms", "age"])
        for index in range(count):
            sqft, rooms, age = house(rng, size_mean)
            writer.writerow([f"{path.stem}-{index:03d}", sqft, rooms, age])


def main() -> None:
    """Write every data file."""
    write_labelled(DATASTORE / "housing" / "train.csv", random.Random(1), 300)
    write_labelled(DATASTORE / "housing" / "validation.csv", random.Random(2), 100)
    write_unlabelled(DATASTORE / "scoring" / "2026-01-01.csv", random.Random(3), 40, 90.0)
    write_unlabelled(DATASTORE / "scoring" / "2026-01-02.csv", random.Random(4), 60, 140.0)


if __name__ == "__main__":
    main()
