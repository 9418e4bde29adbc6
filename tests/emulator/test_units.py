"""Unit tests of the emulator's pure parts: spec loading, parameter types, body checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from airflow_provider_mlpipelines.api.models import (
    DataPath,
    DatasetReference,
    DatasetValue,
    PipelineSubmissionInfo,
)
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.emulator import params
from airflow_provider_mlpipelines.emulator.bodies import check_wire_keys, parse_object
from airflow_provider_mlpipelines.emulator.datastores import Datastores
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.pipeline_doc import pipeline_to_doc
from airflow_provider_mlpipelines.emulator.spec_model import WorkspaceSpecError
from airflow_provider_mlpipelines.emulator.submission import (
    check_experiment_name,
    resolve_inputs,
)
from airflow_provider_mlpipelines.emulator.tls import ensure_certificates
from airflow_provider_mlpipelines.emulator.workspace import (
    load_workspace,
    parse_pipeline,
    parse_workspace,
    split_command,
)


def _spec(**pipelines: Any) -> dict[str, Any]:
    return {"pipelines": pipelines}


def _step(command: Any = "echo hi", **extra: Any) -> dict[str, Any]:
    return {"name": "s", "command": command, **extra}


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (ParameterType.INT, "5", 5),
        (ParameterType.INT, " -3 ", -3),
        (ParameterType.INT, 7, 7),
        (ParameterType.DOUBLE, "0.05", 0.05),
        (ParameterType.DOUBLE, "1e-3", 0.001),
        (ParameterType.DOUBLE, 2, 2.0),
        (ParameterType.BOOL, "True", True),
        (ParameterType.BOOL, "false", False),
        (ParameterType.BOOL, "1", True),
        (ParameterType.STRING, "anything at all", "anything at all"),
        (ParameterType.STRING, 12, "12"),
    ],
)
def test_parse_value_accepts_values_of_the_declared_type(
    kind: ParameterType, raw: Any, expected: Any
) -> None:
    assert params.parse_value(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (ParameterType.INT, "5.5"),
        (ParameterType.INT, "abc"),
        (ParameterType.INT, True),
        (ParameterType.DOUBLE, "fast"),
        (ParameterType.DOUBLE, "nan"),
        (ParameterType.BOOL, "maybe"),
        (ParameterType.STRING, {"a": 1}),
    ],
)
def test_parse_value_rejects_values_of_another_type(kind: ParameterType, raw: Any) -> None:
    with pytest.raises(params.ParameterValueError):
        params.parse_value(kind, raw)


def test_to_wire_renders_like_the_sdk() -> None:
    assert params.to_wire(ParameterType.BOOL, True) == "True"
    assert params.to_wire(ParameterType.DOUBLE, 0.1) == "0.1"
    assert params.to_wire(ParameterType.INT, 3) == "3"
    assert params.spec_type("float") is ParameterType.DOUBLE
    with pytest.raises(params.ParameterValueError, match="unknown parameter type"):
        params.spec_type("decimal")


# ------------------------------------------------------------------------------ spec loading
def test_default_workspace_loads_and_round_trips_through_graph_snapshots() -> None:
    workspace = load_workspace()
    assert set(workspace.pipelines) == {"train", "score", "simulated"}
    train = workspace.pipelines["train"]
    assert train.parameter("learning_rate").type is ParameterType.DOUBLE
    assert train.parameter("epochs").default == 100
    assert {d.name for d in train.data_inputs} == {"training_data", "validation_data"}
    for name, spec in workspace.pipelines.items():
        assert parse_pipeline(name, pipeline_to_doc(spec), workspace) == spec


def test_a_graphs_edges_survive_its_snapshot(tmp_path: Path) -> None:
    # A v2 graph's edges (StepSpec.after), which the studio draws, are kept when the pipeline
    # is stored as a graph snapshot and read back (after a restart).
    steps = [
        {"name": "a", "command": "echo a"},
        {"name": "b", "command": "echo b"},
        {"name": "c", "command": "echo c", "after": ["a", "b"]},
    ]
    workspace = parse_workspace(_spec(p={"steps": steps}), tmp_path)
    spec = workspace.pipelines["p"]
    assert [step.after for step in spec.steps] == [(), (), ("a", "b")]
    doc = pipeline_to_doc(spec)
    assert doc["steps"][2]["after"] == ["a", "b"] and "after" not in doc["steps"][0]
    assert parse_pipeline("p", doc, workspace) == spec


def test_json_spec_is_loaded_by_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(_spec(p={"steps": [_step()]})))
    assert load_workspace(path).pipelines["p"].steps[0].command == ("echo", "hi")


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({"steps": []}, "non-empty list of steps"),
        ({"steps": [_step(), _step()]}, "used twice"),
        ({"steps": [_step("echo {{ nope }}")]}, "undefined name"),
        ({"steps": [_step("echo {{ broken")]}, "does not parse"),
        ({"parameters": {"x": {"type": "int", "default": "a"}}, "steps": [_step()]}, "integer"),
        ({"parameters": {"x": {"type": "int"}}, "steps": [_step()]}, "default value"),
        ({"parameters": {"run_id": {"default": 1}}, "steps": [_step()]}, "reserved"),
        ({"parameters": {"x-y": {"default": 1}}, "steps": [_step()]}, "not a valid name"),
        ({"data_paths": {"d": {"datastore": "nope", "path": "a"}}, "steps": [_step()]}, "nope"),
        ({"datasets": {"d": {"dataset": "missing"}}, "steps": [_step()]}, "no dataset"),
        ({"steps": [{"name": "s", "kind": "simulated", "duration": "-1"}]}, ">= 0"),
        ({"steps": [{"name": "s", "kind": "simulated", "outcome": "Meh"}]}, "outcome"),
        ({"steps": [_step(oops=1)]}, "unknown key"),
        ({"steps": [_step(after=["s"])]}, "not steps listed before this one"),
        ({"steps": [_step(after="s")]}, "list of step names"),
    ],
)
def test_invalid_pipelines_are_rejected_naming_the_place(
    tmp_path: Path, pipeline: dict[str, Any], message: str
) -> None:
    with pytest.raises(WorkspaceSpecError, match=message) as info:
        parse_workspace(_spec(p=pipeline), tmp_path)
    assert "pipelines.p" in str(info.value)


def test_workspace_without_pipelines_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceSpecError, match="no pipeline"):
        parse_workspace({"pipelines": {}}, tmp_path)


def test_split_command_keeps_template_expressions_whole() -> None:
    assert split_command('{{ python }} "a b" --x={{ y | default("q r") }}') == (
        "{{ python }}",
        "a b",
        '--x={{ y | default("q r") }}',
    )
    with pytest.raises(WorkspaceSpecError, match="does not split"):
        split_command('echo "unbalanced')


# ------------------------------------------------------------------------------ bodies
def test_wrongly_cased_keys_are_rejected_with_the_right_spelling() -> None:
    with pytest.raises(EmulatorError) as info:
        check_wire_keys({"experimentName": "x"}, PipelineSubmissionInfo, "")
    assert info.value.status == 400
    assert "'ExperimentName'" in info.value.message
    with pytest.raises(EmulatorError, match="'tags'"):
        check_wire_keys({"Tags": {}}, PipelineSubmissionInfo, "")
    check_wire_keys({"ExperimentName": "x", "SomethingNew": 1}, PipelineSubmissionInfo, "")


def test_nested_keys_are_checked_too() -> None:
    body = {"LiteralValue": {"datastoreName": "a", "RelativePath": "b"}}
    with pytest.raises(EmulatorError, match="'DataStoreName'") as info:
        parse_object(body, DatasetValue, "DataSetDefinitionValueAssignments.x")
    assert info.value.target == "DataSetDefinitionValueAssignments.x.LiteralValue.datastoreName"


def test_non_object_bodies_are_rejected() -> None:
    with pytest.raises(EmulatorError, match="must be a JSON object, got an array"):
        parse_object([], PipelineSubmissionInfo, "")


def test_experiment_names_are_validated() -> None:
    assert check_experiment_name("my-exp_1") == "my-exp_1"
    for bad in ("", None, "has space", "-leading"):
        with pytest.raises(EmulatorError):
            check_experiment_name(bad)


# ------------------------------------------------------------------------------ submission
def test_resolve_inputs_types_values_and_resolves_data(tmp_path: Path) -> None:
    workspace = load_workspace()
    datastores = Datastores(tmp_path, workspace)
    info = PipelineSubmissionInfo(
        experiment_name="e",
        parameter_assignments={"epochs": "7"},
        dataset_assignments={
            "training_data": {
                "LiteralValue": {"DataStoreName": "workspaceblobstore", "RelativePath": "x.csv"}
            }
        },
    )
    resolved = resolve_inputs(workspace.pipelines["train"], "train", info, datastores)
    assert resolved.parameters["epochs"] == 7
    assert resolved.parameters["learning_rate"] == 0.1
    assert resolved.parameter_strings["epochs"] == "7"
    assert resolved.data_inputs["training_data"] == ("workspaceblobstore", "x.csv")
    assert resolved.data_inputs["validation_data"] == (
        "workspaceblobstore",
        "housing/validation.csv",
    )


@pytest.mark.parametrize(
    ("info", "status", "fragment"),
    [
        ({"parameter_assignments": {"lr": "1"}}, 400, "declared: learning_rate, epochs"),
        ({"parameter_assignments": {"epochs": "many"}}, 400, "declared Int"),
        ({"parameter_assignments": {"training_data": "x"}}, 400, "not a parameter"),
        ({"data_path_assignments": {"nope": {}}}, 400, "Data input 'nope' is not declared"),
        (
            {
                "data_path_assignments": {
                    "training_data": {"DataStoreName": "w", "RelativePath": "a"}
                }
            },
            400,
            "Datastore 'w' does not exist",
        ),
        (
            {
                "data_path_assignments": {
                    "training_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "../x"}
                }
            },
            400,
            "must not contain '..'",
        ),
        (
            {"dataset_assignments": {"validation_data": {"DataSetReference": {"Name": "nope"}}}},
            404,
            "Dataset",
        ),
        ({"dataset_assignments": {"validation_data": {}}}, 400, "exactly one"),
    ],
)
def test_resolve_inputs_rejects_bad_assignments(
    tmp_path: Path, info: dict[str, Any], status: int, fragment: str
) -> None:
    workspace = load_workspace()
    submission = PipelineSubmissionInfo(experiment_name="e", **info)
    with pytest.raises(EmulatorError) as raised:
        resolve_inputs(
            workspace.pipelines["train"], "train", submission, Datastores(tmp_path, workspace)
        )
    assert raised.value.status == status
    assert fragment in raised.value.message


def test_datasets_resolve_by_id_or_name(tmp_path: Path) -> None:
    workspace = load_workspace()
    datastores = Datastores(tmp_path, workspace)
    dataset = workspace.datasets[0]
    by_id = DatasetValue(dataset=DatasetReference(id=dataset.id))
    by_name = DatasetValue(dataset=DatasetReference(name=dataset.name, version="1"))
    literal = DatasetValue(literal=DataPath("workspaceblobstore", "a/b.csv"))
    assert datastores.resolve_value(by_id, "x") == (dataset.datastore, dataset.path)
    assert datastores.resolve_value(by_name, "x") == (dataset.datastore, dataset.path)
    assert datastores.resolve_value(literal, "x") == ("workspaceblobstore", "a/b.csv")


# ------------------------------------------------------------------------------ TLS
def test_certificates_are_reused_and_reissued_for_a_new_host(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path, "127.0.0.1")
    ca, server = first.ca.read_bytes(), first.server.read_bytes()
    again = ensure_certificates(tmp_path, "127.0.0.1")
    assert (again.ca.read_bytes(), again.server.read_bytes()) == (ca, server)
    other = ensure_certificates(tmp_path, "emulator.internal")
    assert other.ca.read_bytes() == ca
    cert = x509.load_pem_x509_certificate(other.server.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "emulator.internal" in names.get_values_for_type(x509.DNSName)
    assert oct(first.ca_key.stat().st_mode & 0o777) == "0o600"
