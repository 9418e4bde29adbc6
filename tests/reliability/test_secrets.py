"""The client secret and every bearer token never reach task logs, XComs, rendered template
fields, trigger kwargs or exception messages.

DAGs run with ``dag.test()`` against an emulator of the test's own (sync, deferred, and a run
that fails, so exception text is logged too); then the captured task output, every file under
AIRFLOW_HOME/logs and the whole metadata database (XCom, rendered fields and trigger tables
included) are searched for the secret and for every token the emulator issued
(``GET /_emulator/admin/tokens``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

from .conftest import EmulatorAdmin
from .test_survives import _publish_simulated


def _database_text() -> str:
    path = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    # The raw file too: rows that were deleted (finished triggers) may linger in free pages.
    raw = Path(path).read_bytes().decode("latin-1")
    with sqlite3.connect(path) as db:
        dumped = "\n".join(db.iterdump())
    return raw + dumped


def _log_files_text() -> str:
    home = Path(os.environ["AIRFLOW_HOME"])
    return "\n".join(
        p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file()
    )


def _xcom_and_rendered_rows(dag_id: str) -> tuple[int, int]:
    path = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        xcoms = db.execute("select count(*) from xcom where dag_id = ?", (dag_id,)).fetchone()
        rendered = db.execute(
            "select count(*) from rendered_task_instance_fields where dag_id = ?", (dag_id,)
        ).fetchone()
    return int(xcoms[0]), int(rendered[0])


def test_no_secret_or_token_in_logs_xcoms_rendered_fields_triggers_or_errors(
    own_emulator: EmulatorProcess,
    run_reliability_dag: Callable[..., Any],
    task_output: Callable[[], str],
) -> None:
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
        AzureMLPipelineRunTrigger,
    )

    pipeline_id = _publish_simulated(own_emulator)
    outcomes = {}
    for dag_id, outcome in (
        ("mlp_rel_submit_sync", "Finished"),
        ("mlp_rel_submit_deferred", "Finished"),
        ("mlp_rel_submit_sync", "Failed"),
    ):
        dag_run = run_reliability_dag(
            dag_id,
            pipeline_id=pipeline_id,
            parameters={"duration_seconds": 1, "outcome": outcome},
        )
        outcomes[(dag_id, outcome)] = dag_run.state
    assert outcomes == {
        ("mlp_rel_submit_sync", "Finished"): "success",
        ("mlp_rel_submit_deferred", "Finished"): "success",
        ("mlp_rel_submit_sync", "Failed"): "failed",
    }
    trigger_kwargs = repr(
        AzureMLPipelineRunTrigger("some-run", azure_ml_pipelines_conn_id="x").serialize()
    )

    secret = own_emulator.manifest["client_secret"]
    tokens = EmulatorAdmin(own_emulator).issued_tokens()
    assert tokens, "the DAG runs must have acquired tokens"
    output = task_output()
    assert "ended Failed" in output  # the failure's exception text is part of what is searched
    assert _xcom_and_rendered_rows("mlp_rel_submit_sync") >= (1, 1)
    places = {
        "task output": output,
        "log files": _log_files_text(),
        "metadata database": _database_text(),
        "trigger kwargs": trigger_kwargs,
    }
    for where, text in places.items():
        assert secret not in text, f"the client secret leaked into the {where}"
        for token in tokens:
            assert token not in text, f"a bearer token leaked into the {where}"
            # The random third part alone identifies the token as well.
            assert token.rsplit(".", 1)[1] not in text, f"a token part leaked into the {where}"
