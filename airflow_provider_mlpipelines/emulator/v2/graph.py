"""A pipeline component's ``jobs`` graph as the steps the emulator's runner executes.

Each command job becomes a ``StepSpec(kind="process")`` run by :mod:`.step_launcher`, in a
topological order of the graph, with ``after`` naming the steps it waits for. Bindings are the
ones azure-ai-ml 1.35.2 sends (DSL and YAML): ``${{parent.inputs.x}}``,
``${{parent.jobs.<step>.outputs.<out>}}`` and ``${{parent.outputs.y}}``; anything else that
looks like a binding is refused (400 naming it), as is a cycle. Values reach the launcher as
environment variables the runner renders (its Jinja context: the pipeline's inputs, ``outputs``,
``datastores``, ``run_id``), so no value is ever parsed by a shell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.models import DataPath, DatasetValue
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.api.v2.bodies import parse_datastore_uri
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.spec_model import (
    DataInputSpec,
    ParameterSpec,
    PipelineSpec,
    StepSpec,
)
from airflow_provider_mlpipelines.emulator.templating import BUILTIN_NAMES
from airflow_provider_mlpipelines.emulator.v2.checks import user_error
from airflow_provider_mlpipelines.emulator.v2.components import (
    DATA_TYPES,
    CommandComponent,
    PortSpec,
    parse_ports,
)

LAUNCHER = "airflow_provider_mlpipelines.emulator.v2.step_launcher"
STEP_ENV = "AZUREML_EMULATOR_STEP"
CODE_ENV = "AZUREML_EMULATOR_CODE_DIR"
INPUT_ENV = "AZUREML_EMULATOR_IN_"
OUTPUT_ENV = "AZUREML_EMULATOR_OUT_"
_PARENT_INPUT = re.compile(r"^\$\{\{\s*parent\.inputs\.([A-Za-z_]\w*)\s*\}\}$")
_STEP_OUTPUT = re.compile(
    r"^\$\{\{\s*parent\.jobs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_]\w*)\s*\}\}$"
)
_PARENT_OUTPUT = re.compile(r"^\$\{\{\s*parent\.outputs\.([A-Za-z_]\w*)\s*\}\}$")
_TYPES = {
    "integer": (ParameterType.INT, 0),
    "number": (ParameterType.DOUBLE, 0.0),
    "boolean": (ParameterType.BOOL, False),
    "string": (ParameterType.STRING, ""),
}

CommandLookup = Callable[[Any, str], CommandComponent]


def spec_content(spec: Mapping[str, Any], props: Any) -> str:
    """What two registrations of one name and version must share to be the same version."""
    return json.dumps(
        {
            "spec": spec,
            "description": pick(props, "description"),
            "tags": pick(props, "tags") or {},
        },
        sort_keys=True,
        default=str,
    )


def _raw(text: str, where: str) -> str:
    """``text`` as a Jinja template rendering to itself."""
    if "{" not in text and "%" not in text:
        return text
    if "endraw" in text:
        raise user_error(f"{where}: the text 'endraw' is not supported by the emulator", where)
    return "{% raw %}" + text + "{% endraw %}"


def _datastore_expr(datastore: str, path: str) -> str:
    return "{{ datastores[" + json.dumps(datastore) + "] }}" + ("/" + path if path else "")


def _output_path(step: str, output: str) -> str:
    return "azureml/{{ run_id }}/" + f"{step}/{output}"


def _parent_inputs(
    spec: Mapping[str, Any], datastore: str
) -> tuple[dict[str, PortSpec], list[ParameterSpec], list[DataInputSpec]]:
    ports = parse_ports(pick(spec, "inputs"), "componentSpec.inputs", outputs=False)
    parameters: list[ParameterSpec] = []
    data_inputs: list[DataInputSpec] = []
    for port in ports.values():
        if port.name in BUILTIN_NAMES:
            raise user_error(
                f"componentSpec.inputs.{port.name}: the name is reserved by the emulator "
                f"({', '.join(sorted(BUILTIN_NAMES))}); rename the input",
                f"componentSpec.inputs.{port.name}",
            )
        if port.type in DATA_TYPES:
            found = parse_datastore_uri(port.default or "")
            where = DataPath(*found) if found else DataPath(datastore)
            data_inputs.append(DataInputSpec(port.name, False, DatasetValue(literal=where)))
            continue
        kind, zero = _TYPES[port.type]
        if port.default is None and port.optional:
            # No value at all: an empty string, which the launcher reads as "not given".
            parameters.append(ParameterSpec(port.name, ParameterType.STRING, ""))
            continue
        default: Any = zero
        if port.default is not None:
            default = _typed(port, kind)
        parameters.append(ParameterSpec(port.name, kind, default))
    return ports, parameters, data_inputs


def _typed(port: PortSpec, kind: ParameterType) -> Any:
    text = str(port.default)
    try:
        if kind is ParameterType.INT:
            return int(text)
        if kind is ParameterType.DOUBLE:
            return float(text)
        if kind is ParameterType.BOOL:
            return text.lower() == "true"
    except ValueError:
        raise user_error(
            f"componentSpec.inputs.{port.name}: default '{text}' is not a {port.type}",
            f"componentSpec.inputs.{port.name}",
        ) from None
    return text


def _jobs(spec: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    jobs = pick(spec, "jobs")
    if not isinstance(jobs, Mapping) or not jobs:
        raise user_error(
            "componentSpec.jobs is required: a pipeline component needs at least one job",
            "componentSpec.jobs",
        )
    for step, job in jobs.items():
        here = f"componentSpec.jobs.{step}"
        if not isinstance(job, Mapping):
            raise user_error(f"{here} must be a job definition", here)
        kind = str(pick(job, "type", default="command")).lower()
        if kind != "command":
            raise user_error(
                f"{here}: job type '{kind}' is not supported by the emulator; it runs command "
                "jobs (flatten nested pipelines into one graph)",
                here,
            )
    return {str(k): v for k, v in jobs.items()}


def _binding_text(value: Any) -> tuple[str | None, str]:
    """(text, kind) of a job input binding as the SDK sends it."""
    if isinstance(value, Mapping):
        kind = str(pick(value, "job_input_type") or pick(value, "jobInputType") or "literal")
        text = pick(value, "value")
        if text is None:
            text = pick(value, "uri") or pick(value, "path")
        return (None if text is None else str(text)), kind.lower()
    if value is None:
        return None, "literal"
    return (str(value).lower() if isinstance(value, bool) else str(value)), "literal"


def pipeline_spec(
    name: str, spec: Mapping[str, Any], command_of: CommandLookup, datastore: str
) -> PipelineSpec:
    """The :class:`PipelineSpec` a pipeline component's graph runs as.

    :param name: the component's name.
    :param spec: its ``componentSpec``.
    :param command_of: resolves a job's ``componentId`` to a registered command component.
    :param datastore: where step outputs go (the workspace's default datastore).
    :raises EmulatorError: 400 naming an unknown binding, input, component, or a cycle.
    """
    ports, parameters, data_inputs = _parent_inputs(spec, datastore)
    parent_outputs = parse_ports(pick(spec, "outputs"), "componentSpec.outputs", outputs=True)
    jobs = _jobs(spec)
    components = {
        step: command_of(
            pick(job, "componentId") or pick(job, "component"),
            f"componentSpec.jobs.{step}.componentId",
        )
        for step, job in jobs.items()
    }
    graph = _Graph(components, ports, parent_outputs, datastore)
    env_of: dict[str, dict[str, str]] = {}
    after_of: dict[str, list[str]] = {}
    for step, job in jobs.items():
        env, after = _step_bindings(step, job, graph)
        env_of[step] = env
        after_of[step] = after
    steps = [
        StepSpec(
            name=step,
            kind="process",
            command=("{{ python }}", "-m", LAUNCHER),
            outputs={
                out: DataPath(datastore, _output_path(step, out))
                for out in components[step].outputs
            },
            env=env_of[step],
            after=tuple(after_of[step]),
        )
        for step in topological_order(after_of)
    ]
    return PipelineSpec(
        name=name,
        steps=tuple(steps),
        parameters=tuple(parameters),
        data_inputs=tuple(data_inputs),
        description=pick(spec, "description"),
    )


@dataclass(frozen=True)
class _Graph:
    """What binding one job needs to know of the whole pipeline."""

    components: Mapping[str, CommandComponent]
    ports: Mapping[str, PortSpec]
    parent_outputs: Mapping[str, PortSpec]
    datastore: str


def _step_bindings(
    step: str, job: Mapping[str, Any], graph: _Graph
) -> tuple[dict[str, str], list[str]]:
    """The launcher's environment of one step, and the steps it waits for."""
    component = graph.components[step]
    parent_outputs = graph.parent_outputs
    here = f"componentSpec.jobs.{step}"
    bound = pick(job, "inputs", default={}) or {}
    env: dict[str, str] = {}
    after: list[str] = []
    for input_name, value in bound.items():
        target = f"{here}.inputs.{input_name}"
        if input_name not in component.inputs:
            raise user_error(
                f"{target}: component '{component.name}' has no input '{input_name}'; its "
                f"inputs: {', '.join(sorted(component.inputs)) or 'none'}",
                target,
            )
        text, kind = _binding_text(value)
        if text is None:
            continue
        env[INPUT_ENV + input_name] = _input_value(text, kind, target, graph, after)
    for port in component.inputs.values():
        if INPUT_ENV + port.name in env:
            continue
        if port.default is not None:
            env[INPUT_ENV + port.name] = _raw(port.default, f"{here}.inputs.{port.name}")
        elif not port.optional:
            raise user_error(
                f"{here}.inputs.{port.name}: required input of component '{component.name}' "
                "is not bound; bind it to a value, ${{parent.inputs.<name>}} or "
                "${{parent.jobs.<step>.outputs.<name>}}",
                f"{here}.inputs.{port.name}",
            )
    for output_name, value in (pick(job, "outputs", default={}) or {}).items():
        target = f"{here}.outputs.{output_name}"
        if output_name not in component.outputs:
            raise user_error(f"{target}: component '{component.name}' has no such output", target)
        text, _ = _binding_text(value)
        found = _PARENT_OUTPUT.match(text or "")
        if text is not None and (found is None or found[1] not in parent_outputs):
            raise user_error(
                f"{target}: binding '{text}' is not ${{{{parent.outputs.<name>}}}} of a "
                f"declared output ({', '.join(sorted(parent_outputs)) or 'none'})",
                target,
            )
    for output_name in component.outputs:
        env[OUTPUT_ENV + output_name] = "{{ outputs[" + json.dumps(output_name) + "] }}"
    launch = {
        "step": step,
        "component": f"{component.name}:{component.version}",
        "command": component.command,
        "inputs": {
            p.name: {"type": p.type, "optional": p.optional} for p in component.inputs.values()
        },
        "outputs": {p.name: p.type for p in component.outputs.values()},
    }
    env[STEP_ENV] = _raw(json.dumps(launch), f"{here}.command")
    if component.code is not None:
        env[CODE_ENV] = _datastore_expr(*component.code)
    return env, after


def _input_value(text: str, kind: str, target: str, graph: _Graph, after: list[str]) -> str:
    """The Jinja template of one bound input's value; records the step it waits for."""
    components, ports, datastore = graph.components, graph.ports, graph.datastore
    parent = _PARENT_INPUT.match(text)
    if parent is not None:
        if parent[1] not in ports:
            raise user_error(
                f"{target}: binding '{text}' names no input of the pipeline; its inputs: "
                f"{', '.join(sorted(ports)) or 'none'}",
                target,
            )
        return "{{ " + parent[1] + " }}"
    upstream = _STEP_OUTPUT.match(text)
    if upstream is not None:
        source, output = upstream[1], upstream[2]
        if source not in components or output not in components[source].outputs:
            raise user_error(
                f"{target}: binding '{text}' names no output of a job of this pipeline "
                f"(jobs: {', '.join(sorted(components))})",
                target,
            )
        if source not in after:
            after.append(source)
        # The runner resolves a step's own outputs; a later step reads the same folder.
        return _datastore_expr(datastore, _output_path(source, output))
    if "${{" in text or "$[[" in text:
        raise user_error(
            f"{target}: binding '{text}' is not supported; use ${{{{parent.inputs.<name>}}}} or "
            "${{parent.jobs.<step>.outputs.<name>}}",
            target,
        )
    found = parse_datastore_uri(text)
    if found is not None and kind in (*DATA_TYPES, "urifolder", "urifile"):
        return _datastore_expr(found[0], found[1].strip("/"))
    return _raw(text, target)


def topological_order(after_of: Mapping[str, list[str]]) -> list[str]:
    """Steps so that each comes after the ones it waits for (declaration order otherwise).

    :raises EmulatorError: 400 naming the steps of a cycle.
    """
    order: list[str] = []
    done: set[str] = set()
    pending = list(after_of)
    while pending:
        ready = [s for s in pending if all(d in done for d in after_of[s])]
        if not ready:
            raise user_error(
                f"componentSpec.jobs: the jobs {', '.join(sorted(pending))} depend on each other "
                "in a cycle",
                "componentSpec.jobs",
            )
        for step in ready:
            order.append(step)
            done.add(step)
        pending = [s for s in pending if s not in done]
    return order
