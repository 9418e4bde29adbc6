"""The v2 (batch endpoints) calls both hooks make, and how their answers become shared models.

Pure: no I/O. Each function turns arguments into a
:class:`~airflow_provider_mlpipelines.clients.core.transport.Call` for a route of
:mod:`airflow_provider_mlpipelines.api.v2.routes`, or turns a v2 answer into the models the
operators, the sensor and the trigger already understand (:class:`PipelineRun`,
:class:`StepStatus`), so that no v2 field name reaches them.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_mlpipelines.api.clouds import CLOUDS
from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    HistoryRunPage,
    PipelineRun,
    RunStatusInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.routes import fill_template
from airflow_provider_mlpipelines.api.run_tags import IDENTITY_TAGS, TRY_NUMBER_TAG
from airflow_provider_mlpipelines.api.status import StepRunStatus
from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.api.v2.models import Job, OperationStatus, pick
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings, is_loopback
from airflow_provider_mlpipelines.clients.core.transport import Call, Reply
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLServerError,
    AzureMLServiceError,
)

_JOB_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


def arm_call(
    settings: ConnectionSettings,
    route: routes.ArmRoute,
    resource: str | None = None,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    idempotent: bool = True,
    bounded: bool = True,
    **values: str,
) -> Call:
    """A :class:`Call` of an ARM route in the connection's workspace, with its api-version."""
    path = route.format(**settings.workspace, **values)
    return Call(
        Operation(route.name, resource),
        route.method,
        settings.url(path),
        params={routes.QUERY_API_VERSION: route.api_version, **(params or {})},
        headers=headers,
        body=body,
        idempotent=idempotent,
        bounded=bounded,
    )


def absolute_call(
    settings: ConnectionSettings,
    operation: Operation,
    method: str,
    url: str,
    *,
    same_origin: bool,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    idempotent: bool = True,
    checkable: bool = False,
    bounded: bool = True,
) -> Call:
    """A call to a URL the service handed out (an LRO status, a ``nextLink``, a ``scoringUri``).

    The bearer token goes wherever the call goes, so the URL is checked first: HTTPS (plain
    HTTP only to this machine), and, for ``same_origin`` URLs, the connection's own host.

    :raises AzureMLInvalidInputError: the URL fails those checks; nothing is sent.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    )
    if not secure or not parts.hostname:
        raise AzureMLInvalidInputError(
            f"{operation}: the service returned {url!r}, which is not an https URL; the token "
            "is not sent there"
        )
    if same_origin and _origin(url) != _origin(settings.base_url):
        raise AzureMLInvalidInputError(
            f"{operation}: the service returned {url!r}, outside the connection's host "
            f"{_origin(settings.base_url)}; the token is not sent there"
        )
    return Call(
        operation,
        method,
        url,
        headers=headers,
        body=body,
        idempotent=idempotent,
        checkable=checkable,
        bounded=bounded,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.netloc or '').lower()}"


# --------------------------------------------------------------------------------------------
# Jobs (v1: runs)
# --------------------------------------------------------------------------------------------
def job_call(settings: ConnectionSettings, name: str) -> Call:
    name = check_id(name, "run_id")
    return arm_call(settings, routes.JOB_GET, quoted(name), job_name=name)


def cancel_call(settings: ConnectionSettings, name: str) -> Call:
    name = check_id(name, "run_id")
    # A cancel often follows the deadline (a timeout, on_kill): it keeps its retries.
    return arm_call(settings, routes.JOB_CANCEL, quoted(name), bounded=False, job_name=name)


def may_mean_ended(error: AzureMLServiceError) -> bool:
    """Whether a refused cancel may say the job has ended (400 or 409: its state forbids it)."""
    return error.status_code in (400, 409)


def run_from_job(data: Mapping[str, Any] | None) -> PipelineRun:
    """A v2 job as the provider's :class:`PipelineRun` (its name is the run id)."""
    job = Job.from_json(data or {})
    props = pick(data, "properties", default={}) or {}
    error = pick(props, "error", "message") or pick(props, "statusMessage")
    return PipelineRun(
        id=job.name,
        description=pick(props, "description"),
        status_info=RunStatusInfo(
            status=job.status,
            status_detail=str(error) if error else None,
            creation_time=pick(data, "systemData", "createdAt"),
        ),
        experiment_name=job.experiment_name,
        pipeline_id=job.component_id,
        run_source=job.properties.get("runSource"),
        tags=dict(job.tags),
        properties=dict(job.properties),
    )


def job_name_for(tags: Mapping[str, str] | None) -> str:
    """The name a submission asks for: a pipeline job (PUT) gets it; an invoked job may not
    (the service names those itself), but keeps it as a marker to find it by
    (:mod:`~airflow_provider_mlpipelines.clients.v2.invokes`).

    A submission tagged with a task instance's identity and try (as the submit operator
    tags every run) gets a name derived from them, so that a later try of the same task
    instance can look for an earlier try's job. Anything else gets a random name.
    """
    tags = tags or {}
    if all(tags.get(key) for key in (*IDENTITY_TAGS, TRY_NUMBER_TAG)):
        return task_job_name(tags, tags[TRY_NUMBER_TAG])
    return f"pipelinejob-{uuid.uuid4()}"


def task_job_name(identity: Mapping[str, str], try_number: int | str) -> str:
    """The job name of try ``try_number`` of the task instance that ``identity`` names.

    Readable in the studio (DAG and task ids first) and unique per try (a digest of the
    identity and the try); at most 100 characters of letters, digits, ``-`` and ``_``.
    """
    key = "\x1f".join([*(str(identity.get(k, "")) for k in IDENTITY_TAGS), str(try_number)])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    stem = "-".join(
        _JOB_NAME_UNSAFE.sub("-", str(identity.get(k, ""))).strip("-")[:30]
        for k in ("airflow.dag_id", "airflow.task_id")
    )
    return f"{stem}-{digest}".strip("-")


# --------------------------------------------------------------------------------------------
# Steps (run-history children of a job)
# --------------------------------------------------------------------------------------------
def children_call(
    settings: ConnectionSettings, history_base: str, name: str, token: str | None
) -> Call:
    """One page of a job's child runs (its steps) from run history (contract section 8)."""
    name = check_id(name, "run_id")
    path = fill_template(routes.HISTORY_CHILDREN, {**settings.workspace, "run_id": name})
    params = {routes.QUERY_API_VERSION: routes.API_HISTORY}
    if token:
        params["$continuationtoken"] = token
    return Call(
        Operation("list child jobs", quoted(name)),
        "GET",
        history_base.rstrip("/") + path,
        params=params,
    )


def parse_children(data: Any) -> tuple[list[HistoryRun], str | None]:
    page = HistoryRunPage.from_json(data if isinstance(data, Mapping) else {})
    return list(page.value), page.continuation_token


def step_statuses(children: Sequence[HistoryRun]) -> dict[str, StepStatus]:
    """Step statuses keyed by step name (v2 steps have no graph node ids)."""
    steps: dict[str, StepStatus] = {}
    for child in children:
        key = child.display_name or child.name or child.run_id
        message = pick(child.error or {}, "error", "message") or pick(child.error or {}, "message")
        steps[key] = StepStatus(
            node_id=key,
            status=step_status(child.status),
            status_detail=str(message) if message else None,
            start_time=child.start_time_utc,
            end_time=child.end_time_utc,
            run_id=child.run_id,
        )
    return steps


def step_status(word: Any) -> StepRunStatus:
    """A step's status word; words the step model does not know (``Preparing``,
    ``Finalizing``...: run history's in-progress words) count as running, as for runs."""
    try:
        return StepRunStatus.parse(word)
    except ValueError:
        return StepRunStatus.RUNNING


# --------------------------------------------------------------------------------------------
# Long-running operations (contract section 2)
# --------------------------------------------------------------------------------------------
def lro_url(reply: Reply) -> tuple[str, str] | None:
    """Where to follow a long-running operation: ``("status", url)`` for an
    ``Azure-AsyncOperation`` header, ``("location", url)`` for ``Location``, else ``None``."""
    headers = {str(k).lower(): str(v) for k, v in dict(reply.headers).items()}
    status_url = headers.get(routes.HEADER_ASYNC_OPERATION.lower())
    if status_url:
        return "status", status_url
    location = headers.get(routes.HEADER_LOCATION.lower())
    if location and reply.status == 202:
        return "location", location
    return None


def retry_after(reply: Reply, default: float) -> float:
    """The ``Retry-After`` of an LRO answer in seconds, else ``default``."""
    headers = {str(k).lower(): str(v) for k, v in dict(reply.headers).items()}
    try:
        return max(0.0, float(headers.get(routes.HEADER_RETRY_AFTER.lower(), default)))
    except ValueError:
        return default


def lro_poll_call(settings: ConnectionSettings, operation: Operation, url: str) -> Call:
    return absolute_call(
        settings,
        Operation(f"wait for {operation.name}", operation.resource),
        "GET",
        url,
        same_origin=True,
    )


#: The run-history host of each workspace (by :func:`workspace_key`), from its discovery
#: document: it does not change while a process lives, so it is looked up once per process.
HISTORY_BASES: dict[tuple[str, ...], str] = {}


def workspace_key(settings: ConnectionSettings) -> tuple[str, ...]:
    return (
        settings.base_url,
        settings.subscription_id,
        settings.resource_group.lower(),
        settings.workspace_name,
    )


def remember_history_base(settings: ConnectionSettings, discovery: Any) -> str:
    """The discovery document's ``api`` host (the ARM host when it names none), remembered."""
    base = str(pick(discovery, "api") or settings.base_url).rstrip("/")
    HISTORY_BASES[workspace_key(settings)] = base
    return base


def discovery_call(settings: ConnectionSettings, url: str) -> Call:
    """The workspace's discovery document (its service hosts), from ``discoveryUrl``.

    It lives on the cloud's regional API host (the emulator's own host locally); the token
    goes to no other host.
    """
    host = (urlsplit(url).hostname or "").lower()
    suffix = CLOUDS[settings.cloud].api_host_suffix if settings.cloud in CLOUDS else ""
    trusted = bool(suffix) and host.endswith("." + suffix)
    return absolute_call(
        settings, Operation("get workspace discovery"), "GET", url, same_origin=not trusted
    )


def raise_if_failed(call: Call, status: OperationStatus) -> None:
    """Raise for a long-running operation that ended ``Failed`` or ``Canceled``."""
    if not status.succeeded:
        raise AzureMLServerError(
            call.operation.name,
            call.operation.resource,
            code=status.error_code or status.status,
            message=status.error_message or f"the operation ended {status.status}",
        )


class OperationWatch:
    """Where one long-running operation stands, for the sync and the async client alike.

    The caller sleeps :meth:`wait` seconds, sends :meth:`poll_call` and hands the answer to
    :meth:`update`, until :attr:`done`; the decisions (which URL, how long, terminal or not,
    failed or not, too long) are all here.

    :param settings: the connection settings.
    :param call: the call that started the operation.
    :param reply: its first answer.
    :param timeout: seconds after which the operation is given up on.
    :param poll_seconds: the wait between polls when the service sends no ``Retry-After``.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        call: Call,
        reply: Reply,
        timeout: float,
        poll_seconds: float,
    ) -> None:
        self.settings = settings
        self.call = call
        self.reply = reply
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self._follow = lro_url(reply)
        self._deadline = time.monotonic() + timeout

    @property
    def done(self) -> bool:
        return self._follow is None

    def wait(self) -> float:
        return retry_after(self.reply, self.poll_seconds)

    def poll_call(self) -> Call:
        assert self._follow is not None
        return lro_poll_call(self.settings, self.call.operation, self._follow[1])

    def update(self, reply: Reply) -> None:
        """Take a poll's answer.

        :raises AzureMLServerError: the operation failed, or has run longer than ``timeout``.
        """
        assert self._follow is not None
        self.reply = reply
        if self._follow[0] == "status":
            status = OperationStatus.from_json(reply.json() or {})
            if status.is_terminal:
                raise_if_failed(self.call, status)
                self._follow = None
        elif reply.status != 202:
            self._follow = None
        if self._follow is not None and time.monotonic() > self._deadline:
            raise AzureMLServerError(
                self.call.operation.name,
                self.call.operation.resource,
                message=f"the operation did not end within {self.timeout:g} s",
            )
