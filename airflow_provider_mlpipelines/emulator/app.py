"""The aiohttp application: the route table and the middleware chain.

Service routes are registered from the templates of ``api/routes.py``, so the emulator serves
exactly the paths the hooks call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator import (
    handlers_emulator as emu,
)
from airflow_provider_mlpipelines.emulator import (
    handlers_history as history,
)
from airflow_provider_mlpipelines.emulator import (
    handlers_pipelines as pipelines,
)
from airflow_provider_mlpipelines.emulator import (
    handlers_runs as runs,
)
from airflow_provider_mlpipelines.emulator.admin_access import ADMIN_KEY, AdminKey
from airflow_provider_mlpipelines.emulator.datastore_views import get_v1_datastore
from airflow_provider_mlpipelines.emulator.http import CONTEXT, EmulatorContext
from airflow_provider_mlpipelines.emulator.identities import MANAGED_IDENTITY_PATH
from airflow_provider_mlpipelines.emulator.middleware import MIDDLEWARES
from airflow_provider_mlpipelines.emulator.studio.routes import STUDIO_ROUTES
from airflow_provider_mlpipelines.emulator.v2.handlers import V2_ROUTES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The contract's operations and their handlers.
SERVICE_ROUTES: tuple[tuple[routes.Route, Handler], ...] = (
    (routes.PIPELINE_CREATE, pipelines.publish_pipeline),
    (routes.PIPELINE_LIST, pipelines.list_pipelines),
    (routes.PIPELINE_GET, pipelines.get_pipeline),
    (routes.PIPELINE_SET_STATUS, pipelines.set_pipeline_status),
    (routes.GRAPH_GET, pipelines.get_graph),
    (routes.GRAPH_INTERFACE, pipelines.get_graph_interface),
    (routes.ENDPOINT_CREATE, pipelines.create_endpoint),
    (routes.ENDPOINT_LIST, pipelines.list_endpoints),
    (routes.ENDPOINT_GET_BY_ID, pipelines.get_endpoint),
    (routes.ENDPOINT_GET_BY_NAME, pipelines.get_endpoint_by_name),
    (routes.ENDPOINT_UPDATE, pipelines.update_endpoint),
    (routes.ENDPOINT_PIPELINES, pipelines.list_endpoint_pipelines),
    (routes.PIPELINE_SUBMIT, runs.submit_to_pipeline),
    (routes.ENDPOINT_SUBMIT, runs.submit_to_endpoint),
    (routes.ENDPOINT_SUBMIT_VERSION, runs.submit_to_endpoint),
    (routes.PIPELINE_RUNS, runs.list_pipeline_runs),
    (routes.RUN_GET, runs.get_run),
    (routes.RUN_CANCEL, runs.cancel_run),
    (routes.RUN_STEP_STATUSES, runs.step_statuses),
    (routes.RUN_STEP_LOG, runs.step_log),
    (routes.RUN_STEP_OUTPUTS, runs.step_outputs),
    (routes.HISTORY_RUN, history.get_history_run),
    (routes.HISTORY_EXPERIMENT_RUN, history.get_experiment_run),
    (routes.HISTORY_RUN_DETAILS, history.get_run_details),
    (routes.HISTORY_RUN_CHILDREN, history.list_child_runs),
    (routes.HISTORY_RUNS_QUERY, history.query_experiment_runs),
    (routes.DATASTORE_GET, get_v1_datastore),
)

OPENID_CONFIGURATION_PATH = "/{tenant}/v2.0/.well-known/openid-configuration"
TOKEN_PATH = "/{tenant}/oauth2/v2.0/token"
DISCOVERY_PATH = "/discovery/workspaces/{workspace_name}"
MANIFEST_PATH = "/_emulator/manifest"
STATS_PATH = "/_emulator/stats"
FAULTS_PATH = "/_emulator/admin/faults"
TOKENS_PATH = "/_emulator/admin/tokens"
RUNS_QUERY_PATH = "/_emulator/admin/runs-query"
ARM_BUDGET_PATH = "/_emulator/admin/arm-budget"

#: The emulator's own routes: (method, path, stats name, handler); none needs a token, and
#: those under ``/_emulator/`` need the admin key (``admin_access.py``).
EMULATOR_ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    ("GET", OPENID_CONFIGURATION_PATH, "openid configuration", emu.openid_configuration),
    ("POST", TOKEN_PATH, "token", emu.issue_token),
    ("GET", MANAGED_IDENTITY_PATH, "managed identity token", emu.managed_identity_token),
    ("GET", "/{tenant}/discovery/v2.0/keys", "signing keys", emu.signing_keys),
    ("GET", DISCOVERY_PATH, "discovery", emu.discovery),
    ("GET", MANIFEST_PATH, "manifest", emu.manifest),
    ("GET", STATS_PATH, "stats", emu.stats),
    ("GET", "/_emulator/logs/{step_run_id}/{kind}", "step log file", emu.step_log_file),
    ("GET", FAULTS_PATH, "get faults", emu.get_faults),
    ("POST", FAULTS_PATH, "set faults", emu.set_faults),
    ("GET", TOKENS_PATH, "get tokens", emu.get_tokens),
    ("POST", TOKENS_PATH, "set tokens", emu.set_tokens),
    ("GET", RUNS_QUERY_PATH, "get runs query settings", emu.get_runs_query),
    ("PUT", RUNS_QUERY_PATH, "set runs query settings", emu.set_runs_query),
    ("GET", ARM_BUDGET_PATH, "get arm budget", emu.get_arm_budget),
    ("PUT", ARM_BUDGET_PATH, "set arm budget", emu.put_arm_budget),
    *STUDIO_ROUTES,
)


def create_app(context: EmulatorContext, admin_key: AdminKey) -> web.Application:
    """Build the application serving ``context``.

    :param context: the services and settings the handlers use.
    :param admin_key: the key of the routes under ``/_emulator/``.
    """
    app = web.Application(middlewares=list(MIDDLEWARES), client_max_size=16 * 1024 * 1024)
    app[CONTEXT] = context
    app[ADMIN_KEY] = admin_key
    for route, handler in SERVICE_ROUTES:
        registered = app.router.add_route(route.method, route.template, handler)
        context.route_names[registered] = route.name
    for method, path, name, handler in (*EMULATOR_ROUTES, *V2_ROUTES):
        registered = app.router.add_route(method, path, handler)
        context.route_names[registered] = name
    return app
