"""Users' own component specs: command components and the checks of their inputs and command.

A command component is registered as ``MLClient.components.create_or_update`` sends it
(azure-ai-ml 1.35.2, observed against the emulator; ``tests/wire/ms_v2_components_driver.py``):
``{"type": "command", "command": "python prep.py --raw ${{inputs.raw_data}} $[[--drop
${{inputs.drop}}]] --out ${{outputs.prepared}}", "code": "azureml:/subscriptions/.../codes/{n}/
versions/{v}", "environment": ..., "inputs": {"max_rows": {"type": "integer", "default":
"1000"}, "drop": {"type": "string", "optional": true}}, "outputs": {...}}``. The environment is
recorded, never built: steps run with the emulator's Python. :mod:`.graph` turns a pipeline
component's ``jobs`` of such components into the steps the runner executes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.v2.bodies import parse_datastore_uri
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.v2.checks import user_error
from airflow_provider_mlpipelines.emulator.v2.codes import CodeAssets

#: ``${{inputs.x}}`` / ``${{outputs.y}}`` in a command.
PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: ``$[[ ... ]]``: an optional block, dropped when an input it names has no value.
OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
LITERAL_TYPES = ("string", "integer", "number", "boolean")
DATA_TYPES = ("uri_folder", "uri_file")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PortSpec:
    """A declared input or output of a component."""

    name: str
    type: str
    default: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class CommandComponent:
    """A registered command component, as a step needs it.

    :param code: ``(datastore, path)`` of its code folder; ``None`` runs in the step's folder.
    """

    name: str
    version: str
    command: str
    inputs: dict[str, PortSpec]
    outputs: dict[str, PortSpec]
    code: tuple[str, str] | None
    environment: str | None


def is_true(value: Any) -> bool:
    """The service sends booleans as JSON booleans or as the strings ``"True"``/``"False"``."""
    return value is True or str(value).lower() == "true"


def parse_ports(raw: Any, where: str, *, outputs: bool) -> dict[str, PortSpec]:
    """Declared inputs (or outputs) of a component spec; 400 naming a bad one.

    :param raw: the ``inputs`` or ``outputs`` mapping.
    :param where: the field, for messages (``componentSpec.inputs``).
    :param outputs: whether these are outputs (data types only).
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise user_error(f"{where} must be a mapping of name to declaration", where)
    allowed = DATA_TYPES if outputs else (*LITERAL_TYPES, *DATA_TYPES)
    ports: dict[str, PortSpec] = {}
    for name, body in raw.items():
        here = f"{where}.{name}"
        if not _NAME.match(str(name)):
            raise user_error(f"{here}: '{name}' is not a valid name (letters, digits, _)", here)
        kind = str(pick(body, "type", default="")).lower() if isinstance(body, Mapping) else ""
        if kind not in allowed:
            raise user_error(
                f"{here}: type '{kind}' is not supported by the emulator; use one of "
                f"{', '.join(allowed)}",
                here,
            )
        default = pick(body, "default")
        ports[str(name)] = PortSpec(
            name=str(name),
            type=kind,
            default=None if default is None else _literal_text(default),
            optional=is_true(pick(body, "optional", default=False)),
        )
    return ports


def _literal_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_command(command: Any, inputs: Mapping[str, PortSpec], outputs: Mapping[str, Any]) -> str:
    """Check a command's placeholders against the declared ports; returns the command.

    An optional input may only appear inside a ``$[[ ... ]]`` block (as on the service), and
    every placeholder must name a declared input or output.
    """
    if not isinstance(command, str) or not command.strip():
        raise user_error("componentSpec.command is required for a command component", "command")
    if "{%" in command or "%}" in command:
        raise user_error(
            "componentSpec.command: '{%' and '%}' are not supported by the emulator", "command"
        )
    outside = OPTIONAL_BLOCK.sub(" ", command)
    for kind, name in PLACEHOLDER.findall(command):
        declared = inputs if kind == "inputs" else outputs
        if name not in declared:
            raise user_error(
                f"componentSpec.command: ${{{{{kind}.{name}}}}} names no declared {kind[:-1]}; "
                f"declared: {', '.join(sorted(declared)) or 'none'}",
                "command",
            )
    for _, name in PLACEHOLDER.findall(outside):
        port = inputs.get(name)
        if port is not None and port.optional:
            raise user_error(
                f"componentSpec.command: optional input '{name}' must be used inside "
                f"$[[ ... ]] (e.g. $[[--{name} ${{{{inputs.{name}}}}}]])",
                "command",
            )
    return command


def resolve_code(value: Any, codes: CodeAssets | None) -> tuple[str, str] | None:
    """``(datastore, path)`` of a component's ``code``, or ``None`` when it has none.

    :param value: ``azureml:/subscriptions/.../codes/{name}/versions/{v}`` (what the SDK sends
        after uploading a local folder) or ``azureml://datastores/{ds}/paths/{p}``.
    :raises EmulatorError: 400 naming the forms the emulator runs.
    """
    if value in (None, ""):
        return None
    text = str(value)
    found = parse_datastore_uri(text)
    if found is not None:
        return found[0], found[1].strip("/")
    code = codes.by_arm_id(text) if codes is not None else None
    if code is not None and code.datastore and code.path is not None:
        return code.datastore, code.path
    raise user_error(
        f"componentSpec.code '{text}' is not a code version uploaded to this emulator nor an "
        "azureml://datastores/{datastore}/paths/{path} folder; give a local folder (MLClient "
        "uploads it) or a datastore path",
        "code",
    )


def command_component(
    name: str, version: str, spec: Mapping[str, Any], codes: CodeAssets | None
) -> CommandComponent:
    """Check a command component's spec and return what its steps need.

    :raises EmulatorError: 400 naming the offending field.
    """
    inputs = parse_ports(pick(spec, "inputs"), "componentSpec.inputs", outputs=False)
    outputs = parse_ports(pick(spec, "outputs"), "componentSpec.outputs", outputs=True)
    clash = sorted(set(inputs) & set(outputs))
    if clash:
        raise user_error(f"componentSpec: {', '.join(clash)} is both an input and an output", "")
    command = check_command(pick(spec, "command"), inputs, outputs)
    environment = pick(spec, "environment")
    return CommandComponent(
        name=name,
        version=version,
        command=command,
        inputs=inputs,
        outputs=outputs,
        code=resolve_code(pick(spec, "code"), codes),
        environment=None if environment is None else str(environment),
    )


def missing_inputs(spec: Mapping[str, Any], given: Any, target: str) -> None:
    """400 naming the required inputs of a pipeline component a job did not give.

    :param spec: the component's registered spec.
    :param given: the job's inputs mapping.
    :param target: the field of the job's inputs (``inputs`` or ``inputData``).
    """
    ports = parse_ports(pick(spec, "inputs"), "componentSpec.inputs", outputs=False)
    names = set(given) if isinstance(given, Mapping) else set()
    missing = sorted(
        p.name
        for p in ports.values()
        if not p.optional and p.default is None and p.name not in names
    )
    if missing:
        raise EmulatorError(
            400,
            "UserError",
            f"{target}: required input(s) {', '.join(missing)} of component "
            f"'{pick(spec, 'name')}' were not given",
            target,
        )


def response_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A registered spec as the service echoes it: ``_source`` dropped, booleans as strings."""
    echoed = {k: v for k, v in spec.items() if k != "_source"}
    if "is_deterministic" in echoed:
        echoed["is_deterministic"] = str(is_true(echoed["is_deterministic"]))
    for key in ("inputs", "outputs"):
        ports = echoed.get(key)
        if isinstance(ports, Mapping):
            echoed[key] = {
                name: {k: (str(v) if isinstance(v, bool) else v) for k, v in dict(body).items()}
                if isinstance(body, Mapping)
                else body
                for name, body in ports.items()
            }
    return echoed
