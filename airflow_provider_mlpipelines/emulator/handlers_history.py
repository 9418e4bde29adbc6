"""Handlers of the run-history API (camelCase, contract section 4)."""

from __future__ import annotations

from aiohttp import web

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import HistoryRunPage
from airflow_provider_mlpipelines.emulator import render
from airflow_provider_mlpipelines.emulator.http import context_of, json_response, read_json
from airflow_provider_mlpipelines.emulator.run_query import query_runs


def _run_dto(request: web.Request, experiment: str | None) -> web.Response:
    run, step = context_of(request).runs.history_lookup(request.match_info["run_id"], experiment)
    dto = render.history_step(run, step) if step is not None else render.history_run(run)
    return json_response(dto)


async def get_history_run(request: web.Request) -> web.Response:
    """GET ``runs/{run_id}``.

    :param request: the request.
    """
    return _run_dto(request, None)


async def get_experiment_run(request: web.Request) -> web.Response:
    """GET ``experiments/{experiment_name}/runs/{run_id}``.

    :param request: the request.
    """
    return _run_dto(request, request.match_info["experiment_name"])


async def get_run_details(request: web.Request) -> web.Response:
    """GET ``experiments/{experiment_name}/runs/{run_id}/details``.

    :param request: the request.
    """
    context = context_of(request)
    run, step = context.runs.history_lookup(
        request.match_info["run_id"], request.match_info["experiment_name"]
    )
    return json_response(render.history_details(run, step, context.urls))


async def list_child_runs(request: web.Request) -> web.Response:
    """GET ``experiments/{experiment_name}/runs/{run_id}/children?$top=&$continuationToken=``.

    :param request: the request.
    """
    run, steps, token = context_of(request).runs.children_page(
        request.match_info["run_id"],
        request.match_info["experiment_name"],
        request.query.get(routes.QUERY_TOP),
        request.query.get(routes.QUERY_CONTINUATION),
    )
    page = HistoryRunPage(
        value=[render.history_step_model(run, step) for step in steps],
        continuation_token=token,
    )
    return json_response(page.to_json())


async def query_experiment_runs(request: web.Request) -> web.Response:
    """POST ``experiments/{experiment_name}/runs:query``: a ``QueryParamsDto`` in, one page
    of the experiment's runs (v1 and v2 alike, steps included) as a ``PaginatedRunDto`` out.

    :param request: the request.
    """
    context = context_of(request)
    page = query_runs(
        context.runs.state,
        request.match_info["experiment_name"],
        await read_json(request, required=False),
        context.runs_query,
    )
    return json_response(page)
