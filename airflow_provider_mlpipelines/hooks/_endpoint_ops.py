"""Pipeline endpoint operations of the sync hook (a mixin, to keep each module small)."""

from __future__ import annotations

from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineEndpoint,
    PipelineEndpointCreationInfo,
    PipelineVersion,
    PublishedPipeline,
)
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import AzureMLNotFoundError
from airflow_provider_mlpipelines.hooks import _calls, _endpoints
from airflow_provider_mlpipelines.hooks._base import (
    active_only_query,
    check_id,
    entity_status,
    quoted,
)
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings
from airflow_provider_mlpipelines.hooks._transport import Call, Reply


class PipelineEndpointOperations:
    """Create, read and change pipeline endpoints: one fixed URL in front of many versions.

    Mixed into :class:`~airflow_provider_mlpipelines.hooks.azure_ml_pipelines.AzureMLPipelinesHook`,
    which provides ``settings``, ``_call`` and ``_send``.
    """

    settings: ConnectionSettings

    def _call(self, route: routes.Route, resource: str | None = None, **kwargs: Any) -> Call:
        raise NotImplementedError

    def _send(self, call: Call, policy: Any = None) -> Reply:
        raise NotImplementedError

    def create_pipeline_endpoint(
        self, name: str, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpoint:
        """Create an endpoint whose first version (``"0"``, the default) is ``pipeline_id``.

        :param name: the endpoint's name, unique in the workspace (409 otherwise).
        :param pipeline_id: the published pipeline behind version ``"0"``.
        :param description: the endpoint's description.
        """
        info = PipelineEndpointCreationInfo(
            name=check_id(name, "name"),
            description=description,
            pipeline_id=check_id(pipeline_id, "pipeline_id"),
        )
        call = self._call(
            routes.ENDPOINT_CREATE, quoted(name), body=info.to_json(), idempotent=False
        )
        return PipelineEndpoint.from_json(self._send(call).json())

    def get_pipeline_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None
    ) -> PipelineEndpoint:
        """The endpoint with ``endpoint_id`` or called ``name``.

        :param endpoint_id: the endpoint's id.
        :param name: the endpoint's name (give exactly one of the two).
        """
        return PipelineEndpoint.from_json(self._endpoint_json(endpoint_id, name))

    def find_pipeline_endpoint(self, name: str) -> PipelineEndpoint | None:
        """The endpoint called ``name``, or ``None`` if there is none.

        :param name: the endpoint's name.
        """
        try:
            return self.get_pipeline_endpoint(name=name)
        except AzureMLNotFoundError:
            return None

    def list_pipeline_endpoints(
        self, active_only: bool = True, batch_size: int = 100
    ) -> list[PipelineEndpoint]:
        """The workspace's endpoints.

        :param active_only: leave out disabled endpoints.
        :param batch_size: the most endpoints to return (the SDK's default is 100).
        """
        call = self._call(
            routes.ENDPOINT_LIST,
            params=active_only_query(active_only),
            headers={routes.HEADER_BATCH_SIZE: str(int(batch_size))},
        )
        return [PipelineEndpoint.from_json(item) for item in self._send(call).json() or []]

    def add_pipeline_to_endpoint(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> PipelineEndpoint:
        """Add a published pipeline as the endpoint's next version (read-modify-write).

        A pipeline already listed keeps its version and is not added again; ``set_default``
        still makes that version the default. Nothing is written when nothing changes.

        :param endpoint_id: the endpoint.
        :param pipeline_id: the published pipeline to add.
        :param set_default: make its version the endpoint's default.
        """
        raw = self._endpoint_json(endpoint_id, None)
        change = _endpoints.add_pipeline(raw, check_id(pipeline_id, "pipeline_id"), set_default)
        return self._put_endpoint(endpoint_id, raw, change)

    def set_pipeline_endpoint_default_version(
        self, endpoint_id: str, version: str
    ) -> PipelineEndpoint:
        """Make ``version`` the default; an unknown version is refused before any write.

        :param endpoint_id: the endpoint.
        :param version: one of its versions.
        :raises AzureMLInvalidInputError: the version does not exist (the message lists those
            that do).
        """
        raw = self._endpoint_json(endpoint_id, None)
        return self._put_endpoint(endpoint_id, raw, _endpoints.set_default(raw, version))

    def set_pipeline_endpoint_status(
        self, endpoint_id: str, status: EntityStatus | str
    ) -> PipelineEndpoint:
        """Enable or disable an endpoint.

        :param endpoint_id: the endpoint.
        :param status: ``Active`` or ``Disabled`` (name, code or :class:`EntityStatus`).
        """
        wanted = entity_status(status)
        raw = self._endpoint_json(endpoint_id, None)
        return self._put_endpoint(endpoint_id, raw, _endpoints.set_status(raw, wanted))

    def list_pipeline_endpoint_versions(self, endpoint_id: str) -> list[PipelineVersion]:
        """The endpoint's versions and the pipelines behind them.

        :param endpoint_id: the endpoint.
        """
        return self.get_pipeline_endpoint(endpoint_id).versions

    def list_pipeline_endpoint_pipelines(
        self, endpoint_id: str, active_only: bool = False
    ) -> list[PublishedPipeline]:
        """The published pipelines behind the endpoint's versions.

        :param endpoint_id: the endpoint.
        :param active_only: leave out disabled and deprecated pipelines.
        """
        endpoint_id = check_id(endpoint_id, "endpoint_id")
        call = self._call(
            routes.ENDPOINT_PIPELINES,
            quoted(endpoint_id),
            params=active_only_query(active_only),
            endpoint_id=endpoint_id,
        )
        return [PublishedPipeline.from_json(item) for item in self._send(call).json() or []]

    def _endpoint_json(self, endpoint_id: str | None, name: str | None) -> Any:
        call = _calls.endpoint_get_call(self.settings, endpoint_id, name)
        return self._send(call).json()

    def _put_endpoint(
        self, endpoint_id: str, raw: Any, change: _endpoints.EndpointChange
    ) -> PipelineEndpoint:
        if not change.changed:
            return change.endpoint
        call = self._call(
            routes.ENDPOINT_UPDATE,
            f"{quoted(endpoint_id)} ({change.description})",
            body=_endpoints.update_body(raw, change.endpoint),
            endpoint_id=endpoint_id,
        )
        return PipelineEndpoint.from_json(self._send(call).json())
