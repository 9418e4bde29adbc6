"""Handlers of the v2 ARM and scoring routes (contract sections 2-8), and their route table.

Each handler checks the plane's token audience and (on ARM) the ``api-version``, parses the
body in any casing, calls one :class:`~.service.V2Service` method, and renders the answer with
the long-running-operation headers of contract section 2.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.emulator import render as v1_render
from airflow_provider_mlpipelines.emulator.datastore_views import get_v2_datastore
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.http import context_of, json_response, read_json
from airflow_provider_mlpipelines.emulator.v2 import render
from airflow_provider_mlpipelines.emulator.v2.assets import ASSET_ROUTES
from airflow_provider_mlpipelines.emulator.v2.handling import (
    Handler,
    accepted,
    arm,
    arm_urls,
    check_token,
    client_id_of,
    lro_response,
    paged_response,
    retry_after,
    scoring,
    v2_service,
)
from airflow_provider_mlpipelines.emulator.v2.operations import IN_PROGRESS
from airflow_provider_mlpipelines.emulator.v2.run_dto import run_dto

OPERATION_STATUS_PATH = (
    "/subscriptions/{subscription_id}/providers/Microsoft.MachineLearningServices"
    "/locations/{location}/mfeOperationsStatus/{operation_id}"
)
OPERATION_RESULT_PATH = (
    "/subscriptions/{subscription_id}/providers/Microsoft.MachineLearningServices"
    "/locations/{location}/mfeOperationResults/{operation_id}"
)
HISTORY_CHILDREN_PATH = routes.HISTORY_CHILDREN


# ------------------------------------------------------------------------------ workspace
@arm
async def get_workspace(request: web.Request) -> web.Response:
    """GET ``{WS}``: the workspace, with its location and discovery URL (section 3)."""
    context = context_of(request)
    service = v2_service(request)
    urls = arm_urls(request)
    return json_response(
        {
            "id": urls.workspace_id(),
            "name": context.urls.identity.workspace_name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": service.location,
            "tags": {},
            "identity": {"type": "SystemAssigned"},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {
                "discoveryUrl": context.manifest.get("discovery_url"),
                "friendlyName": context.urls.identity.workspace_name,
                "workspaceId": context.urls.identity.workspace_name,
                "mlFlowTrackingUri": None,
                "provisioningState": "Succeeded",
            },
        }
    )


# ------------------------------------------------------------------------------ endpoints
@arm
async def list_endpoints(request: web.Request) -> web.Response:
    service, urls, client = v2_service(request), arm_urls(request), client_id_of(request)
    items = [render.endpoint(e, urls, client) for e in service.list_endpoints()]
    return paged_response(request, items)


@arm
async def get_endpoint(request: web.Request) -> web.Response:
    endpoint = v2_service(request).get_endpoint(request.match_info["endpoint_name"])
    return json_response(render.endpoint(endpoint, arm_urls(request), client_id_of(request)))


@arm
async def put_endpoint(request: web.Request) -> web.Response:
    service = v2_service(request)
    endpoint, created, operation = service.put_endpoint(
        request.match_info["endpoint_name"], await read_json(request)
    )
    body = render.endpoint(endpoint, arm_urls(request), client_id_of(request))
    return lro_response(request, body, 201 if created else 200, operation, endpoint.location)


@arm
async def delete_endpoint(request: web.Request) -> web.Response:
    service = v2_service(request)
    operation = service.delete_endpoint(request.match_info["endpoint_name"])
    if operation is None:
        return web.Response(status=204)
    return accepted(request, operation, service.location, delete=True)


# ------------------------------------------------------------------------------ deployments
@arm
async def list_deployments(request: web.Request) -> web.Response:
    service, urls, client = v2_service(request), arm_urls(request), client_id_of(request)
    found = service.list_deployments(request.match_info["endpoint_name"])
    return paged_response(request, [render.deployment(d, urls, client) for d in found])


@arm
async def get_deployment(request: web.Request) -> web.Response:
    deployment = v2_service(request).get_deployment(
        request.match_info["endpoint_name"], request.match_info["deployment_name"]
    )
    return json_response(render.deployment(deployment, arm_urls(request), client_id_of(request)))


@arm
async def put_deployment(request: web.Request) -> web.Response:
    deployment, created, operation = v2_service(request).put_deployment(
        request.match_info["endpoint_name"],
        request.match_info["deployment_name"],
        await read_json(request),
    )
    body = render.deployment(deployment, arm_urls(request), client_id_of(request))
    return lro_response(request, body, 201 if created else 200, operation, deployment.location)


@arm
async def delete_deployment(request: web.Request) -> web.Response:
    service = v2_service(request)
    operation = service.delete_deployment(
        request.match_info["endpoint_name"], request.match_info["deployment_name"]
    )
    if operation is None:
        return web.Response(status=204)
    return accepted(request, operation, service.location, delete=True)


# ------------------------------------------------------------------------------ components
def _component_body(request: web.Request, component: Any) -> dict[str, Any]:
    service = v2_service(request)
    # A user's component answers the spec it was registered with; one made from a job, its graph.
    spec = None if component.spec is not None else service.workspace.spec_of(component.graph_id)
    return render.component_version(
        component, spec, service.component_arm_id(component), client_id_of(request)
    )


@arm
async def get_component(request: web.Request) -> web.Response:
    """GET ``components/{name}``: the container, with its latest version."""
    name = request.match_info["component_name"]
    versions = v2_service(request).component_versions(name)
    urls = arm_urls(request)
    latest = versions[-1]
    return json_response(
        {
            "id": f"{urls.workspace_id()}/components/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/components",
            "systemData": render.system_data(
                versions[0].created, latest.created, client_id_of(request)
            ),
            "properties": {
                "latestVersion": latest.version,
                "nextVersion": None,
                "isArchived": False,
                "description": latest.description,
                "tags": {},
                "properties": {},
                "provisioningState": "Succeeded",
            },
        }
    )


@arm
async def list_component_versions(request: web.Request) -> web.Response:
    versions = v2_service(request).component_versions(request.match_info["component_name"])
    return paged_response(request, [_component_body(request, c) for c in reversed(versions)])


@arm
async def get_component_version(request: web.Request) -> web.Response:
    component = v2_service(request).get_component(
        request.match_info["component_name"], request.match_info["version"]
    )
    return json_response(_component_body(request, component))


@arm
async def put_component_version(request: web.Request) -> web.Response:
    component, created = v2_service(request).put_component(
        request.match_info["component_name"],
        request.match_info["version"],
        await read_json(request),
    )
    return json_response(_component_body(request, component), status=201 if created else 200)


# ------------------------------------------------------------------------------ jobs
def _job_body(request: web.Request, job: Any, run: Any) -> dict[str, Any]:
    service = v2_service(request)
    component = service.component_of(job)
    component_id = None if component is None else service.component_arm_id(component)
    body = render.job(job, run, component_id, arm_urls(request), client_id_of(request))
    body["properties"]["outputs"] = render.job_outputs(run, service.behaviour.job_output_uri)
    return body


@arm
async def list_jobs(request: web.Request) -> web.Response:
    found = v2_service(request).list_jobs(request.query.get(routes.QUERY_TAG))
    return paged_response(request, [_job_body(request, job, run) for job, run in found])


@arm
async def get_job(request: web.Request) -> web.Response:
    job, run = v2_service(request).get_job(request.match_info["job_name"])
    return json_response(_job_body(request, job, run))


@arm
async def put_job(request: web.Request) -> web.Response:
    """PUT ``jobs/{name}``: a pipeline job. An ``x-azureml-token`` (the ML audience) is checked
    when sent; older clients send none, and the service takes those too (recorded)."""
    ml_token = request.headers.get(routes.HEADER_ML_TOKEN)
    if ml_token:
        context_of(request).authority.check(
            f"Bearer {ml_token}", audiences=context_of(request).ml_audiences
        )
    job, run, created = v2_service(request).submit_job(
        request.match_info["job_name"], await read_json(request)
    )
    return json_response(_job_body(request, job, run), status=201 if created else 200)


@arm
async def cancel_job(request: web.Request) -> web.Response:
    service = v2_service(request)
    operation = service.cancel_job(request.match_info["job_name"])
    if operation is None:
        return web.Response(status=200)
    return accepted(request, operation, service.location)


# ------------------------------------------------------------------------------ operations
async def operation_status(request: web.Request) -> web.Response:
    """GET an ``Azure-AsyncOperation`` URL: ``{"status": "Updating" | "Succeeded" | ...}``."""
    check_token(request, context_of(request).arm_audiences)
    operation = v2_service(request).operations.get(request.match_info["operation_id"])
    response = json_response(render.operation_status(operation, str(request.url.path)))
    if operation.status == IN_PROGRESS:
        retry_after(request, response)
    return response


async def operation_result(request: web.Request) -> web.Response:
    """GET a ``Location`` URL: 202 while the operation runs, then 200 (or its error)."""
    check_token(request, context_of(request).arm_audiences)
    operation = v2_service(request).operations.get(request.match_info["operation_id"])
    if operation.status == IN_PROGRESS:
        response = json_response({}, status=202)
        response.headers["Location"] = str(request.url)
        retry_after(request, response)
        return response
    if operation.error:
        raise EmulatorError(400, operation.error["code"], operation.error["message"])
    return web.Response(status=200)


# ------------------------------------------------------------------------------ scoring
@scoring
async def invoke(request: web.Request) -> web.Response:
    """POST ``{scoringUri}``: create a batch job (contract section 7)."""
    headers = request.headers
    repeatability = headers.get(routes.HEADER_REPEATABILITY) or headers.get(
        "Repeatability-Request-ID"
    )
    job, run = v2_service(request).invoke(
        request.match_info["endpoint_name"],
        headers.get(routes.HEADER_DEPLOYMENT),
        await read_json(request),
        repeatability,
    )
    urls = arm_urls(request)
    # As recorded: 201, the deployment echoed, and a Location that names the deployment.
    response = json_response(render.batch_job(job, run, urls, client_id_of(request)), status=201)
    response.headers[routes.HEADER_DEPLOYMENT] = job.deployment or ""
    response.headers["Location"] = (
        f"{urls.base}{urls.endpoint_id(job.endpoint or '')}/deployments/{job.deployment}"
        "?api-version=2020-09-01-dataplanepreview"
    )
    return response


@scoring
async def get_batch_job(request: web.Request) -> web.Response:
    """GET ``{scoringUri}/{jobName}``: the job in the invoke response's shape."""
    job, run = v2_service(request).get_job(request.match_info["job_name"])
    return json_response(render.batch_job(job, run, arm_urls(request), client_id_of(request)))


# ------------------------------------------------------------------------------ run history
async def list_job_children(request: web.Request) -> web.Response:
    """GET ``history/v1.0/{WS}/runs/{jobName}/children``: a v2 job's steps (contract 8).

    Run history is the v1 service: the v1 middleware has checked the token already.
    """
    runs = context_of(request).runs
    run_id = request.match_info["run_id"]
    run, steps, token = runs.children_page(
        run_id,
        runs.get_run(run_id).experiment_name,
        request.query.get("$top"),
        request.query.get("$continuationtoken") or request.query.get("$continuationToken"),
    )
    return json_response(
        {
            "value": [
                run_dto(v1_render.history_step(run, step), run.id, client_id_of(request))
                for step in steps
            ],
            "continuationToken": token,
            "nextLink": None,
        }
    )


# ------------------------------------------------------------------------------ route table
#: (method, path template, stats name, handler) of every v2 route.
V2_ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    *(
        (route.method, route.template, route.name, handler)
        for route, handler in (
            (routes.WORKSPACE_GET, get_workspace),
            (routes.ENDPOINT_LIST, list_endpoints),
            (routes.ENDPOINT_GET, get_endpoint),
            (routes.ENDPOINT_PUT, put_endpoint),
            (routes.ENDPOINT_DELETE, delete_endpoint),
            (routes.DEPLOYMENT_LIST, list_deployments),
            (routes.DEPLOYMENT_GET, get_deployment),
            (routes.DEPLOYMENT_PUT, put_deployment),
            (routes.DEPLOYMENT_DELETE, delete_deployment),
            (routes.COMPONENT_GET, get_component),
            (routes.COMPONENT_VERSIONS, list_component_versions),
            (routes.COMPONENT_VERSION_GET, get_component_version),
            (routes.COMPONENT_VERSION_PUT, put_component_version),
            (routes.JOB_LIST, list_jobs),
            (routes.JOB_GET, get_job),
            (routes.JOB_PUT, put_job),
            (routes.JOB_CANCEL, cancel_job),
            (routes.DATASTORE_GET, get_v2_datastore),
        )
    ),
    ("GET", OPERATION_STATUS_PATH, "operation status", operation_status),
    ("GET", OPERATION_RESULT_PATH, "operation result", operation_result),
    ("POST", routes.EMULATOR_SCORING_PATH, "invoke batch endpoint", invoke),
    ("GET", routes.EMULATOR_SCORING_PATH + "/{job_name}", "get batch job", get_batch_job),
    ("GET", HISTORY_CHILDREN_PATH, "list child jobs", list_job_children),
    *ASSET_ROUTES,
)
