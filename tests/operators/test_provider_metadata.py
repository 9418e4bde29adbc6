"""Provider metadata, trigger serialization and import weight: no service needed."""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_provider_mlpipelines.get_provider_info import (
    CONNECTION_EXTRA_FIELDS,
    get_provider_info,
)
from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger


def test_trigger_serializes_to_plain_values_and_rebuilds_identically() -> None:
    trigger = AzureMLPipelineRunTrigger(
        "run-1",
        azure_ml_pipelines_conn_id="conn",
        poll_interval=5,
        end_time=1_900_000_000.5,
        timeout=60,
        cancel_on_timeout=False,
        cancel_on_kill=True,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == (
        "airflow_provider_mlpipelines.triggers.azure_ml_pipelines.AzureMLPipelineRunTrigger"
    )
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = AzureMLPipelineRunTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["run_id"] == "run-1" and kwargs["end_time"] == 1_900_000_000.5


def test_provider_info_declares_connection_form_and_every_class() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-mlpipelines"
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "azure_ml_pipelines"
    assert set(conn["conn-fields"]) == set(CONNECTION_EXTRA_FIELDS)
    assert conn["ui-field-behaviour"]["relabeling"]["login"] == "Client ID"
    modules = {
        m
        for key in ("hooks", "operators", "sensors", "triggers")
        for m in info[key][0]["python-modules"]
    }
    for module in modules:
        __import__(module)
    link_module, _, link_class = info["extra-links"][0].rpartition(".")
    assert hasattr(__import__(link_module, fromlist=[link_class]), link_class)


def test_airflow_providers_manager_sees_the_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-mlpipelines" in manager.providers
    widgets = manager.connection_form_widgets
    assert "extra__azure_ml_pipelines__subscription_id" in widgets
    assert "extra__azure_ml_pipelines__ca_bundle" in widgets
    behaviours = manager.field_behaviours
    assert behaviours["azure_ml_pipelines"]["relabeling"]["password"] == "Client secret"


def test_importing_the_operators_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_mlpipelines.operators.azure_ml_pipelines\n"
        "import airflow_provider_mlpipelines.sensors.azure_ml_pipelines\n"
        "heavy = ['azure.identity', 'aiohttp', 'airflow_provider_mlpipelines.emulator',\n"
        "         'airflow_provider_mlpipelines.hooks.azure_ml_pipelines', 'msal']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
