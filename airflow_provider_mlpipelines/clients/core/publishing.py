"""Where a published pipeline came from, as far as a client can tell, and reuse decisions.

The service's ``PipelineEntity`` names no source run (contract section 2): it has the
pipeline's own ``GraphId`` and the ``Properties`` it was published with. So the hook writes its
source into the properties of every pipeline it publishes (:func:`source_properties`), and
:func:`is_published_from` reads them back. A pipeline published by other tools carries no such
property; it counts as published from a run only when that run is a run *of* it (same graph).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_mlpipelines.exceptions import AzureMLConflictError

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import PipelineRun, PublishedPipeline

#: Property naming the pipeline run a pipeline was published from.
SOURCE_RUN_PROPERTY = "airflow.source_run_id"
#: Property naming the graph of that run (runs of one published pipeline share its graph).
SOURCE_GRAPH_PROPERTY = "airflow.source_graph_id"


def source_properties(run: PipelineRun) -> dict[str, str]:
    """The properties that record ``run`` as the source of a pipeline published from it.

    :param run: the pipeline run being published.
    """
    properties = {SOURCE_RUN_PROPERTY: run.id}
    if run.graph_id:
        properties[SOURCE_GRAPH_PROPERTY] = run.graph_id
    return properties


def is_published_from(pipeline: PublishedPipeline, run: PipelineRun) -> bool:
    """Whether ``pipeline`` provably executes the graph of ``run``.

    True when it was published from ``run`` itself, from another run of the same graph, or when
    ``run`` is a run of ``pipeline`` (whose graph it then has).

    :param pipeline: a published pipeline.
    :param run: a pipeline run.
    """
    if pipeline.properties.get(SOURCE_RUN_PROPERTY) == run.id:
        return True
    graph = run.graph_id
    return bool(graph) and graph in (
        pipeline.properties.get(SOURCE_GRAPH_PROPERTY),
        pipeline.graph_id,
    )


def describe_source(pipeline: PublishedPipeline) -> str:
    """How messages name the source of ``pipeline``: ``run 'abc'`` or why it is unknown.

    :param pipeline: a published pipeline.
    """
    run_id = pipeline.properties.get(SOURCE_RUN_PROPERTY)
    if run_id:
        return f"run {run_id!r}"
    return (
        f"an unknown run (it has no {SOURCE_RUN_PROPERTY!r} property, so it was not published "
        "by this provider)"
    )


def newest(pipelines: Iterable[PublishedPipeline]) -> PublishedPipeline | None:
    """The most recently created of ``pipelines``; of equal dates, the one listed last.

    :param pipelines: published pipelines.
    """
    ranked = [(p.created_date or "", index, p) for index, p in enumerate(pipelines)]
    return max(ranked, key=lambda item: item[:2])[2] if ranked else None


@dataclass(frozen=True)
class ExistingPipelines:
    """Active pipelines that a publish of ``run`` as ``name`` (and ``version``) runs into.

    :param same_source: the newest of them published from the run (see
        :func:`is_published_from`), if any.
    :param other_sources: those with the same name and version but another or unknown source
        (always empty when no version is given: an unversioned publish conflicts with nothing).
    """

    same_source: PublishedPipeline | None = None
    other_sources: list[PublishedPipeline] = field(default_factory=list)


def existing_pipelines(
    pipelines: Iterable[PublishedPipeline], run: PipelineRun, name: str, version: str | None
) -> ExistingPipelines:
    """Sort the pipelines called ``name`` into those from ``run``'s source and the others.

    With a ``version``, only pipelines of that version count; without one, a pipeline of any
    version published from this source counts, and no other pipeline does.

    :param pipelines: the workspace's (active) published pipelines.
    :param run: the run to be published.
    :param name: the name to publish under.
    :param version: the version to publish under, or ``None``.
    """
    named = [p for p in pipelines if p.name == name and (version is None or p.version == version)]
    mine = [p for p in named if is_published_from(p, run)]
    others = [] if version is None else [p for p in named if not is_published_from(p, run)]
    return ExistingPipelines(same_source=newest(mine), other_sources=others)


def has_properties(pipeline: PublishedPipeline, wanted: Mapping[str, str]) -> bool:
    """Whether ``pipeline`` carries every property of ``wanted`` with the same value.

    :param pipeline: a published pipeline.
    :param wanted: property names and values.
    """
    return all(pipeline.properties.get(key) == value for key, value in wanted.items())


def choose_existing(
    existing: ExistingPipelines,
    *,
    run_id: str,
    name: str,
    version: str | None,
    if_exists: str,
    own_properties: Mapping[str, str],
) -> PublishedPipeline | None:
    """The pipeline a publish should return instead of publishing, ``None`` to publish.

    ``reuse`` returns the pipeline published from the same source; ``fail`` raises instead,
    unless that pipeline carries ``own_properties`` (an earlier try of the same task published
    it, and its answer was lost). Either raises when only another source has the name and
    version.

    :param existing: what :func:`existing_pipelines` found.
    :param run_id: the run being published.
    :param name: the name to publish under.
    :param version: the version to publish under, or ``None``.
    :param if_exists: ``reuse`` or ``fail``.
    :param own_properties: properties that mark pipelines this very publisher published.
    :raises AzureMLConflictError: naming the existing pipeline and both runs.
    """
    label = f"{name!r}" if version is None else f"{name!r} version {version!r}"
    resource = f"{label} from run {run_id!r}"
    mine = existing.same_source
    if mine is None:
        other = newest(existing.other_sources)
        if other is None:
            return None
        raise AzureMLConflictError(
            "publish pipeline",
            resource,
            message=(
                f"pipeline {other.id} already has this name and version and was published from "
                f"{describe_source(other)}, not from run {run_id!r}; publish under a version of "
                "its own (or disable that pipeline first)"
            ),
        )
    if if_exists == "fail" and not has_properties(mine, own_properties):
        raise AzureMLConflictError(
            "publish pipeline",
            resource,
            message=(
                f"an active pipeline from this run already has this name"
                f"{'' if version is None else ' and version'}: {mine.id} (version "
                f"{mine.version!r}, published from {describe_source(mine)}); "
                "if_exists='reuse' would return it"
            ),
        )
    return mine
