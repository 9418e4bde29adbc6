"""Part 2: what importing the provider adds to a DAG file, next to the official azureml SDK.

Each case is a whole new interpreter (``benchmarks/_import_probe.py``), run --runs times,
cases interleaved so that drift on the machine spreads evenly over them. For each case: the
process's wall time, its peak RSS (``VmHWM``, read by the probe), and the in-process time
of the measured import. Cases:

- ``python``: a bare interpreter of the project's virtualenv;
- ``airflow``: ``from airflow.sdk import DAG`` (what every DAG file pays anyway);
- ``provider``: the same, then the provider's operators and sensor;
- ``python (azureml venv)`` and ``azureml-pipeline-core``: a bare interpreter and
  ``from azureml.pipeline.core import PublishedPipeline, PipelineEndpoint`` in a virtual
  environment of their own (``benchmarks/.venv-azureml``, created on first use with
  ``pip install azureml-pipeline-core==AZUREML_VERSION``), as a ``PythonOperator`` user
  would import it;
- the DAG files of :mod:`benchmarks._parse_dags`, v1 and v2 in pairs (the examples; one file
  of the v2 example's shape written for each API): Airflow first (unmeasured), then the DAG
  file executed as the DAG processor loads it (measured). The API is a property of the
  connection, read when a task runs, so a v2 file must cost what its v1 twin does.

The provider's cost is ``provider`` minus ``airflow``; the SDK's is ``azureml-pipeline-core``
minus its bare interpreter; a DAG file's is its case minus ``airflow``. The run also checks
that no heavy module (azure-identity, azure-core, msal, aiohttp, requests, the emulator) is
imported at DAG-parse time, and exits non-zero when one is or when a goal is missed.

Run alone: ``python -m benchmarks.parse_cost [--runs 20] [--no-azureml] [--no-dags]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BENCH_DIR,
    PYTHON,
    ROOT,
    airflow_env,
    exit_cleanly_on_signals,
    percentile,
    print_table,
    run_and_wait4,
    save_results,
    scratch_dir,
)
from benchmarks._parse_dags import (
    V1_EXAMPLE,
    V2_EXAMPLE,
    DagFile,
    dag_files,
    dag_verdicts,
    extra_pairs,
    print_dag_cases,
)

AZUREML_VERSION = "1.62.0"
AZUREML_REQUIREMENT = f"azureml-pipeline-core=={AZUREML_VERSION}"
AZUREML_VENV = BENCH_DIR / ".venv-azureml"
PROBE = BENCH_DIR / "_import_probe.py"
GOAL_EXTRA_MS = 50.0
GOAL_EXTRA_MIB = 10.0
PIP_TIMEOUT = 900


@dataclass
class Case:
    """One kind of interpreter run and its samples."""

    label: str
    python: str
    mode: str
    path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    wall: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    heavy: list[str] = field(default_factory=list)
    heavy_added: list[str] = field(default_factory=list)
    parsed: dict[str, Any] = field(default_factory=dict)

    def forget(self) -> None:
        """Drop the samples taken so far (after a warm-up run)."""
        self.wall.clear()
        self.rss.clear()
        self.imports.clear()

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "mode": self.mode,
            "runs": len(self.wall),
            "wall_median_s": percentile(self.wall, 0.5),
            "wall_p25_s": percentile(self.wall, 0.25),
            "wall_p75_s": percentile(self.wall, 0.75),
            "wall_min_s": min(self.wall, default=float("nan")),
            "wall_max_s": max(self.wall, default=float("nan")),
            "rss_median_mib": percentile(self.rss, 0.5),
            "rss_min_mib": min(self.rss, default=float("nan")),
            "rss_max_mib": max(self.rss, default=float("nan")),
            "import_median_ms": percentile(self.imports, 0.5) * 1000,
            "heavy_modules": self.heavy,
            "heavy_added_by_import": self.heavy_added,
            "file": str(self.path.relative_to(ROOT)) if self.path else None,
            "env": dict(self.env),
            **self.parsed,
        }


def azureml_python() -> tuple[str | None, str | None]:
    """The azureml venv's interpreter, creating the venv on first use; or why it failed."""
    python = AZUREML_VENV / "bin" / "python"
    stamp = (
        AZUREML_VENV / f".installed-{hashlib.sha256(AZUREML_REQUIREMENT.encode()).hexdigest()[:12]}"
    )
    if stamp.exists():
        return str(python), None
    base = getattr(sys, "_base_executable", sys.executable)
    print(f"... creating {AZUREML_VENV.name} with {AZUREML_REQUIREMENT} (once)", flush=True)
    steps = [
        [base, "-m", "venv", "--clear", str(AZUREML_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            AZUREML_REQUIREMENT,
        ],
    ]
    for step in steps:
        completed = subprocess.run(
            step, check=False, capture_output=True, text=True, timeout=PIP_TIMEOUT
        )
        if completed.returncode != 0:
            reason = _pip_failure(completed.stderr or completed.stdout)
            return None, f"{' '.join(step[-2:])} failed (exit {completed.returncode}): {reason}"
    stamp.touch()
    return str(python), None


def _pip_failure(text: str) -> str:
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    return " | ".join(errors[-3:]) or text.strip()[-500:]


def sample(case: Case, env: dict[str, str], work: Path) -> None:
    """Run one interpreter of ``case`` and add its figures to the case."""
    out = work / "probe.json"
    argv = [case.python, str(PROBE), case.mode]
    if case.path is not None:
        argv.append(str(case.path))
    result = run_and_wait4(
        argv,
        env={**env, **case.env},
        timeout=120,
        stdout_path=out,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{case.label}: the probe exited with {result.returncode}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    case.wall.append(result.wall_seconds)
    case.rss.append(report["peak_rss_mib"])
    case.imports.append(report["import_seconds"])
    case.heavy = report["heavy_modules"]
    case.heavy_added = report["heavy_added"]
    case.parsed = {
        key: report[key] for key in ("dags", "tasks", "dag_ids", "modules_added") if key in report
    }


def import_breakdown(
    python: str, mode: str, env: dict[str, str], prefix: str, top: int = 8
) -> list[tuple[str, int]]:
    """The modules under ``prefix`` with the largest cumulative import time (``-X importtime``)."""
    completed = subprocess.run(
        [python, "-X", "importtime", str(PROBE), mode],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = []
    for line in completed.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if found and found.group(4).startswith(prefix):
            rows.append((found.group(4), int(found.group(2))))
    return sorted(rows, key=lambda row: -row[1])[:top]


def measure(
    runs: int,
    dag_files: Sequence[DagFile] = (),
    *,
    azureml: bool = True,
) -> dict[str, Any]:
    """Sample every case ``runs`` times, interleaved; print the tables; return the figures.

    :param runs: interpreters per case.
    :param dag_files: the DAG files to parse, after the import cases.
    :param azureml: also measure the official SDK (creating its venv on first use).
    """
    with scratch_dir("parse-cost") as work:
        env = airflow_env(work / "airflow-home")
        # Bytecode as an installed package has it: written by the warm-up runs below (into a
        # scratch folder, not the tree) and read by the measured ones. Without it, every
        # measured interpreter would compile each source file of the provider that has no
        # up-to-date .pyc (a working tree under PYTHONDONTWRITEBYTECODE has none).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        cases = [
            Case("python", PYTHON, "python"),
            Case("airflow", PYTHON, "airflow"),
            Case("airflow + provider", PYTHON, "provider"),
            *(Case(f.label, PYTHON, "dag", f.path, dict(f.env)) for f in dag_files),
        ]
        azure_python, azure_problem = (
            azureml_python() if azureml else (None, "not asked for (--no-azureml)")
        )
        if azure_python is not None:
            cases += [
                Case("python (azureml venv)", azure_python, "python"),
                Case("azureml-pipeline-core", azure_python, "azureml"),
            ]
        for case in cases:  # warm the file cache and write the bytecode; not counted
            sample(case, env, work)
        for case in cases:
            case.forget()
        for _ in range(runs):
            for case in cases:
                sample(case, env, work)
        breakdown = import_breakdown(PYTHON, "provider", env, "airflow_provider_mlpipelines")
    summaries = [case.summary() for case in cases]
    figures = {
        "runs": runs,
        "cases": summaries,
        "provider_breakdown_us": breakdown,
        "azureml": {"requirement": AZUREML_REQUIREMENT, "problem": azure_problem},
    }
    figures["extra"] = extras(summaries)
    report(figures)
    return figures


def extras(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each measured import adds over its reference interpreter."""
    by_label = {s["label"]: s for s in summaries}
    pairs = [
        ("provider over Airflow", "airflow + provider", "airflow"),
        *extra_pairs([s["label"] for s in summaries if s["mode"] == "dag"]),
        ("Airflow over bare Python", "airflow", "python"),
        (
            "azureml-pipeline-core over bare Python",
            "azureml-pipeline-core",
            "python (azureml venv)",
        ),
    ]
    rows = []
    for name, measured, reference in pairs:
        if measured in by_label and reference in by_label:
            m, r = by_label[measured], by_label[reference]
            rows.append(
                {
                    "what": name,
                    "wall_ms": (m["wall_median_s"] - r["wall_median_s"]) * 1000,
                    "rss_mib": m["rss_median_mib"] - r["rss_median_mib"],
                    "in_process_import_ms": m["import_median_ms"],
                    # Against another measured case, the in-process difference is the figure.
                    "in_process_extra_ms": m["import_median_ms"]
                    - (r["import_median_ms"] if r["mode"] == "dag" else 0.0),
                }
            )
    return rows


def report(figures: dict[str, Any]) -> None:
    print_table(
        f"Parse cost: whole interpreters, {figures['runs']} runs each (wall s and peak RSS MiB)",
        ["case", "wall median", "p25", "p75", "min", "max", "RSS median", "in-process import ms"],
        [
            [
                s["label"],
                s["wall_median_s"],
                s["wall_p25_s"],
                s["wall_p75_s"],
                s["wall_min_s"],
                s["wall_max_s"],
                s["rss_median_mib"],
                s["import_median_ms"],
            ]
            for s in figures["cases"]
        ],
    )
    print_table(
        "Parse cost: extra over the reference (medians)",
        ["what", "extra wall ms", "extra RSS MiB", "extra ms in process"],
        [
            [e["what"], e["wall_ms"], e["rss_mib"], e["in_process_extra_ms"]]
            for e in figures["extra"]
        ],
    )
    dag_cases = [s for s in figures["cases"] if s["mode"] == "dag"]
    if dag_cases:
        print_dag_cases(dag_cases)
    print_table(
        "Provider import breakdown (-X importtime, cumulative microseconds)",
        ["module", "cumulative us"],
        figures["provider_breakdown_us"],
    )
    if figures["azureml"]["problem"]:
        print(f"azureml-pipeline-core not measured: {figures['azureml']['problem']}")


def verdicts(figures: dict[str, Any]) -> list[str]:
    """The goals that failed (empty when all hold)."""
    failed = []
    provider = next(s for s in figures["cases"] if s["label"] == "airflow + provider")
    airflow = next(s for s in figures["cases"] if s["label"] == "airflow")
    added = sorted(set(provider["heavy_modules"]) - set(airflow["heavy_modules"]))
    if added:
        failed.append(f"heavy modules imported at parse time: {added}")
    extra = next(e for e in figures["extra"] if e["what"] == "provider over Airflow")
    if extra["in_process_import_ms"] > GOAL_EXTRA_MS or extra["wall_ms"] > GOAL_EXTRA_MS:
        failed.append(f"the provider adds more than {GOAL_EXTRA_MS:g} ms")
    if extra["rss_mib"] > GOAL_EXTRA_MIB:
        failed.append(f"the provider adds more than {GOAL_EXTRA_MIB:g} MiB")
    return failed + dag_verdicts(figures, airflow)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="interpreters per case")
    parser.add_argument(
        "--v1-dag", type=Path, default=V1_EXAMPLE, help="the v1 example DAG file to parse"
    )
    parser.add_argument(
        "--v2-dag", type=Path, default=V2_EXAMPLE, help="the v2 example DAG file to parse"
    )
    parser.add_argument("--no-dags", action="store_true", help="parse no DAG file")
    parser.add_argument(
        "--no-azureml",
        action="store_true",
        help="leave out the official SDK (no virtual environment is created)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="where the figures' JSON goes (default: benchmarks/results)",
    )
    args = parser.parse_args(argv)
    exit_cleanly_on_signals()
    files = [] if args.no_dags else dag_files(args.v1_dag, args.v2_dag)
    figures = measure(args.runs, files, azureml=not args.no_azureml)
    failed = verdicts(figures)
    figures["goals_failed"] = failed
    save_results("parse_cost", figures, directory=args.results_dir)
    provider = next(s for s in figures["cases"] if s["label"] == "airflow + provider")
    print(
        f"heavy modules present after importing the provider: {provider['heavy_modules'] or 'none'}"
    )
    for problem in failed:
        print(f"GOAL MISSED: {problem}")
    if not failed:
        print(
            f"goals met: under {GOAL_EXTRA_MS:g} ms and {GOAL_EXTRA_MIB:g} MiB, "
            "nothing heavy imported"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
