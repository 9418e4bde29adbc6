"""Finding the job an invoke made, without relying on the name the client asked for.

The real service names an invoked job itself (``batchjob-{guid}``), whatever name the request
carries (Azure/azure-sdk-for-python#32763; tests/fixtures/recordings/batch_invoke.json), so
neither a resent invoke (no 409 for a taken name) nor a later try (no read by a name it can
compute) can rely on the name. What an invoked job is known to keep: the deployment's name in
the tag ``azureml.deploymentname``, the tag ``azureml.batchrun``, its creation time, and an
experiment (the requested one or the endpoint's). Whether it keeps the requested name as its
display name is not recorded; when it does, that name (a *marker*, unique per submission) finds
the job for certain. When the answer to an invoke is lost, the jobs of the deployment created
since the invoke was sent are read:

- a job whose name or display name is the marker is the invoke's job;
- no job at all: the invoke made none, and it is sent again;
- jobs, none with the marker, each with a display name in the provider's marker shape: the
  service keeps requested display names (those are other submissions'), so the invoke made
  none, and it is sent again;
- any other job: it may be this invoke's, with a name the service made up; which one cannot
  be told, and :class:`AzureMLUndecidableSubmissionError` says so, naming the jobs to check,
  instead of submitting a second job blindly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from airflow_provider_mlpipelines.api.v2.models import Job
from airflow_provider_mlpipelines.exceptions import AzureMLUndecidableSubmissionError

#: The tag every batch job carries, which the jobs list can filter on (recorded answers).
BATCH_RUN_TAG = "azureml.batchrun"
#: The tag that names the deployment an invoked job runs.
DEPLOYMENT_TAG = "azureml.deploymentname"
#: How much earlier than the client's clock a job's creation time may read.
CLOCK_SKEW_SECONDS = 120.0
#: The names :func:`~airflow_provider_mlpipelines.clients.v2.calls.job_name_for` makes: a task
#: try's ``{dag}-{task}-{20 hex}`` and a random ``pipelinejob-{uuid}``.
_MARKER_SHAPE = re.compile(r"(^pipelinejob-[0-9a-f-]{36}$)|(-[0-9a-f]{20}$)")
_DESCRIBED_ENDPOINT = re.compile(r"submission for endpoint: ([^,]+),", re.IGNORECASE)


@dataclass(frozen=True)
class InvokeTarget:
    """Where an invoke went, and what it asked for.

    :param endpoint: the batch endpoint's name.
    :param deployment: the deployment's name.
    :param marker: the requested job name (``properties.name``).
    :param experiment: the requested experiment, if any.
    :param sent_at: when the invoke was first sent (epoch seconds).
    """

    endpoint: str
    deployment: str
    marker: str
    experiment: str | None
    sent_at: float


def is_marker(name: str | None) -> bool:
    """Whether ``name`` has the shape of a name this provider requests."""
    return bool(name) and _MARKER_SHAPE.search(str(name)) is not None


def created_epoch(job: Job) -> float | None:
    """A job's creation time (``systemData.createdAt``) in epoch seconds, if it parses."""
    if not job.created_at:
        return None
    try:
        moment = datetime.fromisoformat(job.created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def may_be_on(job: Job, endpoint: str, deployments: set[str]) -> bool:
    """Whether ``job`` may have been invoked on ``endpoint``: its deployment tag names one of
    ``deployments`` (deployment names are unique per endpoint only), and what names its
    endpoint, where anything does, names this one. The recorded service says so in the job's
    description ("Pipeline submission for endpoint: X, deployment: Y.")."""
    if job.tags.get(DEPLOYMENT_TAG, "").lower() not in deployments:
        return False
    named = job.properties.get("azureml.endpointname") or _described_endpoint(job.description)
    return named is None or named.lower() == endpoint.lower()


def _described_endpoint(description: str | None) -> str | None:
    found = _DESCRIBED_ENDPOINT.search(description or "")
    return found.group(1) if found else None


def carries_marker(jobs: Iterable[Job], marker: str) -> list[Job]:
    """The jobs whose name or display name is ``marker``, oldest first."""
    found = [job for job in jobs if marker in (job.name, job.display_name)]
    return sorted(found, key=lambda job: created_epoch(job) or 0.0)


def unmarked_jobs(
    jobs: Sequence[Job],
    endpoint: str,
    deployments: Sequence[str],
    since: float,
    markers: Sequence[str],
) -> None:
    """Refuse to go on when a job of ``endpoint`` created since ``since`` carries no marker:
    it may be one that an earlier try made and whose answer it never got.

    :raises AzureMLUndecidableSubmissionError: naming those jobs.
    """
    names = {name.lower() for name in deployments}
    start = since - CLOCK_SKEW_SECONDS
    unknown = [
        job
        for job in jobs
        if may_be_on(job, endpoint, names)
        and (created_epoch(job) or start) >= start
        and not is_marker(job.display_name)
    ]
    if unknown:
        raise AzureMLUndecidableSubmissionError(
            "find the job of an earlier try",
            f"on batch endpoint {endpoint!r}",
            message=(
                f"no job carries the names the earlier tries asked for ({', '.join(markers)}), "
                "and the service names jobs itself, so whether an earlier try made one of "
                f"these cannot be told: {', '.join(repr(job.name) for job in unknown)}; check "
                "them before running the task again"
            ),
        )


def invoked_job(jobs: Sequence[Job], target: InvokeTarget) -> Job | None:
    """The job the invoke ``target`` made, or ``None`` when it made none.

    :raises AzureMLAmbiguousSubmissionError: a job may be the invoke's, but nothing tells.
    """
    mine = carries_marker(jobs, target.marker)
    if mine:
        return mine[0]
    experiments = {target.endpoint.lower()}
    if target.experiment:
        experiments.add(target.experiment.lower())
    since = target.sent_at - CLOCK_SKEW_SECONDS
    candidates = [
        job
        for job in jobs
        if may_be_on(job, target.endpoint, {target.deployment.lower()})
        and (created_epoch(job) or since) >= since
        and (job.experiment_name or "").lower() in experiments
    ]
    unknown = [job for job in candidates if not is_marker(job.display_name)]
    if not unknown:
        return None
    raise AzureMLUndecidableSubmissionError(
        "invoke batch endpoint",
        f"{target.endpoint!r} deployment {target.deployment!r}",
        message=(
            "the answer to the invoke was lost, and the service does not keep the name the "
            f"invoke asked for ({target.marker!r}), so whether it created one of these jobs "
            f"cannot be told: {', '.join(repr(job.name) for job in unknown)}; check them "
            "before running the task again"
        ),
    )
