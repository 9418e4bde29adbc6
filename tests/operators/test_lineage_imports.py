"""The OpenLineage provider stays optional: importing the operators (what a DAG file does)
loads none of its lineage code, and secret-looking parameters never reach a facet."""

from __future__ import annotations

import subprocess
import sys

from airflow_provider_mlpipelines.operators._lineage import safe_parameters

#: What the operators' import must not load: the provider's extractors and listener, and the
#: OpenLineage client. (Airflow itself imports the provider's package and its provider info
#: when it discovers providers; that is not the provider's lineage code.)
LINEAGE_CODE = (
    "airflow.providers.openlineage.extractors",
    "airflow.providers.openlineage.plugins",
    "openlineage.client",
)


def test_importing_the_operators_loads_no_openlineage_code() -> None:
    # A fresh interpreter (this one has long imported the provider's lineage code), which
    # imports what a DAG file imports and lists the OpenLineage modules then loaded.
    probe = (
        "import sys, airflow_provider_mlpipelines.operators.azure_ml_pipelines\n"
        "print(' '.join(m for m in sys.modules if 'openlineage' in m))"
    )
    loaded = subprocess.check_output([sys.executable, "-c", probe], text=True, timeout=120)
    offending = [m for m in loaded.split() if m.startswith(LINEAGE_CODE)]
    assert offending == [], offending


def test_the_provider_is_installed_where_lineage_is_tested() -> None:
    # The lineage tests need the real provider: the `openlineage` extra of the test venvs.
    from airflow.providers.openlineage import extractors

    assert hasattr(extractors, "OperatorLineage")


def test_secret_looking_parameter_values_are_replaced() -> None:
    shown = safe_parameters({"epochs": 5, "api_key": "s3cr3t", "DB_PASSWORD": "x", "sas": "y"})
    assert shown == {"epochs": "5", "api_key": "***", "DB_PASSWORD": "***", "sas": "***"}
