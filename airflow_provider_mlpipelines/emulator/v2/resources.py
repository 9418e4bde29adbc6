"""Rules of the v2 tracked resources: batch endpoints, their deployments and components.

Endpoints and deployments change through long-running operations (contract section 2);
component versions are registered from pipeline jobs (contract section 5.1) and are immutable.
:class:`~.service.V2Service` adds the jobs that run them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.api.v2.bodies import check_resource_name
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import listing
from airflow_provider_mlpipelines.emulator.records import utc_now
from airflow_provider_mlpipelines.emulator.runs import RunService
from airflow_provider_mlpipelines.emulator.service import WorkspaceService
from airflow_provider_mlpipelines.emulator.store import Store
from airflow_provider_mlpipelines.emulator.v2.behaviour import V2Behaviour
from airflow_provider_mlpipelines.emulator.v2.checks import (
    conflict,
    not_found,
    require,
    str_map,
    user_error,
)
from airflow_provider_mlpipelines.emulator.v2.codes import CodeAssets
from airflow_provider_mlpipelines.emulator.v2.components import CommandComponent, command_component
from airflow_provider_mlpipelines.emulator.v2.graph import pipeline_spec, spec_content
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

#: The anonymous component name the SDK uses for "a component from a job" (contract 5.1).
ANONYMOUS_COMPONENT = "azureml_anonymous"


class V2Resources:
    """Batch endpoints, deployments and component versions of the emulated workspace.

    It also holds the jobs, which components are registered from.

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
        *,
        behaviour: V2Behaviour | None = None,
    ) -> None:
        self.workspace = workspace
        self.behaviour = behaviour or V2Behaviour()
        self.runs = runs
        self.store = store
        self.location = location
        self.operations = operations
        self.endpoints: dict[str, BatchEndpointRecord] = {}
        self.deployments: dict[str, DeploymentRecord] = {}
        self.components: dict[str, ComponentRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        #: Code versions (``attach_v2`` loads them); command components run in their folders.
        self.code_assets: CodeAssets | None = None
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
        location = require(body, "location")
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
        endpoint.tags = str_map(pick(body, "tags"))
        endpoint.properties = {**str_map(pick(props, "properties")), **server_props}
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
        location = require(body, "location")
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
        deployment.tags = str_map(pick(body, "tags"))
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
            return self._put_user_component(name, version, props, spec)
        # MLClient names the job by its ARM id (recorded); its bare name is accepted too.
        job = self.jobs.get(routes.job_name_of(str(source)))
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
            tags=str_map(pick(props, "tags")),
        )
        self.components[component.key] = component
        self._save("component", component.key, component)
        return component, True

    def _put_user_component(
        self, name: str, version: str, props: Any, spec: Mapping[str, Any]
    ) -> tuple[ComponentRecord, bool]:
        """Register a user's command or pipeline component (:mod:`.components`, :mod:`.graph`)."""
        anonymous = bool(pick(props, "isAnonymous", default=False))
        content = spec_content(spec, props)
        existing = self.components.get(f"{name}/{version}")
        if existing is not None:
            # An anonymous version is the SDK's hash of the component: the same hash is the
            # same component, whatever name the spec carries (the DSL and YAML loaders differ).
            if existing.content == content or (anonymous and existing.is_anonymous):
                return existing, False
            raise conflict(
                f"Component '{name}' version '{version}' already exists with other content; "
                "versions are immutable: register the change under another version",
                "version",
            )
        graph_id = ""
        if str(pick(spec, "type", default="")).lower() == "command":
            command_component(name, version, spec, self.code_assets)
        elif str(pick(spec, "type", default="")).lower() == "pipeline":
            pipeline = pipeline_spec(name, spec, self._command_of, self.default_datastore)
            graph_id = self.workspace.create_graph(pipeline).id
        else:
            raise user_error(
                f"componentSpec.type '{pick(spec, 'type')}' is not supported by the emulator; "
                "register command or pipeline components",
                "componentSpec.type",
            )
        component = ComponentRecord(
            name=name,
            version=version,
            graph_id=graph_id,
            description=pick(props, "description") or pick(spec, "description"),
            is_anonymous=anonymous,
            tags=str_map(pick(props, "tags")),
            spec=dict(spec),
            content=content,
        )
        self.components[component.key] = component
        self._save("component", component.key, component)
        return component, True

    @property
    def default_datastore(self) -> str:
        return self.workspace.workspace.default_datastore

    def _command_of(self, value: Any, target: str) -> CommandComponent:
        """The registered command component a pipeline's job names (400 naming ``target``)."""
        record = self.component_by_id(str(value).removeprefix("azureml:"), target=target)
        if record.kind != "command" or record.spec is None:
            raise user_error(
                f"{target}: component '{record.name}' version '{record.version}' is a "
                f"{record.kind} component; the emulator runs jobs of command components",
                target,
            )
        # The DSL names its anonymous children in the spec: logs show that name, not the hash.
        shown = str(record.spec.get("name") or record.name)
        return command_component(shown, record.version, record.spec, self.code_assets)

    def register_spec_component(self, name: str, version: str, graph_id: str) -> ComponentRecord:
        """Register a component of a spec pipeline (the emulator's default content)."""
        component = ComponentRecord(name=name, version=version, graph_id=graph_id)
        self.components[component.key] = component
        self._save("component", component.key, component)
        return component
