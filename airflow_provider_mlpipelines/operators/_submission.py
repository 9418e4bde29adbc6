"""Resolving where a run is submitted and what it is submitted with (no Airflow types here)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api.run_tags import RELIST_INTERVAL_SECONDS, TRY_NUMBER_TAG
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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmitTarget:
    """Where a run goes: a published pipeline, or an endpoint (and version), resolved to ids.

    :param label: how messages name the target, e.g. ``endpoint 'scoring' version '3'``.
    :param pipeline_id: the published pipeline that will run (behind the endpoint version, if any).
    :param endpoint_id: the endpoint submitted to, if any.
    :param version: the endpoint version asked for (``None``: the default version).
    :param url: a pasted submit URL, submitted to as is.
    :param other_pipeline_ids: the pipelines behind the endpoint's other versions: a run of an
        earlier try may be among their runs when the default version changed since.
    """

    label: str
    pipeline_id: str
    endpoint_id: str | None = None
    version: str | None = None
    url: str | None = None
    other_pipeline_ids: tuple[str, ...] = ()

    @property
    def pipeline_ids(self) -> tuple[str, ...]:
        """Every pipeline a run of this target may have gone to, the current one first."""
        return (self.pipeline_id, *(p for p in self.other_pipeline_ids if p != self.pipeline_id))

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


@dataclass(frozen=True)
class TargetWords:
    """How messages name a target on the connection's API (v2 renamed every part of it)."""

    pipeline: str
    endpoint: str
    version: str
    versions: str


_WORDS = {
    "v1": TargetWords("published pipeline", "pipeline endpoint", "version", "versions"),
    "v2": TargetWords("pipeline component", "batch endpoint", "deployment", "deployments"),
}


def target_words(hook: AzureMLPipelinesHook) -> TargetWords:
    """The words of ``hook``'s API, so that a v2 user reads "batch endpoint ... deployment"."""
    return _WORDS["v2" if hook.settings.api == "v2" else "v1"]


def pipeline_target(hook: AzureMLPipelinesHook, pipeline_id: str) -> SubmitTarget:
    pipeline = hook.get_published_pipeline(pipeline_id)
    label = f"{target_words(hook).pipeline} {pipeline.name!r} ({pipeline_id})"
    ensure_active(pipeline, label)
    return SubmitTarget(label=label, pipeline_id=pipeline.id)


def endpoint_target(
    hook: AzureMLPipelinesHook, endpoint: PipelineEndpoint, version: str | None
) -> SubmitTarget:
    words = target_words(hook)
    label = f"{words.endpoint} {endpoint.name!r}"
    ensure_active(endpoint, label)
    wanted = endpoint.default_version if version is None else str(version)
    pipeline_id = endpoint.pipeline_id_of(wanted)
    if pipeline_id is None:
        raise AzureMLInvalidInputError(
            f"{label} has no {words.version} {wanted!r}; its {words.versions} are "
            f"{format_choices(endpoint.version_names)} (default {endpoint.default_version!r})"
        )
    label = f"{label} {words.version} {wanted!r}"
    ensure_active(
        hook.get_published_pipeline(pipeline_id), f"{label} ({words.pipeline} {pipeline_id})"
    )
    return SubmitTarget(
        label=label,
        pipeline_id=pipeline_id,
        endpoint_id=endpoint.id,
        version=None if version is None else str(version),
        other_pipeline_ids=tuple(
            entry.pipeline_id for entry in endpoint.versions if entry.pipeline_id
        ),
    )


def load_parameters(value: Any) -> dict[str, Any] | None:
    """Parameters given as a mapping or as JSON text (e.g. a rendered ``.json`` template)."""
    return load_assignments(value, "parameters", "str/int/float/bool")


def load_assignments(value: Any, argument: str, each: str) -> dict[str, Any] | None:
    """Parameters or data-path or dataset assignments, given as a mapping or as JSON text.

    A templated argument renders to text (``"{{ ... | tojson }}"``, a ``.json`` template), so
    text is parsed; anything but a mapping or JSON object text is refused here, naming the
    argument, instead of failing later inside the submission.

    :param value: a mapping, its JSON text, ``None`` or ``""``.
    :param argument: the operator argument it came from, for the message.
    :param each: what each value may be, for the message.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise AzureMLInvalidInputError(
                f"{argument} is a string but not JSON ({err}); give a dict of name -> {each}, "
                "or its JSON text"
            ) from None
    if not isinstance(value, Mapping):
        raise AzureMLInvalidInputError(
            f"{argument} must be a dict of name -> {each} (or its JSON text), "
            f"got {type(value).__name__}"
        )
    return dict(value)


# --------------------------------------------------------------------------------------------
# Finding the run an earlier try of the same task instance submitted
# --------------------------------------------------------------------------------------------
#: Task-state-store key (Airflow 3.3+) holding the run id a task instance submitted.
RUN_ID_STATE_KEY = "azure_ml_pipeline_run_id"


def task_identity_tags(ti: Any) -> dict[str, str]:
    """The tags that identify the task instance ``ti`` on the runs it submits."""
    return {
        "airflow.dag_id": str(ti.dag_id),
        "airflow.task_id": str(ti.task_id),
        "airflow.run_id": str(ti.run_id),
        "airflow.map_index": str(getattr(ti, "map_index", -1)),
    }


def first_try_since_clear(ti: Any, retries: int | None) -> int | None:
    """The number of the first try since a user last cleared the task instance (or since it
    was created: 1), or ``None`` when the task instance does not say.

    A clear raises ``max_tries`` to ``try_number + retries`` (Airflow 2.11 and 3.3 alike), an
    automatic retry leaves it as it is; so the first try since the last clear is
    ``max_tries - retries + 1``, the number Airflow's own sensors use to find their first
    reschedule.

    :param ti: the running task instance.
    :param retries: the task's ``retries``.
    """
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(max_tries, int):
        return None
    return max(1, max_tries - int(retries or 0) + 1)


def submitted_before_clear(run: PipelineRun, first_try: int | None, ti: Any) -> bool:
    """Whether ``run`` was submitted by a try before the task instance was last cleared.

    The run's ``airflow.try_number`` tag is compared with the first try since the clear; a run
    without a readable tag counts as such when this very try is the first since the clear.

    :param run: a run of an earlier try of this task instance.
    :param first_try: :func:`first_try_since_clear`.
    :param ti: the running task instance.
    """
    if first_try is None:
        return False
    try:
        return int(run.tags[TRY_NUMBER_TAG]) < first_try
    except (KeyError, ValueError):
        return int(getattr(ti, "try_number", 1) or 1) == first_try


def find_earlier_run(
    hook: AzureMLPipelinesHook,
    target: SubmitTarget,
    ti: Any,
    state_store: Any,
    *,
    started_at: float | None = None,
    since: float | None = None,
) -> PipelineRun | None:
    """The newest run an earlier try of this task instance submitted, if any.

    The task state store (Airflow 3.3+) is read first, a single request; the identity tags are
    searched otherwise, which works on every Airflow version: among the runs of the target's
    pipeline and of the pipelines behind the endpoint's other versions, since its default
    version may have changed between the tries. The runs list may lag behind new runs: a run of
    an earlier try was created before this try started, so when none is listed the search is
    repeated until the hook's ``runs_list_lag_seconds`` have passed since ``started_at``. The
    first try of a task instance has no earlier run, so it costs nothing.

    :param started_at: when this try started (epoch seconds); now when ``None``.
    :param since: when the earliest try may have started (the DAG run's start), if known.
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
    tries = range(int(getattr(ti, "try_number", 1) or 1) - 1, 0, -1)
    listed_by = (started_at or time.time()) + max(0.0, float(hook.listing_lag_seconds))
    while True:
        # Every version is searched: the newest run of this task instance may be behind any.
        mine = hook.runs_of_task(target, identity, tries, since)
        remaining = listed_by - time.time()
        if mine or remaining <= 0:
            return max(mine, key=_created, default=None)
        log.info(
            "No run of an earlier try listed yet; looking again for up to %.0f s, as a new run "
            "may take that long to be listed",
            remaining,
        )
        hook.sleep(min(RELIST_INTERVAL_SECONDS, remaining))


def _created(run: PipelineRun) -> str:
    return run.status_info.creation_time or run.created_date or ""


def remember_run(state_store: Any, run_id: str) -> None:
    """Record the submitted run id where a retry of this task instance will look first."""
    if state_store is not None:
        state_store.set(RUN_ID_STATE_KEY, run_id)


def epoch(moment: Any) -> float | None:
    """A datetime as epoch seconds (``None`` stays ``None``)."""
    return None if moment is None else float(moment.timestamp())
