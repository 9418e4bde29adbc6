"""The v1 calls both v1 clients make, built once (pure: no I/O).

Each function turns arguments into a
:class:`~airflow_provider_mlpipelines.clients.core.transport.Call` for a route of
:mod:`airflow_provider_mlpipelines.api.routes`, so the sync and the async v1 client send
byte-for-byte the same requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
from airflow_provider_mlpipelines.api.run_tags import SUBMISSION_ID_TAG
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.transport import Call
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAmbiguousSubmissionError,
    AzureMLInvalidInputError,
    AzureMLPipelinesError,
    format_choices,
)


def build_call(
    settings: ConnectionSettings,
    route: routes.Route,
    resource: str | None = None,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    idempotent: bool = True,
    checkable: bool = False,
    bounded: bool = True,
    **values: str,
) -> Call:
    """A :class:`Call` for ``route`` in the connection's workspace.

    :param settings: the connection settings (base URL and workspace).
    :param route: the route template.
    :param resource: the object it applies to, for messages, e.g. ``"'abc'"``.
    :param values: the route's own placeholders (``pipeline_id=...``).
    """
    path = route.format(**settings.workspace, **values)
    return Call(
        Operation(route.name, resource),
        route.method,
        settings.url(path),
        params=params,
        headers=headers,
        body=body,
        idempotent=idempotent,
        checkable=checkable,
        bounded=bounded,
    )


def check_log_kind(kind: str) -> str:
    """Return the log kind as the service spells it, or raise naming the accepted kinds."""
    for known in routes.STEP_LOG_KINDS:
        if kind.lower() == known.lower():
            return known
    raise AzureMLInvalidInputError(
        f"log kind {kind!r} is not one of {format_choices(routes.STEP_LOG_KINDS)}"
    )


def active_only_query(active_only: bool) -> dict[str, str]:
    """The ``activeOnly`` query parameter of the list routes."""
    return {routes.QUERY_ACTIVE_ONLY: "true" if active_only else "false"}


def endpoint_get_call(
    settings: ConnectionSettings, endpoint_id: str | None, name: str | None
) -> Call:
    """Get an endpoint by id or by name; exactly one of them must be given."""
    if (endpoint_id is None) == (name is None):
        raise AzureMLInvalidInputError("give exactly one of endpoint_id and name")
    if name is not None:
        name = check_id(name, "name")
        return build_call(
            settings,
            routes.ENDPOINT_GET_BY_NAME,
            f"named {quoted(name)}",
            params={routes.QUERY_ENDPOINT_NAME: name},
        )
    endpoint_id = check_id(endpoint_id, "endpoint_id")
    return build_call(
        settings, routes.ENDPOINT_GET_BY_ID, quoted(endpoint_id), endpoint_id=endpoint_id
    )


def run_call(settings: ConnectionSettings, run_id: str) -> Call:
    run_id = check_id(run_id, "run_id")
    return build_call(settings, routes.RUN_GET, quoted(run_id), run_id=run_id)


def cancel_call(settings: ConnectionSettings, run_id: str) -> Call:
    run_id = check_id(run_id, "run_id")
    # A cancel often follows the deadline (a timeout, on_kill): it keeps its retries.
    return build_call(settings, routes.RUN_CANCEL, quoted(run_id), bounded=False, run_id=run_id)


def step_statuses_call(settings: ConnectionSettings, run_id: str) -> Call:
    run_id = check_id(run_id, "run_id")
    # An empty node list asks for every node.
    return build_call(settings, routes.RUN_STEP_STATUSES, quoted(run_id), body=[], run_id=run_id)


def step_log_call(settings: ConnectionSettings, run_id: str, node_id: str, kind: str) -> Call:
    """Read one step's log; ``kind`` must already be one of ``routes.STEP_LOG_KINDS``."""
    return _step_call(settings, routes.RUN_STEP_LOG, run_id, node_id, kind)


def step_outputs_call(settings: ConnectionSettings, run_id: str, node_id: str) -> Call:
    """Read where one step wrote its outputs (``{outputName: NodeOutput}``)."""
    return _step_call(settings, routes.RUN_STEP_OUTPUTS, run_id, node_id)


def _step_call(
    settings: ConnectionSettings,
    route: routes.Route,
    run_id: str,
    node_id: str,
    log_kind: str = "",
) -> Call:
    # The service names the step in the body: a list holding its node id.
    run_id = check_id(run_id, "run_id")
    node_id = check_id(node_id, "node_id")
    resource = f"{log_kind} of step {quoted(node_id)}".lstrip() + f" in run {quoted(run_id)}"
    return build_call(settings, route, resource, body=[node_id], run_id=run_id, log_kind=log_kind)


def datastore_call(settings: ConnectionSettings, name: str) -> Call:
    """Read one datastore (its type and storage account) from the data store service."""
    name = check_id(name, "datastore")
    return build_call(settings, routes.DATASTORE_GET, quoted(name), datastore_name=name)


def history_run_call(
    settings: ConnectionSettings, run_id: str, experiment_name: str | None
) -> Call:
    run_id = check_id(run_id, "run_id")
    if experiment_name is None:
        return build_call(settings, routes.HISTORY_RUN, quoted(run_id), run_id=run_id)
    return build_call(
        settings,
        routes.HISTORY_EXPERIMENT_RUN,
        f"{quoted(run_id)} in experiment {quoted(experiment_name)}",
        run_id=run_id,
        experiment_name=check_id(experiment_name, "experiment_name"),
    )


def history_details_call(settings: ConnectionSettings, run_id: str, experiment_name: str) -> Call:
    run_id = check_id(run_id, "run_id")
    return build_call(
        settings,
        routes.HISTORY_RUN_DETAILS,
        f"{quoted(run_id)} in experiment {quoted(experiment_name)}",
        run_id=run_id,
        experiment_name=check_id(experiment_name, "experiment_name"),
    )


def child_page_call(
    settings: ConnectionSettings,
    run_id: str,
    experiment_name: str,
    page_size: int,
    continuation_token: str | None,
) -> Call:
    """One page of a run's children; pass the previous page's token to get the next one."""
    if page_size < 1:
        raise AzureMLInvalidInputError(f"page_size must be positive, got {page_size!r}")
    run_id = check_id(run_id, "run_id")
    params = {routes.QUERY_TOP: str(int(page_size))}
    if continuation_token:
        params[routes.QUERY_CONTINUATION] = continuation_token
    return build_call(
        settings,
        routes.HISTORY_RUN_CHILDREN,
        f"of run {quoted(run_id)} in experiment {quoted(experiment_name)}",
        params=params,
        run_id=run_id,
        experiment_name=check_id(experiment_name, "experiment_name"),
    )


def next_continuation(token: str | None, seen: set[str]) -> str | None:
    """The token of the next page, or ``None`` when paging is over (or the service loops)."""
    if not token or token in seen:
        return None
    seen.add(token)
    return token


@dataclass(frozen=True)
class SubmitDestination:
    """Where a submission goes: a published pipeline or an endpoint (and version).

    :param kind: ``"pipeline"`` or ``"endpoint"``.
    :param object_id: the pipeline or endpoint id.
    :param version: the endpoint version, ``None`` for the default.
    :param parent_run_id: the parent run of the new run (``parentRunId``), if any.
    """

    kind: str
    object_id: str
    version: str | None = None
    parent_run_id: str | None = None

    @classmethod
    def pipeline(cls, pipeline_id: str, parent_run_id: str | None = None) -> SubmitDestination:
        return cls("pipeline", pipeline_id, parent_run_id=parent_run_id)

    @classmethod
    def endpoint(
        cls, endpoint_id: str, version: str | None = None, parent_run_id: str | None = None
    ) -> SubmitDestination:
        return cls("endpoint", endpoint_id, version=version, parent_run_id=parent_run_id)

    def call(self, settings: ConnectionSettings, submission: PipelineSubmissionInfo) -> Call:
        """The submission call; not idempotent, but checkable through its submission tag."""
        body = submission.to_json()
        # Both submit routes take parentRunId in the query (contract sections 2 and 3).
        parent = {routes.QUERY_PARENT_RUN_ID: self.parent_run_id} if self.parent_run_id else {}
        if self.kind == "pipeline":
            return build_call(
                settings,
                routes.PIPELINE_SUBMIT,
                quoted(self.object_id),
                params=parent or None,
                body=body,
                idempotent=False,
                checkable=True,
                pipeline_id=self.object_id,
            )
        if self.version is None:
            return build_call(
                settings,
                routes.ENDPOINT_SUBMIT,
                quoted(self.object_id),
                params=parent or None,
                body=body,
                idempotent=False,
                checkable=True,
                endpoint_id=self.object_id,
            )
        # The SDK's client names the version in the path and in the query.
        return build_call(
            settings,
            routes.ENDPOINT_SUBMIT_VERSION,
            f"{quoted(self.version)} of {quoted(self.object_id)}",
            params={routes.QUERY_PIPELINE_VERSION: self.version, **parent},
            body=body,
            idempotent=False,
            checkable=True,
            endpoint_id=self.object_id,
            pipeline_version=self.version,
        )


def ambiguous_error(
    call: Call, submission_id: str, lookup_error: AzureMLPipelinesError
) -> AzureMLAmbiguousSubmissionError:
    """The error for a submission whose fate cannot be told (the lookup itself failed)."""
    return AzureMLAmbiguousSubmissionError(
        call.operation.name,
        call.operation.resource,
        message=(
            f"the request failed after it was sent and whether it created a run cannot be "
            f"told: looking for a run tagged {SUBMISSION_ID_TAG}={submission_id} failed "
            f"({lookup_error}); check the pipeline's runs for that tag before resubmitting"
        ),
    )
