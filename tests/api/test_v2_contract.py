"""The v2 contract module: routes, parsing and request bodies (pure functions, no server).

Expected values are copied from ``shared/aml-v2-batch-endpoints-rest-contract.md`` (its quoted
"SDK sends" bodies and response examples), not computed from the module under test.
"""

from __future__ import annotations

import pytest

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.api.v2 import bodies, routes
from airflow_provider_mlpipelines.api.v2.models import (
    BatchDeployment,
    BatchEndpoint,
    ComponentVersion,
    Job,
    OperationStatus,
    page_items,
    pick,
)

WS = (
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
IDS = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}


@pytest.mark.parametrize(
    ("route", "values", "path", "api_version"),
    [
        (
            routes.ENDPOINT_GET,
            {"endpoint_name": "nightly"},
            "/batchEndpoints/nightly",
            "2023-10-01",
        ),
        (
            routes.DEPLOYMENT_PUT,
            {"endpoint_name": "nightly", "deployment_name": "blue"},
            "/batchEndpoints/nightly/deployments/blue",
            "2023-02-01-preview",
        ),
        (
            routes.DEPLOYMENT_GET,
            {"endpoint_name": "nightly", "deployment_name": "blue"},
            "/batchEndpoints/nightly/deployments/blue",
            "2024-01-01-preview",
        ),
        (
            routes.COMPONENT_VERSION_PUT,
            {"component_name": "score_pipe", "version": "3"},
            "/components/score_pipe/versions/3",
            "2024-01-01-preview",
        ),
        (
            routes.COMPONENT_FROM_JOB_PUT,
            {"component_name": "score_pipe", "version": "3"},
            "/components/score_pipe/versions/3",
            "2023-02-01-preview",
        ),
        (
            routes.JOB_GET,
            {"job_name": "pipelinejob-1"},
            "/jobs/pipelinejob-1",
            "2024-01-01-preview",
        ),
        (
            routes.JOB_CANCEL,
            {"job_name": "pipelinejob-1"},
            "/jobs/pipelinejob-1/cancel",
            "2023-04-01-preview",
        ),
        (routes.WORKSPACE_GET, {}, "", "2024-10-01-preview"),
        (
            routes.DATASTORE_GET,
            {"datastore_name": "lake"},
            "/datastores/lake",
            "2024-10-01-preview",
        ),
    ],
)
def test_routes_carry_the_path_and_api_version_mlclient_sends(route, values, path, api_version):
    assert route.format(**IDS, **values) == WS + path
    assert route.api_version == api_version
    assert route.api_version in routes.SUPPORTED_API_VERSIONS


def test_route_match_ignores_the_case_of_fixed_segments_and_decodes_names():
    path = WS.replace("resourceGroups", "resourcegroups") + "/batchEndpoints/a%20b"
    assert routes.ENDPOINT_GET.match(path) == {**IDS, "endpoint_name": "a b"}
    assert routes.ENDPOINT_GET.match(WS + "/batchEndpoints/x/deployments/y") is None


def test_names_are_single_path_segments():
    assert routes.JOB_GET.format(**IDS, job_name="../x") == WS + "/jobs/..%2Fx"


def test_component_id_round_trip():
    cid = routes.component_id("sub", "rg", "ws", "score_pipe", "3")
    assert cid == WS + "/components/score_pipe/versions/3"
    assert routes.parse_component_id(cid) == {**IDS, "component_name": "score_pipe", "version": "3"}
    assert routes.parse_component_id("azureml:score_pipe:3") is None


def test_pick_prefers_the_exact_key_and_falls_back_to_any_casing():
    assert pick({"ScoringUri": "a"}, "scoringUri") == "a"
    assert pick({"scoringuri": "b", "scoringUri": "c"}, "scoringUri") == "c"
    assert pick({"a": {"B": {"c": 1}}}, "A", "b", "C") == 1
    assert pick({"a": None}, "a", default="d") == "d"
    assert pick({"a": "x"}, "a", "b") is None


def test_endpoint_parsed_from_the_contract_response():
    endpoint = BatchEndpoint.from_json(
        {
            "id": WS + "/batchEndpoints/nightly",
            "name": "nightly",
            "location": "eastus2",
            "tags": {},
            "properties": {
                "authMode": "AADToken",
                "description": "nightly scoring",
                "properties": {"BatchEndpointCreationApiVersion": "2023-10-01"},
                "scoringUri": "https://nightly.eastus2.inference.ml.azure.com/jobs",
                "defaults": {"deploymentName": "blue"},
                "provisioningState": "Succeeded",
            },
        }
    )
    assert endpoint.scoring_uri == "https://nightly.eastus2.inference.ml.azure.com/jobs"
    assert endpoint.default_deployment == "blue"
    assert endpoint.properties == {"BatchEndpointCreationApiVersion": "2023-10-01"}
    without_default = BatchEndpoint.from_json(
        {"properties": {"defaults": {"deploymentName": None}}}
    )
    assert without_default.default_deployment is None


def test_deployment_takes_its_endpoint_from_the_id():
    deployment = BatchDeployment.from_json(
        {
            "id": WS + "/batchEndpoints/nightly/deployments/blue",
            "name": "blue",
            "properties": {
                "deploymentConfiguration": {
                    "deploymentConfigurationType": "PipelineComponent",
                    "componentId": {"referenceType": "Id", "assetId": "CID"},
                    "settings": {"continue_on_step_failure": False},
                },
                "provisioningState": "Succeeded",
            },
        }
    )
    assert (deployment.endpoint_name, deployment.component_id) == ("nightly", "CID")
    assert deployment.settings == {"continue_on_step_failure": "False"}


def test_component_version_reads_declared_inputs_and_source_job():
    component = ComponentVersion.from_json(
        {
            "id": WS + "/components/score_pipe/versions/3",
            "name": "3",
            "properties": {
                "componentSpec": {
                    "name": "score_pipe",
                    "type": "pipeline",
                    "inputs": {
                        "threshold": {"type": "number", "default": "0.5"},
                        "data": {"type": "uri_folder", "optional": True},
                    },
                    "sourceJobId": "srcjob1",
                },
                "isArchived": False,
            },
        }
    )
    assert (component.component_name, component.version) == ("score_pipe", "3")
    assert component.source_job == "srcjob1"
    threshold = component.input_named("threshold")
    assert threshold is not None and threshold.is_literal and threshold.default == "0.5"
    data = component.input_named("data")
    assert data is not None and data.optional and not data.is_literal


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Completed", PipelineRunStatus.FINISHED),
        ("Failed", PipelineRunStatus.FAILED),
        ("Canceled", PipelineRunStatus.CANCELED),
        ("CancelRequested", PipelineRunStatus.RUNNING),
        ("Finalizing", PipelineRunStatus.RUNNING),
        ("Queued", PipelineRunStatus.QUEUED),
        ("SomethingNew", PipelineRunStatus.UNKNOWN),
        (None, PipelineRunStatus.NOT_STARTED),
    ],
)
def test_job_status_maps_onto_the_one_status_model(raw, status):
    job = Job.from_json({"name": "j", "properties": {"status": raw}})
    assert job.status is status
    assert job.raw_status == raw
    if raw in ("Completed", "Failed", "Canceled"):
        assert job.status.is_terminal
    else:
        assert not job.status.is_terminal


def test_job_studio_url_from_services_or_interaction_endpoints():
    arm = Job.from_json({"properties": {"services": {"Studio": {"endpoint": "https://s/1"}}}})
    invoke = Job.from_json(
        {"properties": {"interactionEndpoints": {"Studio": {"endpoint": "https://s/2"}}}}
    )
    assert (arm.studio_url, invoke.studio_url) == ("https://s/1", "https://s/2")


def test_operation_status_and_pages():
    assert not OperationStatus.from_json({"status": "InProgress"}).is_terminal
    failed = OperationStatus.from_json({"status": "Failed", "error": {"code": "UserError"}})
    assert failed.is_terminal and not failed.succeeded and failed.error_code == "UserError"
    assert page_items({"value": [1, 2], "nextLink": "https://x?$skip=2"}) == (
        [1, 2],
        "https://x?$skip=2",
    )
    assert page_items({"value": []}) == ([], None)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("nightly", True),
        ("ab", False),
        ("a" * 33, False),
        ("1abc", False),
        ("ab-", False),
        ("a_b-c", False),
        ("a-b-3", True),
    ],
)
def test_resource_names_follow_the_sdk_rule(name, ok):
    assert (bodies.check_resource_name(name, "endpoint") is None) is ok


@pytest.mark.parametrize(
    ("component", "version", "expected"),
    [
        ("score_pipe", "3", "score-pipe-3"),
        ("score", "2026.11.27", "score-2026-11-27"),
        ("9lives", "1", "d-9lives-1"),
        ("x" * 40, "12", "x" * 29 + "-12"),
    ],
)
def test_derived_deployment_names_are_valid_and_keep_the_version(component, version, expected):
    name = bodies.deployment_name_for(component, version)
    assert name == expected
    assert bodies.check_resource_name(name, "deployment") is None


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        ("0.7", "number", 0.7),
        (3, "number", 3),
        ("4", "integer", 4),
        (4.0, "integer", 4),
        ("True", "boolean", True),
        (12, "string", "12"),
    ],
)
def test_literals_are_coerced_to_the_declared_type(value, declared, expected):
    result = bodies.coerce_literal(value, declared)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        ("x", "number"),
        (True, "integer"),
        (1.5, "integer"),
        ("yes", "boolean"),
        (1, "boolean"),
        (float("nan"), "number"),
    ],
)
def test_literals_that_do_not_fit_are_refused(value, declared):
    with pytest.raises(ValueError, match=declared):
        bodies.coerce_literal(value, declared)


def test_invoke_body_matches_what_the_sdk_sends():
    # Contract section 7, "Body (SDK sends, observed)".
    component = ComponentVersion.from_json(
        {
            "properties": {
                "componentSpec": {
                    "inputs": {"threshold": {"type": "number"}, "mode": {"type": "string"}}
                }
            }
        }
    )
    inputs = bodies.typed_inputs(component, {"threshold": "0.7", "mode": "append"}, {}, "invoke")
    assert bodies.invoke_body(inputs) == {
        "properties": {
            "inputData": {
                "threshold": {"jobInputType": "Literal", "value": 0.7},
                "mode": {"jobInputType": "Literal", "value": "append"},
            }
        }
    }


def test_job_plane_inputs_are_lower_case_strings_and_data_inputs_are_datastore_uris():
    component = ComponentVersion.from_json(
        {
            "properties": {
                "componentSpec": {
                    "inputs": {"flag": {"type": "boolean"}, "scores": {"type": "uri_file"}}
                }
            }
        }
    )
    uri = bodies.datastore_uri("workspaceblobstore", "/scoring/2026-01-01.csv")
    inputs = bodies.typed_inputs(component, {"flag": True}, {"scores": uri}, "job")
    assert inputs == {
        "flag": {"jobInputType": "literal", "value": "true"},
        "scores": {
            "jobInputType": "uri_file",
            "uri": "azureml://datastores/workspaceblobstore/paths/scoring/2026-01-01.csv",
        },
    }
    with pytest.raises(ValueError, match="input 'flag' \\(boolean\\)"):
        bodies.typed_inputs(component, {"flag": "maybe"}, {}, "job")


def test_invoke_body_names_the_job_and_experiment():
    body = bodies.invoke_body({}, experiment_name="nightly", job_name="airflow-abc")
    assert body == {
        "properties": {
            "inputData": {},
            "properties": {"experimentName": "nightly"},
            "name": "airflow-abc",
        }
    }


def test_deployment_body_matches_what_the_sdk_sends():
    # Contract section 6, "PUT body (SDK sends, observed)".
    body = bodies.deployment_body(
        "eastus2",
        WS + "/components/score_pipe/versions/3",
        description="v3 of the scoring pipeline",
        settings={"default_compute": "cpu-cluster", "continue_on_step_failure": "false"},
    )
    config = body["properties"]["deploymentConfiguration"]
    assert body["location"] == "eastus2"
    assert config["deploymentConfigurationType"] == "PipelineComponent"
    assert config["componentId"] == {
        "referenceType": "Id",
        "assetId": WS + "/components/score_pipe/versions/3",
    }
    assert config["settings"] == {
        "default_compute": "cpu-cluster",
        "continue_on_step_failure": "false",
    }
    assert (body["properties"]["errorThreshold"], body["properties"]["miniBatchSize"]) == (-1, 10)


def test_setting_the_default_sends_back_what_was_read():
    endpoint = BatchEndpoint.from_json(
        {
            "location": "eastus2",
            "tags": {"team": "x"},
            "properties": {
                "description": "d",
                "properties": {"azureml.onlineendpointid": "E"},
                "defaults": {"deploymentName": "blue"},
            },
        }
    )
    body = bodies.endpoint_with_default(endpoint, "green")
    assert body == {
        "location": "eastus2",
        "tags": {"team": "x"},
        "properties": {
            # As MLClient sends it (recorded); the service answers AADToken.
            "authMode": "aadToken",
            "properties": {"azureml.onlineendpointid": "E"},
            "description": "d",
            "defaults": {"deploymentName": "green"},
        },
    }


def test_component_from_job_body_names_the_source_job_both_ways():
    # Contract section 5.1: both keys carry what they are given; the v2 client gives the job's
    # ARM id, as MLClient does (tests/fixtures/recordings/component_from_job.json).
    spec = bodies.component_from_job_body("srcjob1", "score_pipe", "3")["properties"][
        "componentSpec"
    ]
    assert (spec["sourceJobId"], spec["source_job_id"]) == ("srcjob1", "srcjob1")
    assert (spec["name"], spec["version"], spec["type"]) == ("score_pipe", "3", "pipeline")
