"""Fixtures for running the operator test DAGs against the emulator with ``dag.test()``."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.airflow_helpers import INLINE_TRIGGER_LOGGER, load_dagbag, task_state, xcom

__all__ = ["RecordingTaskInstance", "task_state", "xcom"]

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh metadata database (SQLite in the session's AIRFLOW_HOME, see the root conftest)."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def session_conn(emulator: EmulatorProcess) -> Iterator[dict[str, Any]]:
    """The default connection points at the session emulator for the whole session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
        yield emulator.manifest


@pytest.fixture(scope="session")
def dagbag(airflow_db: None) -> Any:
    bag = load_dagbag(str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture
def run_dag(dagbag: Any, session_conn: dict[str, Any]) -> Callable[..., Any]:
    """Run one DAG of ``tests/dags`` with ``dag.test(run_conf=...)``; returns the DagRun."""

    def run(dag_id: str, **conf: Any) -> Any:
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"no DAG {dag_id}"
        assert os.environ[CONN_ENV_VAR]
        return dag.test(run_conf=conf)

    return run


@pytest.fixture(scope="session")
def hook(session_conn: dict[str, Any]) -> Iterator[Any]:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    instance = AzureMLPipelinesHook()
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def published(hook: Any, session_conn: dict[str, Any]) -> dict[str, Any]:
    """Published pipelines (train, score, simulated) and a scoring endpoint, for submissions."""
    runs = session_conn["pipeline_runs"]
    suffix = uuid.uuid4().hex[:8]
    ids = {
        name: hook.publish_pipeline_from_run(runs[name], name=f"{name}-{suffix}", version="1").id
        for name in ("train", "score", "simulated")
    }
    endpoint = hook.create_pipeline_endpoint(f"scoring-{suffix}", ids["score"])
    return {**ids, "endpoint": endpoint, "suffix": suffix}


@pytest.fixture
def task_output(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[[], str]:
    """What the DAG runs of a test printed and logged: Airflow 3's ``dag.test()`` prints task
    logs, Airflow 2's logs them."""
    # Airflow 2.11's dag.test() says at INFO when it runs a trigger (see ``deferrals``).
    caplog.set_level(logging.INFO, logger=INLINE_TRIGGER_LOGGER)

    def read() -> str:
        captured = capfd.readouterr()
        return captured.out + captured.err + caplog.text

    return read


class RecordingTaskInstance:
    """The task instance of a context, for calling ``execute`` directly: it records XComs.

    Only what the operators read of a task instance is here; the hook and service stay real.
    """

    def __init__(self, *, run_id: str = "manual__direct", try_number: int = 1) -> None:
        self.dag_id = "direct_execute"
        self.task_id = "submit"
        self.run_id = run_id
        self.map_index = -1
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value
