"""Operators for Azure Machine Learning pipelines: publish, version, set status, submit, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._waiting import wait_for_run
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError
from airflow_provider_mlpipelines.operators._asset_events import report_change
from airflow_provider_mlpipelines.operators._base import (
    AzureMLPipelinesBaseOperator,
    check_identifier,
)
from airflow_provider_mlpipelines.operators._endpoints import (
    AzureMLPipelineEndpointOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSetPipelineEndpointStatusOperator,
    AzureMLSetPublishedPipelineStatusOperator,
)
from airflow_provider_mlpipelines.operators._submission import task_identity_tags
from airflow_provider_mlpipelines.operators._submit_run import AzureMLSubmitPipelineRunOperator

# The endpoint and status operators live in operators/_endpoints.py, the submit operator in
# operators/_submit_run.py; this stays the import path of every operator.
__all__ = [
    "AzureMLCancelPipelineRunOperator",
    "AzureMLPipelineEndpointOperator",
    "AzureMLPublishPipelineOperator",
    "AzureMLSetPipelineEndpointDefaultVersionOperator",
    "AzureMLSetPipelineEndpointStatusOperator",
    "AzureMLSetPublishedPipelineStatusOperator",
    "AzureMLSubmitPipelineRunOperator",
]

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context


class AzureMLPublishPipelineOperator(AzureMLPipelinesBaseOperator):
    """Publish a pipeline from a pipeline run; return the published pipeline's id.

    Pushes XComs ``pipeline_id`` and ``pipeline_url`` (its studio page).

    An existing active pipeline stands for this publish only when it has the same name (and
    ``version``, when one is given) *and the same source*: it was published from this run or
    another run of the same graph, or this run is a run of it. The source is recorded in the
    properties ``airflow.source_run_id`` and ``airflow.source_graph_id`` of every pipeline the
    provider publishes (the service's answer names no source run otherwise).

    - ``version`` given: the same source under this name and version is reused; another (or
      an unknown) source under this name and version raises :class:`AzureMLConflictError`
      naming both runs, whatever ``if_exists`` says.
    - ``version`` ``None``: a new pipeline, unless this same source was already published
      under this name (any version), which is reused.

    On a v2 connection (extra ``api`` ``v2``) the pipeline run is a v2 pipeline job (its name),
    and the published pipeline a pipeline component version registered from it; its ARM id is
    the ``pipeline_id``, and ``version`` ``None`` takes the next free integer version.

    :param pipeline_run_id: the pipeline run whose graph is published (any run: a seed run or
        one that really executed).
    :param pipeline_name: name of the published pipeline.
    :param version: version label of the published pipeline.
    :param description: description of the published pipeline.
    :param continue_on_step_failure: whether runs of it go on after a step fails.
    :param if_exists: ``reuse`` (default) returns the pipeline published from the same source,
        as above; ``fail`` raises :class:`AzureMLConflictError` instead, except for a pipeline
        that this same task instance published in an earlier try (whose answer was lost).
    """

    template_fields: Sequence[str] = ("pipeline_run_id", "pipeline_name", "version", "description")

    def __init__(
        self,
        *,
        pipeline_run_id: str,
        pipeline_name: str,
        version: str | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        if_exists: str = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_exists not in ("reuse", "fail"):
            raise AzureMLInvalidInputError(
                f"if_exists {if_exists!r} is not valid; choose 'reuse' or 'fail'"
            )
        self.pipeline_run_id = pipeline_run_id
        self.pipeline_name = pipeline_name
        self.version = version
        self.description = description
        self.continue_on_step_failure = continue_on_step_failure
        self.if_exists = if_exists

    def execute(self, context: Context) -> str:
        run_id = check_identifier(self.pipeline_run_id, "pipeline_run_id")
        name = self.pipeline_name
        if not isinstance(name, str) or not name.strip():
            raise AzureMLInvalidInputError(
                f"pipeline_name must be a non-empty string, got {name!r}"
            )
        pipeline, _ = self.hook.publish_pipeline_once(
            run_id,
            name=name,
            version=None if self.version in (None, "") else str(self.version),
            if_exists=self.if_exists,
            # Marks the task instance, so that its retry recognises what it published.
            properties=task_identity_tags(context["ti"]),
            description=self.description,
            continue_on_step_failure=self.continue_on_step_failure,
        )
        url = self.hook.get_pipeline_url(pipeline.id)
        self.log.info("Pipeline page: %s", url)
        context["ti"].xcom_push(key="pipeline_id", value=pipeline.id)
        context["ti"].xcom_push(key="pipeline_url", value=url)
        report_change(self, context, pipeline_id=pipeline.id, studio_url=url)
        return pipeline.id


class AzureMLCancelPipelineRunOperator(AzureMLPipelinesBaseOperator):
    """Cancel a pipeline run and wait until it has stopped; return its final status.

    A run that has already ended is left as it is (its status is returned).

    :param run_id: the pipeline run to cancel.
    :param wait_for_termination: wait until the run is terminal (default True).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait for the run to stop.
    """

    template_fields: Sequence[str] = ("run_id",)

    def __init__(
        self,
        *,
        run_id: str,
        wait_for_termination: bool = True,
        poll_interval: float = 5.0,
        timeout: float | None = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.wait_for_termination = wait_for_termination
        self.poll_interval = poll_interval
        self.timeout = timeout

    def execute(self, context: Context) -> str:
        run_id = check_identifier(self.run_id, "run_id")
        status = self.hook.get_pipeline_run(run_id).status
        if status.is_terminal:
            self.log.info("Pipeline run %s already ended %s; nothing to cancel", run_id, status)
            return status.value
        self.hook.cancel_pipeline_run(run_id)
        self.log.info("Cancellation of pipeline run %s requested", run_id)
        if self.wait_for_termination:
            status = wait_for_run(
                self.hook,
                run_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                cancel_on_timeout=False,
                log=self.log,
            )
            if status != PipelineRunStatus.CANCELED:
                self.log.warning(
                    "Pipeline run %s ended %s before it could be canceled", run_id, status
                )
        context["ti"].xcom_push(key="run_status", value=status.value)
        return status.value
