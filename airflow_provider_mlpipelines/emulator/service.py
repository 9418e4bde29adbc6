"""Rules of pipeline endpoints, and the workspace service that joins them to graphs and pipelines.

Handlers parse a request and call one method here; every decision (does this id exist, is this
version listed, may this pipeline be submitted to) is made in this layer, which raises
:class:`EmulatorError` with the contract's status and code. The graph and published pipeline
rules are those of :mod:`.pipeline_rules`.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineCreationInfo,
    PipelineEndpoint,
    PipelineEndpointCreationInfo,
)
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.bodies import require_str_map, wire_key
from airflow_provider_mlpipelines.emulator.errors import (
    EmulatorError,
    bad_request,
    conflict,
    listing,
    lookup,
    not_found,
)
from airflow_provider_mlpipelines.emulator.pipeline_rules import PipelineRules
from airflow_provider_mlpipelines.emulator.records import EndpointRecord, PipelineRecord, new_id
from airflow_provider_mlpipelines.emulator.spec_model import PipelineSpec

log = logging.getLogger(__name__)

# Endpoint messages name these fields by the same wire keys as the publishing rules do.
_NAME_FIELD = wire_key(PipelineCreationInfo, "name")
_PROPERTIES_FIELD = wire_key(PipelineCreationInfo, "properties")
_PIPELINE_ID_FIELD = wire_key(PipelineEndpointCreationInfo, "pipeline_id")
_ID_FIELD = wire_key(PipelineEndpoint, "id")
_ETAG_FIELD = wire_key(PipelineEndpoint, "etag")
_VERSIONS_FIELD = wire_key(PipelineEndpoint, "versions")
_DEFAULT_VERSION_FIELD = wire_key(PipelineEndpoint, "default_version")


class WorkspaceService(PipelineRules):
    """Graphs, published pipelines and endpoints of the emulated workspace.

    :param workspace: the spec.
    :param state: the records.
    :param datastores: resolves data references.
    """

    # ------------------------------------------------------------------------------ endpoints
    def create_endpoint(self, info: PipelineEndpointCreationInfo) -> EndpointRecord:
        """Create an endpoint whose version ``"0"`` (the default) is ``info.pipeline_id``.

        :param info: the ``PipelineEndpointCreationInfo`` body.
        :raises EmulatorError: 400 for a missing name or pipeline; 404 for an unknown pipeline;
            409 for a name already taken.
        """
        name = _check_endpoint_name(info.name)
        self._require_free_name(name, None)
        if not info.pipeline_id:
            raise bad_request(
                f"{_PIPELINE_ID_FIELD} is required", "MissingField", _PIPELINE_ID_FIELD
            )
        pipeline = self.state.pipelines.get(info.pipeline_id)
        if pipeline is None:
            raise not_found("Pipeline", info.pipeline_id, _PIPELINE_ID_FIELD)
        endpoint = EndpointRecord(
            id=new_id(),
            name=name,
            default_version="0",
            versions=[["0", pipeline.id]],
            description=info.description,
            properties=require_str_map(info.properties, _PROPERTIES_FIELD),
        )
        self.state.save_endpoint(endpoint)
        log.info("Created pipeline endpoint %s (%s)", name, endpoint.id)
        return endpoint

    def get_endpoint(self, endpoint_id: str) -> EndpointRecord:
        """An endpoint by id.

        :param endpoint_id: the id.
        :raises EmulatorError: 404 when unknown.
        """
        return lookup(self.state.endpoints, "PipelineEndpoint", endpoint_id)

    def get_endpoint_by_name(self, name: str | None) -> EndpointRecord:
        """An endpoint by name.

        :param name: the ``Name`` query value.
        :raises EmulatorError: 400 without a name; 404 when no endpoint has it.
        """
        if not name:
            raise bad_request(
                f"The query parameter {routes.QUERY_ENDPOINT_NAME} is required",
                "MissingField",
                routes.QUERY_ENDPOINT_NAME,
            )
        endpoint_id = self.state.endpoint_ids_by_name.get(name)
        if endpoint_id is None:
            raise not_found("PipelineEndpoint", name, routes.QUERY_ENDPOINT_NAME)
        return self.state.endpoints[endpoint_id]

    def list_endpoints(self, active_only: bool, batch_size: int | None) -> list[EndpointRecord]:
        """Endpoints, oldest first, at most ``batch_size`` of them.

        :param active_only: leave out disabled and deprecated ones.
        :param batch_size: the ``BatchSize`` header value.
        """
        endpoints = sorted(self.state.endpoints.values(), key=lambda e: e.created)
        if active_only:
            endpoints = [e for e in endpoints if e.status is EntityStatus.ACTIVE]
        return endpoints if batch_size is None else endpoints[:batch_size]

    def endpoint_pipelines(self, endpoint_id: str, active_only: bool) -> list[PipelineRecord]:
        """The published pipelines of an endpoint, in version order.

        :param endpoint_id: the endpoint.
        :param active_only: leave out disabled and deprecated pipelines.
        """
        endpoint = self.get_endpoint(endpoint_id)
        pipelines = [
            self.state.pipelines[p] for _, p in endpoint.versions if p in self.state.pipelines
        ]
        if active_only:
            pipelines = [p for p in pipelines if p.status is EntityStatus.ACTIVE]
        return pipelines

    def update_endpoint(self, endpoint_id: str, entity: PipelineEndpoint) -> EndpointRecord:
        """Replace an endpoint with ``entity`` (add a version, set the default, status, rename).

        Versions already listed are immutable: an update may add versions, never remove or
        repoint one. An ``Etag`` that is given must be the current one.

        :param endpoint_id: the endpoint.
        :param entity: the whole entity as the client wants it.
        :raises EmulatorError: 404 for an unknown endpoint or pipeline; 400 for an invalid
            entity; 409 for a taken name or version label; 412 for a stale ``Etag``.
        """
        endpoint = self.get_endpoint(endpoint_id)
        if entity.id and entity.id != endpoint_id:
            raise bad_request(
                f"The body's {_ID_FIELD} '{entity.id}' differs from the endpoint id "
                f"'{endpoint_id}' in the path",
                "IdMismatch",
                _ID_FIELD,
            )
        if entity.etag and entity.etag != endpoint.etag:
            # 412, as HTTP has it for a failed precondition: a concurrent writer changed the
            # endpoint after this client read it, and a PUT of the whole entity would undo that.
            raise EmulatorError(
                412,
                "EtagMismatch",
                f"PipelineEndpoint '{endpoint.name}' changed since it was read ({_ETAG_FIELD} "
                f"{entity.etag} is not the current {endpoint.etag}); read it again and retry",
                _ETAG_FIELD,
            )
        name = _check_endpoint_name(entity.name or endpoint.name)
        self._require_free_name(name, endpoint.id)
        versions = self._check_versions(endpoint, entity)
        default = (
            endpoint.default_version if entity.default_version is None else entity.default_version
        )
        if default not in [v for v, _ in versions]:
            raise bad_request(
                f"{_DEFAULT_VERSION_FIELD} '{default}' is not in {_VERSIONS_FIELD}; "
                f"versions: {listing([v for v, _ in versions])}",
                "VersionNotFound",
                _DEFAULT_VERSION_FIELD,
            )
        old_name = endpoint.name
        endpoint.name = name
        endpoint.versions = versions
        endpoint.default_version = default
        endpoint.status = entity.status
        endpoint.description = entity.description
        endpoint.properties = dict(entity.properties)
        endpoint.tags = dict(entity.tags)
        endpoint.touch()
        self.state.save_endpoint(endpoint, old_name)
        return endpoint

    def _check_versions(
        self, endpoint: EndpointRecord, entity: PipelineEndpoint
    ) -> list[list[str]]:
        given = [[str(v.version), v.pipeline_id] for v in entity.versions]
        if not given:
            raise bad_request(
                f"{_VERSIONS_FIELD} must not be empty", "InvalidBody", _VERSIONS_FIELD
            )
        given_map = dict((v, p) for v, p in given)
        for version, pipeline_id in endpoint.versions:
            if given_map.get(version) not in (None, pipeline_id):
                # What two writers that both picked the next free label collide on.
                raise conflict(
                    f"Version '{version}' of endpoint '{endpoint.name}' already names pipeline "
                    f"{pipeline_id}; read the endpoint again and add the next version",
                    "DuplicateVersion",
                    _VERSIONS_FIELD,
                )
            if given_map.get(version) != pipeline_id:
                raise bad_request(
                    f"Version '{version}' (pipeline {pipeline_id}) of endpoint '{endpoint.name}' "
                    "cannot be removed or repointed; add new versions instead",
                    "InvalidVersionList",
                    _VERSIONS_FIELD,
                )
        seen_versions: set[str] = set()
        seen_pipelines: dict[str, str] = {}
        for version, pipeline_id in given:
            if not version or version in seen_versions:
                raise bad_request(
                    f"Version '{version}' is empty or listed twice",
                    "InvalidVersionList",
                    _VERSIONS_FIELD,
                )
            if pipeline_id in seen_pipelines:
                raise bad_request(
                    f"Pipeline {pipeline_id} is already in endpoint '{endpoint.name}' as version "
                    f"'{seen_pipelines[pipeline_id]}'",
                    "DuplicatePipeline",
                    _VERSIONS_FIELD,
                )
            if pipeline_id not in self.state.pipelines:
                raise not_found("Pipeline", pipeline_id, _VERSIONS_FIELD)
            seen_versions.add(version)
            seen_pipelines[pipeline_id] = version
        return given

    def resolve_endpoint_submission(
        self, endpoint_id: str, path_version: str | None, query_version: str | None
    ) -> tuple[EndpointRecord, PipelineRecord]:
        """The endpoint and pipeline a submission runs.

        The version comes from the path, the query, both (they must agree) or neither (the
        default version).

        :param endpoint_id: the endpoint.
        :param path_version: the version in the path, if any.
        :param query_version: the ``pipelineVersion`` query value, if any.
        :raises EmulatorError: 404 for an unknown endpoint or version; 400 when the path and
            query disagree or the endpoint or its pipeline is disabled.
        """
        endpoint = self.get_endpoint(endpoint_id)
        if path_version and query_version and path_version != query_version:
            raise bad_request(
                f"The version in the path ('{path_version}') and the pipelineVersion query "
                f"('{query_version}') disagree",
                "VersionMismatch",
                routes.QUERY_PIPELINE_VERSION,
            )
        if endpoint.status is not EntityStatus.ACTIVE:
            raise bad_request(
                f"PipelineEndpoint '{endpoint.name}' is {endpoint.status.value}; set its "
                "EntityStatus to Active before submitting",
                "PipelineEndpointDisabled",
                endpoint.id,
            )
        version = path_version or query_version or endpoint.default_version
        pipeline_id = endpoint.pipeline_of(version)
        if pipeline_id is None:
            raise EmulatorError(
                404,
                "NotFound",
                f"Version '{version}' of pipeline endpoint '{endpoint.name}' was not found; "
                f"versions: {listing([v for v, _ in endpoint.versions])}",
                routes.QUERY_PIPELINE_VERSION,
            )
        pipeline = self.get_pipeline(pipeline_id)
        self.check_submittable(pipeline)
        return endpoint, pipeline

    def _require_free_name(self, name: str, own_id: str | None) -> None:
        holder = self.state.endpoint_ids_by_name.get(name)
        if holder is not None and holder != own_id:
            raise conflict(
                f"A pipeline endpoint named '{name}' already exists ({holder})",
                "DuplicateName",
                _NAME_FIELD,
            )


def _check_endpoint_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_request(
            f"{_NAME_FIELD} is required for a pipeline endpoint", "MissingField", _NAME_FIELD
        )
    if name != name.strip() or len(name) > 255:
        raise bad_request(
            f"Endpoint name '{name}' must not start or end with spaces, and has at most 255 chars",
            "InvalidName",
            _NAME_FIELD,
        )
    return name


def parameter_strings(spec: PipelineSpec) -> dict[str, str]:
    """The default parameter values of a pipeline as wire strings.

    :param spec: the pipeline.
    """
    return {p.name: params_mod.to_wire(p.type, p.default) for p in spec.parameters}
