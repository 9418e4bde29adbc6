"""v2 pipeline jobs: read, cancel and explain them; submit them as jobs or batch invokes.

The part of :class:`~airflow_provider_mlpipelines.clients.v2.client.V2Client` that speaks to
jobs (contract sections 7 and 8): a run is a pipeline job, its name is the run id, its steps
are its run-history children.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    PipelineInterface,
    PipelineRun,
    PipelineSubmissionInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.run_tags import TRY_NUMBER_TAG
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.api.v2 import bodies, routes
from airflow_provider_mlpipelines.api.v2.models import ComponentVersion, Job, pick
from airflow_provider_mlpipelines.clients.core.checks import quoted
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
)
from airflow_provider_mlpipelines.clients.core.transport import (
    AmbiguousAttempt,
    Call,
    SyncTransport,
)
from airflow_provider_mlpipelines.clients.protocol import RunTarget
from airflow_provider_mlpipelines.clients.v2 import calls
from airflow_provider_mlpipelines.clients.v2.gaps import V2_GAPS, refuse
from airflow_provider_mlpipelines.clients.v2.invokes import (
    BATCH_RUN_TAG,
    InvokeTarget,
    carries_marker,
    invoked_job,
    unmarked_jobs,
)
from airflow_provider_mlpipelines.clients.v2.resources import V2Resources
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAmbiguousSubmissionError,
    AzureMLAuthenticationError,
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    AzureMLPipelinesError,
    AzureMLServerError,
    AzureMLServiceError,
    format_choices,
)

log = logging.getLogger(__name__)

#: v2 literal input types as the shared parameter types, and back.
PARAMETER_TYPES = {
    "string": ParameterType.STRING,
    "integer": ParameterType.INT,
    "number": ParameterType.DOUBLE,
    "boolean": ParameterType.BOOL,
}
_V2_TYPES = {kind: name for name, kind in PARAMETER_TYPES.items()}


class V2Jobs(V2Resources):
    """Pipeline jobs of one v2 workspace, and their submission."""

    # ---------------------------------------------------------------------------------------
    # Runs = pipeline jobs
    # ---------------------------------------------------------------------------------------
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        return calls.run_from_job(self.arm.execute(calls.job_call(self.settings, run_id)).json())

    def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask for the cancel and follow its long-running operation; the job then moves to
        ``Canceled`` (callers confirm by reading the job)."""
        call = calls.cancel_call(self.settings, run_id)
        try:
            reply = self.arm.execute(call)
        except AzureMLServiceError as refused:
            if not calls.may_mean_ended(refused):
                raise
            # The service refuses to cancel a job in a terminal state (400 UserError "... terminal
            # status, it can't be canceled"): that is nothing to cancel, if the job has ended.
            run = self.get_pipeline_run(run_id)
            if not run.status.is_terminal:
                raise
            log.info("Job %s had already ended (%s); nothing to cancel", run_id, run.status.value)
            return
        self.finish_operation(call, reply)

    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        return calls.step_statuses(self._children(run_id))

    def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]:
        """A job's child runs (its steps) from run history, following continuation tokens.

        ``experiment_name`` and ``page_size`` are the v1 route's: v2's children route names
        neither (the job's name is unique in the workspace, and the service pages).
        """
        return self._children(run_id)

    def _children(self, run_id: str) -> list[HistoryRun]:
        children: list[HistoryRun] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            call = calls.children_call(self.settings, self.history_base(), run_id, token)
            page, token = calls.parse_children(self.arm.execute(call).json())
            children.extend(page)
            if not token or token in seen:
                return children
            seen.add(token)

    def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        run = self.get_pipeline_run(run_id)
        failed = failed_steps(self.get_step_statuses(run_id))
        items = [FailedStep(step, log_problem=V2_GAPS["step logs"]) for step in failed]
        return render_run_failure(run, items, max_log_lines)

    def history_base(self) -> str:
        """The run-history host: the workspace discovery document's ``api`` entry, looked up
        once per workspace and process (see :data:`~.calls.HISTORY_BASES`)."""
        known = calls.HISTORY_BASES.get(calls.workspace_key(self.settings))
        if known is not None:
            return known
        workspace = self.arm.execute(calls.arm_call(self.settings, routes.WORKSPACE_GET)).json()
        url = pick(workspace, "properties", "discoveryUrl")
        discovery = None
        if url:
            discovery = self.arm.execute(calls.discovery_call(self.settings, str(url))).json()
        return calls.remember_history_base(self.settings, discovery)

    def runs_of_task(
        self,
        target: RunTarget,
        identity: Mapping[str, str],
        tries: Sequence[int],
        since: float | None = None,
    ) -> list[PipelineRun]:
        """The jobs that tries ``tries`` of the task instance ``identity`` submitted.

        Each try asked for a name derived from the task instance and the try (see
        ``job_name_for``): a pipeline job (PUT) has that name, an invoked job has it as its
        name or, where the service names the job itself, as its display name. A service that
        keeps neither cannot be asked which job a try made; the task state store (Airflow
        3.3+), where the operator records the job's name as soon as the service answers, is
        then the only record. Without it, when none is found and jobs of the target endpoint
        created since ``since`` carry no marker, one of them may be an earlier try's: that is
        said (:class:`AzureMLUndecidableSubmissionError`) rather than submitting again.
        """
        markers = {calls.task_job_name(identity, number): number for number in tries}
        found: dict[str, tuple[PipelineRun, int]] = {}
        for marker, number in markers.items():
            try:
                found[marker] = (self.get_pipeline_run(marker), number)
            except AzureMLNotFoundError:
                continue
        missing = [marker for marker in markers if marker not in found]
        if missing:
            jobs = self.batch_jobs()
            for marker in missing:
                mine = carries_marker(jobs, marker)
                if mine:
                    found[marker] = (self.get_pipeline_run(mine[0].name), markers[marker])
            if not found and since is not None and target.endpoint_id:
                endpoint = self.batch_endpoint(target.endpoint_id)
                deployments = [d.name for d in self.deployments(endpoint.name)]
                unmarked_jobs(jobs, endpoint.name, deployments, since, sorted(markers))
        runs = []
        for run, number in found.values():
            run.tags.update({**identity, TRY_NUMBER_TAG: str(number)})
            runs.append(run)
        return runs

    # ---------------------------------------------------------------------------------------
    # Submissions
    # ---------------------------------------------------------------------------------------
    def validate_submission(
        self, interface: PipelineInterface, submission: PipelineSubmissionInfo, *, target: str
    ) -> None:
        """Check names and literal types against the component's inputs, in v2's words."""
        literals = submission.parameter_assignments or {}
        data = submission.data_path_assignments or {}
        declared = [*interface.parameter_names, *interface.data_path_names]
        problems = [
            f"unknown input {name!r} (declared inputs: {format_choices(declared)})"
            for name in [*literals, *data]
            if name not in declared
        ]
        for parameter in interface.parameters:
            kind = _V2_TYPES.get(parameter.type)
            if parameter.name in literals and kind is not None:
                try:
                    bodies.coerce_literal(literals[parameter.name], kind)
                except ValueError as err:
                    problems.append(f"input {parameter.name!r} ({kind}): {err}")
        if problems:
            raise AzureMLInvalidInputError(f"submit to {target}: " + "; ".join(problems))

    def check_submission(
        self, submission: PipelineSubmissionInfo, parent_run_id: str | None = None
    ) -> None:
        """Refuse what a v2 job cannot take, before anything is sent."""
        if parent_run_id:
            raise refuse("parent_run_id")
        if submission.dataset_assignments:
            raise refuse("dataset_assignments")
        if submission.continue_run_on_step_failure is not None:
            raise refuse("continue_on_step_failure")

    def submit_pipeline_run(
        self,
        pipeline_id: str,
        submission: PipelineSubmissionInfo,
        *,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """A pipeline job of the component ``pipeline_id`` (contract section 8)."""
        self.check_submission(submission, parent_run_id)
        component = self.component(pipeline_id)
        name = calls.job_name_for(submission.tags)
        body = bodies.pipeline_job_body(
            component.id,
            self._inputs(component, submission, "job"),
            experiment_name=submission.experiment_name,
            tags=submission.tags,
        )
        if submission.description:
            body["properties"]["description"] = submission.description

        def job_put(ml_token: str) -> Call:
            return calls.arm_call(
                self.settings,
                routes.JOB_PUT,
                f"{quoted(name)} of component {component.id!r}",
                body=body,
                headers={routes.HEADER_ML_TOKEN: ml_token},
                job_name=name,
            )

        ml_token = self.ml.tokens.token()
        try:
            return self._created(job_put(ml_token), name, self.arm)
        except AzureMLAuthenticationError:
            # The transport renews the ARM token on a 401, not the ML one in the header.
            log.info("Job PUT refused a token; renewing the Azure ML token once")
            return self._created(job_put(self.ml.tokens.renew(rejected=ml_token)), name, self.arm)

    def submit_pipeline_endpoint_run(
        self,
        endpoint_id: str,
        submission: PipelineSubmissionInfo,
        *,
        pipeline_version: str | None = None,
        parent_run_id: str | None = None,
    ) -> PipelineRun:
        """Invoke the batch endpoint (contract section 7): the deployment ``pipeline_version``,
        else the endpoint's default deployment, named in the request so that what runs is the
        deployment whose inputs were typed here."""
        self.check_submission(submission, parent_run_id)
        endpoint = self.batch_endpoint(endpoint_id)
        deployment_name = pipeline_version or endpoint.default_deployment
        if not deployment_name:
            raise AzureMLInvalidInputError(
                f"batch endpoint {endpoint.name!r} has no default deployment: give "
                "pipeline_version (a deployment name) or set a default first"
            )
        deployment = self.deployment(endpoint.name, deployment_name)
        component = self.component(str(deployment.component_id))
        if not endpoint.scoring_uri:
            raise AzureMLServerError(
                "invoke batch endpoint",
                quoted(endpoint.name),
                message="the endpoint reports no scoringUri",
            )
        marker = calls.job_name_for(submission.tags)
        body = bodies.invoke_body(
            self._inputs(component, submission, "invoke"),
            experiment_name=submission.experiment_name,
            job_name=marker,
        )
        headers = {
            routes.HEADER_DEPLOYMENT: deployment.name,
            # The same id on every resend of this submission, for a service that dedupes on it.
            routes.HEADER_REPEATABILITY: str(uuid.uuid5(uuid.NAMESPACE_URL, marker)),
        }
        call = calls.absolute_call(
            self.settings,
            Operation("invoke batch endpoint", f"{endpoint.name!r} deployment {deployment.name!r}"),
            "POST",
            endpoint.scoring_uri,
            same_origin=False,
            body=body,
            headers=headers,
            # Resent only once a lookup has shown that the lost attempt made no job.
            idempotent=False,
            checkable=True,
        )
        target = InvokeTarget(
            endpoint.name, deployment.name, marker, submission.experiment_name, time.time()
        )
        return self._invoked(call, target)

    def _invoked(self, call: Call, target: InvokeTarget) -> PipelineRun:
        """Send the invoke; an attempt whose outcome is unknown is looked up, not resent."""
        retries_done = 0
        while True:
            try:
                reply = self.ml.execute(call, retries_done=retries_done)
            except AzureMLConflictError:
                # A service that names the job as asked refuses a taken name: the lost
                # attempt made the job.
                log.info("%s: job %s exists already; using it", call.operation, target.marker)
                return self.get_pipeline_run(target.marker)
            except AmbiguousAttempt as ambiguous:
                log.warning(
                    "%s: outcome unknown (%s); looking for the job it may have made",
                    call.operation,
                    ambiguous.error,
                )
                try:
                    jobs = self.batch_jobs()
                except AzureMLPipelinesError as lookup_failed:
                    raise AzureMLAmbiguousSubmissionError(
                        call.operation.name,
                        call.operation.resource,
                        message=(
                            f"the invoke failed after it was sent ({ambiguous.error}), and "
                            f"listing the jobs to see whether it made one failed too "
                            f"({lookup_failed}); look for a job of deployment "
                            f"{target.deployment!r} named or displayed {target.marker!r}"
                        ),
                    ) from lookup_failed
                found = invoked_job(jobs, target)
                if found is not None:
                    log.info("%s: the lost attempt made job %s", call.operation, found.name)
                    return self.get_pipeline_run(found.name)
                if ambiguous.wait is None:
                    raise ambiguous.error from None
                log.warning("%s: it made none; sending again", call.operation)
                self.sleep(ambiguous.wait)
                retries_done = ambiguous.retries_done + 1
                continue
            run = calls.run_from_job(reply.json())
            # The job's name is the answer's, never the one asked for (the service makes its
            # own): it is what the caller records at once.
            log.info("%s: submitted job %s", call.operation, run.id)
            if not run.id:
                raise AzureMLServerError(
                    call.operation.name,
                    call.operation.resource,
                    code="InvalidResponse",
                    message="the invoke's answer names no job",
                )
            return run

    def batch_jobs(self) -> list[Job]:
        """The workspace's batch jobs (tag ``azureml.batchrun``), every page."""
        call = calls.arm_call(
            self.settings, routes.JOB_LIST, params={routes.QUERY_TAG: BATCH_RUN_TAG}
        )
        return [Job.from_json(item) for item in self._all_pages(call)]

    def _created(self, call: Call, name: str, transport: SyncTransport) -> PipelineRun:
        # A pipeline job's PUT names the job (the recorded service keeps the client's name), so
        # a resend after a lost answer is the same job's create-or-update, not a second job.
        try:
            reply = transport.execute(call)
        except AzureMLConflictError:
            log.info(
                "%s: job %s exists already (an earlier attempt); using it", call.operation, name
            )
            return self.get_pipeline_run(name)
        run = calls.run_from_job(reply.json())
        log.info("%s: submitted job %s", call.operation, run.id or name)
        return run if run.id else self.get_pipeline_run(name)

    def _inputs(
        self, component: ComponentVersion, submission: PipelineSubmissionInfo, plane: Any
    ) -> dict[str, dict[str, Any]]:
        data = {
            key: bodies.datastore_uri(str(value["DataStoreName"]), str(value["RelativePath"]))
            for key, value in (submission.data_path_assignments or {}).items()
        }
        try:
            return bodies.typed_inputs(
                component, submission.parameter_assignments or {}, data, plane
            )
        except ValueError as err:
            raise AzureMLInvalidInputError(f"component {component.id!r}: {err}") from None
