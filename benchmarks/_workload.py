"""Runs of the emulator's ``simulated`` pipeline: publish once, submit many, read end times.

Uses the provider's sync hook on the default connection (``AIRFLOW_CONN_..._DEFAULT``, set by
the caller), so importing this module imports Airflow: only orchestrating processes do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from benchmarks._common import parse_iso

log = logging.getLogger(__name__)

SUBMIT_THREADS = 8
SIMULATED = "simulated"


def quiet_provider_logs() -> None:
    """Keep the hook's per-submission INFO lines (thousands of them) out of the output."""
    for name in ("airflow_provider_mlpipelines", "azure"):
        logging.getLogger(name).setLevel(logging.WARNING)


class SimulatedWorkload:
    """The ``simulated`` pipeline published on an emulator, and helpers to run it at scale.

    :param emulator: the running emulator (an ``EmulatorProcess``).
    """

    def __init__(self, emulator: Any) -> None:
        quiet_provider_logs()
        self.emulator = emulator
        self.hook = AzureMLPipelinesHook()
        source_run = emulator.manifest["pipeline_runs"][SIMULATED]
        self.pipeline = self.hook.publish_pipeline_from_run(
            source_run, name=f"bench-{SIMULATED}-{uuid.uuid4().hex[:8]}", version="1"
        )

    def __repr__(self) -> str:
        return f"SimulatedWorkload(pipeline={self.pipeline.id!r})"

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
            run = self.hook.get_pipeline_run(run_id)
            return run_id, (run.status.value, parse_iso(run.status_info.end_time))

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            return dict(pool.map(one, run_ids))

    def fresh_token(self) -> None:
        """Acquire a new token now, so this process needs none for a token lifetime."""
        self.hook.tokens.renew(rejected=self.hook.tokens.token())

    def close(self) -> None:
        self.hook.close()
