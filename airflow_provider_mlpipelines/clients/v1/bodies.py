"""v1 request bodies and answers, pure: checking a submission against a pipeline's interface,
tagging it so that an ambiguous submit can be resolved, reading a runs page, and reading a
submit URL pasted from the studio."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineInterface,
    PipelineRun,
    PipelineSubmissionInfo,
)
from airflow_provider_mlpipelines.api.results import SubmitUrl
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings, is_loopback
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, format_choices

_BOOL_WORDS = {"true": True, "false": False}


# --------------------------------------------------------------------------------------------
# Validating a submission against the pipeline's interface
# --------------------------------------------------------------------------------------------
def validate_submission(
    interface: PipelineInterface, submission: PipelineSubmissionInfo, *, target: str
) -> None:
    """Check a submission against the inputs a pipeline declares, before sending it.

    :param interface: the pipeline's declared inputs.
    :param submission: the submission to check.
    :param target: what is being submitted to, e.g. ``"endpoint 'scoring' version '3'"``.
    :raises AzureMLInvalidInputError: unknown parameter, data-path or dataset names, or values
        that do not convert to the declared type; every problem is listed, with the target and
        the declared names.
    """
    problems = [
        *_unknown_names("parameter", submission.parameter_assignments, interface.parameter_names),
        *_unknown_names("data path", submission.data_path_assignments, interface.data_path_names),
        *_unknown_names("dataset", submission.dataset_assignments, interface.dataset_names),
        *_type_problems(interface, submission.parameter_assignments or {}),
    ]
    if problems:
        raise AzureMLInvalidInputError(f"submit to {target}: " + "; ".join(problems))


def _unknown_names(
    kind: str, assigned: Mapping[str, Any] | None, declared: list[str]
) -> Iterable[str]:
    unknown = [name for name in (assigned or {}) if name not in declared]
    if unknown:
        noun = f"{kind}s" if len(unknown) > 1 else kind
        yield (
            f"unknown {noun} {format_choices(unknown)} "
            f"(declared {kind}s: {format_choices(declared)})"
        )


def _type_problems(interface: PipelineInterface, values: Mapping[str, str]) -> Iterable[str]:
    for declared in interface.parameters:
        if declared.name in values and not converts_to(values[declared.name], declared.type):
            yield (
                f"parameter {declared.name!r}: {values[declared.name]!r} is not a valid "
                f"{declared.type.value}"
            )


def converts_to(value: str, declared: ParameterType) -> bool:
    """Whether a parameter's string value can be read as the declared type."""
    text = value.strip()
    if declared is ParameterType.INT:
        try:
            int(text)
        except ValueError:
            return False
        return True
    if declared is ParameterType.DOUBLE:
        try:
            return math.isfinite(float(text))
        except ValueError:
            return False
    if declared is ParameterType.BOOL:
        return text.lower() in _BOOL_WORDS
    return True


# --------------------------------------------------------------------------------------------
# Tagging submissions so that ambiguous failures can be resolved
# --------------------------------------------------------------------------------------------
def with_submission_id(submission: PipelineSubmissionInfo) -> tuple[PipelineSubmissionInfo, str]:
    """A copy of ``submission`` carrying a :data:`SUBMISSION_ID_TAG`, and that id.

    A tag the caller already set is kept, so a caller can make retries across task attempts
    find the same run.
    """
    tags = dict(submission.tags or {})
    submission_id = tags.get(SUBMISSION_ID_TAG) or uuid.uuid4().hex
    tags[SUBMISSION_ID_TAG] = submission_id
    return replace(submission, tags=tags), submission_id


def find_submitted_run(runs: Iterable[PipelineRun], submission_id: str) -> PipelineRun | None:
    """The run that carries ``submission_id`` in its tags, if any."""
    return next((run for run in runs if run.tags.get(SUBMISSION_ID_TAG) == submission_id), None)


def runs_page(data: Any) -> tuple[list[Any], str | None]:
    """The run entities of one runs-list answer, and the next page's token if there is one.

    The contract documents a bare array, which is complete. A paged answer,
    ``{"value": [...], "continuationToken": ...}`` as run history pages (either casing), is
    read too, so that a service that pages is followed to its last page, not cut at the first.

    :param data: the parsed answer.
    :raises ValueError: neither shape.
    """
    if data is None:
        return [], None
    if isinstance(data, list):
        return data, None
    if isinstance(data, Mapping):
        items = data.get("value", data.get("Value"))
        token = data.get("continuationToken", data.get("ContinuationToken"))
        if isinstance(items, list) and (token is None or isinstance(token, str)):
            return items, token or None
    raise ValueError(
        "the runs list is neither an array of runs nor a page "
        f'{{"value": [...], "continuationToken": ...}}; got {type(data).__name__}'
    )


# --------------------------------------------------------------------------------------------
# Submit URLs pasted from the studio
# --------------------------------------------------------------------------------------------
def parse_submit_url(url: str, settings: ConnectionSettings) -> SubmitUrl:
    """Read a published pipeline's or endpoint's ``Url`` and check it is safe to post to.

    The bearer token is only ever sent to the connection's own service: a URL on another
    host (or scheme, or port), or plain ``http`` to a non-loopback host, is refused.

    :param url: the submit URL.
    :param settings: the connection the token belongs to.
    :raises AzureMLInvalidInputError: the URL is not a submit URL of the connection's
        service and workspace.
    """
    parts = urlsplit(url.strip())
    service = urlsplit(settings.base_url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise AzureMLInvalidInputError(f"refusing plain http submit URL {url!r}")
    if (parts.scheme, _netloc(parts)) != (service.scheme, _netloc(service)):
        raise AzureMLInvalidInputError(
            f"submit URL {url!r} is not on the connection's service "
            f"{service.scheme}://{service.netloc}; the token is not sent to another host"
        )
    path = parts.path
    if service.path and path.startswith(service.path):
        path = path[len(service.path) :]
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    target, path_values = _match_submit_path(path, query, url)
    _check_same_workspace(path_values, settings, url)
    return target


def _netloc(parts: Any) -> str:
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port if parts.port not in (None, default_port) else None
    host = (parts.hostname or "").lower()
    return f"{host}:{port}" if port else host


def _match_submit_path(
    path: str, query: Mapping[str, str], url: str
) -> tuple[SubmitUrl, dict[str, str]]:
    parent = query.get(routes.QUERY_PARENT_RUN_ID) or None
    found = routes.PIPELINE_SUBMIT.match(path)
    if found is not None:
        return SubmitUrl(pipeline_id=found["pipeline_id"], parent_run_id=parent), found
    query_version = query.get(routes.QUERY_PIPELINE_VERSION) or None
    found = routes.ENDPOINT_SUBMIT_VERSION.match(path)
    if found is not None:
        version = found["pipeline_version"]
        if query_version is not None and query_version != version:
            raise AzureMLInvalidInputError(
                f"submit URL {url!r} names version {version!r} in its path "
                f"and {query_version!r} in its query"
            )
        return SubmitUrl(None, found["endpoint_id"], version, parent), found
    found = routes.ENDPOINT_SUBMIT.match(path)
    if found is not None:
        return SubmitUrl(None, found["endpoint_id"], query_version, parent), found
    raise AzureMLInvalidInputError(
        f"{url!r} is not a published pipeline or pipeline endpoint submit URL"
    )


def _check_same_workspace(
    path_values: Mapping[str, str], settings: ConnectionSettings, url: str
) -> None:
    # Azure resource names compare case-insensitively.
    mismatched = [
        key
        for key in routes.WORKSPACE_KEYS
        if path_values[key].lower() != settings.workspace[key].lower()
    ]
    if mismatched:
        raise AzureMLInvalidInputError(
            f"submit URL {url!r} belongs to another workspace than connection "
            f"{settings.conn_id!r} (differs in {', '.join(mismatched)})"
        )
