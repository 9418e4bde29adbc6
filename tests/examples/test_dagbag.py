"""The example DAGs parse cleanly with a real DagBag and say what they need."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from tests.airflow_helpers import load_dagbag

from .conftest import EXAMPLES_FOLDER

SCHEDULES = {
    "example_mlpipelines_retraining": "@weekly",
    "example_mlpipelines_batch_scoring": "@daily",
    "example_mlpipelines_endpoint_versions": None,
    "example_mlpipelines_sensor": None,
    "example_mlpipelines_v2_batch_scoring": None,
    "example_mlpipelines_v2_own_component": None,
    "example_mlpipelines_retrain_asset": None,
    # Scheduled on an asset (Airflow 2.11: a dataset), checked by its timetable.
    "example_mlpipelines_score_on_asset": "asset",
}
# Modules that must not be imported while a DAG file is parsed (see ARCHITECTURE.md).
HEAVY_MODULES = ("azure.identity", "aiohttp", "airflow_provider_mlpipelines.emulator")


def test_dagbag_has_every_example_without_import_errors_or_warnings(examples_db: None) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = load_dagbag(str(EXAMPLES_FOLDER))
    assert bag.import_errors == {}
    assert bag.captured_warnings == {}
    from_examples = [w for w in caught if str(EXAMPLES_FOLDER) in str(w.filename)]
    assert from_examples == [], [str(w.message) for w in from_examples]
    assert set(bag.dag_ids) == set(SCHEDULES)
    for dag_id, schedule in SCHEDULES.items():
        dag = bag.get_dag(dag_id)
        if schedule == "asset":
            assert type(dag.timetable).__name__ in (
                "AssetTriggeredTimetable",
                "DatasetTriggeredTimetable",
            )
            continue
        # Airflow 2 keeps the schedule argument as schedule_interval.
        assert getattr(dag, "schedule", getattr(dag, "schedule_interval", None)) == schedule, dag_id


def test_each_example_documents_what_it_needs(examples_dagbag: Any) -> None:
    for path in sorted(EXAMPLES_FOLDER.glob("example_*.py")):
        source = path.read_text(encoding="utf-8")
        docstring = source.split('"""')[1]
        assert "What it shows" in docstring and "What it needs" in docstring, path.name
        assert "azure_ml_pipelines_default" in docstring, path.name
        for variable in set(re.findall(r"var\.value\.(\w+)", source)):
            assert variable in docstring, f"{path.name} does not document Variable {variable}"
    for dag in examples_dagbag.dags.values():
        assert dag.doc_md and "What it needs" in dag.doc_md, dag.dag_id


#: Run in a fresh interpreter: parses every example, recording each heavy import this project
#: causes. Walking out from the import statement (past the heavy package's own frames and any
#: library between), the first frame that is Airflow's or this project's decides who asked for
#: it: Airflow 3.0 and 3.1 themselves import aiohttp while a DAG file loads (airflow.utils.db
#: imports svcs, which imports svcs.aiohttp), which is not this project's doing.
PARSE_PROBE = """
import pathlib, runpy, sys, traceback
heavy, ours, examples = HEAVY, OURS, EXAMPLES
caused = set()
def is_airflow(filename):
    return "/airflow/" in filename and "airflow_provider_mlpipelines" not in filename
class Watch:
    def find_spec(self, name, path=None, target=None):
        top = next((m for m in heavy if name == m or name.startswith(m + ".")), None)
        if top is not None:
            for frame in reversed(traceback.extract_stack()[:-1]):
                if frame.filename.startswith(ours):
                    caused.add(top)
                    break
                if is_airflow(frame.filename):
                    break
        return None
sys.meta_path.insert(0, Watch())
for path in sorted(pathlib.Path(examples).glob("*.py")):
    runpy.run_path(str(path))
print(sorted(caused))
"""


def test_parsing_needs_no_database_and_imports_no_client_library(tmp_path: Path) -> None:
    # A fresh interpreter (this test process has long imported everything), whose metadata
    # database cannot even be created: parsing must not touch it.
    env = {
        **os.environ,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/airflow.db",
    }
    package = Path(__file__).resolve().parents[2] / "airflow_provider_mlpipelines"
    probe = (
        PARSE_PROBE.replace("HEAVY", repr(HEAVY_MODULES))
        .replace("OURS", repr((str(package), str(EXAMPLES_FOLDER))))
        .replace("EXAMPLES", repr(str(EXAMPLES_FOLDER)))
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
