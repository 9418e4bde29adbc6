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


def reschedules(dag_run: Any, task_id: str) -> int:
    """How many times a task instance of a DagRun gave its slot back (reschedule mode)."""
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    ti = dag_run.get_task_instance(task_id)
    if hasattr(TaskReschedule, "ti_id"):
        condition = [TaskReschedule.ti_id == ti.id]
    else:  # Airflow 2 keys reschedules by the task instance's natural key
        condition = [
            TaskReschedule.dag_id == ti.dag_id,
            TaskReschedule.task_id == ti.task_id,
            TaskReschedule.run_id == ti.run_id,
        ]
    with create_session() as session:
        return int(session.scalar(select(func.count()).where(*condition)) or 0)


#: What ``dag.test()`` logs (Airflow 2.11 and 3) each time it runs a deferred task's trigger.
INLINE_TRIGGER_LINE = "[DAG TEST] running trigger in line"
#: The logger of that line in Airflow 2.11, which a test must capture at INFO.
INLINE_TRIGGER_LOGGER = "airflow.models.dag"


def deferrals(dag_run: Any, task_id: str, output: str) -> int:
    """How many times a task instance of a ``dag.test()`` DagRun deferred.

    Airflow 3.3 records each deferral in its audit log; Airflow 2.11's and 3.0-3.2's
    ``dag.test()`` record none, so there the inline trigger runs are counted in the output of the
    test, which must hold this one DagRun only (and capture the ``[DAG TEST]`` logger at INFO).

    :param dag_run: the DagRun.
    :param task_id: the task.
    :param output: what the test printed and logged (for Airflow 2.11).
    """
    from airflow_provider_mlpipelines._compat import AIRFLOW_V_3

    if not AIRFLOW_V_3:
        return output.count(INLINE_TRIGGER_LINE)
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        query = select(func.count()).where(
            Log.dag_id == dag_run.dag_id,
            Log.run_id == dag_run.run_id,
            Log.task_id == task_id,
            Log.event == "deferred",
        )
        audited = int(session.scalar(query) or 0)
    # Airflow 3.0-3.2's dag.test() writes no "deferred" audit row; its inline trigger line counts.
    return audited or output.count(INLINE_TRIGGER_LINE)
