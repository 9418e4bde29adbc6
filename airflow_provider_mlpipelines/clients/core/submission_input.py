"""Building a submission from a DAG author's plain values (both APIs take the same model).

Pure: nothing here performs I/O. The shapes are the service's (contract section 3); the v2
client maps them onto a job's inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    DataPath,
    DatasetValue,
    PipelineSubmissionInfo,
    SavedDatasetReference,
)
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError

_DATA_PATH_SHAPES = (
    "{'datastore': <name>, 'path': <relative path>} or "
    "{'DataStoreName': <name>, 'RelativePath': <relative path>}"
)
_DATASET_SHAPES = (
    "a saved dataset id string, or a DataSetDefinitionValue dict with exactly one of "
    + ", ".join(sorted(DatasetValue.wire_keys()))
)
# The service's rule, as its own error message states it: "Experiment name must be 1-256
# characters, start with a letter or a number, and can only contain letters, numbers,
# underscores, and dashes." (quoted in github.com/microsoft/dstoolkit-mlops-v2/pull/180 and
# github.com/dotnet/machinelearning-modelbuilder/issues/1773, where a non-ASCII name was
# refused). The SDK's Experiment class documents a stricter 3-36 characters, which pipeline
# submissions are not held to (github.com/Azure/azure-sdk-for-python/issues/11368).
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")


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
