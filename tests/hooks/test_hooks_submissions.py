"""``build_submission``, ``validate_submission`` and submit-URL parsing: pure table tests."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    DataPath,
    DataPathParameter,
    DatasetParameter,
    PipelineInterface,
    PipelineParameter,
    PipelineRun,
    PipelineSubmissionInfo,
)
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.v1.bodies import (
    find_submitted_run,
    parse_submit_url,
    validate_submission,
    with_submission_id,
)
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

build = AzureMLPipelinesHook.build_submission
# The v1 check itself; the hook's method sends a v2 connection's to the v2 client instead.
validate = validate_submission


# --------------------------------------------------------------------------------------------
# build_submission
# --------------------------------------------------------------------------------------------
def test_build_submission_renders_the_wire_body() -> None:
    submission = build(
        experiment_name=" exp ",
        parameters={"flag": True, "off": False, "n": 3, "rate": 0.25, "name": "x"},
        data_path_assignments={
            "raw": {"datastore": "store", "path": "in/raw"},
            "ref": {"DataStoreName": "other", "RelativePath": "a/b"},
            "obj": DataPath(datastore_name="d", relative_path="p"),
        },
        dataset_assignments={
            "saved": "1234-abcd",
            "registered": {"DataSetReference": {"Id": "ds", "Name": "n", "Version": "2"}},
            "literal": {"LiteralValue": {"DataStoreName": "s", "RelativePath": "r"}},
        },
        tags={"team": "ml", "n": 1},  # type: ignore[dict-item]
        description="nightly",
        continue_on_step_failure=True,
    )
    assert submission.to_json() == {
        "ExperimentName": "exp",
        "Description": "nightly",
        "ParameterAssignments": {
            "flag": "True",
            "off": "False",
            "n": "3",
            "rate": "0.25",
            "name": "x",
        },
        "DataPathAssignments": {
            "raw": {"DataStoreName": "store", "RelativePath": "in/raw"},
            "ref": {"DataStoreName": "other", "RelativePath": "a/b"},
            "obj": {"DataStoreName": "d", "RelativePath": "p"},
        },
        "DataSetDefinitionValueAssignments": {
            "saved": {"SavedDataSetReference": {"Id": "1234-abcd"}},
            "registered": {"DataSetReference": {"Id": "ds", "Name": "n", "Version": "2"}},
            "literal": {"LiteralValue": {"DataStoreName": "s", "RelativePath": "r"}},
        },
        "ContinueRunOnStepFailure": True,
        "tags": {"team": "ml", "n": "1"},
    }


def test_build_submission_omits_what_was_not_given() -> None:
    assert build(experiment_name="e").to_json() == {"ExperimentName": "e"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"experiment_name": ""}, "experiment_name"),
        ({"experiment_name": "e", "parameters": {"p": None}}, "'p'"),
        ({"experiment_name": "e", "parameters": {"p": [1]}}, "'p'"),
        ({"experiment_name": "e", "parameters": {"p": float("nan")}}, "'p'"),
        ({"experiment_name": "e", "data_path_assignments": {"d": "store/path"}}, "'d'"),
        ({"experiment_name": "e", "data_path_assignments": {"d": {"datastore": "s"}}}, "'d'"),
        (
            {
                "experiment_name": "e",
                "data_path_assignments": {"d": {"datastore": "", "path": "p"}},
            },
            "'d'",
        ),
        ({"experiment_name": "e", "dataset_assignments": {"ds": 42}}, "'ds'"),
        ({"experiment_name": "e", "dataset_assignments": {"ds": ""}}, "'ds'"),
        ({"experiment_name": "e", "dataset_assignments": {"ds": {"Id": "x"}}}, "'ds'"),
        (
            {
                "experiment_name": "e",
                "dataset_assignments": {
                    "ds": {"SavedDataSetReference": {"Id": "a"}, "LiteralValue": {}}
                },
            },
            "'ds'",
        ),
    ],
)
def test_build_submission_rejects_bad_shapes(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(AzureMLInvalidInputError) as raised:
        build(**kwargs)
    assert named in str(raised.value)


def test_bad_data_path_error_lists_accepted_shapes() -> None:
    with pytest.raises(AzureMLInvalidInputError, match="DataStoreName"):
        build(experiment_name="e", data_path_assignments={"d": 1})
    with pytest.raises(AzureMLInvalidInputError, match="SavedDataSetReference"):
        build(experiment_name="e", dataset_assignments={"d": 1})


# --------------------------------------------------------------------------------------------
# validate_submission
# --------------------------------------------------------------------------------------------
INTERFACE = PipelineInterface(
    parameters=[
        PipelineParameter(name="epochs", type=ParameterType.INT),
        PipelineParameter(name="learning_rate", type=ParameterType.DOUBLE),
        PipelineParameter(name="shuffle", type=ParameterType.BOOL),
        PipelineParameter(name="label", type=ParameterType.STRING),
    ],
    data_path_parameters=[DataPathParameter(name="input_path")],
    dataset_parameters=[DatasetParameter(name="training_data")],
)


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"epochs": "10", "learning_rate": "1e-3", "shuffle": "True", "label": "anything"},
        {"epochs": " -2 ", "learning_rate": "3", "shuffle": "false"},
    ],
)
def test_valid_submissions_pass(parameters: dict[str, str]) -> None:
    submission = build(
        experiment_name="e",
        parameters=parameters,
        data_path_assignments={"input_path": {"datastore": "s", "path": "p"}},
        dataset_assignments={"training_data": "saved-id"},
    )
    validate(INTERFACE, submission, target="pipeline 'p1'")


@pytest.mark.parametrize(
    ("submission", "fragments"),
    [
        (
            build(experiment_name="e", parameters={"lr": 0.1}),
            ["'lr'", "declared parameters", "'learning_rate'", "'epochs'"],
        ),
        (build(experiment_name="e", parameters={"epochs": "ten"}), ["'epochs'", "Int"]),
        (build(experiment_name="e", parameters={"epochs": 2.5}), ["'epochs'", "'2.5'"]),
        (build(experiment_name="e", parameters={"learning_rate": "fast"}), ["Double"]),
        (build(experiment_name="e", parameters={"learning_rate": "inf"}), ["Double"]),
        (build(experiment_name="e", parameters={"shuffle": "yes"}), ["'shuffle'", "Bool"]),
        (
            build(
                experiment_name="e", data_path_assignments={"raw": {"datastore": "s", "path": "p"}}
            ),
            ["data path", "'raw'", "'input_path'"],
        ),
        (
            build(experiment_name="e", dataset_assignments={"other": "id"}),
            ["dataset", "'other'", "'training_data'"],
        ),
    ],
)
def test_invalid_submissions_name_the_input_the_target_and_the_declared_names(
    submission: PipelineSubmissionInfo, fragments: list[str]
) -> None:
    with pytest.raises(AzureMLInvalidInputError) as raised:
        validate(INTERFACE, submission, target="endpoint 'scoring' version '3'")
    message = str(raised.value)
    assert "endpoint 'scoring' version '3'" in message
    for fragment in fragments:
        assert fragment in message


def test_every_problem_is_reported_at_once() -> None:
    submission = build(experiment_name="e", parameters={"lr": 1, "epochs": "x"})
    with pytest.raises(AzureMLInvalidInputError) as raised:
        validate(INTERFACE, submission, target="pipeline 'p'")
    assert "'lr'" in str(raised.value) and "'epochs'" in str(raised.value)


# --------------------------------------------------------------------------------------------
# Submission ids
# --------------------------------------------------------------------------------------------
def test_submission_id_is_added_without_touching_the_original() -> None:
    original = build(experiment_name="e", tags={"a": "b"})
    tagged, submission_id = with_submission_id(original)
    assert len(submission_id) == 32 and int(submission_id, 16) >= 0
    assert tagged.tags == {"a": "b", SUBMISSION_ID_TAG: submission_id}
    assert original.tags == {"a": "b"}
    assert with_submission_id(original)[1] != submission_id


def test_caller_submission_id_is_kept() -> None:
    tagged, submission_id = with_submission_id(
        build(experiment_name="e", tags={SUBMISSION_ID_TAG: "mine"})
    )
    assert submission_id == "mine" and tagged.tags == {SUBMISSION_ID_TAG: "mine"}


def test_find_submitted_run() -> None:
    runs = [
        PipelineRun(id="r1", tags={SUBMISSION_ID_TAG: "a"}),
        PipelineRun(id="r2", tags={SUBMISSION_ID_TAG: "b"}),
    ]
    assert find_submitted_run(runs, "b") is runs[1]
    assert find_submitted_run(runs, "c") is None


# --------------------------------------------------------------------------------------------
# Submit URLs
# --------------------------------------------------------------------------------------------
SETTINGS = ConnectionSettings(
    conn_id="c",
    subscription_id="sub",
    resource_group="rg",
    workspace_name="ws",
    base_url="https://westeurope.api.azureml.ms",
)
WS = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}
BASE = SETTINGS.base_url


def pipeline_url(base: str = BASE, **workspace: str) -> str:
    return base + routes.PIPELINE_SUBMIT.format(**{**WS, **workspace}, pipeline_id="p-1")


def endpoint_url(version: str | None = None, base: str = BASE) -> str:
    if version is None:
        return base + routes.ENDPOINT_SUBMIT.format(**WS, endpoint_id="e-1")
    return base + routes.ENDPOINT_SUBMIT_VERSION.format(
        **WS, endpoint_id="e-1", pipeline_version=version
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (pipeline_url(), ("p-1", None, None, None)),
        (pipeline_url() + "?parentRunId=parent", ("p-1", None, None, "parent")),
        (endpoint_url(), (None, "e-1", None, None)),
        (endpoint_url("3"), (None, "e-1", "3", None)),
        (endpoint_url("3") + "?pipelineVersion=3", (None, "e-1", "3", None)),
        (endpoint_url() + "?pipelineVersion=2", (None, "e-1", "2", None)),
        (
            pipeline_url(base="https://WestEurope.api.azureml.ms:443"),
            ("p-1", None, None, None),
        ),
        (pipeline_url(resource_group="RG"), ("p-1", None, None, None)),
    ],
)
def test_submit_urls_are_understood(url: str, expected: tuple[Any, ...]) -> None:
    target = parse_submit_url(url, SETTINGS)
    found = (target.pipeline_id, target.endpoint_id, target.pipeline_version, target.parent_run_id)
    assert found == expected
    assert target.kind == ("pipeline" if expected[0] else "endpoint")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (pipeline_url(base="https://evil.example"), "not on the connection's service"),
        (pipeline_url(base="https://westeurope.api.azureml.ms:8443"), "not on"),
        (pipeline_url(base="http://westeurope.api.azureml.ms"), "plain http"),
        (pipeline_url(workspace_name="other"), "another workspace"),
        (endpoint_url("3") + "?pipelineVersion=4", "'3'"),
        (BASE + routes.PIPELINE_GET.format(**WS, pipeline_id="p"), "not a published pipeline"),
    ],
)
def test_unsafe_or_foreign_urls_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(AzureMLInvalidInputError) as raised:
        parse_submit_url(url, SETTINGS)
    assert fragment in str(raised.value)


def test_loopback_http_service_accepts_its_own_urls() -> None:
    local = ConnectionSettings(conn_id="c", base_url="http://127.0.0.1:9000/prefix", **WS)
    target = parse_submit_url(pipeline_url(base="http://127.0.0.1:9000/prefix"), local)
    assert (target.kind, target.pipeline_id) == ("pipeline", "p-1")
