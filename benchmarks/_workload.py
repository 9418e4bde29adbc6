"""Runs of the emulator's ``simulated`` pipeline: publish once, submit many, read end times.

On ``v1`` (the default) it uses the provider's sync hook on the default connection
(``AIRFLOW_CONN_..._DEFAULT``, set by the caller); on ``v2`` the same hook methods on the
emulator's ``airflow_conn_v2`` connection, which answer with the v2 client: the ``simulated``
pipeline registered as a component from the emulator's v2 job, each run a pipeline job.
Importing this module imports Airflow: only orchestrating processes do.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.v2 import routes as v2_routes
from airflow_provider_mlpipelines.clients.v2.client import V2Client
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from benchmarks._common import parse_iso

log = logging.getLogger(__name__)

SUBMIT_THREADS = 8
SIMULATED = "simulated"
APIS = ("v1", "v2")
#: The connection id the orchestrator's v2 hook uses (its own environment variable).
V2_CONN_ID = "azure_ml_pipelines_bench_v2"


@dataclass(frozen=True)
class ApiRoutes:
    """The emulator's counter names (``/_emulator/stats``) of what one API's watch reads.

    :param api: ``v1`` or ``v2``.
    :param status: the route of one run's status read.
    :param steps: the routes of step-progress reads.
    :param submit: the route the orchestrator submits runs with.
    """

    api: str
    status: str
    steps: tuple[str, ...]
    submit: str


API_ROUTES = {
    "v1": ApiRoutes(
        "v1", routes.RUN_GET.name, (routes.RUN_STEP_STATUSES.name,), routes.PIPELINE_SUBMIT.name
    ),
    # A v2 job's steps are run-history child runs on the discovery document's host.
    "v2": ApiRoutes("v2", v2_routes.JOB_GET.name, ("list child jobs",), v2_routes.JOB_PUT.name),
}


def quiet_provider_logs() -> None:
    """Keep the hook's per-submission INFO lines (thousands of them) out of the output."""
    for name in ("airflow_provider_mlpipelines", "azure"):
        logging.getLogger(name).setLevel(logging.WARNING)


class SimulatedWorkload:
    """The ``simulated`` pipeline published on an emulator, and helpers to run it at scale.

    :param emulator: the running emulator (an ``EmulatorProcess``).
    :param api: ``v1`` (published pipeline, pipeline runs) or ``v2`` (component, pipeline
        jobs).
    """

    def __init__(self, emulator: Any, api: str = "v1") -> None:
        if api not in APIS:
            raise ValueError(f"api {api!r} is not one of {APIS}")
        quiet_provider_logs()
        self.emulator = emulator
        self.api = api
        self.routes = API_ROUTES[api]
        name = f"bench-{SIMULATED}-{uuid.uuid4().hex[:8]}"
        # End times come from the v1 view of the run: a v2 job carries no end time (contract
        # section 8), and the emulator runs each v2 job as the run of the same id.
        self.v1_hook = AzureMLPipelinesHook()
        if api == "v1":
            self.hook = self.v1_hook
            source_run = emulator.manifest["pipeline_runs"][SIMULATED]
            self.pipeline = self.hook.publish_pipeline_from_run(source_run, name=name, version="1")
        else:
            os.environ[f"AIRFLOW_CONN_{V2_CONN_ID.upper()}"] = self.conn_json
            self.hook = AzureMLPipelinesHook(azure_ml_pipelines_conn_id=V2_CONN_ID)
            source_job = emulator.manifest["v2_pipeline_jobs"][SIMULATED]
            self.pipeline, _ = self.hook.publish_pipeline_once(source_job, name=name, version="1")

    def __repr__(self) -> str:
        return f"SimulatedWorkload(api={self.api!r}, pipeline={self.pipeline.id!r})"

    @property
    def conn_json(self) -> str:
        """The connection a watching process uses (as ``AIRFLOW_CONN_...``): the one of the API."""
        key = "airflow_conn" if self.api == "v1" else "airflow_conn_v2"
        return json.dumps(self.emulator.manifest[key])

    @property
    def pipeline_id(self) -> str:
        return str(self.pipeline.id)

    def status_path(self, run_id: str) -> str:
        """The path (under the service base URL) of a run's status route.

        :param run_id: the run.
        """
        return routes.RUN_GET.format(**self.hook.settings.workspace, run_id=run_id)

    def submit(self, duration: float, experiment: str, outcome: str = "Finished") -> str:
        """Submit one run lasting ``duration`` seconds; return its id.

        :param duration: the ``work`` step's duration in seconds.
        :param experiment: the experiment name.
        :param outcome: ``Finished`` or ``Failed``.
        """
        submission = self.hook.build_submission(
            experiment_name=experiment,
            parameters={"duration_seconds": round(duration, 3), "outcome": outcome},
        )
        return str(self.hook.submit_pipeline_run(self.pipeline_id, submission).id)

    def submit_many(
        self,
        durations: Sequence[float],
        experiment: str,
        on_submitted: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Submit one run per duration from a few threads; return the ids in order.

        :param durations: each run's duration in seconds.
        :param experiment: the experiment name.
        :param on_submitted: called with each id as soon as its run exists (any thread).
        """

        def one(duration: float) -> str:
            run_id = self.submit(duration, experiment)
            if on_submitted is not None:
                on_submitted(run_id)
            return run_id

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            return list(pool.map(one, durations))

    def end_times(self, run_ids: Sequence[str]) -> dict[str, tuple[str, float]]:
        """Each run's final status and ``Status.EndTime`` (epoch seconds).

        :param run_ids: the runs.
        """

        def one(run_id: str) -> tuple[str, tuple[str, float]]:
            run = self.v1_hook.get_pipeline_run(run_id)
            return run_id, (run.status.value, parse_iso(run.status_info.end_time))

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            return dict(pool.map(one, run_ids))

    def token_providers(self) -> list[Any]:
        """The token providers this process submits with (v2: the ARM and the ML audience)."""
        providers = [self.hook.tokens]
        client = self.hook.client
        if isinstance(client, V2Client):
            providers.append(client.ml.tokens)
        return providers

    def fresh_token(self) -> None:
        """Acquire new tokens now, so this process needs none for a token lifetime."""
        for tokens in self.token_providers():
            tokens.renew(rejected=tokens.token())

    def token_marks(self) -> list[Any]:
        """The cached tokens now; a later call that differs means one was acquired between."""
        return [tokens.shared.cache.cached for tokens in self.token_providers()]

    def close(self) -> None:
        self.hook.close()
        if self.v1_hook is not self.hook:
            self.v1_hook.close()
