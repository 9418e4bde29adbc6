"""Pure functions that build and check what the hooks send: submissions and submit URLs.

Nothing here performs I/O. Field names come from :mod:`airflow_provider_mlpipelines.api`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    DataPath,
    DatasetValue,
    PipelineInterface,
    PipelineRun,
    PipelineSubmissionInfo,
    SavedDatasetReference,
)
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, format_choices
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings, is_loopback

_DATA_PATH_SHAPES = (
    "{'datastore': <name>, 'path': <relative path>} or "
    "{'DataStoreName': <name>, 'RelativePath': <relative path>}"
)
_DATASET_SHAPES = (
    "a saved dataset id string, or a DataSetDefinitionValue dict with exactly one of "
    + ", ".join(sorted(DatasetValue.wire_keys()))
)
_BOOL_WORDS = {"true": True, "false": False}
# The service's rule, as its own error message states it: "Experiment name must be 1-256
# characters, start with a letter or a number, and can only contain letters, numbers,
# underscores, and dashes." (quoted in github.com/microsoft/dstoolkit-mlops-v2/pull/180 and
# github.com/dotnet/machinelearning-modelbuilder/issues/1773, where a non-ASCII name was
# refused). The SDK's Experiment class documents a stricter 3-36 characters, which pipeline
# submissions are not held to (github.com/Azure/azure-sdk-for-python/issues/11368).
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")


# --------------------------------------------------------------------------------------------
# Building a submission
# --------------------------------------------------------------------------------------------
def build_submission(
    *,
    experiment_name: str,
    parameters: Mapping[str, str | int | float | bool] | None = None,
    data_path_assignments: Mapping[str, Any] | None = None,
    dataset_assignments: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    continue_on_step_failure: bool | None = None,
) -> PipelineSubmissionInfo:
    """Build the body of a run submission from plain Python values.

    :param experiment_name: the run-history experiment the run is filed under.
    :param parameters: pipeline parameter values; sent as strings like the SDK does
        (``True`` -> ``"True"``, ``0.5`` -> ``"0.5"``).
    :param data_path_assignments: data-path parameters, each ``{"datastore", "path"}`` or the
        service's ``{"DataStoreName", "RelativePath"}``.
    :param dataset_assignments: dataset parameters, each a saved dataset id or a
        ``DataSetDefinitionValue`` dict.
    :param tags: run tags.
    :param description: run description.
    :param continue_on_step_failure: keep running independent steps after a step fails.
    :raises AzureMLInvalidInputError: a value has a shape the service cannot take; the
        message names the key and the accepted shapes.
    """
    return PipelineSubmissionInfo(
        experiment_name=check_experiment_name(experiment_name),
        description=description,
        parameter_assignments=_parameter_strings(parameters),
        data_path_assignments=_mapped(data_path_assignments, data_path_json),
        dataset_assignments=_mapped(dataset_assignments, dataset_value_json),
        continue_run_on_step_failure=continue_on_step_failure,
        tags=_tag_strings(tags),
    )


def check_experiment_name(name: Any) -> str:
    """``name`` stripped, if the service takes it as an experiment name; else a clear error.

    :param name: the experiment name.
    :raises AzureMLInvalidInputError: not a string, or breaks the service's naming rule.
    """
    if not isinstance(name, str) or not name.strip():
        raise AzureMLInvalidInputError(f"experiment_name must be a non-empty string, got {name!r}")
    name = name.strip()
    if not _EXPERIMENT_NAME.fullmatch(name):
        raise AzureMLInvalidInputError(
            f"experiment_name {name!r} is not a valid experiment name: use 1-256 characters, "
            "letters (a-z, A-Z), digits, '_' and '-' only, starting with a letter or a digit "
            "(e.g. 'housing-scoring')"
        )
    return name


def parameter_string(name: str, value: Any) -> str:
    """A parameter value as the string the service expects (the SDK sends ``str(value)``).

    :param name: the parameter, for the error message.
    :param value: a string, integer, float or boolean.
    """
    if isinstance(value, (str, bool, int)):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AzureMLInvalidInputError(f"parameter {name!r}: {value!r} is not a finite number")
        return str(value)
    raise AzureMLInvalidInputError(
        f"parameter {name!r}: {type(value).__name__} value {value!r} is not accepted; "
        "use a string, integer, float or boolean"
    )


def data_path_json(name: str, value: Any) -> dict[str, Any]:
    """A data-path assignment in the service's shape ``{"DataStoreName", "RelativePath"}``.

    :param name: the data-path parameter, for the error message.
    :param value: a :class:`DataPath`, ``{"datastore", "path"}`` or the service's shape.
    """
    if isinstance(value, DataPath):
        return value.to_json()
    if isinstance(value, Mapping):
        keys = set(value)
        if keys == {"datastore", "path"}:
            pair = (value["datastore"], value["path"])
        elif keys == set(DataPath.wire_keys()):
            pair = (value["DataStoreName"], value["RelativePath"])
        else:
            pair = None
        if pair is not None and all(isinstance(v, str) and v for v in pair):
            return DataPath(datastore_name=pair[0], relative_path=pair[1]).to_json()
    raise AzureMLInvalidInputError(
        f"data path {name!r}: {value!r} is not accepted; use {_DATA_PATH_SHAPES}"
    )


def dataset_value_json(name: str, value: Any) -> dict[str, Any]:
    """A dataset assignment as a ``DataSetDefinitionValue``.

    :param name: the dataset parameter, for the error message.
    :param value: a saved dataset id, a :class:`DatasetValue` or a ``DataSetDefinitionValue``
        dict with exactly one of its keys.
    """
    if isinstance(value, DatasetValue):
        return value.to_json()
    if isinstance(value, str) and value.strip():
        return DatasetValue(saved_dataset=SavedDatasetReference(id=value.strip())).to_json()
    if isinstance(value, Mapping) and len(value) == 1:
        key, inner = next(iter(value.items()))
        if key in DatasetValue.wire_keys() and isinstance(inner, Mapping) and inner:
            parsed = DatasetValue.from_json(value).to_json()
            if parsed.get(key):
                return parsed
    raise AzureMLInvalidInputError(
        f"dataset {name!r}: {value!r} is not accepted; use {_DATASET_SHAPES}"
    )


def _parameter_strings(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    if values is None:
        return None
    return {_key(name, "parameter"): parameter_string(name, v) for name, v in values.items()}


def _mapped(values: Mapping[str, Any] | None, convert: Any) -> dict[str, Any] | None:
    if values is None:
        return None
    if not isinstance(values, Mapping):
        kind = "data_path_assignments" if convert is data_path_json else "dataset_assignments"
        raise AzureMLInvalidInputError(
            f"{kind} must be a dict of input name -> value, got {type(values).__name__}"
        )
    return {_key(name, "input"): convert(name, value) for name, value in values.items()}


def _tag_strings(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, Mapping):
        raise AzureMLInvalidInputError(
            f"tags must be a dict of name -> string, got {type(tags).__name__}"
        )
    return {_key(k, "tag"): tag_string(k, v) for k, v in tags.items()}


def tag_string(name: str, value: Any) -> str:
    """A tag value as a string; ``None`` is an empty tag.

    Only scalars are taken: ``str()`` of anything else (a datetime, a set) would depend on
    Python's formatting rather than on what the caller meant, so it is refused.

    :param name: the tag, for the error message.
    :param value: a string, integer, float, boolean or ``None``.
    """
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        raise AzureMLInvalidInputError(f"tag {name!r}: {value!r} is not a finite number")
    if isinstance(value, (str, bool, int, float)):
        return str(value)
    raise AzureMLInvalidInputError(
        f"tag {name!r}: {type(value).__name__} value {value!r} is not accepted; "
        "use a string, integer, float or boolean (format dates yourself, e.g. with isoformat())"
    )


def _key(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name:
        raise AzureMLInvalidInputError(f"{kind} name {name!r} must be a non-empty string")
    return name


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
@dataclass(frozen=True)
class SubmitUrl:
    """What a submit URL points at: a published pipeline, or an endpoint (and version).

    :param pipeline_id: the published pipeline, for a pipeline URL.
    :param endpoint_id: the endpoint, for an endpoint URL.
    :param pipeline_version: the endpoint version named in the URL, if any.
    :param parent_run_id: the ``parentRunId`` query value, if any.
    """

    pipeline_id: str | None = None
    endpoint_id: str | None = None
    pipeline_version: str | None = None
    parent_run_id: str | None = None

    @property
    def kind(self) -> str:
        """``"endpoint"`` or ``"pipeline"``."""
        return "endpoint" if self.endpoint_id else "pipeline"


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
