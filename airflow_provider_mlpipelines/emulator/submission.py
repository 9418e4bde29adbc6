"""Rules of a run submission: which inputs a pipeline declares and what values they take.

Given a pipeline and a ``PipelineSubmissionInfo``, :func:`resolve_inputs` checks every
assignment (name declared, value of the declared type, data reference resolvable) and returns
the values the steps will see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.models import DataPath, DatasetValue, PipelineSubmissionInfo
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.bodies import (
    json_type,
    parse_object,
    require_str_map,
    wire_key,
)
from airflow_provider_mlpipelines.emulator.datastores import Datastores
from airflow_provider_mlpipelines.emulator.errors import bad_request, listing
from airflow_provider_mlpipelines.emulator.spec_model import PipelineSpec

#: Experiment names the service accepts: letters, digits, ``_`` and ``-``, up to 256 chars.
EXPERIMENT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,255}$")
PARAMETERS_FIELD = wire_key(PipelineSubmissionInfo, "parameter_assignments")
DATA_PATHS_FIELD = wire_key(PipelineSubmissionInfo, "data_path_assignments")
DATASETS_FIELD = wire_key(PipelineSubmissionInfo, "dataset_assignments")
EXPERIMENT_FIELD = wire_key(PipelineSubmissionInfo, "experiment_name")


@dataclass
class ResolvedInputs:
    """The values of a run's inputs.

    :param parameters: typed parameter values by name.
    :param parameter_strings: the same values as the service reports them.
    :param data_inputs: data input name -> ``(datastore, relative path)``.
    """

    parameters: dict[str, Any]
    parameter_strings: dict[str, str]
    data_inputs: dict[str, tuple[str, str]]


def check_experiment_name(name: Any) -> str:
    """Validate ``ExperimentName``.

    :param name: the submitted value.
    :raises EmulatorError: 400 when it is missing or not a valid experiment name.
    """
    if not isinstance(name, str) or not name:
        raise bad_request(
            f"{EXPERIMENT_FIELD} is required: the run-history experiment the run is recorded in",
            "MissingField",
            EXPERIMENT_FIELD,
        )
    if not EXPERIMENT_NAME_RE.match(name):
        raise bad_request(
            f"{EXPERIMENT_FIELD} '{name}' is invalid: use letters, digits, '_' and '-' "
            "(starting with a letter or digit), at most 256 characters",
            "InvalidExperimentName",
            EXPERIMENT_FIELD,
        )
    return name


def resolve_inputs(
    spec: PipelineSpec,
    label: str,
    info: PipelineSubmissionInfo,
    datastores: Datastores,
) -> ResolvedInputs:
    """Check a submission's assignments against ``spec`` and resolve the input values.

    :param spec: the pipeline (its defaults are the published ones).
    :param label: how messages name the pipeline, e.g. ``"train"``.
    :param info: the submission.
    :param datastores: resolves data references.
    :raises EmulatorError: 400 for an undeclared input or a value of the wrong type, 404 for an
        unknown dataset.
    """
    assigned = require_str_map(info.parameter_assignments, PARAMETERS_FIELD)
    parameters = resolve_parameters(spec, label, assigned)
    data_inputs = resolve_data_inputs(
        spec, label, info.data_path_assignments, info.dataset_assignments, datastores
    )
    strings = {p.name: params_mod.to_wire(p.type, parameters[p.name]) for p in spec.parameters}
    return ResolvedInputs(parameters, strings, data_inputs)


def resolve_parameters(
    spec: PipelineSpec, label: str, assigned: Mapping[str, str]
) -> dict[str, Any]:
    """Typed parameter values: the defaults overridden by ``assigned``.

    :param spec: the pipeline.
    :param label: how messages name the pipeline.
    :param assigned: parameter name -> wire string.
    :raises EmulatorError: 400 ``ParameterNotFound`` or ``InvalidParameterValue``.
    """
    values = {p.name: p.default for p in spec.parameters}
    for name, raw in assigned.items():
        declared = spec.parameter(name)
        if declared is None:
            raise _undeclared_parameter(spec, label, name)
        try:
            values[name] = params_mod.parse_value(declared.type, raw)
        except params_mod.ParameterValueError as exc:
            raise bad_request(
                f"Parameter '{name}' of pipeline '{label}' is declared "
                f"{declared.type.value}: {exc}",
                "InvalidParameterValue",
                f"{PARAMETERS_FIELD}.{name}",
            ) from None
    return values


def _undeclared_parameter(spec: PipelineSpec, label: str, name: str) -> Exception:
    target = f"{PARAMETERS_FIELD}.{name}"
    if spec.data_input(name) is not None:
        return bad_request(
            f"'{name}' is a data input of pipeline '{label}', not a parameter; assign it in "
            f"{DATA_PATHS_FIELD} or {DATASETS_FIELD}",
            "ParameterNotFound",
            target,
        )
    return bad_request(
        f"Parameter '{name}' is not declared by pipeline '{label}'; "
        f"declared: {listing(spec.parameter_names)}",
        "ParameterNotFound",
        target,
    )


def resolve_data_inputs(
    spec: PipelineSpec,
    label: str,
    data_path_assignments: Any,
    dataset_assignments: Any,
    datastores: Datastores,
) -> dict[str, tuple[str, str]]:
    """Data input locations: the defaults overridden by either assignment map.

    Either map may assign any data input (the SDK sends data paths as ``LiteralValue`` in
    ``DataSetDefinitionValueAssignments``; older clients use ``DataPathAssignments``).

    :param spec: the pipeline.
    :param label: how messages name the pipeline.
    :param data_path_assignments: ``{name: DataPath}`` or ``None``.
    :param dataset_assignments: ``{name: DataSetDefinitionValue}`` or ``None``.
    :param datastores: resolves the references.
    :raises EmulatorError: 400 for undeclared names or malformed values, 404 for unknown datasets.
    """
    values = merge_data_inputs(spec, label, data_path_assignments, dataset_assignments)
    return {
        name: datastores.resolve_value(value, f"data input '{name}'")
        for name, value in values.items()
    }


def merge_data_inputs(
    spec: PipelineSpec, label: str, data_path_assignments: Any, dataset_assignments: Any
) -> dict[str, DatasetValue]:
    """Data input values (not yet resolved): the defaults overridden by either assignment map.

    :param spec: the pipeline.
    :param label: how messages name the pipeline.
    :param data_path_assignments: ``{name: DataPath}`` or ``None``.
    :param dataset_assignments: ``{name: DataSetDefinitionValue}`` or ``None``.
    :raises EmulatorError: 400 for undeclared names or malformed values.
    """
    values: dict[str, DatasetValue] = {d.name: d.default for d in spec.data_inputs}
    paths = _object_map(data_path_assignments, DATA_PATHS_FIELD)
    datasets = _object_map(dataset_assignments, DATASETS_FIELD)
    both = sorted(set(paths) & set(datasets))
    if both:
        raise bad_request(
            f"Data input '{both[0]}' is assigned in both {DATA_PATHS_FIELD} and {DATASETS_FIELD}",
            "DuplicateAssignment",
            both[0],
        )
    for name, raw in paths.items():
        _require_data_input(spec, label, name, DATA_PATHS_FIELD)
        path = parse_object(raw, DataPath, f"{DATA_PATHS_FIELD}.{name}")
        values[name] = DatasetValue(literal=path)
    for name, raw in datasets.items():
        _require_data_input(spec, label, name, DATASETS_FIELD)
        values[name] = parse_object(raw, DatasetValue, f"{DATASETS_FIELD}.{name}")
    return values


def _require_data_input(spec: PipelineSpec, label: str, name: str, field_name: str) -> None:
    if spec.data_input(name) is not None:
        return
    hint = ""
    if spec.parameter(name) is not None:
        hint = f" ('{name}' is a parameter: assign it in {PARAMETERS_FIELD})"
    raise bad_request(
        f"Data input '{name}' is not declared by pipeline '{label}'; "
        f"declared: {listing(spec.data_input_names)}{hint}",
        "ParameterNotFound",
        f"{field_name}.{name}",
    )


def _object_map(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_request(
            f"{where} must be a JSON object, got {json_type(value)}", "InvalidBody", where
        )
    return dict(value)
