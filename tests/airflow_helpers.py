"""Helpers for tests that run DAGs with ``dag.test()``, on Airflow 3 and Airflow 2.11 alike."""

from __future__ import annotations

from typing import Any


def load_dagbag(folder: str) -> Any:
    """A real ``DagBag`` of ``folder`` (its class moved in Airflow 3)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models import DagBag  # type: ignore[no-redef]
    return DagBag(folder)


def task_state(dag_run: Any, task_id: str) -> str:
    """The state of one task instance of a finished DagRun, as a string."""
    ti = dag_run.get_task_instance(task_id)
    assert ti is not None, f"no task instance {task_id}"
    return str(getattr(ti.state, "value", ti.state))


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """One XCom value of a DagRun (``None`` if the task pushed none)."""
    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom

        return XCom.get_one(run_id=dag_run.run_id, dag_id=dag_run.dag_id, task_id=task_id, key=key)
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key
        )
        row = session.scalars(query).first()
        # The JSON column already holds the value; deserialize_value would json-decode a
        # string such as "0" a second time.
        return None if row is None else row.value
