"""Studio pages of what runs are made from: v1 published pipelines and pipeline endpoints, v2
batch endpoints, deployments and component versions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, not_found
from airflow_provider_mlpipelines.emulator.http import EmulatorContext, context_of
from airflow_provider_mlpipelines.emulator.records import RunRecord
from airflow_provider_mlpipelines.emulator.studio import graph
from airflow_provider_mlpipelines.emulator.studio.rendering import page, render
from airflow_provider_mlpipelines.emulator.studio.summaries import run_rows
from airflow_provider_mlpipelines.emulator.v2.records import ComponentRecord, DeploymentRecord
from airflow_provider_mlpipelines.emulator.v2.service import V2Service


@page
async def pipeline_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/pipelines/{object_id}``: a published pipeline, its graph, the endpoint
    versions serving it and its runs.

    :param request: the request.
    """
    context = context_of(request)
    pipeline = context.workspace.get_pipeline(request.match_info["object_id"])
    runs = context.runs.runs_of_pipeline(pipeline.id)
    served_by = [
        (endpoint, version)
        for endpoint in context.runs.state.endpoints.values()
        for version, pipeline_id in endpoint.versions
        if pipeline_id == pipeline.id
    ]
    return _with_runs(
        context,
        runs,
        "pipeline.html",
        title=f"Published pipeline {pipeline.name}",
        pipeline=pipeline,
        served_by=served_by,
        layout=_graph_of(context, pipeline.graph_id),
    )


@page
async def endpoint_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/endpoints/{object_id}``: a pipeline endpoint, its versions and default.

    :param request: the request.
    """
    context = context_of(request)
    endpoint = context.workspace.get_endpoint(request.match_info["object_id"])
    pipelines = context.runs.state.pipelines
    versions = [
        (version, pipelines.get(pipeline_id), pipeline_id)
        for version, pipeline_id in endpoint.versions
    ]
    return _with_runs(
        context,
        [r for r in context.runs.state.runs.values() if r.endpoint_id == endpoint.id],
        "endpoint.html",
        title=f"Pipeline endpoint {endpoint.name}",
        endpoint=endpoint,
        versions=versions,
    )


@page
async def batch_endpoint_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/batchEndpoints/{name}``: a v2 batch endpoint, its deployments and jobs.

    :param request: the request.
    """
    context = context_of(request)
    v2 = _v2(context)
    endpoint = v2.get_endpoint(request.match_info["name"])
    deployments = [
        (deployment, _component_of(v2, deployment))
        for deployment in v2.list_deployments(endpoint.name)
    ]
    return _with_runs(
        context,
        _jobs(v2, endpoint=endpoint.name),
        "batch_endpoint.html",
        title=f"Batch endpoint {endpoint.name}",
        endpoint=endpoint,
        deployments=deployments,
    )


@page
async def deployment_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/batchEndpoints/{name}/deployments/{deployment}``: a deployment, its component
    and the jobs it ran.

    :param request: the request.
    """
    context = context_of(request)
    v2 = _v2(context)
    endpoint = v2.get_endpoint(request.match_info["name"])
    deployment = v2.get_deployment(endpoint.name, request.match_info["deployment"])
    component = _component_of(v2, deployment)
    runs = _jobs(v2, endpoint=endpoint.name, deployment=deployment.name)
    return _with_runs(
        context,
        runs,
        "deployment.html",
        title=f"Deployment {deployment.name} of {endpoint.name}",
        endpoint=endpoint,
        deployment=deployment,
        component=component,
        is_default=(endpoint.default_deployment or "").lower() == deployment.name.lower(),
    )


@page
async def component_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/components/{name}/{version}``: a component version, its graph and jobs.

    :param request: the request.
    """
    context = context_of(request)
    v2 = _v2(context)
    component = v2.get_component(request.match_info["name"], request.match_info["version"])
    runs = [run for job, run in v2.list_jobs() if job.component_key == component.key]
    return _with_runs(
        context,
        runs,
        "component.html",
        title=f"Component {component.name} version {component.version}",
        component=component,
        versions=v2.component_versions(component.name),
        layout=_graph_of(context, component.graph_id),
    )


@page
async def component_versions_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/components/{name}``: the versions of a component.

    :param request: the request.
    """
    v2 = _v2(context_of(request))
    name = request.match_info["name"]
    return render(
        "component.html",
        title=f"Component {name}",
        component=None,
        versions=v2.component_versions(name),
        layout=None,
        rows=[],
        total=0,
    )


def _with_runs(
    context: EmulatorContext, runs: list[RunRecord], template: str, **values: Any
) -> web.Response:
    """A page of ``template`` ending with the table of ``runs``."""
    return render(template, rows=run_rows(context, runs), total=len(runs), **values)


def _jobs(v2: V2Service, *, endpoint: str, deployment: str | None = None) -> list[RunRecord]:
    """The runs of the jobs invoked through a batch endpoint (and one of its deployments);
    ARM names are matched regardless of case, as ARM does."""
    return [
        run
        for job, run in v2.list_jobs()
        if (job.endpoint or "").lower() == endpoint.lower()
        and (deployment is None or (job.deployment or "").lower() == deployment.lower())
    ]


def _v2(context: EmulatorContext) -> V2Service:
    if context.v2 is None:
        raise not_found("v2 workspace", context.urls.identity.workspace_name)
    return context.v2


def _component_of(v2: V2Service, deployment: DeploymentRecord) -> ComponentRecord | None:
    """The component version a deployment serves (``None`` if it was deleted since)."""
    return next(
        (
            c
            for c in v2.components.values()
            if v2.component_arm_id(c).lower() == deployment.component_id.lower()
        ),
        None,
    )


def _graph_of(context: EmulatorContext, graph_id: str) -> graph.GraphLayout | None:
    try:
        spec = context.workspace.spec_of(graph_id)
    except EmulatorError:
        return None
    return graph.layout(spec.steps)
