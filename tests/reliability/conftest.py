"""Fixtures of the reliability tests: emulators of their own, the fault admin, run counting.

The operator fixtures (``run_dag``'s database, ``hook``, ``published``) are reused from
``tests/operators/conftest.py``. The DAGs of these tests live in ``tests/reliability/dags`` and
are linked into the session's DAGs folder (a temporary AIRFLOW_HOME, see the root conftest).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.airflow_helpers import load_dagbag
from tests.operators.conftest import (  # noqa: F401  (fixtures re-exported for this folder)
    RecordingTaskInstance,
    airflow_db,
    hook,
    published,
    session_conn,
    task_output,
)

RELIABILITY_DAGS = Path(__file__).resolve().parent / "dags"


class EmulatorAdmin:
    """The emulator's admin and counter routes (``/_emulator/...``), for one emulator.

    :param emulator: the emulator.
    """

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.emulator.admin(method, path, **kwargs)

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings (``POST /_emulator/admin/faults``)."""
        return self.emulator.set_faults(**settings)

    def clear_faults(self) -> dict[str, Any]:
        """Switch every fault off."""
        return self.set_faults(
            error_rate=0.0,
            throttle_rate=0.0,
            drop_rate=0.0,
            latency_seconds=0.0,
            queue_seconds=0.0,
            fail_next=0,
            path_contains="",
            token_endpoint=False,
        )

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``."""
        return self._call("GET", "/_emulator/stats")

    def issued_tokens(self) -> list[str]:
        """Every access token the emulator issued since it started (test aid)."""
        return [t["access_token"] for t in self._call("GET", "/_emulator/admin/tokens")["tokens"]]

    def set_token_lifetime(self, seconds: int) -> dict[str, Any]:
        """Lifetime of the tokens issued from now on."""
        return self._call("POST", "/_emulator/admin/tokens", json={"lifetime_seconds": seconds})

    def total_runs(self) -> int:
        """How many runs the emulator holds, whatever their state."""
        return sum(self.stats()["runs"].values())

    def submit_requests(self) -> int:
        """How many submit requests reached the emulator, refused ones included."""
        requests = self.stats()["requests"]
        return sum(count for name, count in requests.items() if name.startswith("submit to"))


@pytest.fixture(scope="session")
def reliability_dagbag(airflow_db: None) -> Any:  # noqa: F811
    """The DAGs of ``tests/reliability/dags``, also linked into the configured DAGs folder."""
    from airflow.configuration import conf

    link = Path(conf.get("core", "dags_folder")) / "reliability"
    if not link.exists():
        link.symlink_to(RELIABILITY_DAGS, target_is_directory=True)
    bag = load_dagbag(str(RELIABILITY_DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture
def admin(emulator: EmulatorProcess) -> Iterator[EmulatorAdmin]:
    """Admin of the session emulator; faults are cleared again after the test."""
    client = EmulatorAdmin(emulator)
    try:
        yield client
    finally:
        client.clear_faults()


@pytest.fixture
def own_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorProcess]:
    """A fresh emulator for one test, made the default connection; stopped at teardown."""
    process = EmulatorProcess(tmp_path / "emulator")
    try:
        process.start()
        monkeypatch.setenv(CONN_ENV_VAR, process.airflow_conn)
        yield process
    finally:
        process.stop()


@pytest.fixture
def run_reliability_dag(reliability_dagbag: Any) -> Callable[..., Any]:
    """Run a DAG of ``tests/reliability/dags`` with ``dag.test(run_conf=...)``."""

    def run(dag_id: str, **conf: Any) -> Any:
        dag = reliability_dagbag.get_dag(dag_id)
        assert dag is not None, f"no DAG {dag_id}"
        assert os.environ[CONN_ENV_VAR]
        return dag.test(run_conf=conf)

    return run
