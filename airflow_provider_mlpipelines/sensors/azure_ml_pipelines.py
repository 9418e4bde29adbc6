"""Sensor that waits for an Azure ML pipeline run started anywhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    default_deferrable,
)
from airflow_provider_mlpipelines._waiting import (
    EVENT_TIMEOUT,
    ProgressLogger,
    handle_trigger_event,
    raise_for_run_outcome,
)
from airflow_provider_mlpipelines.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_mlpipelines.links.azure_ml_pipelines import AzureMLPipelineRunLink
from airflow_provider_mlpipelines.operators._base import check_identifier

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook


class AzureMLPipelineRunSensor(BaseSensorOperator):
    """Wait for a pipeline run to end: succeed when it is ``Finished``, fail when it is not.

    Works in ``poke`` and ``reschedule`` mode, and deferred (``deferrable=True``) in the
    triggerer. A run that ends ``Failed`` or ``Canceled`` fails the task with the failed steps'
    account, as the submit operator does. The sensor never cancels the run it watches.

    :param run_id: the pipeline run to wait for.
    :param azure_ml_pipelines_conn_id: the Airflow connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("run_id",)
    operator_extra_links = (AzureMLPipelineRunLink(),)
    ui_color = "#e3f1fb"

    def __init__(
        self,
        *,
        run_id: str,
        azure_ml_pipelines_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.azure_ml_pipelines_conn_id = azure_ml_pipelines_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self._progress: ProgressLogger | None = None
        self._experiment_name: str | None = None

    @cached_property
    def hook(self) -> AzureMLPipelinesHook:
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

        return AzureMLPipelinesHook(azure_ml_pipelines_conn_id=self.azure_ml_pipelines_conn_id)

    def execute(self, context: Context) -> Any:
        run_id = check_identifier(self.run_id, "run_id")
        AzureMLPipelineRunLink.persist(context, self.hook.get_run_url(run_id))
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self._defer(run_id)
        return None

    def poke(self, context: Context) -> bool:
        run_id = check_identifier(self.run_id, "run_id")
        run = self.hook.get_pipeline_run(run_id)
        status = run.status
        self._experiment_name = run.experiment_name
        if self._progress is None:
            self._progress = ProgressLogger(self.log, run_id)
        self._progress.update(status)
        if not status.is_terminal:
            return False
        context["ti"].xcom_push(key="run_status", value=status.value)
        raise_for_run_outcome(self.hook, run_id, status)
        return True

    def _defer(self, run_id: str) -> None:
        from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
            AzureMLPipelineRunTrigger,
        )

        timeout = _seconds(self.timeout)
        self.defer(
            trigger=AzureMLPipelineRunTrigger(
                run_id,
                azure_ml_pipelines_conn_id=self.azure_ml_pipelines_conn_id,
                poll_interval=_seconds(self.poke_interval) or 60.0,
                end_time=time.time() + timeout if timeout else None,
                timeout=timeout,
                cancel_on_timeout=False,
                cancel_on_kill=False,
                experiment_name=self._experiment_name,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger fired: same outcome as :meth:`poke`."""
        if event and event.get("status") == EVENT_TIMEOUT:
            raise AirflowSensorTimeout(
                f"Pipeline run {event.get('run_id')} did not end within {event.get('timeout')} s"
            )
        if event and event.get("run_status"):
            context["ti"].xcom_push(key="run_status", value=event["run_status"])
        status = handle_trigger_event(self.hook, event)
        self.log.info("Pipeline run %s ended %s", self.run_id, status)


def _seconds(value: timedelta | float | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
