"""What the studio tests share: an emulator with a finished v1 run and a finished v2 job, made
through the provider's own hooks, and the studio URLs the provider emits for them.

Everything is real: the emulator is a subprocess, the hooks speak HTTPS to it with the
azure-identity credentials of its manifest's connections, and the pages are fetched over HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.v2_helpers import Deployed, deploy

#: Debian's chromium, which the browser tests drive (Playwright downloads no browser here).
CHROMIUM = "/usr/bin/chromium"


@dataclass
class StudioWorld:
    """An emulator and what the provider made on it.

    :param v1_conn: the id of its v1 connection; ``v2_conn`` of its v2 one.
    :param pipeline_id: a published pipeline (``train``), behind ``endpoint_id``.
    :param run_id: a finished run of it.
    :param job_id: a finished v2 job of the ``score`` deployment of ``deployed.endpoint``.
    :param urls: each studio URL the provider emitted, by what emitted it.
    """

    emulator: EmulatorProcess
    v1_conn: str
    v2_conn: str
    pipeline_id: str
    endpoint_id: str
    run_id: str
    deployed: Deployed
    job_id: str
    urls: dict[str, str] = field(default_factory=dict)

    def get(self, path_or_url: str) -> requests.Response:
        """GET a studio page (a path or a full URL), without any credential."""
        url = path_or_url if "://" in path_or_url else self.emulator.base_url + path_or_url
        return requests.get(url, verify=self.emulator.ca_bundle, timeout=30)


def wait_terminal(hook: Any, run_id: str, timeout: float = 90) -> Any:
    """Poll a run through the hook until it has ended; return it."""
    deadline = time.monotonic() + timeout
    while True:
        run = hook.get_pipeline_run(run_id)
        if run.status.is_terminal:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.25)


@contextmanager
def studio_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioWorld]:
    """Start an emulator, register its v1 and v2 connections, and make a finished v1 run and
    v2 job through the hooks; the emulator is stopped on the way out, even on failure."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    process = EmulatorProcess(tmp_path_factory.mktemp("emulator-studio"))
    suffix = uuid.uuid4().hex[:8]
    v1_conn, v2_conn = f"studio_v1_{suffix}", f"studio_v2_{suffix}"
    with pytest.MonkeyPatch.context() as patch:
        try:
            process.start()
            manifest = process.manifest
            patch.setenv(f"AIRFLOW_CONN_{v1_conn.upper()}", json.dumps(manifest["airflow_conn"]))
            patch.setenv(f"AIRFLOW_CONN_{v2_conn.upper()}", json.dumps(manifest["airflow_conn_v2"]))
            urls: dict[str, str] = {}
            with AzureMLPipelinesHook(v1_conn) as hook:
                pipeline, _ = hook.publish_pipeline_once(
                    manifest["pipeline_runs"]["train"], name=f"train_{suffix}"
                )
                endpoint = hook.ensure_pipeline_in_endpoint(
                    f"studio-{suffix}", pipeline.id
                ).endpoint
                run = hook.submit_pipeline_run(
                    pipeline.id,
                    hook.build_submission(experiment_name="studio-v1", parameters={"epochs": 5}),
                )
                wait_terminal(hook, run.id)
                urls["v1 hook.get_run_url"] = hook.get_run_url(run.id)
                urls["v1 hook.get_pipeline_url"] = hook.get_pipeline_url(pipeline.id)
                settings = hook.settings
                for kind, object_id in (("endpoints", endpoint.id), ("experiments", "studio-v1")):
                    urls[f"v1 routes.studio_url {kind}"] = routes.studio_url(
                        settings.studio_url, kind, object_id, **settings.workspace
                    )
            with AzureMLPipelinesHook(v2_conn) as hook:
                deployed = deploy(hook, process)
                job = hook.submit_pipeline_endpoint_run(
                    deployed.endpoint,
                    hook.build_submission(experiment_name="studio-v2"),
                    pipeline_version=deployed.score_deployment,
                )
                wait_terminal(hook, job.id)
                urls["v2 hook.get_run_url"] = hook.get_run_url(job.id)
                # The job as the service lists it carries the studio link the service made.
                listed = next(j for j in hook.client.batch_jobs() if j.name == job.id)
                urls["v2 Job.studio_url"] = str(listed.studio_url)
                for source, component_id in deployed.components.items():
                    urls[f"v2 hook.get_pipeline_url {source}"] = hook.get_pipeline_url(component_id)
            urls["v1 async hook.get_run_url"] = _in_own_loop(_async_run_url(v1_conn, run.id))
            urls["v2 async hook.get_run_url"] = _in_own_loop(_async_run_url(v2_conn, job.id))
            yield StudioWorld(
                process, v1_conn, v2_conn, pipeline.id, endpoint.id, run.id, deployed, job.id, urls
            )
        finally:
            process.stop()


def _in_own_loop(coroutine: Coroutine[Any, Any, str]) -> str:
    """Run ``coroutine`` in an event loop of its own thread (Playwright's sync API may be
    running a loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _async_run_url(conn_id: str, run_id: str) -> str:
    """The studio URL the triggers' async hook gives a run (it reads the run first: no I/O is
    allowed in ``get_run_url`` before the hook has its connection)."""
    from airflow_provider_mlpipelines.hooks._async_hook import AzureMLPipelinesAsyncHook

    async with AzureMLPipelinesAsyncHook(conn_id) as hook:
        await hook.get_pipeline_run(run_id)
        return hook.get_run_url(run_id)
