"""``scripts/cluster.sh up`` exports every Variable and connection the example DAGs read.

Read from the sources: the names the examples use (``var.value.X``, ``optional_variable("X")``,
a connection id) against the ``AIRFLOW_VAR_*`` and ``AIRFLOW_CONN_*`` names the script sets.
The cluster tests (tests/e2e/cluster/) run the examples on the cluster itself.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"
SCRIPT = ROOT / "scripts" / "cluster.sh"
#: The connection every operator uses when the DAG names none.
DEFAULT_CONN = "azure_ml_pipelines_default"


def _used() -> tuple[set[str], set[str]]:
    variables: set[str] = set()
    connections = {DEFAULT_CONN}
    for path in EXAMPLES.glob("example_*.py"):
        source = path.read_text(encoding="utf-8")
        variables |= set(re.findall(r"var\.value\.(\w+)", source))
        variables |= set(re.findall(r"optional_variable\(\"(\w+)\"\)", source))
        connections |= set(re.findall(r"CONN_ID = \"(\w+)\"", source))
        connections |= set(re.findall(r"azure_ml_pipelines_conn_id=\"(\w+)\"", source))
    return variables, connections


def test_the_cluster_exports_what_every_example_reads() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    exported_vars = {name.lower() for name in re.findall(r"AIRFLOW_VAR_(\w+)", script)}
    exported_conns = {name.lower() for name in re.findall(r"AIRFLOW_CONN_(\w+)", script)}
    variables, connections = _used()
    assert {"mlpipelines_v2_scoring_job", "mlpipelines_training_run_id"} <= variables
    assert "azure_ml_pipelines_v2" in connections
    assert variables - exported_vars == set()
    assert connections - exported_conns == set()
