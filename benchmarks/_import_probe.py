"""One measured interpreter of the parse-cost benchmark: import what a DAG file would, report.

Standard library only, so that it runs in the azureml virtual environment too. Prints one JSON
line: the in-process seconds of the measured import, the process's peak RSS, and which heavy
modules got imported.

Usage: ``python _import_probe.py {python,airflow,provider,azureml}`` or
``python _import_probe.py dag PATH`` (Airflow first, unmeasured; then the DAG file executed as
the DAG processor loads it, measured).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

#: The DAG file's own module name starts with this (it is left out of ``modules_added``).
DAG_MODULE_PREFIX = "parse_probe_"
#: Modules that must not be imported when a DAG file imports the provider's operators.
HEAVY_MODULES = (
    "azure.identity",
    "azure.core",
    "msal",
    "aiohttp",
    "requests",
    "airflow_provider_mlpipelines.emulator",
)


def peak_rss_mib() -> float:
    """This process's peak resident set size (``VmHWM``) in MiB.

    Read here rather than from ``wait4``: Linux carries the parent's peak across fork and exec
    into the child's ``ru_maxrss``, which would hide a small interpreter behind a big parent.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def import_airflow() -> None:
    from airflow.sdk import DAG  # noqa: F401


def import_provider() -> None:
    from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (  # noqa: F401
        AzureMLCancelPipelineRunOperator,
        AzureMLPipelineEndpointOperator,
        AzureMLPublishPipelineOperator,
        AzureMLSubmitPipelineRunOperator,
    )
    from airflow_provider_mlpipelines.sensors.azure_ml_pipelines import (  # noqa: F401
        AzureMLPipelineRunSensor,
    )


def import_azureml() -> None:
    from azureml.pipeline.core import PipelineEndpoint, PublishedPipeline  # noqa: F401


def load_dag_file(path: str) -> dict[str, Any]:
    """Execute a DAG file as a module of its own, as the DAG processor does; count what it made.

    :param path: the DAG file.
    :return: how many DAGs and tasks the module's globals hold, and the DAG ids (the probe
        looks at globals only: name the DAG, ``with DAG(...) as dag``).
    :raises SystemExit: the file defines no DAG (so a broken file cannot pass as a cheap one).
    """
    file = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(f"{DAG_MODULE_PREFIX}{file.stem}", file)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    dags = [value for value in vars(module).values() if type(value).__name__ == "DAG"]
    if not dags:
        raise SystemExit(f"{file} defines no DAG")
    return {
        "dags": len(dags),
        "tasks": sum(len(dag.task_dict) for dag in dags),
        "dag_ids": sorted(dag.dag_id for dag in dags),
    }


def main(mode: str, path: str | None = None) -> int:
    """Import what ``mode`` names; the measured part is the last import.

    :param mode: ``python`` (nothing), ``airflow``, ``provider`` (Airflow first, unmeasured),
        ``azureml``, ``dag`` (Airflow first, unmeasured, then the DAG file ``path``).
    :param path: the DAG file of ``dag``.
    """
    before_heavy = {name for name in HEAVY_MODULES if name in sys.modules}
    parsed: dict[str, Any] = {}
    if mode in ("provider", "dag"):
        import_airflow()
        before_heavy = {name for name in HEAVY_MODULES if name in sys.modules}
    before_modules = set(sys.modules)
    started = time.perf_counter()
    if mode == "airflow":
        import_airflow()
    elif mode == "provider":
        import_provider()
    elif mode == "azureml":
        import_azureml()
    elif mode == "dag" and path:
        parsed = load_dag_file(path)
    elif mode != "python":
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    heavy = sorted(name for name in HEAVY_MODULES if name in sys.modules)
    report = {
        "mode": mode,
        "import_seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "heavy_modules": heavy,
        "heavy_added": sorted(set(heavy) - before_heavy),
        **parsed,
    }
    if mode == "dag":
        # What parsing the file imported, by name: two files that import the same modules do
        # the same work at parse time, whatever the timings on a busy machine say.
        report["modules_added"] = sorted(
            name
            for name in set(sys.modules) - before_modules
            if not name.startswith(DAG_MODULE_PREFIX)
        )
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], *sys.argv[2:3]))
