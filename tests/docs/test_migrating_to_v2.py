"""The side-by-side DAGs of ``docs/migrating-to-v2.md`` run, on v1 and on v2, with the same tasks.

Each sample is written where ``test_docs_samples.py`` writes it (the same file, so the DAGs
folder never holds two copies of one DAG id), parsed by a real DagBag and run with
``dag.test()`` against the session emulator: v1 through the default connection, v2 through the
emulator's ``airflow_conn_v2`` as ``azure_ml_pipelines_v2``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.airflow_helpers import load_dagbag, xcom
from tests.docs.test_docs_samples import DAG_SAMPLES, for_this_airflow

PAGE = "migrating-to-v2.md"


@pytest.fixture(scope="module")
def migrate_dags(emulator: EmulatorProcess) -> Iterator[Any]:
    """The page's two DAGs in a real DagBag, with both connections and the Variables set."""
    from airflow.utils import db

    db.initdb()
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "docs"
    folder.mkdir(exist_ok=True)
    for index, (page, block) in enumerate(DAG_SAMPLES):
        if page == PAGE:
            (folder / f"{Path(page).stem}_{index}.py").write_text(for_this_airflow(block))
    manifest = emulator.manifest
    variables = {
        CONN_ENV_VAR: emulator.airflow_conn,
        "AIRFLOW_CONN_AZURE_ML_PIPELINES_V2": json.dumps(manifest["airflow_conn_v2"]),
        "AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID": manifest["pipeline_runs"]["score"],
        "AIRFLOW_VAR_MLPIPELINES_V2_SCORING_JOB": manifest["v2_pipeline_jobs"]["score"],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield load_dagbag(str(folder))


def test_the_same_tasks_publish_deploy_and_score_on_v1_and_on_v2(migrate_dags: Any) -> None:
    assert not migrate_dags.import_errors
    version = f"v{uuid.uuid4().hex[:8]}"
    outcomes = {}
    for api in ("v1", "v2"):
        endpoint = f"docs-migrate-{api}-{uuid.uuid4().hex[:6]}"
        dag = migrate_dags.get_dag(f"docs_migrate_{api}")
        run = dag.test(run_conf={"endpoint": endpoint, "version": version})
        assert run.state == "success", api
        outcomes[api] = {
            "pipeline_id": xcom(run, "publish"),
            "deployed": xcom(run, "deploy"),
            "run_id": xcom(run, "score"),
            "run_status": xcom(run, "score", "run_status"),
            "endpoint": endpoint,
        }
    v1, v2 = outcomes["v1"], outcomes["v2"]
    # The same words on both: a new endpoint, its first version the default, run to Finished.
    for outcome in (v1, v2):
        assert outcome["run_status"] == "Finished"
        assert outcome["deployed"]["previous_default_version"] is None
        assert outcome["deployed"]["default_version"] == outcome["deployed"]["version"]
    # What the page's table says differs.
    assert v1["deployed"]["version"] == "0"
    assert v2["deployed"]["version"] == f"score-{version}"
    assert v2["pipeline_id"].endswith(f"/components/housing_score/versions/{version}")
    assert v2["deployed"]["endpoint_url"].endswith(f"/{v2['endpoint']}/jobs")
    # The service names an invoked job itself (as recorded); the XCom holds that name.
    assert v2["run_id"].startswith("batchjob-")
    uuid.UUID(v1["run_id"])  # a v1 run id is a GUID
