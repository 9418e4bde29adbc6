"""Handlers of run submission and pipeline runs (contract sections 3 and 4)."""

from __future__ import annotations

from aiohttp import web

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
from airflow_provider_mlpipelines.emulator import render
from airflow_provider_mlpipelines.emulator.errors import bad_request, listing
from airflow_provider_mlpipelines.emulator.http import (
    context_of,
    empty_response,
    json_response,
    read_json,
    read_model,
    text_response,
)


async def submit_to_pipeline(request: web.Request) -> web.Response:
    """POST ``PipelineRuns/PipelineSubmit/{pipeline_id}``.

    :param request: the request.
    """
    context = context_of(request)
    info = await read_model(request, PipelineSubmissionInfo)
    run = context.runs.submit_to_pipeline(
        request.match_info["pipeline_id"], info, request.query.get(routes.QUERY_PARENT_RUN_ID)
    )
    return json_response(render.run_entity(run))


async def submit_to_endpoint(request: web.Request) -> web.Response:
    """POST ``PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}[/{pipeline_version}]``.

    :param request: the request.
    """
    context = context_of(request)
    info = await read_model(request, PipelineSubmissionInfo)
    run = context.runs.submit_to_endpoint(
        request.match_info["endpoint_id"],
        request.match_info.get("pipeline_version") or None,
        request.query.get(routes.QUERY_PIPELINE_VERSION) or None,
        info,
        request.query.get(routes.QUERY_PARENT_RUN_ID),
    )
    return json_response(render.run_entity(run))


async def list_pipeline_runs(request: web.Request) -> web.Response:
    """GET ``PipelineRuns/Pipeline/{pipeline_id}[?$continuationToken=]``.

    A bare array, as the contract documents; in pages with a continuation token when the
    ``runs_page_size`` setting asks for it. ``list_delay_seconds`` hides the newest runs.

    :param request: the request.
    """
    context = context_of(request)
    settings = context.faults.settings
    runs, token = context.runs.listed_runs(
        request.match_info["pipeline_id"],
        delay_seconds=settings.list_delay_seconds,
        page_size=settings.runs_page_size,
        token=request.query.get(routes.QUERY_CONTINUATION),
    )
    entities = [render.run_entity(run) for run in runs]
    if settings.runs_page_size <= 0:
        return json_response(entities)
    return json_response({"value": entities, "continuationToken": token})


async def get_run(request: web.Request) -> web.Response:
    """GET ``PipelineRuns/{run_id}``.

    :param request: the request.
    """
    run = context_of(request).runs.get_run(request.match_info["run_id"])
    return json_response(render.run_entity(run))


async def cancel_run(request: web.Request) -> web.Response:
    """DELETE ``PipelineRuns/{run_id}/Execution``.

    :param request: the request.
    """
    await context_of(request).runs.cancel(request.match_info["run_id"])
    return empty_response()


async def step_statuses(request: web.Request) -> web.Response:
    """POST ``PipelineRuns/{run_id}/Graph/AllNodes/Status``.

    :param request: the request.
    """
    context = context_of(request)
    body = await read_json(request, required=False)
    run, steps = context.runs.steps_of(request.match_info["run_id"], body)
    return json_response({s.node_id: render.step_status(run, s, context.urls) for s in steps})


async def step_log(request: web.Request) -> web.Response:
    """POST ``PipelineRuns/{run_id}/Graph/Shareable/{log_kind}``.

    :param request: the request.
    """
    kind = request.match_info["log_kind"]
    if kind not in routes.STEP_LOG_KINDS:
        raise bad_request(
            f"Log kind '{kind}' is unknown; kinds: {listing(routes.STEP_LOG_KINDS)}",
            "InvalidLogKind",
            "log_kind",
        )
    body = await read_json(request)
    text = context_of(request).runs.step_log(request.match_info["run_id"], kind, body)
    return text_response(text)


async def step_outputs(request: web.Request) -> web.Response:
    """POST ``PipelineRuns/{run_id}/Outputs``.

    :param request: the request.
    """
    context = context_of(request)
    body = await read_json(request)
    _, step = context.runs.step_outputs(request.match_info["run_id"], body)
    return json_response(render.node_outputs(step, context.workspace.datastores.roots))
