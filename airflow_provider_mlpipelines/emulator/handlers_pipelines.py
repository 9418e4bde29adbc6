"""Handlers of published pipelines, graphs and pipeline endpoints (contract sections 2 and 3).

Each handler parses the request, calls one service method and renders the result.
"""

from __future__ import annotations

from aiohttp import web

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineCreationInfo,
    PipelineEndpoint,
    PipelineEndpointCreationInfo,
)
from airflow_provider_mlpipelines.emulator import render
from airflow_provider_mlpipelines.emulator.errors import bad_request
from airflow_provider_mlpipelines.emulator.http import (
    EmulatorContext,
    context_of,
    empty_response,
    json_response,
    query_bool,
    read_json,
    read_model,
)
from airflow_provider_mlpipelines.emulator.records import PipelineRecord


def _pipeline_json(context: EmulatorContext, pipeline: PipelineRecord) -> dict[str, object]:
    spec = context.workspace.spec_of(pipeline.graph_id)
    return render.pipeline_entity(pipeline, spec, context.urls)


# ------------------------------------------------------------------------------ pipelines
async def publish_pipeline(request: web.Request) -> web.Response:
    """POST ``Pipelines/Create``.

    :param request: the request.
    """
    context = context_of(request)
    info = await read_model(request, PipelineCreationInfo)
    pipeline = context.workspace.publish(info)
    return json_response(_pipeline_json(context, pipeline))


async def get_pipeline(request: web.Request) -> web.Response:
    """GET ``Pipelines/{pipeline_id}``.

    :param request: the request.
    """
    context = context_of(request)
    pipeline = context.workspace.get_pipeline(request.match_info["pipeline_id"])
    return json_response(_pipeline_json(context, pipeline))


async def list_pipelines(request: web.Request) -> web.Response:
    """GET ``Pipelines?activeOnly=``.

    :param request: the request.
    """
    context = context_of(request)
    active_only = query_bool(request, routes.QUERY_ACTIVE_ONLY, True)
    pipelines = context.workspace.list_pipelines(active_only)
    return json_response([_pipeline_json(context, p) for p in pipelines])


async def set_pipeline_status(request: web.Request) -> web.Response:
    """PUT ``Pipelines/{pipeline_id}/status`` with a JSON string body.

    :param request: the request.
    """
    context = context_of(request)
    body = await read_json(request)
    context.workspace.set_pipeline_status(request.match_info["pipeline_id"], body)
    return empty_response()


async def get_graph(request: web.Request) -> web.Response:
    """GET ``Graphs/{graph_id}``.

    :param request: the request.
    """
    context = context_of(request)
    graph = context.workspace.get_graph(request.match_info["graph_id"])
    return json_response(render.graph_entity(graph, context.workspace.spec_of(graph.id)))


async def get_graph_interface(request: web.Request) -> web.Response:
    """GET ``Graphs/{graph_id}/Interface``.

    :param request: the request.
    """
    context = context_of(request)
    spec = context.workspace.spec_of(request.match_info["graph_id"])
    return json_response(render.graph_interface(spec).to_json())


# ------------------------------------------------------------------------------ endpoints
async def create_endpoint(request: web.Request) -> web.Response:
    """POST ``PipelineEndpoints/Create``.

    :param request: the request.
    """
    context = context_of(request)
    info = await read_model(request, PipelineEndpointCreationInfo)
    endpoint = context.workspace.create_endpoint(info)
    return json_response(render.endpoint_entity(endpoint, context.urls))


async def get_endpoint(request: web.Request) -> web.Response:
    """GET ``PipelineEndpoints/Id/{endpoint_id}``.

    :param request: the request.
    """
    context = context_of(request)
    endpoint = context.workspace.get_endpoint(request.match_info["endpoint_id"])
    return json_response(render.endpoint_entity(endpoint, context.urls))


async def get_endpoint_by_name(request: web.Request) -> web.Response:
    """GET ``PipelineEndpoints/Name?Name=``.

    :param request: the request.
    """
    context = context_of(request)
    endpoint = context.workspace.get_endpoint_by_name(request.query.get(routes.QUERY_ENDPOINT_NAME))
    return json_response(render.endpoint_entity(endpoint, context.urls))


async def update_endpoint(request: web.Request) -> web.Response:
    """PUT ``PipelineEndpoints/{endpoint_id}`` with the whole entity.

    :param request: the request.
    """
    context = context_of(request)
    entity = await read_model(request, PipelineEndpoint)
    endpoint = context.workspace.update_endpoint(request.match_info["endpoint_id"], entity)
    return json_response(render.endpoint_entity(endpoint, context.urls))


async def list_endpoints(request: web.Request) -> web.Response:
    """GET ``PipelineEndpoints?activeOnly=`` with an optional ``BatchSize`` header.

    :param request: the request.
    """
    context = context_of(request)
    active_only = query_bool(request, routes.QUERY_ACTIVE_ONLY, True)
    endpoints = context.workspace.list_endpoints(active_only, _batch_size(request))
    return json_response([render.endpoint_entity(e, context.urls) for e in endpoints])


async def list_endpoint_pipelines(request: web.Request) -> web.Response:
    """GET ``PipelineEndpoints/{endpoint_id}/pipelines?activeOnly=``.

    :param request: the request.
    """
    context = context_of(request)
    active_only = query_bool(request, routes.QUERY_ACTIVE_ONLY, True)
    pipelines = context.workspace.endpoint_pipelines(request.match_info["endpoint_id"], active_only)
    return json_response([_pipeline_json(context, p) for p in pipelines])


def _batch_size(request: web.Request) -> int | None:
    raw = request.headers.get(routes.HEADER_BATCH_SIZE)
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) < 1:
        raise bad_request(
            f"Header {routes.HEADER_BATCH_SIZE} must be a positive integer, got '{raw}'",
            "InvalidHeader",
            routes.HEADER_BATCH_SIZE,
        )
    return int(raw)
