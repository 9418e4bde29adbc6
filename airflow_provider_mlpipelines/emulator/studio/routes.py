"""The studio's routes: (method, path, stats name, handler), all GET and none needing a token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from airflow_provider_mlpipelines.emulator.studio import views_objects as objects
from airflow_provider_mlpipelines.emulator.studio import views_runs as runs

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The studio's base path; the discovery document and the manifest advertise it.
STUDIO_PATH = "/studio"

STUDIO_ROUTES: tuple[tuple[str, str, str, Handler], ...] = (
    ("GET", STUDIO_PATH, "studio", runs.home),
    ("GET", STUDIO_PATH + "/", "studio", runs.home),
    ("GET", STUDIO_PATH + "/runs/{object_id}", "studio", runs.run_page),
    ("GET", STUDIO_PATH + "/runs/{run_id}/steps/{node_id}", "studio", runs.step_page),
    ("GET", STUDIO_PATH + "/experiments/{object_id}", "studio", runs.experiment_page),
    ("GET", STUDIO_PATH + "/files/{datastore}", "studio file", runs.file_page),
    ("GET", STUDIO_PATH + "/files/{datastore}/{path:.*}", "studio file", runs.file_page),
    ("GET", STUDIO_PATH + "/pipelines/{object_id}", "studio", objects.pipeline_page),
    ("GET", STUDIO_PATH + "/endpoints/{object_id}", "studio", objects.endpoint_page),
    ("GET", STUDIO_PATH + "/batchEndpoints/{name}", "studio", objects.batch_endpoint_page),
    (
        "GET",
        STUDIO_PATH + "/batchEndpoints/{name}/deployments/{deployment}",
        "studio",
        objects.deployment_page,
    ),
    ("GET", STUDIO_PATH + "/components/{name}", "studio", objects.component_versions_page),
    ("GET", STUDIO_PATH + "/components/{name}/{version}", "studio", objects.component_page),
)
