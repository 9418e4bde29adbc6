"""The README's commands and shell samples work as written.

The test command is what CI runs; this covers the main command (the demo) and the shell
samples that set up a connection.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without this test session's Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLPIPELINES"))}
    return {**env, **extra}


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3, reason="the demo runs on the pinned Airflow 3")
def test_the_main_command_runs_every_example_dag(tmp_path: Path) -> None:
    assert "bash scripts/demo.sh" in BASH_BLOCKS[0]
    demo_dir = tmp_path / "demo"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=_clean_env(DEMO_DIR=str(demo_dir), VENV=str(Path(sys.executable).parents[1])),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "9 of 9 DAG runs succeeded" in output
    for dag_id in (
        "example_mlpipelines_retraining",
        "example_mlpipelines_batch_scoring",
        "example_mlpipelines_endpoint_versions",
        "example_mlpipelines_sensor",
        "example_mlpipelines_v2_batch_scoring (release)",
        "example_mlpipelines_v2_batch_scoring (trial)",
        "example_mlpipelines_v2_own_component",
        "example_mlpipelines_retrain_asset",
        "example_mlpipelines_score_on_asset (asset-triggered)",
    ):
        assert f"{dag_id}: SUCCESS" in output
    assert "rolled back: the default deployment is housing-score-1 again" in output
    # The user's own component, registered with MLClient, ran both of its steps.
    assert "registered azureml:own_housing_pipeline:1 with MLClient" in output
    assert "your steps ran: ['prep', 'train']" in output
    # The scoring DAG ran because the retraining's asset event started it, on its version.
    (version,) = re.findall(r"emitted the model asset: scoring version (\S+) of endpoint", output)
    assert f"started by the asset event, scored with endpoint housing-assets version {version}" in (
        output
    )
    predictions = re.findall(r"predictions: (\S+\.csv)", output)
    assert predictions and all(Path(p).is_file() for p in predictions)
    assert not (demo_dir / "emulator" / "manifest.json").exists(), "the emulator was not stopped"


def _sample_with(fragment: str) -> str:
    (block,) = [b for b in BASH_BLOCKS if fragment in b]
    return block


def test_the_readme_connection_samples_make_a_working_connection(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    azure_sample = _sample_with("westeurope")
    value = re.search(r"AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT='(.*)'", azure_sample, re.DOTALL)
    assert value is not None
    monkeypatch.setenv(CONN_ENV_VAR, value.group(1))
    settings = AzureMLPipelinesHook().settings
    assert settings.base_url == "https://westeurope.api.azureml.ms"
    assert settings.workspace_name == "<ws>"

    emulator_sample = _sample_with("manifest.json").replace(
        ".emulator/manifest.json", str(emulator.state_dir / "manifest.json")
    )
    exported = subprocess.run(
        ["bash", "-c", f'{emulator_sample}\nprintf %s "${CONN_ENV_VAR}"'],
        env=_clean_env(PATH=os.environ["PATH"]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(exported) == json.loads(emulator.airflow_conn)
    monkeypatch.setenv(CONN_ENV_VAR, exported)
    hook = AzureMLPipelinesHook()
    assert hook.test_connection()[0] is True
    hook.close()
