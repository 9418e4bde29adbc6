"""Fixtures for running the example DAGs of ``dags_examples/`` with ``dag.test()``.

The DAGs talk to the session emulator (``emulator`` in ``tests/conftest.py``) through the
default connection and read the Airflow Variables a deployment would set, both given as
environment variables for the whole session.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.airflow_helpers import load_dagbag, task_state, xcom

__all__ = ["task_state", "xcom"]

EXAMPLES_FOLDER = Path(__file__).resolve().parents[2] / "dags_examples"
DATASTORE = "workspaceblobstore"

# Read when the example DAG files are parsed (here, and again by dag.test()); the emulator's
# runs take seconds, the examples' default of 30 s between polls would only slow the tests.
os.environ.setdefault("MLPIPELINES_EXAMPLE_POLL_SECONDS", "1")


@pytest.fixture(scope="session")
def examples_db() -> None:
    """The metadata database (SQLite in the session's AIRFLOW_HOME, see the root conftest)."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def deployment(emulator: EmulatorProcess) -> Iterator[dict[str, Any]]:
    """The connection and the Variables of the example DAGs, set for the whole session.

    Returns the emulator's manifest.
    """
    manifest = emulator.manifest
    variables = {
        CONN_ENV_VAR: emulator.airflow_conn,
        "AIRFLOW_VAR_MLPIPELINES_TRAINING_RUN_ID": manifest["pipeline_runs"]["train"],
        "AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID": manifest["pipeline_runs"]["score"],
        "AIRFLOW_VAR_MLPIPELINES_DATASTORE_DIR": manifest["datastores"][DATASTORE],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield manifest


@pytest.fixture(scope="session")
def datastore_dir(deployment: dict[str, Any]) -> Path:
    """The local folder of the emulator's datastore ``workspaceblobstore``."""
    return Path(deployment["datastores"][DATASTORE])


@pytest.fixture(scope="session")
def examples_dagbag(examples_db: None) -> Any:
    """A real DagBag of ``dags_examples/``."""
    return load_dagbag(str(EXAMPLES_FOLDER))


@pytest.fixture
def run_example(examples_dagbag: Any, deployment: dict[str, Any]) -> Callable[..., Any]:
    """Run one example DAG with ``dag.test()``; returns the DagRun.

    ``run_example(dag_id, logical_date=None, **conf)``: the conf overrides the DAG's params.
    """

    def run(dag_id: str, logical_date: Any = None, **conf: Any) -> Any:
        dag = examples_dagbag.get_dag(dag_id)
        assert dag is not None, f"no DAG {dag_id} in {EXAMPLES_FOLDER}"
        if logical_date is None:
            return dag.test(run_conf=conf)
        if AIRFLOW_V_3:
            return dag.test(logical_date=logical_date, run_conf=conf)
        return dag.test(execution_date=logical_date, run_conf=conf)

    return run


@pytest.fixture(scope="session")
def examples_hook(deployment: dict[str, Any]) -> Iterator[Any]:
    """A sync hook on the default connection (the session emulator)."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        yield hook
    finally:
        hook.close()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("housing-scoring")`` -> a name no other test uses in the session emulator."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


def load_example_module(file_name: str) -> ModuleType:
    """Import an example DAG file as a module of its own (to test its helper functions).

    :param file_name: the file's name in ``dags_examples/``.
    """
    path = EXAMPLES_FOLDER / file_name
    spec = importlib.util.spec_from_file_location(f"mlp_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
