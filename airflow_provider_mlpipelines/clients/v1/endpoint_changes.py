"""Read-modify-write changes of a pipeline endpoint (pure: the v1 client does the GET and the PUT).

The service updates an endpoint by a PUT of the whole entity. Each function here takes the
entity as read and returns the entity to write, or says that nothing needs writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_mlpipelines.api.models import PipelineEndpoint, PipelineVersion
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    format_choices,
)

FIRST_VERSION = "0"


@dataclass(frozen=True)
class EndpointChange:
    """The endpoint after a change, whether anything changed, and what, for messages."""

    endpoint: PipelineEndpoint
    changed: bool
    description: str


def replaced_default(before: PipelineEndpoint, after: PipelineEndpoint) -> str | None:
    """The default version ``after`` replaced, or ``None`` if the default stayed the same."""
    if before.default_version and before.default_version != after.default_version:
        return before.default_version
    return None


def endpoint_by_name(raw: Any, name: str) -> Mapping[str, Any]:
    """The body of a lookup by name, or :class:`AzureMLNotFoundError` when it holds none.

    A lookup of an unknown name may be answered with 200 and an empty body instead of 404;
    either means "no such endpoint", never an endpoint without an id.

    :param raw: the parsed body of ``GET PipelineEndpoints/Name?Name=``.
    :param name: the name looked up.
    """
    if isinstance(raw, Mapping) and raw and PipelineEndpoint.from_json(raw).id:
        return raw
    raise AzureMLNotFoundError(
        "get endpoint",
        f"named {name!r}",
        status_code=200,
        code="NotFound",
        message=f"no endpoint named {name!r} (the service answered with an empty body)",
    )


def add_pipeline(raw: Mapping[str, Any], pipeline_id: str, set_default: bool) -> EndpointChange:
    """Add ``pipeline_id`` as the next version, unless it is listed already.

    :param raw: the endpoint as the service returned it.
    :param pipeline_id: the published pipeline to add.
    :param set_default: also make its version the default (also when it was listed already).
    """
    endpoint = PipelineEndpoint.from_json(raw)
    version = endpoint.version_of(pipeline_id)
    if version is None:
        version = next_version(endpoint.version_names)
        versions = [*endpoint.versions, PipelineVersion(version=version, pipeline_id=pipeline_id)]
        endpoint = replace(endpoint, versions=versions)
        changed, description = True, f"add pipeline {pipeline_id!r} as version {version!r}"
    else:
        changed, description = False, f"pipeline {pipeline_id!r} is version {version!r}"
    if set_default and endpoint.default_version != version:
        endpoint = replace(endpoint, default_version=version)
        changed, description = True, f"{description}, made default"
    return EndpointChange(endpoint, changed, description)


def next_version(versions: Iterable[str]) -> str:
    """The version label after the highest numeric one (``"0"`` for an empty endpoint)."""
    numbers = [int(v) for v in versions if v.strip().isdigit()]
    return str(max(numbers) + 1) if numbers else FIRST_VERSION


def set_default(raw: Mapping[str, Any], version: str) -> EndpointChange:
    """Make ``version`` the default; an unknown version raises, naming those that exist."""
    endpoint = PipelineEndpoint.from_json(raw)
    version = str(version).strip()
    if version not in endpoint.version_names:
        raise AzureMLInvalidInputError(
            f"endpoint {endpoint.name!r} ({endpoint.id}) has no version {version!r}; "
            f"its versions are {format_choices(endpoint.version_names)}"
        )
    if endpoint.default_version == version:
        return EndpointChange(endpoint, False, f"version {version!r} is already the default")
    return EndpointChange(
        replace(endpoint, default_version=version), True, f"set default version {version!r}"
    )


def set_status(raw: Mapping[str, Any], status: EntityStatus) -> EndpointChange:
    """Set the endpoint's ``EntityStatus`` (``Active`` enables it, ``Disabled`` disables it)."""
    endpoint = PipelineEndpoint.from_json(raw)
    if endpoint.status is status:
        return EndpointChange(endpoint, False, f"already {status.value}")
    return EndpointChange(replace(endpoint, status=status), True, f"set status {status.value}")


def update_body(raw: Mapping[str, Any], endpoint: PipelineEndpoint) -> dict[str, Any]:
    """The PUT body: the entity as read, with the modelled fields replaced.

    Fields the model does not know are sent back untouched, so the update cannot erase them.
    """
    return {**raw, **endpoint.to_json()}
