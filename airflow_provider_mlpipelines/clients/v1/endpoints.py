"""Pipeline endpoint operations of the v1 client: one fixed URL in front of numbered versions."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineEndpoint,
    PipelineEndpointCreationInfo,
    PipelineVersion,
    PublishedPipeline,
)
from airflow_provider_mlpipelines.api.results import EndpointUpdate
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.clients.core.checks import check_id, entity_status, quoted
from airflow_provider_mlpipelines.clients.v1 import calls
from airflow_provider_mlpipelines.clients.v1 import endpoint_changes as changes
from airflow_provider_mlpipelines.clients.v1.base import V1Base
from airflow_provider_mlpipelines.clients.v1.calls import active_only_query
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    AzureMLServerError,
)

log = logging.getLogger(__name__)

#: How many times an endpoint update reads, changes and writes before giving up, when other
#: writers keep changing the endpoint in between (412) or the answer to a write was lost.
MAX_ENDPOINT_UPDATE_ATTEMPTS = 8
#: Statuses after which a write may have taken effect although it failed.
_MAYBE_WRITTEN_STATUSES = frozenset({None, 500, 502, 504})


class V1Endpoints(V1Base):
    """Create, read and change pipeline endpoints: one fixed URL in front of many versions."""

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
        return self.add_pipeline_version(endpoint_id, pipeline_id, set_default=set_default).endpoint

    def add_pipeline_version(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> EndpointUpdate:
        """Like :meth:`add_pipeline_to_endpoint`, and say which default version it replaced.

        Safe against concurrent writers: a write refused because the endpoint changed since it
        was read (412) is redone on a fresh read, so two callers adding different pipelines
        both get a version of their own.

        :param endpoint_id: the endpoint.
        :param pipeline_id: the published pipeline to add.
        :param set_default: make its version the endpoint's default.
        """
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        return self._update_endpoint(
            endpoint_id, lambda raw: changes.add_pipeline(raw, pipeline_id, set_default)
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
        """Put ``pipeline_id`` behind the endpoint ``name``, creating the endpoint if needed.

        When another caller creates the endpoint between the lookup and the creation (409),
        the pipeline is added to that endpoint instead.

        :param name: the endpoint's name.
        :param pipeline_id: the published pipeline.
        :param description: the description of an endpoint created here.
        :param set_default: make the pipeline's version the default of an existing endpoint.
        :param deployment_name: v2 only (a batch deployment's name); v1 numbers its versions.
        """
        if deployment_name:
            raise AzureMLInvalidInputError(
                f"deployment_name {deployment_name!r} applies to v2 connections (batch "
                "endpoints); a v1 pipeline endpoint numbers its versions itself"
            )
        endpoint = self.find_pipeline_endpoint(name)
        if endpoint is None:
            try:
                created = self.create_pipeline_endpoint(name, pipeline_id, description)
            except AzureMLServerError as exc:
                if exc.status_code not in _MAYBE_WRITTEN_STATUSES:
                    raise
                # The answer was lost: the endpoint may exist now; the add below is a no-op
                # for a pipeline that it already lists.
                endpoint = self.find_pipeline_endpoint(name)
                if endpoint is None:
                    raise
            except AzureMLConflictError:
                log.info("Endpoint %r was created concurrently; adding to it", name)
                endpoint = self.get_pipeline_endpoint(name=name)
            else:
                log.info("Created pipeline endpoint %s (%s)", name, created.id)
                return EndpointUpdate(created, changed=True)
        return self.add_pipeline_version(endpoint.id, pipeline_id, set_default=set_default)

    def set_pipeline_endpoint_default_version(
        self, endpoint_id: str, version: str
    ) -> PipelineEndpoint:
        """Make ``version`` the default; an unknown version is refused before any write.

        :param endpoint_id: the endpoint.
        :param version: one of its versions.
        :raises AzureMLInvalidInputError: the version does not exist (the message lists those
            that do).
        """
        return self.change_default_version(endpoint_id, version).endpoint

    def change_default_version(self, endpoint_id: str, version: str) -> EndpointUpdate:
        """Like :meth:`set_pipeline_endpoint_default_version`, and say which default it replaced.

        :param endpoint_id: the endpoint.
        :param version: one of its versions.
        :raises AzureMLInvalidInputError: the version does not exist.
        """
        return self._update_endpoint(endpoint_id, lambda raw: changes.set_default(raw, version))

    def set_pipeline_endpoint_status(
        self, endpoint_id: str, status: EntityStatus | str
    ) -> PipelineEndpoint:
        """Enable or disable an endpoint.

        :param endpoint_id: the endpoint.
        :param status: ``Active`` or ``Disabled`` (name, code or :class:`EntityStatus`).
        """
        wanted = entity_status(status)
        return self._update_endpoint(
            endpoint_id, lambda raw: changes.set_status(raw, wanted)
        ).endpoint

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
        call = calls.endpoint_get_call(self.settings, endpoint_id, name)
        raw = self._send(call).json()
        return raw if name is None else changes.endpoint_by_name(raw, name)

    def _update_endpoint(
        self,
        endpoint_id: str,
        change_of: Callable[[Mapping[str, Any]], changes.EndpointChange],
    ) -> EndpointUpdate:
        """Read the endpoint, apply ``change_of`` and write it, until a write sticks.

        The write carries the ``Etag`` that was read, so a concurrent change makes it fail
        (412) instead of being overwritten; the change is then recomputed on a fresh read. A
        write whose answer was lost is never resent as it was (its ``Etag`` may be stale and
        its change may be in place): the endpoint is read again and the change recomputed.
        """
        endpoint_id = check_id(endpoint_id, "endpoint_id")
        maybe_written: PipelineEndpoint | None = None
        last_error: AzureMLConflictError | None = None
        for attempt in range(1, MAX_ENDPOINT_UPDATE_ATTEMPTS + 1):
            raw = self._endpoint_json(endpoint_id, None)
            before = PipelineEndpoint.from_json(raw)
            change = change_of(raw)
            if not change.changed:
                if maybe_written is None:
                    return EndpointUpdate(change.endpoint, changed=False)
                # The write whose answer was lost took effect.
                replaced = changes.replaced_default(maybe_written, change.endpoint)
                return EndpointUpdate(change.endpoint, True, replaced)
            try:
                written = self._put_endpoint(endpoint_id, raw, change)
            except AzureMLConflictError as exc:
                last_error = exc
                log.info(
                    "Endpoint %s changed while it was updated (%s), attempt %d of %d; "
                    "reading it again",
                    endpoint_id,
                    exc.code or exc.status_code,
                    attempt,
                    MAX_ENDPOINT_UPDATE_ATTEMPTS,
                )
                # A little jitter, so that writers that collided do not collide again.
                self.sleep(random.uniform(0.0, 0.05 * attempt))
                continue
            except AzureMLServerError as exc:
                if exc.status_code not in _MAYBE_WRITTEN_STATUSES:
                    raise
                log.warning(
                    "Endpoint %s: the answer to the update was lost (%s); reading it again to "
                    "see whether the change is in place",
                    endpoint_id,
                    exc,
                )
                maybe_written = before
                continue
            return EndpointUpdate(written, True, changes.replaced_default(before, written))
        raise AzureMLConflictError(
            "update endpoint",
            quoted(endpoint_id),
            status_code=last_error.status_code if last_error else None,
            code=last_error.code if last_error else None,
            message=(
                f"the endpoint kept changing or the answers kept getting lost; gave up after "
                f"{MAX_ENDPOINT_UPDATE_ATTEMPTS} attempts"
                + (f" (last: {last_error.service_message})" if last_error else "")
            ),
        )

    def _put_endpoint(
        self, endpoint_id: str, raw: Any, change: changes.EndpointChange
    ) -> PipelineEndpoint:
        # Not idempotent for the transport: resending the same body after a lost answer would
        # carry a stale Etag; _update_endpoint re-reads instead.
        call = self._call(
            routes.ENDPOINT_UPDATE,
            f"{quoted(endpoint_id)} ({change.description})",
            body=changes.update_body(raw, change.endpoint),
            idempotent=False,
            endpoint_id=endpoint_id,
        )
        return PipelineEndpoint.from_json(self._send(call).json())
