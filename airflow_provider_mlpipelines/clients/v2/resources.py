"""v2 resources: pipeline component versions, batch endpoints and their deployments.

The part of :class:`~airflow_provider_mlpipelines.clients.v2.client.V2Client` that reads and
writes ARM resources, with the long-running operations their writes start (contract sections
2, 4, 5 and 6). Endpoints come back as the provider's :class:`PipelineEndpoint`, whose versions
are the deployments (version = deployment name, pipeline id = deployed component's ARM id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    PipelineEndpoint,
    PipelineVersion,
    PublishedPipeline,
)
from airflow_provider_mlpipelines.api.results import EndpointUpdate
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.api.v2 import bodies, routes
from airflow_provider_mlpipelines.api.v2.models import (
    BatchDeployment,
    BatchEndpoint,
    ComponentVersion,
    page_items,
    pick,
)
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.publishing import SOURCE_RUN_PROPERTY
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.transport import Call, Reply, SyncTransport
from airflow_provider_mlpipelines.clients.v2 import calls
from airflow_provider_mlpipelines.clients.v2.gaps import refuse
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
)

log = logging.getLogger(__name__)


class V2Resources:
    """Components, batch endpoints and deployments of one v2 workspace.

    :param settings: the connection settings.
    :param arm: a transport whose tokens are for Azure Resource Manager.
    :param ml: a transport whose tokens are for Azure ML (invoke, the pipeline-job header).
    :param sleep: how to wait between polls of a long-running operation.
    """

    #: The longest a long-running operation (an endpoint or deployment write, a cancel) is
    #: followed before giving up; the service states 5 to 30 minutes for its own.
    lro_timeout_seconds: float = 1800.0
    #: The wait between polls when the service sends no ``Retry-After``.
    lro_poll_seconds: float = 5.0

    def __init__(
        self,
        settings: ConnectionSettings,
        arm: SyncTransport,
        ml: SyncTransport,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self.arm = arm
        self.ml = ml
        self.sleep = sleep
        self._components: dict[str, ComponentVersion] = {}
        self._location: str | None = None

    @property
    def settings(self) -> ConnectionSettings:
        return self._settings

    # ---------------------------------------------------------------------------------------
    # Components (v1: published pipelines)
    # ---------------------------------------------------------------------------------------
    def component(self, pipeline_id: str) -> ComponentVersion:
        """A component version by ARM id or ``azureml:name:version`` (versions are immutable,
        so each is read once per client)."""
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        parts = component_ref(pipeline_id)
        key = routes.component_id(**self.settings.workspace, **parts)
        if key not in self._components:
            call = calls.arm_call(
                self.settings,
                routes.COMPONENT_VERSION_GET,
                quoted(pipeline_id),
                component_name=parts["name"],
                version=parts["version"],
            )
            self._components[key] = ComponentVersion.from_json(self.arm.execute(call).json())
        return self._components[key]

    def component_versions(self, name: str) -> list[ComponentVersion]:
        """Every version of the component ``name`` (none when the component does not exist)."""
        call = calls.arm_call(
            self.settings, routes.COMPONENT_VERSIONS, quoted(name), component_name=name
        )
        try:
            return [ComponentVersion.from_json(item) for item in self._all_pages(call)]
        except AzureMLNotFoundError:
            return []

    @staticmethod
    def pipeline_of(component: ComponentVersion) -> PublishedPipeline:
        properties = dict(component.tags)
        if component.source_job:
            properties[SOURCE_RUN_PROPERTY] = routes.job_name_of(component.source_job)
        return PublishedPipeline(
            id=component.id,
            name=component.component_name,
            description=component.description,
            version=component.version,
            properties=properties,
        )

    # ---------------------------------------------------------------------------------------
    # Batch endpoints (v1: pipeline endpoints) and deployments (v1: their versions)
    # ---------------------------------------------------------------------------------------
    def batch_endpoint(self, endpoint: str) -> BatchEndpoint:
        """A batch endpoint by name or ARM id."""
        name = _endpoint_name(endpoint)
        call = calls.arm_call(self.settings, routes.ENDPOINT_GET, quoted(name), endpoint_name=name)
        return BatchEndpoint.from_json(self.arm.execute(call).json())

    def deployments(self, endpoint_name: str) -> list[BatchDeployment]:
        call = calls.arm_call(
            self.settings,
            routes.DEPLOYMENT_LIST,
            quoted(endpoint_name),
            endpoint_name=endpoint_name,
        )
        return [BatchDeployment.from_json(item) for item in self._all_pages(call)]

    def deployment(self, endpoint_name: str, deployment_name: str) -> BatchDeployment:
        call = calls.arm_call(
            self.settings,
            routes.DEPLOYMENT_GET,
            f"{deployment_name!r} of batch endpoint {endpoint_name!r}",
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
        )
        try:
            return BatchDeployment.from_json(self.arm.execute(call).json())
        except AzureMLNotFoundError:
            names = [d.name for d in self.deployments(endpoint_name)]
            raise AzureMLInvalidInputError(
                f"batch endpoint {endpoint_name!r} has no deployment {deployment_name!r}; its "
                f"deployments are {names}"
            ) from None

    def get_pipeline_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None
    ) -> PipelineEndpoint:
        if (endpoint_id is None) == (name is None):
            raise AzureMLInvalidInputError("give exactly one of endpoint_id and name")
        endpoint = self.batch_endpoint(check_id(endpoint_id or name, "endpoint"))
        return self.pipeline_endpoint(endpoint, self.deployments(endpoint.name))

    def find_pipeline_endpoint(self, name: str) -> PipelineEndpoint | None:
        try:
            return self.get_pipeline_endpoint(name=name)
        except AzureMLNotFoundError:
            return None

    @staticmethod
    def pipeline_endpoint(
        endpoint: BatchEndpoint, deployments: list[BatchDeployment]
    ) -> PipelineEndpoint:
        return PipelineEndpoint(
            id=endpoint.id,
            name=endpoint.name,
            description=endpoint.description,
            default_version=endpoint.default_deployment,
            versions=[
                PipelineVersion(version=d.name, pipeline_id=d.component_id or "")
                for d in deployments
            ],
            url=endpoint.scoring_uri,
            properties=dict(endpoint.properties),
            tags=dict(endpoint.tags),
        )

    def ensure_pipeline_in_endpoint(
        self,
        name: str,
        pipeline_id: str,
        *,
        description: str | None = None,
        set_default: bool = True,
        deployment_name: str | None = None,
    ) -> EndpointUpdate:
        """Deploy the component ``pipeline_id`` behind the batch endpoint ``name``, creating the
        endpoint if needed; a component deployed there already keeps its deployment.

        :param deployment_name: the deployment's name; derived from the component's name and
            version when ``None`` (``score_pipe`` version ``3``: ``score-pipe-3``).
        """
        problem = bodies.check_resource_name(name, "batch endpoint name")
        component = self.component(pipeline_id)
        wanted = deployment_name or bodies.deployment_name_for(
            component.component_name, component.version
        )
        problem = problem or bodies.check_resource_name(wanted, "deployment name")
        if problem:
            raise AzureMLInvalidInputError(problem)
        try:
            endpoint = self.batch_endpoint(name)
            created = False
        except AzureMLNotFoundError:
            endpoint = self._create_endpoint(name, description)
            created = True
        deployments = self.deployments(endpoint.name)
        existing = next((d for d in deployments if d.component_id == component.id), None)
        changed = created
        if existing is None:
            clash = next((d for d in deployments if d.name.lower() == wanted.lower()), None)
            if clash is not None:
                raise AzureMLConflictError(
                    "deploy component",
                    f"{component.id!r} as {wanted!r}",
                    message=(
                        f"deployment {clash.name!r} of batch endpoint {endpoint.name!r} already "
                        f"deploys {clash.component_id!r}; give another deployment_name"
                    ),
                )
            existing = self._create_deployment(endpoint, wanted, component.id, description)
            deployments.append(existing)
            changed = True
        before = endpoint.default_deployment
        if (set_default or not before) and before != existing.name:
            endpoint = self._put_default(endpoint, existing.name)
            changed = True
        replaced = before if before and endpoint.default_deployment != before else None
        return EndpointUpdate(
            self.pipeline_endpoint(endpoint, deployments), changed, replaced, existing.name
        )

    def change_default_version(self, endpoint_id: str, version: str) -> EndpointUpdate:
        """Make the deployment ``version`` the default (a full PUT of the endpoint, an LRO)."""
        endpoint = self.batch_endpoint(endpoint_id)
        deployments = self.deployments(endpoint.name)
        if version not in [d.name for d in deployments]:
            raise AzureMLInvalidInputError(
                f"batch endpoint {endpoint.name!r} has no deployment {version!r}; its "
                f"deployments are {[d.name for d in deployments]}"
            )
        before = endpoint.default_deployment
        if before == version:
            return EndpointUpdate(self.pipeline_endpoint(endpoint, deployments), False)
        endpoint = self._put_default(endpoint, version)
        return EndpointUpdate(self.pipeline_endpoint(endpoint, deployments), True, before)

    def set_pipeline_endpoint_default_version(
        self, endpoint_id: str, version: str
    ) -> PipelineEndpoint:
        return self.change_default_version(endpoint_id, version).endpoint

    def set_pipeline_endpoint_status(
        self, endpoint_id: str, status: EntityStatus | str
    ) -> PipelineEndpoint:
        raise refuse("endpoint status")

    def create_pipeline_endpoint(
        self, name: str, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpoint:
        """Create the batch endpoint ``name`` with a deployment of ``pipeline_id`` as default.

        :raises AzureMLConflictError: the endpoint exists already (as v1 answers 409).
        """
        if self.find_pipeline_endpoint(name) is not None:
            raise AzureMLConflictError(
                "create batch endpoint", quoted(name), message="the endpoint exists already"
            )
        return self.ensure_pipeline_in_endpoint(name, pipeline_id, description=description).endpoint

    def list_pipeline_endpoints(
        self, active_only: bool = True, batch_size: int = 100
    ) -> list[PipelineEndpoint]:
        """The workspace's batch endpoints (the first ``batch_size``), with their deployments.

        Every v2 endpoint is active (v2 has no disabled endpoints), so ``active_only`` keeps all.
        """
        call = calls.arm_call(self.settings, routes.ENDPOINT_LIST)
        endpoints = [BatchEndpoint.from_json(item) for item in self._all_pages(call)]
        return [
            self.pipeline_endpoint(endpoint, self.deployments(endpoint.name))
            for endpoint in endpoints[: max(0, int(batch_size))]
        ]

    def add_pipeline_version(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> EndpointUpdate:
        """Deploy ``pipeline_id`` behind the existing batch endpoint ``endpoint_id``; a component
        deployed there already keeps its deployment."""
        endpoint = self.batch_endpoint(endpoint_id)
        return self.ensure_pipeline_in_endpoint(endpoint.name, pipeline_id, set_default=set_default)

    def add_pipeline_to_endpoint(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> PipelineEndpoint:
        return self.add_pipeline_version(endpoint_id, pipeline_id, set_default=set_default).endpoint

    def list_pipeline_endpoint_versions(self, endpoint_id: str) -> list[PipelineVersion]:
        """The endpoint's deployments as versions (version = deployment name)."""
        return self.get_pipeline_endpoint(endpoint_id).versions

    def list_pipeline_endpoint_pipelines(
        self, endpoint_id: str, active_only: bool = False
    ) -> list[PublishedPipeline]:
        """The component versions the endpoint's deployments run (v2 components are never
        disabled, so ``active_only`` keeps all)."""
        versions = self.list_pipeline_endpoint_versions(endpoint_id)
        return [self.pipeline_of(self.component(v.pipeline_id)) for v in versions if v.pipeline_id]

    def location(self) -> str:
        """The workspace's region, which every endpoint and deployment PUT carries."""
        if self._location is None:
            workspace = self.arm.execute(calls.arm_call(self.settings, routes.WORKSPACE_GET))
            self._location = str(pick(workspace.json(), "location", default="") or "")
        return self._location

    def _create_endpoint(self, name: str, description: str | None) -> BatchEndpoint:
        body = bodies.endpoint_body(self.location(), description=description)
        call = calls.arm_call(
            self.settings, routes.ENDPOINT_PUT, quoted(name), body=body, endpoint_name=name
        )
        try:
            self.finish_operation(call, self.arm.execute(call))
        except AzureMLConflictError:
            log.info("Batch endpoint %s was created by another caller; using it", name)
        log.info("Created batch endpoint %s", name)
        return self.batch_endpoint(name)

    def _create_deployment(
        self, endpoint: BatchEndpoint, name: str, component_id: str, description: str | None
    ) -> BatchDeployment:
        body = bodies.deployment_body(self.location(), component_id, description=description)
        call = calls.arm_call(
            self.settings,
            routes.DEPLOYMENT_PUT,
            f"{name!r} of batch endpoint {endpoint.name!r}",
            body=body,
            endpoint_name=endpoint.name,
            deployment_name=name,
        )
        self.finish_operation(call, self.arm.execute(call))
        log.info("Deployed %s as %s behind batch endpoint %s", component_id, name, endpoint.name)
        return self.deployment(endpoint.name, name)

    def _put_default(self, endpoint: BatchEndpoint, deployment: str) -> BatchEndpoint:
        call = calls.arm_call(
            self.settings,
            routes.ENDPOINT_PUT,
            f"{endpoint.name!r} (default deployment {deployment!r})",
            body=bodies.endpoint_with_default(endpoint, deployment),
            endpoint_name=endpoint.name,
        )
        self.finish_operation(call, self.arm.execute(call))
        return self.batch_endpoint(endpoint.name)

    # ---------------------------------------------------------------------------------------
    # Plumbing
    # ---------------------------------------------------------------------------------------
    def finish_operation(self, call: Call, reply: Reply) -> Reply:
        """Follow a long-running operation to its end (contract section 2).

        :raises AzureMLServerError: it failed, or did not end within ``lro_timeout_seconds``.
        """
        watch = calls.OperationWatch(
            self.settings, call, reply, self.lro_timeout_seconds, self.lro_poll_seconds
        )
        while not watch.done:
            self.sleep(watch.wait())
            watch.update(self.arm.execute(watch.poll_call()))
        return watch.reply

    def _all_pages(self, call: Call) -> list[Any]:
        items, next_link = page_items(self.arm.execute(call).json())
        seen: set[str] = set()
        while next_link and next_link not in seen:
            seen.add(next_link)
            page = calls.absolute_call(
                self.settings, call.operation, "GET", next_link, same_origin=True
            )
            more, next_link = page_items(self.arm.execute(page).json())
            items.extend(more)
        return items


def _endpoint_name(value: str) -> str:
    """A batch endpoint's name from its name or its ARM id."""
    value = check_id(value, "pipeline_endpoint_id")
    marker = "/batchendpoints/"
    index = value.lower().find(marker)
    if index < 0:
        return value
    return value[index + len(marker) :].split("/")[0]


def component_ref(value: str) -> dict[str, str]:
    """``name`` and ``version`` of a component ARM id or ``azureml:name:version``."""
    parts = routes.parse_component_id(value)
    if parts is not None:
        return {"name": parts["component_name"], "version": parts["version"]}
    text = value[len("azureml:") :] if value.startswith("azureml:") else value
    name, sep, version = text.rpartition(":")
    if sep and name and version:
        return {"name": name, "version": version}
    raise AzureMLInvalidInputError(
        f"pipeline_id {value!r} is not a v2 component id: give the component version's ARM id "
        "(/subscriptions/.../components/{name}/versions/{version}) or azureml:{name}:{version}"
    )
