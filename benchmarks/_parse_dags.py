"""The DAG files the parse-cost benchmark parses: v1 and v2, in pairs, and their goals.

Two pairs, each measured in the same run as the import cases:

- the examples: ``dags_examples/example_mlpipelines_batch_scoring.py`` (v1) and
  ``example_mlpipelines_v2_batch_scoring.py`` (v2). What users copy; their shapes differ (the
  v2 one deploys, checks and rolls back), so their difference is not the API's alone;
- the same shape: ``benchmarks/parse_dags/bench_parse_shape.py`` parsed once with
  ``MLPIPELINES_BENCH_API=v1`` and once with ``v2``: one file, the v2 example's shape, only the
  arguments a DAG author writes differently. Their difference is the API's, and the goal is
  that there is none: the operators read the connection's API when a task runs, never at parse
  time. Checked exactly (the v2 file imports no module the v1 file does not) and in time (the
  v2 file takes at most the provider's own import budget more than the v1 one; on a busy
  2-core machine medians of 20 interpreters move by more than 10 ms between equal cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import BENCH_DIR, ROOT, print_table

EXAMPLES = ROOT / "dags_examples"
V1_EXAMPLE = EXAMPLES / "example_mlpipelines_batch_scoring.py"
V2_EXAMPLE = EXAMPLES / "example_mlpipelines_v2_batch_scoring.py"
SHAPE_DAG = BENCH_DIR / "parse_dags" / "bench_parse_shape.py"
API_ENV_VAR = "MLPIPELINES_BENCH_API"
#: (v1 label, v2 label) of each pair; the second pair is the one the goal applies to.
EXAMPLE_PAIR = ("v1 example DAG", "v2 example DAG")
SHAPE_PAIR = ("v1 DAG, same shape", "v2 DAG, same shape")
#: How much more than its v1 twin the same-shape v2 file may cost: the provider's own import
#: budget (parse_cost's GOAL_EXTRA_MS) and a MiB.
GOAL_V2_OVER_V1_MS = 50.0
GOAL_V2_OVER_V1_MIB = 1.0


@dataclass(frozen=True)
class DagFile:
    """A DAG file to parse and the environment it is parsed with.

    :param label: its case's name.
    :param path: the file.
    :param env: extra environment variables of the parsing interpreter.
    """

    label: str
    path: Path
    env: Mapping[str, str] = field(default_factory=dict)


def dag_files(v1_example: Path = V1_EXAMPLE, v2_example: Path = V2_EXAMPLE) -> list[DagFile]:
    """The DAG files of both pairs; an example that does not exist is left out (and said so).

    :param v1_example: the v1 example to parse.
    :param v2_example: the v2 example to parse.
    """
    files = []
    for label, path in zip(EXAMPLE_PAIR, (v1_example, v2_example), strict=True):
        if path.is_file():
            files.append(DagFile(label, path.resolve()))
        else:
            print(f"{label} not measured: {path} does not exist", flush=True)
    files += [
        DagFile(SHAPE_PAIR[0], SHAPE_DAG, {API_ENV_VAR: "v1"}),
        DagFile(SHAPE_PAIR[1], SHAPE_DAG, {API_ENV_VAR: "v2"}),
    ]
    return files


def extra_pairs(labels: Sequence[str]) -> list[tuple[str, str, str]]:
    """(name, measured, reference) of each DAG file over Airflow, and of each v2 over its v1."""
    pairs = [(f"{label} over Airflow", label, "airflow") for label in labels]
    pairs += [(f"{v2} over {v1}", v2, v1) for v1, v2 in (EXAMPLE_PAIR, SHAPE_PAIR)]
    return pairs


def print_dag_cases(cases: Sequence[dict[str, Any]]) -> None:
    """The DAG files parsed: what they hold and which heavy modules were there afterwards."""
    print_table(
        "Parse cost: the DAG files (heavy modules present after parsing)",
        ["case", "file", "env", "DAGs", "tasks", "modules imported", "heavy modules"],
        [
            [
                s["label"],
                s["file"],
                " ".join(f"{k}={v}" for k, v in s["env"].items()) or "-",
                s.get("dags", 0),
                s.get("tasks", 0),
                len(s.get("modules_added", [])),
                ", ".join(s["heavy_modules"]) or "none",
            ]
            for s in cases
        ],
    )


def dag_verdicts(figures: dict[str, Any], airflow: dict[str, Any]) -> list[str]:
    """The goals the DAG files failed: nothing heavy in any; same-shape v2 within v1's cost.

    :param figures: the part's figures (``cases`` and ``extra``).
    :param airflow: the summary of the ``airflow`` case (what Airflow imports by itself).
    """
    failed = []
    for case in figures["cases"]:
        if case.get("mode") != "dag":
            continue
        added = sorted(set(case["heavy_modules"]) - set(airflow["heavy_modules"]))
        if added:
            failed.append(f"heavy modules imported by parsing the {case['label']}: {added}")
    name = f"{SHAPE_PAIR[1]} over {SHAPE_PAIR[0]}"
    extra = next((e for e in figures["extra"] if e["what"] == name), None)
    if extra is None:
        return failed
    v1, v2 = (next(s for s in figures["cases"] if s["label"] == label) for label in SHAPE_PAIR)
    more = sorted(set(v2.get("modules_added", [])) - set(v1.get("modules_added", [])))
    if more:
        failed.append(f"{name}: the v2 file imports modules the v1 file does not: {more}")
    if extra["in_process_extra_ms"] > GOAL_V2_OVER_V1_MS:
        failed.append(
            f"{name}: {extra['in_process_extra_ms']:.1f} ms in process, more than "
            f"{GOAL_V2_OVER_V1_MS:g}"
        )
    if extra["rss_mib"] > GOAL_V2_OVER_V1_MIB:
        failed.append(f"{name}: {extra['rss_mib']:.1f} MiB, more than {GOAL_V2_OVER_V1_MIB:g}")
    return failed
