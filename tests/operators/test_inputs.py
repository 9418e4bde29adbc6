"""Argument checks of the operators that need no service: they fail before anything is sent."""

from __future__ import annotations

import re

import pytest

from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.clients.core.submission_input import check_experiment_name
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError
from airflow_provider_mlpipelines.operators._base import (
    check_exactly_one,
    check_identifier,
    check_status,
    looks_templated,
)
from airflow_provider_mlpipelines.operators._submission import load_assignments, load_parameters
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLPublishPipelineOperator,
    AzureMLSetPipelineEndpointDefaultVersionOperator,
    AzureMLSetPipelineEndpointStatusOperator,
    AzureMLSetPublishedPipelineStatusOperator,
    AzureMLSubmitPipelineRunOperator,
)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("../etc", "not allowed"),
        ("a/b", "not allowed"),
        ("a?b=1", "not allowed"),
        ("..", "not allowed"),
        ("a#b", "not allowed"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        (None, "non-empty"),
        (42, "non-empty"),
    ],
)
def test_check_identifier_refuses_path_characters_and_empties(value: object, fragment: str) -> None:
    with pytest.raises(AzureMLInvalidInputError, match=fragment) as info:
        check_identifier(value, "pipeline_id")
    assert "pipeline_id" in str(info.value)


def test_check_identifier_accepts_a_guid_and_strips_spaces() -> None:
    assert check_identifier(" 1f2e-3d4c ", "run_id") == "1f2e-3d4c"


def test_check_exactly_one_names_every_choice() -> None:
    choices = {"a": None, "b": None}
    with pytest.raises(AzureMLInvalidInputError, match=r"exactly one target \('a', 'b'\); none"):
        check_exactly_one(choices, what="target")
    with pytest.raises(AzureMLInvalidInputError, match=r"'a', 'b' were given"):
        check_exactly_one({"a": "x", "b": "y"}, what="target")
    assert check_exactly_one({"a": None, "b": "y"}, what="target") == "b"


def test_check_status_accepts_codes_and_names_but_only_allowed_ones() -> None:
    allowed = (EntityStatus.ACTIVE, EntityStatus.DISABLED)
    assert check_status("disabled", allowed, argument="status") is EntityStatus.DISABLED
    assert check_status(0, allowed, argument="status") is EntityStatus.ACTIVE
    with pytest.raises(AzureMLInvalidInputError, match=r"'Deprecated'.*'Active', 'Disabled'"):
        check_status("Deprecated", allowed, argument="status")
    with pytest.raises(AzureMLInvalidInputError, match="'Paused' is not valid"):
        check_status("Paused", allowed, argument="status")


def test_looks_templated() -> None:
    assert looks_templated("{{ ds }}")
    assert looks_templated("{% if x %}a{% endif %}")
    assert not looks_templated("Active")
    assert not looks_templated(None)


def test_load_parameters_from_dict_json_and_errors() -> None:
    assert load_parameters({"epochs": 3}) == {"epochs": 3}
    assert load_parameters('{"learning_rate": 0.1}') == {"learning_rate": 0.1}
    assert load_parameters(None) is None
    with pytest.raises(AzureMLInvalidInputError, match="not JSON"):
        load_parameters("epochs=3")
    with pytest.raises(AzureMLInvalidInputError, match="must be a dict"):
        load_parameters("[1, 2]")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "none was given"),
        (
            {"published_pipeline_id": "p", "pipeline_endpoint_name": "e"},
            "'published_pipeline_id', 'pipeline_endpoint_name' were given",
        ),
        ({"published_pipeline_id": "p", "pipeline_version": "2"}, "pipeline endpoints only"),
        ({"published_pipeline_id": "p", "poll_interval": 0}, "poll_interval must be > 0"),
    ],
)
def test_submit_operator_refuses_bad_targets_at_parse_time(kwargs: dict, fragment: str) -> None:
    with pytest.raises(AzureMLInvalidInputError, match=fragment):
        AzureMLSubmitPipelineRunOperator(task_id="submit", experiment_name="exp", **kwargs)


def test_status_operators_check_status_unless_templated() -> None:
    with pytest.raises(AzureMLInvalidInputError, match="choose one of 'Active', 'Disabled'"):
        AzureMLSetPipelineEndpointStatusOperator(
            task_id="t", status="Deprecated", pipeline_endpoint_name="e"
        )
    with pytest.raises(AzureMLInvalidInputError, match="'Active', 'Disabled', 'Deprecated'"):
        AzureMLSetPublishedPipelineStatusOperator(task_id="t", status="Gone", pipeline_id="p")
    op = AzureMLSetPublishedPipelineStatusOperator(
        task_id="t", status="{{ params.status }}", pipeline_id="p"
    )
    assert op.status == "{{ params.status }}"


def test_endpoint_operators_need_exactly_one_endpoint_reference() -> None:
    with pytest.raises(AzureMLInvalidInputError, match="exactly one pipeline endpoint"):
        AzureMLSetPipelineEndpointDefaultVersionOperator(task_id="t", version="1")
    with pytest.raises(AzureMLInvalidInputError, match="exactly one pipeline endpoint"):
        AzureMLSetPipelineEndpointStatusOperator(
            task_id="t", status="Active", pipeline_endpoint_id="i", pipeline_endpoint_name="n"
        )


def test_publish_operator_if_exists_choices() -> None:
    with pytest.raises(AzureMLInvalidInputError, match="choose 'reuse' or 'fail'"):
        AzureMLPublishPipelineOperator(
            task_id="t", pipeline_run_id="r", pipeline_name="n", if_exists="replace"
        )


def test_submit_operator_template_fields_cover_identifiers_and_inputs() -> None:
    fields = set(AzureMLSubmitPipelineRunOperator.template_fields)
    assert {
        "published_pipeline_id",
        "pipeline_endpoint_id",
        "pipeline_endpoint_name",
        "pipeline_version",
        "rest_endpoint",
        "experiment_name",
        "parameters",
        "data_path_assignments",
        "dataset_assignments",
        "tags",
    } <= fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ({"raw": {"datastore": "s", "path": "p"}}, {"raw": {"datastore": "s", "path": "p"}}),
        ('{"raw": {"datastore": "s", "path": "p"}}', {"raw": {"datastore": "s", "path": "p"}}),
    ],
)
def test_load_assignments_takes_a_dict_or_its_json_text(value: object, expected: object) -> None:
    assert load_assignments(value, "data_path_assignments", "a data path") == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("raw=s/p", "data_path_assignments is a string but not JSON"),
        ("[1, 2]", "must be a dict of name -> a data path (or its JSON text), got list"),
        ('"s/p"', "got str"),
        (["raw"], "got list"),
        (7, "got int"),
    ],
)
def test_load_assignments_refuses_anything_else_naming_the_argument(
    value: object, fragment: str
) -> None:
    with pytest.raises(AzureMLInvalidInputError, match=re.escape(fragment)):
        load_assignments(value, "data_path_assignments", "a data path")


@pytest.mark.parametrize(
    "name", ["e", "housing-scoring", "Nightly_2026-01-01", "9lives", " padded ", "x" * 256]
)
def test_experiment_names_the_service_takes(name: str) -> None:
    assert check_experiment_name(name) == name.strip()


@pytest.mark.parametrize(
    "name", ["-x", "_x", "a b", "a.b", "a/b", "ünï", "x" * 257, "", "   ", None, 3]
)
def test_experiment_names_the_service_refuses(name: object) -> None:
    with pytest.raises(AzureMLInvalidInputError, match="experiment_name"):
        check_experiment_name(name)
