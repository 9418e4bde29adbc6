"""One measured interpreter of the parse-cost benchmark: import what a DAG file would, report.

Standard library only, so that it runs in the azureml virtual environment too. Prints one JSON
line: the in-process seconds of the measured import, the process's peak RSS, and which heavy
modules got imported.

Usage: ``python _import_probe.py {python,airflow,provider,azureml}``.
"""

from __future__ import annotations

import json
import sys
import time

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


def main(mode: str) -> int:
    """Import what ``mode`` names; the measured part is the last import.

    :param mode: ``python`` (nothing), ``airflow``, ``provider`` (Airflow first, unmeasured),
        ``azureml``.
    """
    before_heavy = {name for name in HEAVY_MODULES if name in sys.modules}
    if mode == "provider":
        import_airflow()
        before_heavy = {name for name in HEAVY_MODULES if name in sys.modules}
    started = time.perf_counter()
    if mode == "airflow":
        import_airflow()
    elif mode == "provider":
        import_provider()
    elif mode == "azureml":
        import_azureml()
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
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
