"""A pipeline rendered back into the spec format: the snapshot a graph stores."""

from __future__ import annotations

from typing import Any

from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.spec_model import DataInputSpec, PipelineSpec, StepSpec


def pipeline_to_doc(spec: PipelineSpec) -> dict[str, Any]:
    """Render a pipeline back into the spec format (a graph stores this snapshot).

    :param spec: the pipeline.
    """
    return {
        "description": spec.description,
        "continue_on_step_failure": spec.continue_on_step_failure,
        "parameters": {
            p.name: {
                "type": _spec_type_name(p.type),
                "default": p.default,
                "description": p.description,
            }
            for p in spec.parameters
        },
        "data_paths": {
            d.name: {
                "datastore": d.default.literal.datastore_name,
                "path": d.default.literal.relative_path,
                "description": d.description,
            }
            for d in spec.data_inputs
            if not d.is_dataset and d.default.literal is not None
        },
        "datasets": {d.name: _dataset_default_doc(d) for d in spec.data_inputs if d.is_dataset},
        "steps": [_step_doc(step) for step in spec.steps],
    }


def _spec_type_name(kind: ParameterType) -> str:
    return next(name for name, value in params_mod.SPEC_TYPE_NAMES.items() if value is kind)


def _dataset_default_doc(spec: DataInputSpec) -> dict[str, Any]:
    value = spec.default
    doc: dict[str, Any] = {"description": spec.description}
    if value.saved_dataset is not None:
        doc["dataset_id"] = value.saved_dataset.id
    elif value.dataset is not None:
        doc.update(dataset=value.dataset.name, version=value.dataset.version)
    elif value.literal is not None:
        doc.update(datastore=value.literal.datastore_name, path=value.literal.relative_path)
    return doc


def _step_doc(step: StepSpec) -> dict[str, Any]:
    doc = _kind_doc(step)
    if step.after:
        doc["after"] = list(step.after)
    return doc


def _kind_doc(step: StepSpec) -> dict[str, Any]:
    if step.kind == "simulated":
        return {
            "name": step.name,
            "kind": "simulated",
            "duration": step.duration,
            "outcome": step.outcome,
        }
    return {
        "name": step.name,
        "kind": "process",
        "command": list(step.command),
        "outputs": {
            name: {"datastore": path.datastore_name, "path": path.relative_path}
            for name, path in step.outputs.items()
        },
        "env": dict(step.env),
    }
