"""Why is a waiting task being stopped: a user's intent, or its process going away?

Airflow calls an operator's ``on_kill`` (and, on Airflow 3.3, a trigger's ``on_kill``) both when
a user stops a task and when the machinery around it stops: a worker drained on a deploy gets
SIGTERM, which the task SDK's supervisor forwards to the task process; a triggerer whose
heartbeat went stale loses its triggers to another triggerer and cancels its own copies through
the same path as a user's action. Only a user's intent may cancel the Azure ML run: a process
going away must leave the run alone so that the retry, or the other triggerer, re-attaches.

What tells the two apart is the task instance's state in Airflow's database when ``on_kill``
runs (see RELIABILITY.md, "Lifecycle"):

- ``failed``, ``success``, ``skipped``, ``removed``, ``upstream_failed`` (a user marked the task
  or its DAG run), or a DAG run that is no longer running: the user's intent, cancel;
- ``running`` (a worker stopping), ``deferred`` (a trigger moving to another triggerer),
  ``up_for_retry``, ``restarting``, ``queued``, ``scheduled``: the process goes away and the
  task goes on elsewhere, keep the run;
- the state cannot be read: keep the run, the side that loses no work.

``execution_timeout`` is the one intent the state does not show (the task is still ``running``
while it times out): the task runner calls ``on_kill`` while handling ``AirflowTaskTimeout``,
which :func:`handling_task_timeout` sees.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3

#: Task instance states that only a user's action (or the DAG run's end) gives a running task.
USER_STOP_STATES = frozenset({"failed", "success", "skipped", "removed", "upstream_failed"})
#: DAG run states in which nothing of the run goes on.
FINISHED_DAG_RUN_STATES = frozenset({"failed", "success"})


def handling_task_timeout() -> bool:
    """Whether the caller runs while Airflow handles the task's ``execution_timeout``."""
    error = sys.exc_info()[1]
    return error is not None and type(error).__name__ == "AirflowTaskTimeout"


def is_user_stop(ti_state: str | None, dag_run_state: str | None) -> bool:
    """Decide from the states read when the task was stopped (pure; see the module docstring).

    :param ti_state: the task instance's state now (``None`` when it has none).
    :param dag_run_state: the DAG run's state now (``None`` when unknown).
    """
    if dag_run_state in FINISHED_DAG_RUN_STATES:
        return True
    return ti_state in USER_STOP_STATES


def _state_value(state: Any) -> str | None:
    if state is None:
        return None
    return str(getattr(state, "value", state))


def _ti_key(ti: Any) -> tuple[str, str, str, int]:
    map_index = getattr(ti, "map_index", -1)
    return str(ti.dag_id), str(ti.run_id), str(ti.task_id), -1 if map_index is None else map_index


def read_states_from_task(ti: Any) -> tuple[str | None, str | None]:
    """The states of ``ti`` and its DAG run, read from inside a running task.

    Airflow 3: through the task SDK's supervisor (the execution API); Airflow 2.11: from the
    metadata database. Raises whatever the lookup raises.

    :param ti: the task instance of the current context.
    """
    dag_id, run_id, task_id, map_index = _ti_key(ti)
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        return _states_from_sdk(RuntimeTaskInstance, dag_id, run_id, task_id, map_index)
    return _state_value(ti.current_state()), _state_value(ti.get_dagrun().get_state())


def _states_from_sdk(
    sdk_ti: Any, dag_id: str, run_id: str, task_id: str, map_index: int
) -> tuple[str | None, str | None]:
    found = sdk_ti.get_task_states(
        dag_id=dag_id,
        task_ids=[task_id],
        run_ids=[run_id],
        map_index=None if map_index < 0 else map_index,
    )
    key = task_id if map_index < 0 else f"{task_id}_{map_index}"
    ti_state = _state_value((found.get(run_id) or {}).get(key))
    return ti_state, _state_value(sdk_ti.get_dagrun_state(dag_id=dag_id, run_id=run_id))


async def read_states_from_trigger(ti: Any, timeout: float = 25.0) -> tuple[str | None, str | None]:
    """The states of a deferred task instance and its DAG run, read from inside a trigger
    (Airflow 3 triggerer; its supervisor answers through the execution API).

    The requests go through the trigger runner's own asynchronous channel to its supervisor,
    on the event loop: a thread's blocking request could wait behind the loop's own.

    :param ti: the trigger's ``task_instance``.
    :param timeout: seconds to wait for the answers; then :class:`TimeoutError`. The first
        request of a triggerer makes its supervisor start Airflow's in-process execution API,
        which took 11-12 s on a loaded 2-core machine.
    """
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetDagRunState, GetTaskStates

    dag_id, run_id, task_id, map_index = _ti_key(ti)
    comms = task_runner.SUPERVISOR_COMMS

    async def ask() -> tuple[str | None, str | None]:
        found = await comms.asend(
            GetTaskStates(
                dag_id=dag_id,
                task_ids=[task_id],
                run_ids=[run_id],
                map_index=None if map_index < 0 else map_index,
            )
        )
        key = task_id if map_index < 0 else f"{task_id}_{map_index}"
        ti_state = _state_value((found.task_states.get(run_id) or {}).get(key))
        dag_run = await comms.asend(GetDagRunState(dag_id=dag_id, run_id=run_id))
        return ti_state, _state_value(dag_run.state)

    return await asyncio.wait_for(ask(), timeout)


def task_stop_is_user_intent(log: logging.Logger | Any) -> bool:
    """From an operator's ``on_kill``: whether the run should be canceled.

    :param log: where the decision is explained.
    """
    # This runs in a signal handler: an exception would surface in the task's own code.
    try:
        if handling_task_timeout():
            log.info("The task reached its execution_timeout")
            return True
        if AIRFLOW_V_3:
            from airflow.sdk import get_current_context
        else:
            from airflow.operators.python import get_current_context  # type: ignore[no-redef]
        ti = get_current_context()["ti"]
        ti_state, dag_run_state = read_states_from_task(ti)
    except Exception as err:  # any failure here must not cancel a run that may go on
        log.warning(
            "The task is being stopped and its state could not be read (%s); "
            "leaving the pipeline run going so that a retry can re-attach",
            err,
        )
        return False
    return explain(log, ti_state, dag_run_state)


def explain(log: logging.Logger | Any, ti_state: str | None, dag_run_state: str | None) -> bool:
    """Log and return :func:`is_user_stop` for the states read.

    :param log: where the decision is explained.
    :param ti_state: the task instance's state.
    :param dag_run_state: the DAG run's state.
    """
    if is_user_stop(ti_state, dag_run_state):
        log.info(
            "The task was stopped by a user (task instance %s, DAG run %s)",
            ti_state,
            dag_run_state,
        )
        return True
    log.info(
        "The task's process is going away but the task is still %s (DAG run %s): "
        "leaving the pipeline run going for the retry or another triggerer to re-attach",
        ti_state,
        dag_run_state,
    )
    return False
