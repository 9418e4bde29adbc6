"""Loading of the workspace spec (identity, datastores, datasets, pipelines) from YAML or JSON.

Loading validates everything that can be checked without running a step (types and defaults
of parameters, datastore and dataset references, names used by step templates), so a broken
spec fails at start with a message naming the place, not later in a run. The values it builds
are those of :mod:`.spec_model`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    DataPath,
    DatasetReference,
    DatasetValue,
    SavedDatasetReference,
)
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.spec_model import (
    DataInputSpec,
    DatasetSpec,
    DatastoreSpec,
    Identity,
    ParameterSpec,
    PipelineSpec,
    StepSpec,
    WorkspaceSpec,
    WorkspaceSpecError,
)
from airflow_provider_mlpipelines.emulator.templating import (
    BUILTIN_NAMES,
    TemplateError,
    check_template,
)

#: Namespace of the deterministic ids given to datasets declared without one.
_DATASET_NAMESPACE = uuid.UUID("5b0f4d6e-3c1a-4f5e-9a57-6d1c2b8e7f10")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPRESSION_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_PLACEHOLDER_RE = re.compile("\x00(\\d+)\x00")
STEP_KINDS = ("process", "simulated")
SIMULATED_OUTCOMES = ("Finished", "Failed")
DEFAULT_DATASTORE = "workspaceblobstore"


def default_workspace_path() -> Path:
    """The spec shipped with the package (used when ``--workspace`` is not given)."""
    return Path(__file__).resolve().parent / "data" / "workspace.yaml"


def load_workspace(path: Path | str | None = None) -> WorkspaceSpec:
    """Load and validate a workspace spec file (YAML, or JSON by the ``.json`` suffix).

    :param path: the spec file; the shipped default workspace when ``None``.
    :raises WorkspaceSpecError: when the file cannot be read or the spec is invalid.
    """
    spec_path = Path(path).resolve() if path is not None else default_workspace_path()
    try:
        text = spec_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkspaceSpecError(f"cannot read workspace spec {spec_path}: {exc}") from None
    raw = _parse_document(text, spec_path)
    return parse_workspace(raw, spec_path.parent)


def _parse_document(text: str, spec_path: Path) -> Any:
    try:
        if spec_path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError both subclass it
        raise WorkspaceSpecError(f"workspace spec {spec_path} does not parse: {exc}") from None
    except Exception as exc:
        raise WorkspaceSpecError(f"workspace spec {spec_path} does not parse: {exc}") from None


def parse_workspace(raw: Any, spec_dir: Path) -> WorkspaceSpec:
    """Validate a spec document.

    :param raw: the parsed YAML/JSON document.
    :param spec_dir: the folder relative paths in the spec (``seed``) are resolved against.
    :raises WorkspaceSpecError: naming the first problem found.
    """
    doc = _mapping(raw, "workspace spec")
    _reject_unknown(
        doc, {"identity", "default_datastore", "datastores", "datasets", "pipelines"}, ""
    )
    identity = _parse_identity(doc.get("identity"))
    default_datastore = str(doc.get("default_datastore") or DEFAULT_DATASTORE)
    datastores = _parse_datastores(doc.get("datastores"), default_datastore, spec_dir)
    datasets = _parse_datasets(doc.get("datasets"), datastores, default_datastore)
    pipelines_raw = _mapping(doc.get("pipelines") or {}, "pipelines")
    partial = WorkspaceSpec(identity, default_datastore, datastores, datasets, {}, spec_dir)
    pipelines = {
        str(name): parse_pipeline(str(name), body, partial) for name, body in pipelines_raw.items()
    }
    if not pipelines:
        raise WorkspaceSpecError("pipelines: the spec declares no pipeline")
    return WorkspaceSpec(identity, default_datastore, datastores, datasets, pipelines, spec_dir)


def _parse_identity(raw: Any) -> Identity:
    doc = _mapping(raw or {}, "identity")
    allowed = set(Identity.__dataclass_fields__)
    _reject_unknown(doc, allowed, "identity")
    values = {key: str(value) for key, value in doc.items() if value is not None}
    return Identity(**values)


def _parse_datastores(raw: Any, default: str, spec_dir: Path) -> dict[str, DatastoreSpec]:
    result: dict[str, DatastoreSpec] = {default: DatastoreSpec(default)}
    if raw is None:
        return result
    items = {str(n): None for n in raw} if isinstance(raw, list) else _mapping(raw, "datastores")
    for name, body in items.items():
        _check_name(str(name), "datastores", pattern=re.compile(r"^[A-Za-z0-9_\-]+$"))
        seed = _mapping(body or {}, f"datastores.{name}").get("seed")
        seed_path = (spec_dir / str(seed)).resolve() if seed else None
        if seed_path is not None and not seed_path.is_dir():
            raise WorkspaceSpecError(f"datastores.{name}.seed: {seed_path} is not a folder")
        result[str(name)] = DatastoreSpec(str(name), seed_path)
    return result


def _parse_datasets(
    raw: Any, datastores: Mapping[str, DatastoreSpec], default_datastore: str
) -> tuple[DatasetSpec, ...]:
    result: list[DatasetSpec] = []
    for index, item in enumerate(raw or []):
        where = f"datasets[{index}]"
        doc = _mapping(item, where)
        _reject_unknown(doc, {"name", "id", "version", "datastore", "path"}, where)
        name = str(doc.get("name") or "")
        if not name or not doc.get("path"):
            raise WorkspaceSpecError(f"{where}: 'name' and 'path' are required")
        version = str(doc.get("version", "1"))
        datastore = str(doc.get("datastore") or default_datastore)
        _require_datastore(datastore, datastores, f"{where}.datastore")
        dataset_id = str(doc.get("id") or uuid.uuid5(_DATASET_NAMESPACE, f"{name}:{version}"))
        if any(d.id == dataset_id or (d.name, d.version) == (name, version) for d in result):
            raise WorkspaceSpecError(f"{where}: dataset {name!r} v{version} is declared twice")
        result.append(DatasetSpec(name, dataset_id, version, datastore, str(doc["path"])))
    return tuple(result)


def parse_pipeline(name: str, raw: Any, workspace: WorkspaceSpec) -> PipelineSpec:
    """Validate one pipeline of the spec (also used to reload a graph's stored snapshot).

    :param name: the pipeline's name.
    :param raw: its spec document.
    :param workspace: the workspace it belongs to (datastores and datasets to check against).
    :raises WorkspaceSpecError: naming the first problem found.
    """
    where = f"pipelines.{name}"
    doc = _mapping(raw, where)
    allowed_keys = {
        "description",
        "parameters",
        "data_paths",
        "datasets",
        "steps",
        "continue_on_step_failure",
    }
    _reject_unknown(doc, allowed_keys, where)
    parameters = _parse_parameters(doc.get("parameters"), where)
    data_inputs = _parse_data_paths(doc.get("data_paths"), workspace, where)
    data_inputs += _parse_dataset_inputs(doc.get("datasets"), workspace, where)
    names = [p.name for p in parameters] + [d.name for d in data_inputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise WorkspaceSpecError(f"{where}: input name(s) declared twice: {', '.join(duplicates)}")
    steps = _parse_steps(doc.get("steps"), workspace, where, set(names))
    return PipelineSpec(
        name=name,
        steps=steps,
        parameters=parameters,
        data_inputs=data_inputs,
        description=None if doc.get("description") is None else str(doc["description"]),
        continue_on_step_failure=bool(doc.get("continue_on_step_failure", False)),
    )


def _parse_parameters(raw: Any, where: str) -> tuple[ParameterSpec, ...]:
    result = []
    for name, body in _mapping(raw or {}, f"{where}.parameters").items():
        here = f"{where}.parameters.{name}"
        _check_name(str(name), here)
        doc = _mapping(body, here)
        _reject_unknown(doc, {"type", "default", "description"}, here)
        try:
            kind = params_mod.spec_type(doc.get("type", "string"))
            if "default" not in doc:
                raise params_mod.ParameterValueError("a default value is required")
            default = params_mod.parse_value(kind, doc["default"])
        except params_mod.ParameterValueError as exc:
            raise WorkspaceSpecError(f"{here}: {exc}") from None
        result.append(ParameterSpec(str(name), kind, default, _opt_str(doc.get("description"))))
    return tuple(result)


def _parse_data_paths(raw: Any, workspace: WorkspaceSpec, where: str) -> tuple[DataInputSpec, ...]:
    result = []
    for name, body in _mapping(raw or {}, f"{where}.data_paths").items():
        here = f"{where}.data_paths.{name}"
        _check_name(str(name), here)
        doc = _mapping(body, here)
        _reject_unknown(doc, {"datastore", "path", "description"}, here)
        datastore = str(doc.get("datastore") or workspace.default_datastore)
        _require_datastore(datastore, workspace.datastores, f"{here}.datastore")
        path = DataPath(datastore, str(doc.get("path") or ""))
        default = DatasetValue(literal=path)
        result.append(DataInputSpec(str(name), False, default, _opt_str(doc.get("description"))))
    return tuple(result)


def _parse_dataset_inputs(
    raw: Any, workspace: WorkspaceSpec, where: str
) -> tuple[DataInputSpec, ...]:
    result = []
    for name, body in _mapping(raw or {}, f"{where}.datasets").items():
        here = f"{where}.datasets.{name}"
        _check_name(str(name), here)
        doc = _mapping(body, here)
        _reject_unknown(
            doc, {"dataset", "version", "dataset_id", "datastore", "path", "description"}, here
        )
        default = _dataset_default(doc, workspace, here)
        result.append(DataInputSpec(str(name), True, default, _opt_str(doc.get("description"))))
    return tuple(result)


def _dataset_default(doc: Mapping[str, Any], workspace: WorkspaceSpec, here: str) -> DatasetValue:
    if doc.get("dataset_id"):
        dataset_id = str(doc["dataset_id"])
        if workspace.dataset_by_id(dataset_id) is None:
            raise WorkspaceSpecError(f"{here}.dataset_id: no dataset has id {dataset_id!r}")
        return DatasetValue(saved_dataset=SavedDatasetReference(dataset_id))
    if doc.get("dataset"):
        version = None if doc.get("version") is None else str(doc["version"])
        dataset = workspace.dataset_by_name(str(doc["dataset"]), version)
        if dataset is None:
            raise WorkspaceSpecError(f"{here}.dataset: no dataset named {doc['dataset']!r}")
        return DatasetValue(dataset=DatasetReference(dataset.id, dataset.name, dataset.version))
    if doc.get("path"):
        datastore = str(doc.get("datastore") or workspace.default_datastore)
        _require_datastore(datastore, workspace.datastores, f"{here}.datastore")
        return DatasetValue(literal=DataPath(datastore, str(doc["path"])))
    raise WorkspaceSpecError(f"{here}: give 'dataset', 'dataset_id' or 'path' as the default")


def _parse_steps(
    raw: Any, workspace: WorkspaceSpec, where: str, input_names: set[str]
) -> tuple[StepSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise WorkspaceSpecError(f"{where}.steps: a non-empty list of steps is required")
    steps: list[StepSpec] = []
    for index, item in enumerate(raw):
        here = f"{where}.steps[{index}]"
        doc = _mapping(item, here)
        step = _parse_step(doc, workspace, here, input_names)
        if any(s.name == step.name for s in steps):
            raise WorkspaceSpecError(f"{here}: step name {step.name!r} is used twice")
        after = _parse_after(doc.get("after"), [s.name for s in steps], here)
        steps.append(dataclasses.replace(step, after=after) if after else step)
    return tuple(steps)


def _parse_after(raw: Any, earlier: list[str], here: str) -> tuple[str, ...]:
    """The steps a step waits for: earlier steps only, so the list stays in a runnable order
    (a v2 graph's edges, kept when its pipeline is stored and read back)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise WorkspaceSpecError(f"{here}.after: give a list of step names")
    unknown = [name for name in raw if name not in earlier]
    if unknown:
        raise WorkspaceSpecError(
            f"{here}.after: {unknown} are not steps listed before this one ({earlier})"
        )
    return tuple(raw)


def _parse_step(
    doc: Mapping[str, Any], workspace: WorkspaceSpec, here: str, input_names: set[str]
) -> StepSpec:
    allowed = {"name", "kind", "command", "outputs", "env", "duration", "outcome", "after"}
    _reject_unknown(doc, allowed, here)
    name = str(doc.get("name") or "")
    if not name:
        raise WorkspaceSpecError(f"{here}: 'name' is required")
    kind = str(doc.get("kind") or ("process" if "command" in doc else "simulated"))
    if kind not in STEP_KINDS:
        raise WorkspaceSpecError(f"{here}.kind: {kind!r} is not one of {', '.join(STEP_KINDS)}")
    names = input_names | BUILTIN_NAMES
    try:
        if kind == "simulated":
            return _simulated_step(doc, name, here, names)
        return _process_step(doc, name, workspace, here, names)
    except TemplateError as exc:
        raise WorkspaceSpecError(str(exc)) from None


def _process_step(
    doc: Mapping[str, Any], name: str, workspace: WorkspaceSpec, here: str, names: set[str]
) -> StepSpec:
    command = doc.get("command")
    if isinstance(command, str):
        # Split before rendering: a parameter value can never inject extra arguments or a shell.
        argv = split_command(command)
    elif isinstance(command, list) and all(isinstance(a, (str, int, float)) for a in command):
        argv = tuple(str(a) for a in command)
    else:
        raise WorkspaceSpecError(f"{here}.command: give a list of arguments or a string")
    if not argv:
        raise WorkspaceSpecError(f"{here}.command: the command is empty")
    outputs = {}
    for out_name, body in _mapping(doc.get("outputs") or {}, f"{here}.outputs").items():
        out_doc = _mapping(body, f"{here}.outputs.{out_name}")
        _reject_unknown(out_doc, {"datastore", "path"}, f"{here}.outputs.{out_name}")
        datastore = str(out_doc.get("datastore") or workspace.default_datastore)
        _require_datastore(datastore, workspace.datastores, f"{here}.outputs.{out_name}")
        path = str(out_doc.get("path") or "")
        check_template(path, names - {"outputs"}, f"{here}.outputs.{out_name}.path")
        outputs[str(out_name)] = DataPath(datastore, path)
    env = {str(k): str(v) for k, v in _mapping(doc.get("env") or {}, f"{here}.env").items()}
    for arg in (*argv, *env.values()):
        check_template(arg, names, f"{here}.command")
    return StepSpec(name, "process", argv, outputs, env)


def split_command(command: str) -> tuple[str, ...]:
    """Split a command string into arguments like a shell, keeping ``{{ ... }}`` whole.

    :param command: the command template.
    :raises WorkspaceSpecError: for unbalanced quotes.
    """
    expressions: list[str] = []

    def stash(match: re.Match[str]) -> str:
        expressions.append(match.group(0))
        return f"\x00{len(expressions) - 1}\x00"

    masked = _EXPRESSION_RE.sub(stash, command)
    try:
        parts = shlex.split(masked)
    except ValueError as exc:
        raise WorkspaceSpecError(f"command {command!r} does not split: {exc}") from None
    return tuple(_PLACEHOLDER_RE.sub(lambda m: expressions[int(m.group(1))], p) for p in parts)


def _simulated_step(doc: Mapping[str, Any], name: str, here: str, names: set[str]) -> StepSpec:
    duration = str(doc.get("duration", 0))
    outcome = str(doc.get("outcome", "Finished"))
    check_template(duration, names - {"outputs"}, f"{here}.duration")
    check_template(outcome, names - {"outputs"}, f"{here}.outcome")
    if "{" not in duration:
        check_duration(duration, here)
    if "{" not in outcome:
        check_outcome(outcome, here)
    return StepSpec(name, "simulated", duration=duration, outcome=outcome)


def check_duration(value: str, where: str) -> float:
    """Parse a simulated step's duration in seconds.

    :param value: the (rendered) duration.
    :param where: the step, for the message.
    :raises WorkspaceSpecError: unless it is a number >= 0.
    """
    try:
        seconds = float(value)
    except ValueError:
        raise WorkspaceSpecError(f"{where}.duration: {value!r} is not a number") from None
    if not seconds >= 0:
        raise WorkspaceSpecError(f"{where}.duration: {value!r} must be >= 0")
    return seconds


def check_outcome(value: str, where: str) -> str:
    """Parse a simulated step's outcome (``Finished`` or ``Failed``, any case).

    :param value: the (rendered) outcome.
    :param where: the step, for the message.
    :raises WorkspaceSpecError: for any other value.
    """
    for outcome in SIMULATED_OUTCOMES:
        if value.strip().lower() == outcome.lower():
            return outcome
    raise WorkspaceSpecError(
        f"{where}.outcome: {value!r} is not one of {', '.join(SIMULATED_OUTCOMES)}"
    )


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise WorkspaceSpecError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return raw


def _reject_unknown(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in doc if k not in allowed)
    if unknown:
        place = f"{where}: " if where else ""
        raise WorkspaceSpecError(
            f"{place}unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _check_name(name: str, where: str, pattern: re.Pattern[str] = _NAME_RE) -> None:
    if not pattern.match(name):
        raise WorkspaceSpecError(f"{where}: {name!r} is not a valid name")
    if pattern is _NAME_RE and name in BUILTIN_NAMES:
        raise WorkspaceSpecError(f"{where}: {name!r} is reserved for step templates")


def _require_datastore(name: str, datastores: Mapping[str, DatastoreSpec], where: str) -> None:
    if name not in datastores:
        raise WorkspaceSpecError(
            f"{where}: unknown datastore {name!r}; declared: {', '.join(sorted(datastores))}"
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
