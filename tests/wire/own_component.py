"""Register the example's own pipeline component with Microsoft's ``MLClient``, as a user would.

``dags_examples/v2_own_pipeline/pipeline.yml`` (its command components and their ``src/``
code, which azure-ai-ml uploads) is registered by ``ms_v2_components_driver.py
--register-only``, run with the interpreter of the azure-ai-ml venv (:data:`MS_V2`, created on
first use). Used by the example's tests, the cluster test and ``scripts/demo.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.wire.ms_venv import MS_V2, ROOT, ensure_ms_python

DRIVER = Path(__file__).with_name("ms_v2_components_driver.py")
PIPELINE_DIR = ROOT / "dags_examples" / "v2_own_pipeline"


class RegistrationError(RuntimeError):
    """``MLClient`` did not register the component; the message ends with its output."""


def register_own_component(manifest: Path, timeout: float = 600.0) -> str:
    """Register the pipeline component on the emulator whose manifest is ``manifest``.

    :param manifest: the emulator's ``manifest.json`` (workspace, identity, CA bundle).
    :param timeout: seconds the registration may take (the venv's install not included).
    :return: the component version's ARM id, as ``MLClient`` read it back.
    :raises RegistrationError: the driver failed; its output is in the message.
    """
    python = ensure_ms_python(MS_V2)
    done = subprocess.run(
        [str(python), str(DRIVER), str(manifest), str(PIPELINE_DIR), "--register-only"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode != 0 or len(lines) != 1:
        raise RegistrationError(
            f"registering {PIPELINE_DIR / 'pipeline.yml'} exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return str(lines[0]["id"])


def as_azureml_id(component_id: str) -> str:
    """``azureml:<name>:<version>`` of a component version's ARM id."""
    name, version = component_id.split("/components/", 1)[1].split("/versions/", 1)
    return f"azureml:{name}:{version}"
