"""Resolving where a run is submitted and what it is submitted with (no Airflow types here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    format_choices,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import (
        PipelineEndpoint,
        PipelineRun,
        PipelineSubmissionInfo,
        PublishedPipeline,
    )
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook


@dataclass(frozen=True)
class SubmitTarget:
    """Where a run goes: a published pipeline, or an endpoint (and version), resolved to ids.

    :param label: how messages name the target, e.g. ``endpoint 'scoring' version '3'``.
    :param pipeline_id: the published pipeline that will run (behind the endpoint version, if any).
    :param endpoint_id: the endpoint submitted to, if any.
    :param version: the endpoint version asked for (``None``: the default version).
    :param url: a pasted submit URL, submitted to as is.
    """

    label: str
    pipeline_id: str
    endpoint_id: str | None = None
    version: str | None = None
    url: str | None = None

    def submit(self, hook: AzureMLPipelinesHook, submission: PipelineSubmissionInfo) -> PipelineRun:
        if self.url:
            return hook.submit_to_url(self.url, submission)
        if self.endpoint_id:
            return hook.submit_pipeline_endpoint_run(
                self.endpoint_id, submission, pipeline_version=self.version
            )
        return hook.submit_pipeline_run(self.pipeline_id, submission)


def ensure_active(entity: PublishedPipeline | PipelineEndpoint, label: str) -> None:
    """Refuse to submit to a disabled or deprecated pipeline or endpoint."""
    if entity.status != EntityStatus.ACTIVE:
        raise AzureMLInvalidInputError(
            f"Cannot submit to {label}: it is {entity.status.value}, not Active "
            "(enable it with the set-status operator first)"
        )


def pipeline_target(hook: AzureMLPipelinesHook, pipeline_id: str) -> SubmitTarget:
    pipeline = hook.get_published_pipeline(pipeline_id)
    label = f"published pipeline {pipeline.name!r} ({pipeline_id})"
    ensure_active(pipeline, label)
    return SubmitTarget(label=label, pipeline_id=pipeline.id)


def endpoint_target(
    hook: AzureMLPipelinesHook, endpoint: PipelineEndpoint, version: str | None
) -> SubmitTarget:
    label = f"pipeline endpoint {endpoint.name!r}"
    ensure_active(endpoint, label)
    wanted = endpoint.default_version if version is None else str(version)
    pipeline_id = endpoint.pipeline_id_of(wanted)
    if pipeline_id is None:
        raise AzureMLInvalidInputError(
            f"{label} has no version {wanted!r}; its versions are "
            f"{format_choices(endpoint.version_names)} (default {endpoint.default_version!r})"
        )
    label = f"{label} version {wanted!r}"
    ensure_active(hook.get_published_pipeline(pipeline_id), f"{label} (pipeline {pipeline_id})")
    return SubmitTarget(
        label=label,
        pipeline_id=pipeline_id,
        endpoint_id=endpoint.id,
        version=None if version is None else str(version),
    )


def load_parameters(value: Any) -> dict[str, Any] | None:
    """Parameters given as a mapping or as JSON text (e.g. a rendered ``.json`` template)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise AzureMLInvalidInputError(
                f"parameters is a string but not JSON ({err}); give a dict or a JSON object"
            ) from None
    if not isinstance(value, Mapping):
        raise AzureMLInvalidInputError(
            f"parameters must be a dict of name -> str/int/float/bool, got {type(value).__name__}"
        )
    return dict(value)


# --------------------------------------------------------------------------------------------
# Finding the run an earlier try of the same task instance submitted
# --------------------------------------------------------------------------------------------
#: Task-state-store key (Airflow 3.3+) holding the run id a task instance submitted.
RUN_ID_STATE_KEY = "azure_ml_pipeline_run_id"

#: Tags naming the task instance that submitted a run; together they identify it.
IDENTITY_TAGS = ("airflow.dag_id", "airflow.task_id", "airflow.run_id", "airflow.map_index")


def task_identity_tags(ti: Any) -> dict[str, str]:
    """The tags that identify the task instance ``ti`` on the runs it submits."""
    return {
        "airflow.dag_id": str(ti.dag_id),
        "airflow.task_id": str(ti.task_id),
        "airflow.run_id": str(ti.run_id),
        "airflow.map_index": str(getattr(ti, "map_index", -1)),
    }


def find_earlier_run(
    hook: AzureMLPipelinesHook, target: SubmitTarget, ti: Any, state_store: Any
) -> PipelineRun | None:
    """The run an earlier try of this task instance submitted, if any.

    The task state store (Airflow 3.3+) is read first, a single request; the identity tags are
    searched among the target pipeline's runs otherwise, which works on every Airflow version.
    The first try of a task instance has no earlier run, so it costs nothing.
    """
    if int(getattr(ti, "try_number", 1) or 1) <= 1:
        return None
    stored = state_store.get(RUN_ID_STATE_KEY) if state_store is not None else None
    if stored:
        try:
            return hook.get_pipeline_run(str(stored))
        except AzureMLNotFoundError:
            pass
    identity = task_identity_tags(ti)
    mine = [
        run
        for run in hook.list_pipeline_runs(target.pipeline_id)
        if all(run.tags.get(key) == value for key, value in identity.items())
    ]
    return max(
        mine, key=lambda run: run.status_info.creation_time or run.created_date or "", default=None
    )


def remember_run(state_store: Any, run_id: str) -> None:
    """Record the submitted run id where a retry of this task instance will look first."""
    if state_store is not None:
        state_store.set(RUN_ID_STATE_KEY, run_id)
