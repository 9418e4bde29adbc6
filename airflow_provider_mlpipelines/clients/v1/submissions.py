"""Submitting v1 runs, and finding a submitted run again.

A submission carries a unique ``airflow.submission_id`` tag, so that an attempt whose outcome
is unknown (a dropped connection, a 5xx) is resolved by looking for its run before anything is
sent again. The runs list is read to its last page and may lag behind new runs: a run looked
for and not found is looked for again until the list must show it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import (
    PipelineInterface,
    PipelineRun,
    PipelineSubmissionInfo,
)
from airflow_provider_mlpipelines.api.results import SubmitUrl
from airflow_provider_mlpipelines.api.run_tags import RELIST_INTERVAL_SECONDS
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.transport import AmbiguousAttempt, Call
from airflow_provider_mlpipelines.clients.protocol import RunTarget
from airflow_provider_mlpipelines.clients.v1 import bodies, calls
from airflow_provider_mlpipelines.clients.v1.endpoints import V1Endpoints
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLPipelinesError,
    AzureMLServerError,
)

log = logging.getLogger(__name__)


class V1Submissions(V1Endpoints):
    """Submit runs to pipelines and endpoints; list a pipeline's runs; find a task's runs."""

    @property
    def listing_lag_seconds(self) -> float:
        """How long a new run may take to be found by :meth:`runs_of_task`."""
        return self.runs_list_lag_seconds

    def runs_of_task(
        self,
        target: RunTarget,
        identity: Mapping[str, str],
        tries: Sequence[int],
        since: float | None = None,
    ) -> list[PipelineRun]:
        """The runs that tries of one task instance submitted to ``target``.

        On v1, the runs of every pipeline the target may have run (``target.pipeline_ids``)
        whose tags name the task instance ``identity``; ``tries`` does not narrow them.

        :param target: where the task submits (a ``SubmitTarget``).
        :param identity: the task instance's identity tags.
        :param tries: the earlier tries whose runs are looked for, newest first.
        :param since: when the earliest of them may have started (v1's runs carry the task's
            tags, which suffice).
        """
        return [
            run
            for pipeline_id in target.pipeline_ids
            for run in self.list_pipeline_runs(pipeline_id)
            if all(run.tags.get(key) == value for key, value in identity.items())
        ]

    def check_submission(
        self, submission: PipelineSubmissionInfo, parent_run_id: str | None = None
    ) -> None:
        """Refuse, before anything is sent, what the connection's API cannot run (v1 runs
        everything ``build_submission`` accepts).

        :param submission: what is about to be submitted.
        :param parent_run_id: the parent run it is to have, if any.
        """

    def list_pipeline_runs(self, pipeline_id: str) -> list[PipelineRun]:
        """Every run submitted to a published pipeline, following continuation tokens.

        The list may not show a run created in the last seconds (see
        :attr:`runs_list_lag_seconds`); get a run by id to see it at once.

        :param pipeline_id: the published pipeline.
        """
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        runs: list[PipelineRun] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            params = {routes.QUERY_CONTINUATION: token} if token else None
            call = self._call(
                routes.PIPELINE_RUNS, quoted(pipeline_id), params=params, pipeline_id=pipeline_id
            )
            reply = self._send(call)
            try:
                items, next_token = bodies.runs_page(reply.json())
            except ValueError as exc:
                raise AzureMLServerError(
                    call.operation.name,
                    call.operation.resource,
                    status_code=reply.status,
                    code="InvalidResponse",
                    message=str(exc),
                ) from None
            runs.extend(PipelineRun.from_json(item) for item in items)
            token = calls.next_continuation(next_token, seen)
            if token is None:
                return runs

    def validate_submission(
        self, interface: PipelineInterface, submission: PipelineSubmissionInfo, *, target: str
    ) -> None:
        """Check a submission against the inputs a pipeline declares, before sending it.

        :param interface: the pipeline's declared inputs (:meth:`get_pipeline_interface`).
        :param submission: the submission to check.
        :param target: what is being submitted to, for the message.
        :raises AzureMLInvalidInputError: listing every problem.
        """
        bodies.validate_submission(interface, submission, target=target)

    def submit_pipeline_run(
        self,
        pipeline_id: str,
        submission: PipelineSubmissionInfo,
        *,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """Submit a run of the published pipeline ``pipeline_id``.

        The submission is tagged with a unique ``airflow.submission_id`` (unless it has one),
        so an ambiguous failure is resolved by looking the run up instead of resending blindly.

        :param pipeline_id: the published pipeline.
        :param submission: what to run (see ``build_submission``).
        :param parent_run_id: makes the new run a child of this run.
        """
        pipeline_id = check_id(pipeline_id, "pipeline_id")
        target = calls.SubmitDestination.pipeline(pipeline_id, parent_run_id)
        return self._submit(target, submission, lambda: [pipeline_id])

    def submit_pipeline_endpoint_run(
        self,
        endpoint_id: str,
        submission: PipelineSubmissionInfo,
        *,
        pipeline_version: str | None = None,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """Submit a run to an endpoint: its default version, or ``pipeline_version``.

        :param endpoint_id: the endpoint.
        :param submission: what to run (see ``build_submission``).
        :param pipeline_version: the version to run; the endpoint's default when ``None``.
        :param parent_run_id: makes the new run a child of this run.
        """
        endpoint_id = check_id(endpoint_id, "endpoint_id")
        version = None if pipeline_version is None else str(pipeline_version)
        target = calls.SubmitDestination.endpoint(endpoint_id, version, parent_run_id)

        def pipelines_behind_version() -> list[str]:
            endpoint = self.get_pipeline_endpoint(endpoint_id)
            if version is not None:
                return [p for p in [endpoint.pipeline_id_of(version)] if p]
            # The default may have changed since the run was submitted: every version's
            # pipeline is searched, the current default's first.
            ids = [endpoint.pipeline_id_of(None), *(v.pipeline_id for v in endpoint.versions)]
            return list(dict.fromkeys(p for p in ids if p))

        return self._submit(target, submission, pipelines_behind_version)

    def submit_to_url(self, url: str, submission: PipelineSubmissionInfo) -> PipelineRun:
        """Submit to a pipeline's or endpoint's ``Url`` as pasted from the studio.

        Only URLs of the connection's own service and workspace are accepted: the token is
        never sent to another host.

        :param url: ``.../PipelineSubmit/{id}`` or ``.../PipelineEndpointSubmit/Id/{id}[/{v}]``.
        :param submission: what to run (see ``build_submission``).
        """
        target = self.parse_submit_url(url)
        if target.endpoint_id is None:
            return self.submit_pipeline_run(
                str(target.pipeline_id), submission, parent_run_id=target.parent_run_id
            )
        return self.submit_pipeline_endpoint_run(
            target.endpoint_id,
            submission,
            pipeline_version=target.pipeline_version,
            parent_run_id=target.parent_run_id,
        )

    def parse_submit_url(self, url: str) -> SubmitUrl:
        """Read a pipeline's or endpoint's submit ``Url`` without calling the service.

        :param url: the submit URL.

        :raises AzureMLInvalidInputError: not a submit URL of the connection's own service
            and workspace, or plain http to a non-loopback host.
        """
        return bodies.parse_submit_url(url, self.settings)

    def _submit(
        self,
        target: calls.SubmitDestination,
        submission: PipelineSubmissionInfo,
        pipelines_of_target: Callable[[], list[str]],
    ) -> PipelineRun:
        tagged, submission_id = bodies.with_submission_id(submission)
        call = target.call(self.settings, tagged)
        retries_done = 0
        while True:
            try:
                reply = self.transport.execute(call, retries_done=retries_done)
            except AmbiguousAttempt as ambiguous:
                failed_at = time.monotonic()
                found = self._look_for_submission(
                    call, submission_id, pipelines_of_target, failed_at
                )
                if found is not None:
                    return found
                if ambiguous.wait is None:
                    raise ambiguous.error from None
                # The lookup's own waiting counts towards the backoff.
                wait = max(0.0, ambiguous.wait - (time.monotonic() - failed_at))
                log.warning(
                    "%s: %s; no run carries submission id %s, resending in %.2f s",
                    call.operation,
                    ambiguous.error,
                    submission_id,
                    wait,
                )
                self.sleep(wait)
                retries_done = ambiguous.retries_done + 1
                continue
            run = PipelineRun.from_json(reply.json())
            log.info(
                "%s: submitted run %s (submission id %s)", call.operation, run.id, submission_id
            )
            return run

    def _look_for_submission(
        self,
        call: Call,
        submission_id: str,
        pipelines_of_target: Callable[[], list[str]],
        failed_at: float,
    ) -> PipelineRun | None:
        """The run carrying ``submission_id``, looked for until the runs list has caught up.

        A run the failed attempt created exists by ``failed_at`` (monotonic seconds), so it is
        listed by ``failed_at + runs_list_lag_seconds`` at the latest; only then is its
        absence proof enough to resend.
        """
        log.warning(
            "%s: outcome unknown; looking for a run with submission id %s",
            call.operation,
            submission_id,
        )
        lag = max(0.0, float(self.runs_list_lag_seconds))
        deadline = failed_at + lag
        # Bounded by count too, so that a hook whose sleep does not wait cannot spin.
        looks = int(lag // RELIST_INTERVAL_SECONDS) + 2
        try:
            pipeline_ids = pipelines_of_target()
            if not pipeline_ids:
                raise AzureMLInvalidInputError("the target version names no pipeline")
            for look in range(looks):
                found = self._find_submission(pipeline_ids, submission_id)
                if found is not None:
                    log.info(
                        "%s: run %s was created (submission id %s)",
                        call.operation,
                        found.id,
                        submission_id,
                    )
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if look == 0:
                    log.info(
                        "%s: no run with submission id %s listed yet; looking again for up to "
                        "%.0f s, as a new run may take that long to be listed",
                        call.operation,
                        submission_id,
                        remaining,
                    )
                self.sleep(min(RELIST_INTERVAL_SECONDS, remaining))
        except AzureMLPipelinesError as exc:
            raise calls.ambiguous_error(call, submission_id, exc) from exc
        return None

    def _find_submission(self, pipeline_ids: list[str], submission_id: str) -> PipelineRun | None:
        for pipeline_id in pipeline_ids:
            found = bodies.find_submitted_run(self.list_pipeline_runs(pipeline_id), submission_id)
            if found is not None:
                return found
        return None
