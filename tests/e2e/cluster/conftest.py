"""One production-shaped cluster (``scripts/cluster.sh``) for every cluster test of the session.

The cluster tests start PostgreSQL, Redis, seven Airflow processes and an emulator, and take
minutes: they run only when ``MLPIPELINES_CLUSTER_TESTS=1`` (``.ci/run`` sets it) and only on
Airflow 3 (the cluster installs Airflow 3.3.2 with the Celery provider).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR

from .cluster import ROOT, Cluster

ENABLE_VAR = "MLPIPELINES_CLUSTER_TESTS"
HERE = Path(__file__).resolve().parent
#: The DAG files the cluster parses: the examples, the lifecycle tests' own and the lineage one.
DAG_FILES = [
    *sorted((ROOT / "dags_examples").glob("*.py")),
    HERE / "dags" / "mlp_cluster_dags.py",
    HERE / "dags" / "mlp_cluster_lineage.py",
]
#: The cluster's OpenLineage events: the provider's file transport, one file per event, for the
#: DAGs that ``enable_lineage`` marks (mlp_cluster_lineage.py).
LINEAGE_VAR = "AIRFLOW__OPENLINEAGE__TRANSPORT"
# Defaults are minutes; these make a lost worker or triggerer noticed within seconds.
FAST_FAILURE_DETECTION = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "12",
    "MLPIPELINES_EXAMPLE_POLL_SECONDS": "2",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if not AIRFLOW_V_3:
        reason = "the cluster runs Airflow 3.3.2"
    elif os.environ.get(ENABLE_VAR) != "1":
        reason = f"cluster tests run with {ENABLE_VAR}=1 (see docs/cluster.md)"
    if reason is None:
        return
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The running cluster; ``down`` at the end of the session, whatever happened.

    Its folder is not one of pytest's numbered temporary folders, which a concurrent pytest
    session on the same machine may delete while this one still runs.
    """
    root = Path(tempfile.mkdtemp(prefix="mlpipelines-cluster-"))
    dags = root / "dags"
    dags.mkdir()
    for path in DAG_FILES:
        (dags / path.name).symlink_to(path)
    # PostgreSQL runs as its own user, which must reach its data folder.
    root.chmod(0o711)
    events = root / "openlineage"
    events.mkdir()
    lineage = {
        LINEAGE_VAR: json.dumps({"type": "file", "log_file_path": str(events / "event")}),
        "AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE": "True",
    }
    cluster = Cluster(root / "c", {"DAGS_FOLDER": str(dags), **FAST_FAILURE_DETECTION, **lineage})
    try:
        cluster.up()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(CONN_ENV_VAR, cluster.airflow_conn)
            yield cluster
    except BaseException:
        for name in ("scheduler", "worker-1", "worker-2", "triggerer-1", "triggerer-2"):
            with contextlib.suppress(OSError):
                print(f"--- {name} log tail ---\n{cluster.log(name)[-3000:]}")
        raise
    finally:
        cluster.down()
        # MLPIPELINES_CLUSTER_KEEP=1 keeps the logs for a look after a failure.
        if os.environ.get("MLPIPELINES_CLUSTER_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
