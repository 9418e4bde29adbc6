"""The trigger-scale figures of the two service APIs next to each other (``--apis v1 v2``).

Each (N, mode) pair measured on both APIs in one run becomes one row: the v1 and v2 figures
side by side and, for CPU and memory, the v2/v1 ratio. Both phases ran one after the other on
the same emulator and machine, so the ratio is the figure to read when other work shares the
machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from benchmarks._common import print_table

APIS = ("v1", "v2")

#: (row key, name) of the figures compared; growth is computed from two of them.
FIGURES = (
    ("delay_p50", "delay p50 s"),
    ("delay_p99", "delay p99 s"),
    ("cpu_seconds_watching", "CPU watching s"),
    ("growth_mib", "RSS beyond imports MiB"),
    ("max_rss_mib", "peak RSS MiB"),
    ("requests_per_run", "req/run"),
    ("tokens_issued", "tokens"),
    ("outcomes_mismatched", "wrong"),
)


def side_by_side(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (N, mode) measured on both APIs, in the order measured.

    :param rows: the phases' figures, each with ``api``, ``mode`` and ``runs``.
    """
    by_key: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault((row["runs"], row["mode"]), {})[row.get("api", "v1")] = row
    compared = []
    for (count, mode), found in by_key.items():
        if not all(api in found for api in APIS):
            continue
        entry: dict[str, Any] = {"runs": count, "mode": mode}
        for api in APIS:
            row = found[api]
            figures = {key: row.get(key) for key, _ in FIGURES if key != "growth_mib"}
            figures["growth_mib"] = row["max_rss_mib"] - row["rss_after_imports_mib"]
            entry[api] = figures
        entry["cpu_ratio"] = _ratio(entry["v2"]["cpu_seconds_watching"], entry["v1"])
        entry["growth_ratio"] = _ratio(entry["v2"]["growth_mib"], entry["v1"], "growth_mib")
        compared.append(entry)
    return compared


def _ratio(value: float, reference: dict[str, Any], key: str = "cpu_seconds_watching") -> float:
    base = reference[key]
    return value / base if base else math.nan


def print_side_by_side(compared: Sequence[dict[str, Any]]) -> str:
    """Print (and return) the v1 and v2 figures of each (N, mode) as ``v1 / v2`` cells."""
    headers = ["N", "mode", *(name for _, name in FIGURES), "CPU v2/v1", "RSS v2/v1"]
    table = [
        [
            entry["runs"],
            entry["mode"],
            *(f"{_cell(entry['v1'][key])} / {_cell(entry['v2'][key])}" for key, _ in FIGURES),
            _cell(entry["cpu_ratio"]),
            _cell(entry["growth_ratio"]),
        ]
        for entry in compared
    ]
    return print_table(
        "Trigger scale, v1 and v2 side by side (same run; each cell: v1 / v2)", headers, table
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return str(value)
