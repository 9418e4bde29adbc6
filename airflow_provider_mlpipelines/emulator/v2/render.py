"""v2 records rendered as ARM JSON, in the exact casing of the contract (sections 4-8).

Nothing here decides anything. A job's status is its run's, in v2 words (``Completed`` where
v1 says ``Finished``), or ``CancelRequested`` while a requested cancel has not yet landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_mlpipelines.api.status import ParameterType, PipelineRunStatus
from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.records import RunRecord
from airflow_provider_mlpipelines.emulator.render import Urls
from airflow_provider_mlpipelines.emulator.spec_model import PipelineSpec
from airflow_provider_mlpipelines.emulator.v2.components import response_spec
from airflow_provider_mlpipelines.emulator.v2.records import (
    BatchEndpointRecord,
    ComponentRecord,
    DeploymentRecord,
    JobRecord,
)

_PROVIDER = "Microsoft.MachineLearningServices"
_JOB_STATUS = {
    PipelineRunStatus.NOT_STARTED: "NotStarted",
    PipelineRunStatus.QUEUED: "Queued",
    PipelineRunStatus.RUNNING: "Running",
    PipelineRunStatus.FINISHED: "Completed",
    PipelineRunStatus.FAILED: "Failed",
    PipelineRunStatus.CANCELED: "Canceled",
    PipelineRunStatus.UNKNOWN: "Unknown",
}
_INPUT_TYPES = {
    ParameterType.INT: "integer",
    ParameterType.DOUBLE: "number",
    ParameterType.BOOL: "boolean",
    ParameterType.STRING: "string",
    ParameterType.UNDEFINED: "string",
}


@dataclass(frozen=True)
class ArmUrls:
    """Where the v2 resources of one emulator live.

    :param urls: the v1 URLs (base URL and workspace identity).
    :param studio_base: the studio's base URL, for job links.
    """

    urls: Urls
    studio_base: str

    @property
    def base(self) -> str:
        return self.urls.base_url

    def scope(self) -> dict[str, str]:
        return self.urls.scope

    def workspace_id(self) -> str:
        return routes.WORKSPACE_GET.format(**self.scope())

    def endpoint_id(self, name: str) -> str:
        return routes.ENDPOINT_GET.format(**self.scope(), endpoint_name=name)

    def deployment_id(self, endpoint: str, name: str) -> str:
        return routes.DEPLOYMENT_GET.format(
            **self.scope(), endpoint_name=endpoint, deployment_name=name
        )

    def scoring_uri(self, endpoint: str) -> str:
        return self.base + routes.EMULATOR_SCORING_PATH.format(
            endpoint_name=quote(endpoint, safe="")
        )

    def operation_status(self, location: str, operation_id: str) -> str:
        sub = self.scope()["subscription_id"]
        return (
            f"{self.base}/subscriptions/{sub}/providers/{_PROVIDER}/locations/{location}"
            f"/mfeOperationsStatus/{operation_id}?api-version={routes.API_BATCH_ENDPOINT}"
        )

    def operation_result(self, location: str, operation_id: str) -> str:
        sub = self.scope()["subscription_id"]
        return (
            f"{self.base}/subscriptions/{sub}/providers/{_PROVIDER}/locations/{location}"
            f"/mfeOperationResults/{operation_id}?api-version={routes.API_BATCH_ENDPOINT}"
        )

    def tracking(self) -> str:
        """The MLflow tracking URI of the workspace, in the recorded ``azureml://`` shape."""
        host = urlsplit(self.base).netloc
        return f"azureml://{host}/mlflow/v1.0{routes.WORKSPACE.format(**self.scope())}?"

    def studio_job(self, name: str) -> str:
        scope = self.scope()
        wsid = (
            f"/subscriptions/{scope['subscription_id']}/resourcegroups/"
            f"{scope['resource_group']}/workspaces/{scope['workspace_name']}"
        )
        return f"{self.studio_base.rstrip('/')}/runs/{quote(name, safe='')}?wsid={wsid}"


def system_data(created: str, modified: str, client_id: str) -> dict[str, Any]:
    return {
        "createdBy": client_id,
        "createdByType": "Application",
        "createdAt": created,
        "lastModifiedBy": client_id,
        "lastModifiedByType": "Application",
        "lastModifiedAt": modified,
    }


def endpoint(record: BatchEndpointRecord, urls: ArmUrls, client_id: str) -> dict[str, Any]:
    endpoint_id = urls.endpoint_id(record.name)
    return {
        "id": endpoint_id,
        "name": record.name,
        "type": f"{_PROVIDER}/workspaces/batchEndpoints",
        "location": record.location,
        "tags": dict(record.tags),
        "systemData": system_data(record.created, record.modified, client_id),
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "authMode": record.auth_mode,
            "description": record.description,
            "properties": {**record.properties, "azureml.onlineendpointid": endpoint_id},
            "scoringUri": urls.scoring_uri(record.name),
            "swaggerUri": None,
            "defaults": {"deploymentName": record.default_deployment},
            "provisioningState": record.provisioning_state,
        },
    }


def deployment(record: DeploymentRecord, urls: ArmUrls, client_id: str) -> dict[str, Any]:
    return {
        "id": urls.deployment_id(record.endpoint, record.name),
        "name": record.name,
        "type": f"{_PROVIDER}/workspaces/batchEndpoints/deployments",
        "location": record.location,
        "tags": dict(record.tags),
        "systemData": system_data(record.created, record.modified, client_id),
        "properties": {
            "description": record.description,
            "deploymentConfiguration": {
                "deploymentConfigurationType": "PipelineComponent",
                "componentId": {"referenceType": "Id", "assetId": record.component_id},
                # The SDK indexes settings directly: it must always be present.
                "settings": dict(record.settings),
                "tags": {},
                "description": record.description,
            },
            "errorThreshold": -1,
            "maxConcurrencyPerInstance": 1,
            "miniBatchSize": 10,
            "outputFileName": "predictions.csv",
            "provisioningState": record.provisioning_state,
        },
    }


def component_spec(record: ComponentRecord, spec: PipelineSpec) -> dict[str, Any]:
    """A pipeline component's spec in the YAML schema's keys, built from its pipeline."""
    inputs: dict[str, Any] = {}
    for parameter in spec.parameters:
        declared: dict[str, Any] = {"type": _INPUT_TYPES[parameter.type]}
        # As recorded, the service answers optional as the strings "True"/"False", on every
        # input, and defaults as strings.
        declared["optional"] = "False"
        if parameter.default is not None:
            declared["default"] = str(params_mod.to_wire(parameter.type, parameter.default))
            declared["optional"] = "True"
        inputs[parameter.name] = declared
    for data_input in spec.data_inputs:
        path = data_input.default.literal.relative_path if data_input.default.literal else ""
        kind = (
            "uri_file"
            if data_input.is_dataset or "." in path.rsplit("/", 1)[-1]
            else ("uri_folder")
        )
        inputs[data_input.name] = {"type": kind, "optional": "True"}
    # The service does not echo sourceJobId (tests/fixtures/recordings/component_from_job.json).
    return {
        "name": record.name,
        "version": record.version,
        "type": "pipeline",
        "display_name": record.name,
        "is_deterministic": "False",
        "description": record.description or spec.description,
        "tags": dict(record.tags),
        "inputs": inputs,
        "outputs": {},
        "jobs": {
            step.name: {"name": step.name, "type": "command", "_source": "EMULATOR"}
            for step in spec.steps
        },
    }


def component_version(
    record: ComponentRecord, spec: PipelineSpec | None, component_id: str, client_id: str
) -> dict[str, Any]:
    """A component version; a user's spec is echoed as registered (``_source`` dropped)."""
    if record.spec is not None:
        answered = response_spec(record.spec)
    else:
        assert spec is not None, "a component made from a job renders from its graph"
        answered = component_spec(record, spec)
    return {
        "id": component_id,
        "name": record.version,
        "type": f"{_PROVIDER}/workspaces/components/versions",
        "systemData": system_data(record.created, record.created, client_id),
        "properties": {
            "componentSpec": answered,
            # As recorded: null here, the description is the spec's.
            "description": None,
            "tags": dict(record.tags),
            "properties": {},
            "isAnonymous": record.is_anonymous,
            "isArchived": record.is_archived,
            "provisioningState": "Succeeded",
        },
    }


def job_status(job: JobRecord, run: RunRecord) -> str:
    if job.cancel_requested and not run.status.is_terminal:
        return "CancelRequested"
    return _JOB_STATUS.get(run.status, "Unknown")


def job_outputs(run: RunRecord, uri_mode: str) -> dict[str, Any]:
    """``properties.outputs`` of a job: its steps' outputs, as the pipeline's (a name two steps
    share is prefixed with the step's); ``uri`` as ``uri_mode`` says (``datastore``/``null``).
    """
    written = [
        (step.name, name, where) for step in run.steps for name, where in step.outputs.items()
    ]
    names = [name for _, name, _ in written]
    outputs: dict[str, Any] = {}
    for step, name, where in written:
        key = name if names.count(name) == 1 else f"{step}_{name}"
        uri = f"azureml://datastores/{where['datastore']}/paths/{where['path']}"
        outputs[key] = {
            "description": None,
            "uri": uri if uri_mode == "datastore" else None,
            "assetName": None,
            "assetVersion": None,
            "mode": "ReadWriteMount",
            "jobOutputType": "uri_file"
            if "." in where["path"].rsplit("/", 1)[-1]
            else "uri_folder",
        }
    return outputs


def job(
    record: JobRecord, run: RunRecord, component_id: str | None, urls: ArmUrls, client_id: str
) -> dict[str, Any]:
    """A job as ``GET {WS}/jobs/{name}`` answers it (``JobBase``)."""
    body: dict[str, Any] = {
        "id": routes.JOB_GET.format(**urls.scope(), job_name=record.name),
        "name": record.name,
        "type": f"{_PROVIDER}/workspaces/jobs",
        "systemData": system_data(record.created, run.modified, client_id),
        "properties": {
            "jobType": "Pipeline",
            "status": job_status(record, run),
            "displayName": record.display_name or record.name,
            "experimentName": record.experiment_name,
            "description": _job_description(record),
            "componentId": component_id,
            "computeId": None,
            "identity": None,
            "sourceJobId": None,
            "notificationSetting": None,
            "secretsConfiguration": None,
            "inputs": _job_plane_inputs(record.inputs),
            "outputs": {},
            "jobs": {},
            "settings": {},
            "isArchived": False,
            "tags": dict(record.tags),
            "properties": dict(record.properties),
            "services": {
                "Tracking": {
                    "jobServiceType": "Tracking",
                    "endpoint": urls.tracking(),
                    "port": None,
                    "status": None,
                    "errorMessage": None,
                    "properties": None,
                    "nodes": None,
                },
                "Studio": {
                    "jobServiceType": "Studio",
                    "endpoint": urls.studio_job(record.name),
                    "port": None,
                    "status": None,
                    "errorMessage": None,
                    "properties": None,
                    "nodes": None,
                },
            },
        },
    }
    if run.status is PipelineRunStatus.FAILED and run.status_detail:
        # Which step failed and how: the provider reports it as the run's status detail.
        body["properties"]["error"] = {"code": "UserError", "message": run.status_detail}
    return body


def _job_description(record: JobRecord) -> str | None:
    if record.endpoint:
        return (
            f"Pipeline submission for endpoint: {record.endpoint}, deployment: {record.deployment}."
        )
    return None


def batch_job(record: JobRecord, run: RunRecord, urls: ArmUrls, client_id: str) -> dict[str, Any]:
    """A job as an invoke (and ``GET {scoringUri}/{name}``) answers it (``BatchJobResource``)."""
    return {
        "id": f"{urls.endpoint_id(record.endpoint or '')}/jobs/{record.name}",
        "name": record.name,
        "type": f"{_PROVIDER}/workspaces/batchEndpoints/jobs",
        "systemData": system_data(record.created, run.modified, client_id),
        "properties": {
            # As recorded: properties.name is the job's display name, not its name.
            "name": record.display_name or record.name,
            "status": job_status(record, run),
            "provisioningState": "Succeeded",
            "inputData": dict(record.inputs),
            "outputData": {},
            "compute": {
                "target": None,
                "instanceCount": None,
                "isLocal": False,
                "location": None,
                "properties": None,
            },
            "retrySettings": {"maxRetries": 3, "timeout": "PT30S"},
            "interactionEndpoints": {
                "Tracking": {
                    "jobEndpointType": "Tracking",
                    "port": None,
                    "endpoint": urls.tracking(),
                    "properties": None,
                },
                "Studio": {
                    "jobEndpointType": "Studio",
                    "port": None,
                    "endpoint": urls.studio_job(record.name),
                    "properties": None,
                },
            },
            "tags": dict(record.tags),
            "properties": dict(record.properties),
        },
    }


def _job_plane_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    # Invoke bodies say Literal/UriFolder; the job plane reports literal/uri_folder, strings.
    kinds = {"literal": "literal", "urifolder": "uri_folder", "urifile": "uri_file"}
    rendered: dict[str, Any] = {}
    for name, value in inputs.items():
        if not isinstance(value, dict):
            continue
        lowered = {str(k).lower(): v for k, v in value.items()}
        kind = str(lowered.get("jobinputtype", "")).lower().replace("_", "")
        kind = kinds.get(kind, kind)
        if kind == "literal":
            raw = lowered.get("value")
            text = str(raw).lower() if isinstance(raw, bool) else str(raw)
            rendered[name] = {"jobInputType": "literal", "value": text}
        else:
            rendered[name] = {"jobInputType": kind, "uri": lowered.get("uri")}
    return rendered


def operation_status(operation: Any, path: str) -> dict[str, Any]:
    """An operation's status document; its ``id`` is the status URL's ARM path, as recorded."""
    body: dict[str, Any] = {
        "id": path,
        "name": operation.id,
        "status": operation.status,
        "startTime": operation.start_time,
    }
    if operation.end_time:
        body["endTime"] = operation.end_time
    if operation.error:
        body["error"] = operation.error
    return body


def page(items: list[Any], next_link: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["nextLink"] = next_link
    return body
