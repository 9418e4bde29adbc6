"""Handlers outside the service APIs: the token endpoint, discovery and the emulator's own
routes (manifest, stats, step logs, fault settings). None needs a token.
"""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from airflow_provider_mlpipelines.api.graph import WorkspaceDiscovery
from airflow_provider_mlpipelines.emulator.aad_errors import AadError
from airflow_provider_mlpipelines.emulator.errors import bad_request, not_found
from airflow_provider_mlpipelines.emulator.http import (
    REQUEST_ID,
    context_of,
    json_response,
    read_json,
    text_response,
)
from airflow_provider_mlpipelines.emulator.identities import IdentityError
from airflow_provider_mlpipelines.emulator.studio.routes import STUDIO_PATH
from airflow_provider_mlpipelines.emulator.v2.budget import ArmBudgetSettings


# ------------------------------------------------------------------------------ Entra ID
async def openid_configuration(request: web.Request) -> web.Response:
    """GET ``/{tenant}/v2.0/.well-known/openid-configuration``.

    :param request: the request.
    """
    context = context_of(request)
    try:
        document = context.authority.openid_configuration(
            request.match_info["tenant"], context.urls.base_url
        )
    except AadError as exc:
        return json_response(exc.body(request[REQUEST_ID]), status=exc.status)
    return json_response(document)


async def issue_token(request: web.Request) -> web.Response:
    """POST ``/{tenant}/oauth2/v2.0/token`` (client-credentials grant).

    :param request: the request.
    """
    context = context_of(request)
    form = {key: str(value) for key, value in (await request.post()).items()}
    try:
        body = context.authority.issue(request.match_info["tenant"], form, context.urls.base_url)
    except AadError as exc:
        return json_response(exc.body(request[REQUEST_ID]), status=exc.status)
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


async def managed_identity_token(request: web.Request) -> web.Response:
    """GET ``/msi/token``: the App Service-style managed identity endpoint.

    :param request: the request.
    """
    context = context_of(request)
    try:
        body = context.authority.issue_managed_identity(
            dict(request.query),
            request.headers.get("X-IDENTITY-HEADER"),
            context.urls.base_url,
        )
    except IdentityError as exc:
        return json_response(exc.managed_identity_body(request[REQUEST_ID]), status=exc.status)
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


async def signing_keys(request: web.Request) -> web.Response:
    """GET ``/{tenant}/discovery/v2.0/keys``: tokens are unsigned, so there are no keys.

    :param request: the request.
    """
    return json_response({"keys": []})


# ------------------------------------------------------------------------------ discovery
async def discovery(request: web.Request) -> web.Response:
    """GET ``/discovery/workspaces/{workspace_name}``: the workspace's service URLs.

    :param request: the request.
    """
    context = context_of(request)
    name = request.match_info["workspace_name"]
    if name != context.urls.identity.workspace_name:
        raise not_found("Workspace", name)
    base = context.urls.base_url
    # One host serves every service here; the real document names a host per service.
    document = WorkspaceDiscovery(
        api=base,
        history=base,
        studio=base + STUDIO_PATH,
        catalog=base,
        experimentation=base,
        hyperdrive=base,
        labeling=base,
        modelmanagement=base,
        pipelines=base,
    )
    return json_response(document.to_json())


# ------------------------------------------------------------------------------ emulator
async def manifest(request: web.Request) -> web.Response:
    """GET ``/_emulator/manifest``.

    :param request: the request.
    """
    return json_response(context_of(request).manifest)


async def stats(request: web.Request) -> web.Response:
    """GET ``/_emulator/stats``: token and request counters, runs by status.

    :param request: the request.
    """
    context = context_of(request)
    by_status: dict[str, int] = {}
    for run in context.runs.state.runs.values():
        by_status[run.status.value] = by_status.get(run.status.value, 0) + 1
    body = context.stats.snapshot()
    body.update(
        tokens_issued=context.authority.tokens_issued,
        tokens_valid=context.authority.valid_tokens,
        runs=by_status,
        runs_in_flight=context.runs.runner.active_runs,
        faults_injected=context.faults.injected,
        faults=dict(context.faults.counts),
        token_lifetime_seconds=context.authority.lifetime,
        token_scopes=dict(context.authority.scopes_requested),
        tokens_by_grant=dict(context.authority.tokens_by_grant),
        store_writes=context.runs.state.store.writes,
    )
    return json_response(body)


async def step_log_file(request: web.Request) -> web.Response:
    """GET ``/_emulator/logs/{step_run_id}/{kind}``: a step's log (the details' log URLs).

    :param request: the request.
    """
    context = context_of(request)
    step_run_id = request.match_info["step_run_id"]
    found = context.runs.state.steps_by_run_id.get(step_run_id)
    if found is None:
        raise not_found("Step run", step_run_id)
    run, step = found
    return text_response(context.runs.log_text(run, step, request.match_info["kind"].upper()))


async def get_faults(request: web.Request) -> web.Response:
    """GET ``/_emulator/admin/faults``.

    :param request: the request.
    """
    return json_response(asdict(context_of(request).faults.current()))


async def set_faults(request: web.Request) -> web.Response:
    """POST ``/_emulator/admin/faults``: change some fault settings (JSON object).

    :param request: the request.
    """
    faults = context_of(request).faults
    settings = faults.update(await read_json(request))
    return json_response(asdict(settings))


async def get_tokens(request: web.Request) -> web.Response:
    """GET ``/_emulator/admin/tokens``: every access token this process issued.

    A test aid, so that tests can search logs and databases for leaked tokens: it hands out
    live bearer tokens, like the manifest hands out the client secret. Only tokens issued since
    the emulator started are listed (they are kept in memory, never on disk).

    :param request: the request.
    """
    authority = context_of(request).authority
    return json_response(
        {"lifetime_seconds": authority.lifetime, "tokens": authority.issued_tokens()}
    )


async def set_tokens(request: web.Request) -> web.Response:
    """POST ``/_emulator/admin/tokens``: ``{"lifetime_seconds": N}`` for tokens issued next.

    :param request: the request.
    """
    authority = context_of(request).authority
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"lifetime_seconds"}:
        raise bad_request('The body must be {"lifetime_seconds": <seconds>}', "InvalidBody")
    lifetime = authority.set_lifetime(body["lifetime_seconds"])
    return json_response({"lifetime_seconds": lifetime, "tokens_issued": authority.tokens_issued})


async def get_runs_query(request: web.Request) -> web.Response:
    """GET ``/_emulator/admin/runs-query``: ``runs:query``'s limits and index lag.

    :param request: the request.
    """
    return json_response(asdict(context_of(request).runs_query))


async def set_runs_query(request: web.Request) -> web.Response:
    """PUT ``/_emulator/admin/runs-query``: change some of ``max_ids``, ``max_top`` and
    ``lag_seconds`` (JSON object); answers all three as they now are.

    :param request: the request.
    """
    context = context_of(request)
    context.runs_query = context.runs_query.updated(await read_json(request))
    return json_response(asdict(context.runs_query))


async def get_arm_budget(request: web.Request) -> web.Response:
    """GET ``/_emulator/admin/arm-budget``: the ARM budget's settings and what is left.

    :param request: the request.
    """
    return json_response(_arm_budget_body(request))


async def put_arm_budget(request: web.Request) -> web.Response:
    """PUT ``/_emulator/admin/arm-budget``: replace the ARM budget's settings (what the body
    leaves out takes ARM's figure, ``enabled`` false); every bucket starts full again.

    :param request: the request.
    """
    try:
        settings = ArmBudgetSettings.from_json(await read_json(request))
    except ValueError as exc:
        raise bad_request(f"Invalid ARM budget: {exc}", "InvalidBody") from None
    context_of(request).arm_budget.configure(settings)
    return json_response(_arm_budget_body(request))


def _arm_budget_body(request: web.Request) -> dict[str, object]:
    budget = context_of(request).arm_budget
    return {**budget.settings.to_json(), "remaining": budget.remaining()}
