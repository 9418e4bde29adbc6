"""Every Python sample of the README and of ``docs/`` runs: nothing documented is untested.

- A sample that defines a DAG is written into the DAGs folder, parsed by a real ``DagBag`` and
  run with ``dag.test()`` against the session emulator.
- A sample that defines a ``test_...`` function is run as that test would be.
- The README's fragments are executed in order inside a DAG, so every operator call they show
  is really constructed (argument checks included).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.airflow_helpers import load_dagbag

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
AIRFLOW_2_IMPORTS = {
    "from airflow.sdk import DAG, Param": (
        "from airflow import DAG\nfrom airflow.models.param import Param"
    ),
    "from airflow.sdk import DAG": "from airflow import DAG",
}


def python_blocks(path: Path) -> list[str]:
    return PYTHON_BLOCK.findall(path.read_text(encoding="utf-8"))


def for_this_airflow(code: str) -> str:
    if AIRFLOW_V_3:
        return code
    for new, old in AIRFLOW_2_IMPORTS.items():
        code = code.replace(new, old)
    return code


DAG_SAMPLES = [
    (path.name, block) for path in DOCS for block in python_blocks(path) if "with DAG(" in block
]
TEST_SAMPLES = [
    (path.name, block) for path in DOCS for block in python_blocks(path) if "def test_" in block
]


def test_every_docs_page_has_samples_and_each_is_covered_here() -> None:
    assert {p.name for p in DOCS} >= {"publishing.md", "running.md", "emulator.md"}
    for path in DOCS:
        for block in python_blocks(path):
            assert "with DAG(" in block or "def test_" in block, f"{path.name}: unexercised sample"


@pytest.fixture(scope="module")
def docs_dags(emulator: EmulatorProcess) -> Iterator[dict[str, Any]]:
    """The docs' DAG samples, written into the DAGs folder and parsed by a real DagBag."""
    from airflow.utils import db

    db.initdb()
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "docs"
    folder.mkdir(exist_ok=True)
    for index, (page, block) in enumerate(DAG_SAMPLES):
        (folder / f"{Path(page).stem}_{index}.py").write_text(for_this_airflow(block))
    bag = load_dagbag(str(folder))
    manifest = emulator.manifest
    variables = {
        CONN_ENV_VAR: emulator.airflow_conn,
        "AIRFLOW_VAR_MLPIPELINES_TRAINING_RUN_ID": manifest["pipeline_runs"]["train"],
        "AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID": manifest["pipeline_runs"]["score"],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield {"bag": bag, "manifest": manifest}


def test_docs_dags_parse_without_errors(docs_dags: dict[str, Any]) -> None:
    bag = docs_dags["bag"]
    assert not bag.import_errors
    assert set(bag.dag_ids) == {
        "docs_publish_new_version",
        "docs_set_default_version",
        "docs_score_the_day",
        "docs_cancel_run",
        "docs_migrate_v1",
        "docs_migrate_v2",
    }


def _hook() -> Any:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    return AzureMLPipelinesHook()


def test_publishing_samples_add_a_version_and_roll_it_back(docs_dags: dict[str, Any]) -> None:
    bag, endpoint_name = docs_dags["bag"], f"docs-training-{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        run = bag.get_dag("docs_publish_new_version").test(
            run_conf={"endpoint_name": endpoint_name}
        )
        assert run.state == "success"
    endpoint = _hook().get_pipeline_endpoint(name=endpoint_name)
    assert endpoint.version_names == ["0", "1"] and endpoint.default_version == "1"
    run = bag.get_dag("docs_set_default_version").test(
        run_conf={"endpoint_name": endpoint_name, "version": "0"}
    )
    assert run.state == "success"
    assert _hook().get_pipeline_endpoint(endpoint.id).default_version == "0"


def test_running_samples_score_and_cancel(docs_dags: dict[str, Any]) -> None:
    bag = docs_dags["bag"]
    run = bag.get_dag("docs_score_the_day").test(
        run_conf={"endpoint_name": f"docs-scoring-{uuid.uuid4().hex[:6]}"}
    )
    assert run.state == "success"
    states = {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()
    }
    assert states == dict.fromkeys(("publish", "endpoint", "score", "confirm_finished"), "success")

    hook = _hook()
    train = hook.publish_pipeline_from_run(
        docs_dags["manifest"]["pipeline_runs"]["train"], name="docs-cancel", version="1"
    )
    slow = hook.build_submission(experiment_name="docs", parameters={"sleep_seconds": 60})
    run_id = hook.submit_pipeline_run(train.id, slow).id
    run = bag.get_dag("docs_cancel_run").test(run_conf={"run_id": run_id})
    assert run.state == "success"
    assert hook.get_pipeline_run(run_id).status == PipelineRunStatus.CANCELED


@pytest.mark.parametrize(("page", "block"), TEST_SAMPLES, ids=[p for p, _ in TEST_SAMPLES])
def test_docs_test_samples_pass(
    page: str, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block, f"docs/{page}", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests, f"{page}: no test function in the sample"
    for test in tests:
        test(tmp_path=tmp_path, monkeypatch=monkeypatch)


def test_readme_fragments_construct_real_operators() -> None:
    from airflow_provider_mlpipelines._compat import BaseOperator

    if AIRFLOW_V_3:
        from airflow.sdk import DAG
    else:
        from airflow import DAG

    import airflow_provider_mlpipelines.operators.azure_ml_pipelines as operators
    import airflow_provider_mlpipelines.sensors.azure_ml_pipelines as sensors

    namespace: dict[str, Any] = {**vars(operators), **vars(sensors)}
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) >= 5
    with DAG("readme_samples", schedule=None) as dag:
        for index, block in enumerate(blocks):
            exec(compile(block, f"README.md block {index}", "exec"), namespace)
    assert all(isinstance(task, BaseOperator) for task in dag.tasks)
    assert {"publish", "endpoint", "rollback", "score", "cancel", "wait"} <= set(dag.task_ids)
