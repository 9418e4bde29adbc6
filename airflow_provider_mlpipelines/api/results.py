"""What client operations answer besides service entities: an endpoint update and a parsed
submit URL (shared by both API clients and their protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import PipelineEndpoint


@dataclass(frozen=True)
class EndpointUpdate:
    """What a read-modify-write of an endpoint did.

    :param endpoint: the endpoint afterwards.
    :param changed: whether this call wrote a change (``False``: it was in place already).
    :param replaced_default: the default version this call replaced, or ``None`` when the
        default did not change; a rollback target is only ever this value, so it can never
        name the version that is the default now.
    :param version: the version the pipeline is listed under, where the caller's spelling of
        the pipeline cannot find it in ``endpoint`` (v2: ``azureml:name:version`` for a
        deployment that records the component's ARM id); ``None``: look it up there.
    """

    endpoint: PipelineEndpoint
    changed: bool
    replaced_default: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class SubmitUrl:
    """What a submit URL points at: a published pipeline, or an endpoint (and version).

    :param pipeline_id: the published pipeline, for a pipeline URL.
    :param endpoint_id: the endpoint, for an endpoint URL.
    :param pipeline_version: the endpoint version named in the URL, if any.
    :param parent_run_id: the ``parentRunId`` query value, if any.
    """

    pipeline_id: str | None = None
    endpoint_id: str | None = None
    pipeline_version: str | None = None
    parent_run_id: str | None = None

    @property
    def kind(self) -> str:
        """``"endpoint"`` or ``"pipeline"``."""
        return "endpoint" if self.endpoint_id else "pipeline"
