"""Rules of the v2 side: batch endpoints, pipeline component deployments, components and jobs.

Handlers parse a request (any casing, contract section 1.6) and call one method here. Jobs run
on the v1 runner: a component version names a v1 graph, and a job is a v1 run of it whose id is
the job's name, so steps really run, are canceled, and survive restarts exactly like v1 runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.api.v2.bodies import check_resource_name
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import EmulatorError, listing
from airflow_provider_mlpipelines.emulator.records import RunRecord, utc_now
from airflow_provider_mlpipelines.emulator.runs import RunService
from airflow_provider_mlpipelines.emulator.service import WorkspaceService
from airflow_provider_mlpipelines.emulator.store import Store
from airflow_provider_mlpipelines.emulator.submission import check_experiment_name, resolve_inputs
from airflow_provider_mlpipelines.emulator.v2.operations import Operation, Operations
from airflow_provider_mlpipelines.emulator.v2.records import (
    CREATING,
    DELETING,
    SUCCEEDED,
    UPDATING,
    BatchEndpointRecord,
    ComponentRecord,
    DeploymentRecord,
    JobRecord,
)

log = logging.getLogger(__name__)

#: The anonymous component name the SDK uses for "a component from a job" (contract 5.1).
ANONYMOUS_COMPONENT = "azureml_anonymous"
#: How long a repeated ``repeatability_request-id`` returns the first job (contract section 7).
REPEATABILITY_SECONDS = 600
#: Where a job's data inputs may point in the emulator: a datastore path.
_DATASTORE_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
    r"datastores/(?P<datastore>[^/]+)/paths/(?P<path>.+)$",
    re.IGNORECASE,
)
_LITERAL = "literal"
_DATA_KINDS = ("uri_folder", "urifolder", "uri_file", "urifile")


def user_error(message: str, target: str | None = None, status: int = 400) -> EmulatorError:
    """The ARM ``UserError`` the service answers for invalid requests (contract section 9)."""
    return EmulatorError(status, "UserError", message, target)


def not_found(kind: str, name: str) -> EmulatorError:
    return EmulatorError(404, "UserError", f"{kind} '{name}' was not found", kind)


def conflict(message: str, target: str | None = None) -> EmulatorError:
    return EmulatorError(409, "Conflict", message, target)


class V2Service:
    """The v2 resources of the emulated workspace.

    :param workspace: the v1 service (graphs and their pipeline snapshots).
    :param runs: the v1 run service, whose runner executes jobs.
    :param store: where v2 records are persisted.
    :param location: the workspace's region, reported on tracked resources.
    :param operations: the long-running operations.
    """

    def __init__(
        self,
        workspace: WorkspaceService,
        runs: RunService,
        store: Store,
        location: str,
        operations: Operations,
    ) -> None:
        self.workspace = workspace
        self.runs = runs
        self.store = store
        self.location = location
        self.operations = operations
        self.endpoints: dict[str, BatchEndpointRecord] = {}
        self.deployments: dict[str, DeploymentRecord] = {}
        self.components: dict[str, ComponentRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self._repeatable: dict[tuple[str, str], tuple[float, str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def load(self) -> None:
        """Read every v2 record from the store."""
        for doc in self.store.load("v2-endpoint"):
            endpoint = BatchEndpointRecord.from_doc(doc)
            self.endpoints[endpoint.name.lower()] = endpoint
        for doc in self.store.load("v2-deployment"):
            deployment = DeploymentRecord.from_doc(doc)
            self.deployments[deployment.key.lower()] = deployment
        for doc in self.store.load("v2-component"):
            component = ComponentRecord.from_doc(doc)
            self.components[component.key] = component
        for doc in self.store.load("v2-job"):
            job = JobRecord.from_doc(doc)
            self.jobs[job.name] = job

    def _save(self, kind: str, key: str, record: Any) -> None:
        self.store.mark_dirty(f"v2-{kind}", key, record)

    # ------------------------------------------------------------------------- endpoints
    def get_endpoint(self, name: str) -> BatchEndpointRecord:
        self.operations.settle()
        endpoint = self.endpoints.get(name.lower())
        if endpoint is None:
            raise not_found("BatchEndpoint", name)
        return endpoint

    def list_endpoints(self) -> list[BatchEndpointRecord]:
        self.operations.settle()
        return sorted(self.endpoints.values(), key=lambda e: e.created)

    def put_endpoint(self, name: str, body: Any) -> tuple[BatchEndpointRecord, bool, Operation]:
        """Create or replace a batch endpoint; returns it, whether it is new, and the LRO."""
        problem = check_resource_name(name, "Batch endpoint name")
        if problem:
            raise user_error(problem, "name")
        location = _require(body, "location")
        props = pick(body, "properties", default={})
        auth_mode = pick(props, "authMode")
        if not auth_mode:
            raise user_error("properties.authMode is required (AADToken)", "authMode")
        if str(auth_mode).lower() not in ("aadtoken", "amltoken", "key"):
            raise user_error(
                f"properties.authMode '{auth_mode}' is not one of AMLToken, Key, AADToken",
                "authMode",
            )
        default = pick(props, "defaults", "deploymentName") or None
        existing = self.endpoints.get(name.lower())
        if default is not None and f"{name}/{default}".lower() not in self.deployments:
            raise user_error(
                f"Deployment '{default}' does not exist under batch endpoint '{name}'; "
                f"its deployments: {listing(self._deployment_names(name))}",
                "defaults.deploymentName",
            )
        server_props = {
            "BatchEndpointCreationApiVersion": routes.API_BATCH_ENDPOINT,
            "azureml.onlineendpointid": "",
        }
        endpoint = existing or BatchEndpointRecord(name=name, location=str(location))
        endpoint.location = str(location)
        endpoint.auth_mode = "AADToken" if str(auth_mode).lower() == "aadtoken" else auth_mode
        endpoint.description = pick(props, "description")
        endpoint.default_deployment = default
        endpoint.tags = _str_map(pick(body, "tags"))
        endpoint.properties = {**_str_map(pick(props, "properties")), **server_props}
        endpoint.provisioning_state = UPDATING if existing else CREATING
        endpoint.modified = utc_now()
        self.endpoints[name.lower()] = endpoint
        self._save("endpoint", name.lower(), endpoint)

        def done() -> None:
            endpoint.provisioning_state = SUCCEEDED
            self._save("endpoint", name.lower(), endpoint)

        return endpoint, existing is None, self.operations.start(done)

    def delete_endpoint(self, name: str) -> Operation | None:
        """Delete an endpoint and its deployments; ``None`` when there was nothing to delete."""
        endpoint = self.endpoints.get(name.lower())
        if endpoint is None:
            return None
        endpoint.provisioning_state = DELETING

        def done() -> None:
            self.endpoints.pop(name.lower(), None)
            self.store.delete("v2-endpoint", name.lower())
            for key in [k for k in self.deployments if k.startswith(f"{name.lower()}/")]:
                self.deployments.pop(key)
                self.store.delete("v2-deployment", key)

        return self.operations.start(done)

    # ------------------------------------------------------------------------- deployments
    def _deployment_names(self, endpoint: str) -> list[str]:
        prefix = f"{endpoint.lower()}/"
        return [d.name for k, d in self.deployments.items() if k.startswith(prefix)]

    def get_deployment(self, endpoint: str, name: str) -> DeploymentRecord:
        self.get_endpoint(endpoint)
        deployment = self.deployments.get(f"{endpoint}/{name}".lower())
        if deployment is None:
            raise not_found("BatchDeployment", name)
        return deployment

    def list_deployments(self, endpoint: str) -> list[DeploymentRecord]:
        self.get_endpoint(endpoint)
        prefix = f"{endpoint.lower()}/"
        found = [d for k, d in self.deployments.items() if k.startswith(prefix)]
        return sorted(found, key=lambda d: d.created)

    def put_deployment(
        self, endpoint_name: str, name: str, body: Any
    ) -> tuple[DeploymentRecord, bool, Operation]:
        """Create or replace a pipeline component deployment."""
        endpoint = self.get_endpoint(endpoint_name)
        problem = check_resource_name(name, "Deployment name")
        if problem:
            raise user_error(problem, "name")
        location = _require(body, "location")
        props = pick(body, "properties", default={})
        config = pick(props, "deploymentConfiguration")
        if not isinstance(config, Mapping):
            raise user_error(
                "properties.deploymentConfiguration is required for a pipeline component "
                "deployment",
                "deploymentConfiguration",
            )
        kind = pick(config, "deploymentConfigurationType")
        if str(kind).lower() != "pipelinecomponent":
            raise user_error(
                f"deploymentConfigurationType '{kind}' is not supported; use PipelineComponent",
                "deploymentConfigurationType",
            )
        asset = pick(config, "componentId", "assetId")
        component = self.component_by_id(asset, target="deploymentConfiguration.componentId")
        key = f"{endpoint.name}/{name}".lower()
        existing = self.deployments.get(key)
        deployment = existing or DeploymentRecord(
            endpoint=endpoint.name, name=name, location=str(location), component_id=""
        )
        deployment.location = str(location)
        deployment.component_id = self.component_arm_id(component)
        settings = pick(config, "settings", default={})
        deployment.settings = dict(settings) if isinstance(settings, Mapping) else {}
        deployment.description = pick(props, "description")
        deployment.tags = _str_map(pick(body, "tags"))
        deployment.provisioning_state = UPDATING if existing else CREATING
        deployment.modified = utc_now()
        self.deployments[key] = deployment
        self._save("deployment", key, deployment)

        def done() -> None:
            deployment.provisioning_state = SUCCEEDED
            self._save("deployment", key, deployment)

        return deployment, existing is None, self.operations.start(done)

    def delete_deployment(self, endpoint_name: str, name: str) -> Operation | None:
        endpoint = self.get_endpoint(endpoint_name)
        key = f"{endpoint.name}/{name}".lower()
        deployment = self.deployments.get(key)
        if deployment is None:
            return None
        if (endpoint.default_deployment or "").lower() == name.lower():
            raise user_error(
                f"Deployment '{name}' is the default of batch endpoint '{endpoint.name}'; set "
                "another default first",
                "name",
            )
        deployment.provisioning_state = DELETING

        def done() -> None:
            self.deployments.pop(key, None)
            self.store.delete("v2-deployment", key)

        return self.operations.start(done)

    # ------------------------------------------------------------------------- components
    def component_arm_id(self, component: ComponentRecord) -> str:
        identity = self.workspace.workspace.identity
        return routes.component_id(
            identity.subscription_id,
            identity.resource_group,
            identity.workspace_name,
            component.name,
            component.version,
        )

    def component_by_id(self, value: Any, *, target: str) -> ComponentRecord:
        """The component a ``componentId`` (ARM id) names; 400 naming ``target`` otherwise."""
        parts = routes.parse_component_id(str(value)) if isinstance(value, str) else None
        if parts is None:
            raise user_error(
                f"{target} '{value}' is not a component version id "
                "(/subscriptions/.../workspaces/{ws}/components/{name}/versions/{version})",
                target,
            )
        component = self.components.get(f"{parts['component_name']}/{parts['version']}")
        if component is None:
            raise user_error(
                f"{target}: component '{parts['component_name']}' version "
                f"'{parts['version']}' is not registered",
                target,
            )
        return component

    def get_component(self, name: str, version: str) -> ComponentRecord:
        component = self.components.get(f"{name}/{version}")
        if component is None:
            raise not_found("ComponentVersion", f"{name}:{version}")
        return component

    def component_versions(self, name: str) -> list[ComponentRecord]:
        found = [c for c in self.components.values() if c.name == name]
        if not found:
            raise not_found("Component", name)
        return sorted(found, key=lambda c: c.created)

    def put_component(self, name: str, version: str, body: Any) -> tuple[ComponentRecord, bool]:
        """Register a pipeline component version from a pipeline job (contract section 5.1).

        Re-registering the same source under the same name and version answers the existing
        one (200); another source under them is a conflict (409): versions are immutable.
        """
        props = pick(body, "properties", default={})
        spec = pick(props, "componentSpec")
        if not isinstance(spec, Mapping):
            raise user_error("properties.componentSpec is required", "componentSpec")
        source = pick(spec, "sourceJobId") or pick(spec, "source_job_id")
        if not source:
            raise user_error(
                "The emulator registers pipeline components from an existing pipeline job: "
                "set componentSpec.sourceJobId to the job's name",
                "componentSpec.sourceJobId",
            )
        job = self.jobs.get(str(source))
        if job is None:
            raise user_error(
                f"componentSpec.sourceJobId: pipeline job '{source}' was not found",
                "componentSpec.sourceJobId",
            )
        graph_id = self.runs.get_run(job.name).graph_id
        anonymous = bool(pick(props, "isAnonymous", default=False)) or name == ANONYMOUS_COMPONENT
        if anonymous:
            version = str(uuid.uuid4())
        existing = self.components.get(f"{name}/{version}")
        if existing is not None:
            if existing.source_job == job.name:
                return existing, False
            raise conflict(
                f"Component '{name}' version '{version}' already exists (made from job "
                f"'{existing.source_job}'); versions are immutable, choose another version",
                "version",
            )
        component = ComponentRecord(
            name=name,
            version=version,
            graph_id=graph_id,
            description=pick(props, "description") or pick(spec, "description"),
            source_job=job.name,
            is_anonymous=anonymous,
            tags=_str_map(pick(props, "tags")),
        )
        self.components[component.key] = component
        self._save("component", component.key, component)
        return component, True

    def register_spec_component(self, name: str, version: str, graph_id: str) -> ComponentRecord:
        """Register a component of a spec pipeline (the emulator's default content)."""
        component = ComponentRecord(name=name, version=version, graph_id=graph_id)
        self.components[component.key] = component
        self._save("component", component.key, component)
        return component

    # ------------------------------------------------------------------------- jobs
    def get_job(self, name: str) -> tuple[JobRecord, RunRecord]:
        job = self.jobs.get(name)
        if job is None:
            raise not_found("Job", name)
        return job, self.runs.get_run(name)

    def list_jobs(self, tag: str | None = None) -> list[tuple[JobRecord, RunRecord]]:
        """Jobs oldest first; ``tag`` is ``name`` or ``name=value``."""
        found = []
        for job in sorted(self.jobs.values(), key=lambda j: j.created):
            if tag:
                key, has_value, value = tag.partition("=")
                if key not in job.tags or (has_value and job.tags[key] != value):
                    continue
            found.append((job, self.runs.get_run(job.name)))
        return found

    def submit_job(self, name: str, body: Any) -> tuple[JobRecord, RunRecord, bool]:
        """A pipeline job of a registered component (PUT ``jobs/{name}``, contract section 8)."""
        props = pick(body, "properties", default={})
        job_type = pick(props, "jobType")
        if str(job_type).lower() != "pipeline":
            raise user_error(
                f"properties.jobType '{job_type}' is not supported; the emulator runs Pipeline "
                "jobs",
                "jobType",
            )
        if name in self.jobs:
            job, run = self.get_job(name)
            return job, run, False
        component = self.component_by_id(pick(props, "componentId"), target="componentId")
        job, run = self.start_job(
            component,
            name=name,
            experiment=pick(props, "experimentName") or "Default",
            inputs=pick(props, "inputs", default={}),
            inputs_target="inputs",
            display_name=pick(props, "displayName"),
            tags=_str_map(pick(props, "tags")),
            properties=_str_map(pick(props, "properties")),
            run_source="REMOTE.WORKSPACE.JOB",
        )
        return job, run, True

    def invoke(
        self,
        endpoint_name: str,
        deployment_header: str | None,
        body: Any,
        repeatability_id: str | None,
    ) -> tuple[JobRecord, RunRecord]:
        """Create a batch job on an endpoint's deployment (contract section 7)."""
        endpoint = self.get_endpoint(endpoint_name)
        if repeatability_id:
            earlier = self._repeatable.get((endpoint.name.lower(), repeatability_id))
            if earlier and earlier[0] > time.monotonic():
                return self.get_job(earlier[1])
        deployment_name = deployment_header or endpoint.default_deployment
        if not deployment_name:
            raise EmulatorError(
                404,
                "UserError",
                f"Batch endpoint '{endpoint.name}' has no default deployment; set "
                "defaults.deploymentName or send the azureml-model-deployment header",
                "azureml-model-deployment",
            )
        deployment = self.deployments.get(f"{endpoint.name}/{deployment_name}".lower())
        if deployment is None:
            raise EmulatorError(
                404,
                "UserError",
                f"Deployment '{deployment_name}' was not found under batch endpoint "
                f"'{endpoint.name}'; its deployments: "
                f"{listing(self._deployment_names(endpoint.name))}",
                "azureml-model-deployment",
            )
        props = pick(body, "properties", default={})
        name = pick(props, "name") or f"pipelinejob-{uuid.uuid4()}"
        if name in self.jobs:
            raise conflict(f"A job named '{name}' already exists", "name")
        component = self.component_by_id(deployment.component_id, target="componentId")
        experiment = pick(props, "properties", "experimentName") or endpoint.name
        job, run = self.start_job(
            component,
            name=str(name),
            experiment=str(experiment),
            inputs=pick(props, "inputData", default={}),
            inputs_target="inputData",
            display_name=None,
            tags={
                "azureml.batchrun": "true",
                "azureml.deploymentname": deployment.name,
                "azureml.jobtype": "azureml.pipelinejob",
            },
            properties={
                "azureml.endpointname": endpoint.name,
                "azureml.deploymentname": deployment.name,
                "runSource": "BatchDeployment",
                "runType": "HTTP",
            },
            run_source="BatchDeployment",
            endpoint=endpoint.name,
            deployment=deployment.name,
            continue_on_step_failure=str(
                deployment.settings.get("continue_on_step_failure", "false")
            ).lower()
            == "true",
        )
        if repeatability_id:
            job.repeatability_id = repeatability_id
            expires = time.monotonic() + REPEATABILITY_SECONDS
            self._repeatable[(endpoint.name.lower(), repeatability_id)] = (expires, job.name)
        return job, run

    def start_job(
        self,
        component: ComponentRecord,
        *,
        name: str,
        experiment: str,
        inputs: Any,
        inputs_target: str,
        display_name: str | None,
        tags: dict[str, str],
        properties: dict[str, str],
        run_source: str,
        endpoint: str | None = None,
        deployment: str | None = None,
        continue_on_step_failure: bool = False,
    ) -> tuple[JobRecord, RunRecord]:
        """Check ``inputs`` against the component, then start a real run named ``name``."""
        spec = self.workspace.spec_of(component.graph_id)
        info = _submission_info(inputs, inputs_target, experiment)
        try:
            check_experiment_name(experiment)
            resolved = resolve_inputs(spec, component.name, info, self.workspace.datastores)
        except EmulatorError as exc:
            # The v1 rules name the v1 field; v2 callers sent inputData/inputs.
            raise user_error(exc.message, inputs_target) from None
        run = self.runs.create_run(
            spec,
            component.graph_id,
            experiment,
            run_id=name,
            parameters=resolved.parameter_strings,
            data_inputs=resolved.data_inputs,
            tags=tags,
            properties=properties,
            run_source=run_source,
            continue_on_step_failure=continue_on_step_failure,
        )
        job = JobRecord(
            name=name,
            component_key=component.key,
            experiment_name=experiment,
            display_name=display_name,
            endpoint=endpoint,
            deployment=deployment,
            inputs=dict(inputs) if isinstance(inputs, Mapping) else {},
            tags=tags,
            properties=properties,
        )
        self.jobs[name] = job
        self._save("job", name, job)
        log.info("Started v2 job %s of component %s", name, component.key)
        return job, run

    def component_of(self, job: JobRecord) -> ComponentRecord | None:
        return self.components.get(job.component_key)

    def cancel_job(self, name: str) -> Operation | None:
        """Request a job's cancellation; ``None`` when it has already ended (200, no change)."""
        job, run = self.get_job(name)
        if run.status.is_terminal:
            return None
        job.cancel_requested = True
        self._save("job", name, job)
        task = asyncio.get_running_loop().create_task(self._cancel_run(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.operations.start(ready=lambda: self.runs.get_run(name).status.is_terminal)

    async def _cancel_run(self, name: str) -> None:
        # A short pause makes CancelRequested observable, as on the service.
        await asyncio.sleep(min(0.5, self.operations.delay))
        await self.runs.cancel(name)


def _require(body: Any, key: str) -> Any:
    value = pick(body, key)
    if value in (None, ""):
        raise user_error(f"'{key}' is required", key)
    return value


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _submission_info(inputs: Any, target: str, experiment: str) -> PipelineSubmissionInfo:
    """v2 job inputs as the v1 submission the shared input rules check."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise user_error(f"{target} must be a JSON object of inputs", target)
    parameters: dict[str, str] = {}
    data_paths: dict[str, Any] = {}
    for name, value in inputs.items():
        kind = str(pick(value, "jobInputType", default="")).lower()
        if kind == _LITERAL:
            literal = pick(value, "value")
            if isinstance(literal, (dict, list)) or literal is None:
                raise user_error(f"{target}.{name}: a literal value must be a scalar", target)
            parameters[str(name)] = (
                str(literal).lower() if isinstance(literal, bool) else str(literal)
            )
        elif kind in _DATA_KINDS:
            uri = str(pick(value, "uri", default=""))
            found = _DATASTORE_URI.match(uri)
            if found is None:
                raise user_error(
                    f"{target}.{name}: uri '{uri}' is not an azureml://datastores/{{name}}/"
                    "paths/{path} location (the emulator resolves datastore paths only)",
                    target,
                )
            data_paths[str(name)] = {
                "DataStoreName": found["datastore"],
                "RelativePath": found["path"],
            }
        else:
            raise user_error(
                f"{target}.{name}: jobInputType '{pick(value, 'jobInputType')}' is not "
                "supported; use literal, uri_folder or uri_file",
                target,
            )
    return PipelineSubmissionInfo(
        experiment_name=experiment,
        parameter_assignments=parameters,
        data_path_assignments=data_paths,
    )
