"""The v2 client: batch endpoints, pipeline component deployments and pipeline jobs over ARM.

:class:`V2Client` answers the same questions as the v1 hook methods the operators use, in the
same models (:class:`PipelineRun`, :class:`PublishedPipeline`, :class:`PipelineEndpoint`), so
the operators, the sensor and the trigger never learn which API a connection speaks. What v2
cannot do raises one :class:`AzureMLInvalidInputError` from here, naming the v2 alternative.
The mapping (contract section 11): pipeline endpoint -> batch endpoint; endpoint version ->
deployment (its name is the version); published pipeline -> pipeline component version (its
ARM id is the pipeline id); run -> pipeline job (its name is the run id).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from airflow_provider_mlpipelines.api.models import (
    DataPathParameter,
    PipelineInterface,
    PipelineParameter,
    PipelineRun,
    PipelineSubmissionInfo,
    PublishedPipeline,
    StepStatus,
)
from airflow_provider_mlpipelines.api.run_tags import TRY_NUMBER_TAG
from airflow_provider_mlpipelines.api.status import ParameterType
from airflow_provider_mlpipelines.api.v2 import bodies, routes
from airflow_provider_mlpipelines.api.v2.models import (
    DATA_TYPES,
    ComponentVersion,
    page_items,
    pick,
)
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAuthenticationError,
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    AzureMLServerError,
    format_choices,
)
from airflow_provider_mlpipelines.hooks import _v2_calls as calls
from airflow_provider_mlpipelines.hooks._base import check_id, quoted
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings
from airflow_provider_mlpipelines.hooks._errors import Operation
from airflow_provider_mlpipelines.hooks._reports import FailedStep, failed_steps, render_run_failure
from airflow_provider_mlpipelines.hooks._transport import Call, SyncTransport
from airflow_provider_mlpipelines.hooks._v2_resources import V2Resources, component_ref

log = logging.getLogger(__name__)

#: What each v1-only feature becomes on v2 (contract section 11), for the refusal messages.
V2_GAPS: dict[str, str] = {
    "dataset_assignments": (
        "v1 datasets have no v2 equivalent; pass a v2 data asset or a datastore path as a "
        "uri input through data_path_assignments"
    ),
    "continue_on_step_failure": (
        "v2 sets it per deployment, not per run: set the deployment's "
        "settings.continue_on_step_failure"
    ),
    "parent_run_id": "v2 jobs have no parent run; tag the job instead",
    "pipeline status": (
        "v2 components cannot be disabled or deprecated; archive the component version, or "
        "move the endpoint's default away from its deployment"
    ),
    "endpoint status": (
        "v2 batch endpoints cannot be disabled; set another default deployment, or delete the "
        "deployment"
    ),
    "rest_endpoint": (
        "on v2 give pipeline_endpoint_name (the batch endpoint) and pipeline_version (the "
        "deployment); the scoring URI is read from the endpoint"
    ),
    "step logs": "read a v2 step's logs on the job's page in the studio",
}


def refuse(feature: str) -> AzureMLInvalidInputError:
    """The error for a v1 feature a v2 connection cannot serve."""
    return AzureMLInvalidInputError(
        f"{feature} is not available on a v2 (batch endpoint) connection: {V2_GAPS[feature]}"
    )


class V2Client(V2Resources):
    """Azure ML v2 behind the hook's operator-facing methods.

    :param settings: the connection settings (``api`` is ``v2``; ``base_url`` the ARM host).
    :param arm: a transport whose tokens are for Azure Resource Manager.
    :param ml: a transport whose tokens are for Azure ML (invoke, the pipeline-job header).
    :param sleep: how to wait between polls of a long-running operation.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        arm: SyncTransport,
        ml: SyncTransport,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, arm, sleep)
        self.ml = ml

    # ---------------------------------------------------------------------------------------
    # Published pipelines = pipeline component versions
    # ---------------------------------------------------------------------------------------
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline:
        return self.pipeline_of(self.component(pipeline_id))

    def get_pipeline_interface(self, pipeline_id: str) -> PipelineInterface:
        """The component's inputs as the v1 interface: literals as parameters, uri inputs as
        data paths, so that the same validation names the same problems."""
        component = self.component(pipeline_id)
        return PipelineInterface(
            parameters=[
                PipelineParameter(
                    name=item.name,
                    default_value=item.default,
                    is_optional=item.optional or item.default is not None,
                    type=_PARAMETER_TYPES.get(item.type, ParameterType.UNDEFINED),
                )
                for item in component.inputs
                if item.is_literal
            ],
            data_path_parameters=[
                DataPathParameter(name=item.name, is_optional=item.optional)
                for item in component.inputs
                if item.type in DATA_TYPES
            ],
        )

    def get_pipeline_url(self, pipeline_id: str) -> str:
        """The studio page of a component version (no I/O).

        The path ``components/{name}/{version}`` is the studio's own address for a workspace
        component [inferred from the studio; not in the REST contract].
        """
        from airflow_provider_mlpipelines.api import routes as v1_routes

        parts = component_ref(check_id(pipeline_id, "pipeline_id"))
        wsid = v1_routes.studio_workspace_id(**self.settings.workspace)
        url = (
            f"{self.settings.studio_url}/components/{quote(parts['name'], safe='')}/"
            f"{quote(parts['version'], safe='')}?wsid={wsid}"
        )
        if self.settings.tenant_id:
            url += f"&tid={quote(self.settings.tenant_id, safe='')}"
        return url

    def set_published_pipeline_status(self, pipeline_id: str, status: Any) -> None:
        raise refuse("pipeline status")

    def publish_pipeline_once(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        if_exists: str = "reuse",
        properties: dict[str, str] | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> tuple[PublishedPipeline, bool]:
        """Register ``name``/``version`` from the pipeline job ``run_id`` unless that job is
        already registered under the name (contract section 5.1); the v1 reuse rules apply.
        """
        from airflow_provider_mlpipelines.hooks._publishing import (
            choose_existing,
            existing_pipelines,
        )

        if continue_on_step_failure is not None:
            raise refuse("continue_on_step_failure")
        run_id = check_id(run_id, "pipeline_run_id")
        properties = dict(properties or {})
        source = self.get_pipeline_run(run_id)
        versions = [self.pipeline_of(c) for c in self.component_versions(name)]
        chosen = choose_existing(
            existing_pipelines(versions, source, name, version),
            run_id=run_id,
            name=name,
            version=version,
            if_exists=if_exists,
            own_properties=properties,
        )
        if chosen is not None:
            log.info("Reusing component %s, registered from job %s", chosen.id, run_id)
            return chosen, False
        if version is None:
            version = _next_version(v.version for v in versions)
        pipeline = self.publish_pipeline_from_run(
            run_id, name=name, version=str(version), description=description, properties=properties
        )
        return pipeline, True

    def publish_pipeline_from_run(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        properties: dict[str, str] | None = None,
    ) -> PublishedPipeline:
        """Register ``name``/``version`` from the pipeline job ``run_id``, without looking for
        an existing one (see :meth:`publish_pipeline_once`); the properties become its tags.

        :raises AzureMLConflictError: that version exists, made from another job.
        """
        if continue_on_step_failure is not None:
            raise refuse("continue_on_step_failure")
        run_id = check_id(run_id, "pipeline_run_id")
        if version is None:
            version = _next_version(c.version for c in self.component_versions(name))
        body = bodies.component_from_job_body(run_id, name, str(version), description)
        body["properties"]["tags"] = dict(properties or {})
        call = calls.arm_call(
            self.settings,
            routes.COMPONENT_FROM_JOB_PUT,
            f"{name!r} version {version!r} from job {run_id!r}",
            body=body,
            component_name=name,
            version=str(version),
        )
        component = ComponentVersion.from_json(self.arm.execute(call).json())
        self._components[component.id] = component
        log.info("Registered component %s from job %s", component.id, run_id)
        return self.pipeline_of(component)

    # ---------------------------------------------------------------------------------------
    # Runs = pipeline jobs
    # ---------------------------------------------------------------------------------------
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        return calls.run_from_job(self.arm.execute(calls.job_call(self.settings, run_id)).json())

    def cancel_pipeline_run(self, run_id: str) -> None:
        """Ask for the cancel and follow its long-running operation; the job then moves to
        ``Canceled`` (callers confirm by reading the job)."""
        call = calls.cancel_call(self.settings, run_id)
        self.finish_operation(call, self.arm.execute(call))

    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]:
        children = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            call = calls.children_call(self.settings, self.history_base(), run_id, token)
            page, token = calls.parse_children(self.arm.execute(call).json())
            children.extend(page)
            if not token or token in seen:
                return calls.step_statuses(children)
            seen.add(token)

    def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str:
        run = self.get_pipeline_run(run_id)
        failed = failed_steps(self.get_step_statuses(run_id))
        items = [FailedStep(step, log_problem=V2_GAPS["step logs"]) for step in failed]
        return render_run_failure(run, items, max_log_lines)

    def history_base(self) -> str:
        """The run-history host: the workspace discovery document's ``api`` entry, looked up
        once per workspace and process (see :data:`~._v2_calls.HISTORY_BASES`)."""
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
        self, target: Any, identity: Mapping[str, str], tries: Sequence[int]
    ) -> list[PipelineRun]:
        """The jobs that tries ``tries`` of the task instance ``identity`` submitted.

        v2 jobs are named after the task instance and try (see ``job_name_for``), so each is
        one read by name; the batch jobs' own tags do not carry Airflow's.
        """
        found = []
        for try_number in tries:
            try:
                run = self.get_pipeline_run(calls.task_job_name(identity, try_number))
            except AzureMLNotFoundError:
                continue
            run.tags.update({**identity, TRY_NUMBER_TAG: str(try_number)})
            found.append(run)
        return found

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
        name = calls.job_name_for(submission.tags)
        body = bodies.invoke_body(
            self._inputs(component, submission, "invoke"),
            experiment_name=submission.experiment_name,
            job_name=name,
        )
        headers = {
            routes.HEADER_DEPLOYMENT: deployment.name,
            # The same id on every resend of this submission, for a service that dedupes on it.
            routes.HEADER_REPEATABILITY: str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        }
        call = calls.absolute_call(
            self.settings,
            Operation("invoke batch endpoint", f"{endpoint.name!r} deployment {deployment.name!r}"),
            "POST",
            endpoint.scoring_uri,
            same_origin=False,
            body=body,
            headers=headers,
        )
        return self._created(call, name, self.ml)

    def _created(self, call: Call, name: str, transport: SyncTransport) -> PipelineRun:
        # The name was chosen here, so a resend (a lost answer, a 5xx) cannot make a second job:
        # the service refuses the taken name, and the job of the first attempt is the run.
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

    def count_endpoints(self, policy: Any = None) -> int:
        """The workspace's batch endpoints, read once with ``policy``, after an ML token was
        acquired too: what ``test_connection`` checks on a v2 connection (both audiences)."""
        self.ml.tokens.token()
        call = calls.arm_call(self.settings, routes.ENDPOINT_LIST)
        items, _ = page_items(self.arm.execute(call, policy=policy).json())
        return len(items)

    def submit_to_url(self, url: str, submission: PipelineSubmissionInfo) -> PipelineRun:
        raise refuse("rest_endpoint")

    def parse_submit_url(self, url: str) -> Any:
        raise refuse("rest_endpoint")

    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str:
        raise refuse("step logs")


_PARAMETER_TYPES = {
    "string": ParameterType.STRING,
    "integer": ParameterType.INT,
    "number": ParameterType.DOUBLE,
    "boolean": ParameterType.BOOL,
}
_V2_TYPES = {kind: name for name, kind in _PARAMETER_TYPES.items()}


def _next_version(existing: Any) -> str:
    numbers = [int(v) for v in existing if v is not None and str(v).isdigit()]
    return str(max(numbers, default=0) + 1)


__all__ = ["V2_GAPS", "V2Client", "refuse"]
