"""What a DAG file pays for importing the operators: no hook, trigger or client code.

The DAG processor imports every DAG file again and again; the request builders, the entity
models and the HTTP and identity libraries are needed only when a task runs. Timing belongs to
``benchmarks/parse_cost.py``; this test checks which modules are loaded, which does not depend
on the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Imported by a DAG file that uses the provider.
PARSE_TIME_IMPORTS = (
    "airflow_provider_mlpipelines.operators.azure_ml_pipelines",
    "airflow_provider_mlpipelines.sensors.azure_ml_pipelines",
    "airflow_provider_mlpipelines.links.azure_ml_pipelines",
)
#: Needed only while a task or trigger runs.
RUN_TIME_ONLY = (
    "airflow_provider_mlpipelines.hooks",
    "airflow_provider_mlpipelines.clients",
    "airflow_provider_mlpipelines.triggers",
    "airflow_provider_mlpipelines.emulator",
    "airflow_provider_mlpipelines.api.models",
    "airflow_provider_mlpipelines.api.runs",
    "airflow_provider_mlpipelines.api.wire_model",
    "airflow_provider_mlpipelines.api.routes",
    "airflow_provider_mlpipelines.api.v2",
    "airflow_provider_mlpipelines.api.datastores",
    "requests",
    "aiohttp",
    "azure.identity",
    "azure.core",
    "msal",
)


def test_importing_the_operators_loads_no_run_time_module() -> None:
    # A fresh interpreter: this test process has long imported everything.
    probe = "\n".join(
        [
            "import json, sys",
            "try:",
            "    from airflow.sdk import DAG",
            "except ImportError:  # Airflow 2",
            "    from airflow import DAG",
            "before = set(sys.modules)",
            f"for name in {PARSE_TIME_IMPORTS!r}:",
            "    __import__(name)",
            "print(json.dumps(sorted(set(sys.modules) - before)))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(PARSE_TIME_IMPORTS) <= set(loaded)
    unwanted = [
        name
        for name in loaded
        if any(name == prefix or name.startswith(prefix + ".") for prefix in RUN_TIME_ONLY)
    ]
    assert unwanted == [], f"imported while a DAG file is parsed: {unwanted}"
