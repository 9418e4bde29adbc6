"""The operator that submits a pipeline run and waits for it, in the worker or deferred.

Re-exported by :mod:`airflow_provider_mlpipelines.operators.azure_ml_pipelines`, the import path
to use.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import default_deferrable
from airflow_provider_mlpipelines._lifecycle import task_stop_is_user_intent
from airflow_provider_mlpipelines._waiting import (
    cancel_run_quietly,
    handle_trigger_event,
    raise_for_run_outcome,
    wait_for_run,
)
from airflow_provider_mlpipelines.api.run_tags import TRY_NUMBER_TAG
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLInvalidInputError,
    AzureMLUndecidableSubmissionError,
)
from airflow_provider_mlpipelines.links.azure_ml_pipelines import AzureMLPipelineRunLink
from airflow_provider_mlpipelines.operators import _lineage
from airflow_provider_mlpipelines.operators._asset_events import emit_run_extras
from airflow_provider_mlpipelines.operators._base import (
    AzureMLPipelinesBaseOperator,
    check_exactly_one,
    check_identifier,
)
from airflow_provider_mlpipelines.operators._submission import (
    SubmitTarget,
    endpoint_target,
    epoch,
    find_earlier_run,
    first_try_since_clear,
    load_assignments,
    load_parameters,
    pipeline_target,
    remember_run,
    submitted_before_clear,
    task_identity_tags,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context
    from airflow_provider_mlpipelines.api.models import PipelineRun, PipelineSubmissionInfo

#: Airflow names an operator by its class's module in serialized DAGs, in the REST API's
#: ``class_ref`` and in the task logger's name: moving the class here must not change them.
_PUBLIC_MODULE = "airflow_provider_mlpipelines.operators.azure_ml_pipelines"

_JSON_RENDERERS = {
    "parameters": "json",
    "data_path_assignments": "json",
    "dataset_assignments": "json",
    "tags": "json",
}


class AzureMLSubmitPipelineRunOperator(AzureMLPipelinesBaseOperator):
    """Submit a run of a published pipeline or pipeline endpoint and, by default, wait for it.

    Give exactly one target: ``published_pipeline_id``; or ``pipeline_endpoint_id`` /
    ``pipeline_endpoint_name`` with an optional ``pipeline_version`` (default: the endpoint's
    default version); or ``rest_endpoint``, a pipeline's or endpoint's submit URL. The run id and
    its studio URL are logged and pushed (``run_id``, ``run_url``) as soon as the run exists;
    ``run_status`` is pushed when the wait ends. Returns the run id.

    On a v2 connection (extra ``api`` ``v2``) an endpoint is a batch endpoint and its versions
    are its deployments (``pipeline_version`` is a deployment name); a ``published_pipeline_id``
    is a pipeline component (its ARM id or ``azureml:name:version``) run as a pipeline job.
    ``parameters`` become job inputs typed as the component declares them, data paths become
    ``uri_folder``/``uri_file`` inputs on ``azureml://datastores/...``, and the run id is the job
    name, chosen from the task instance and try so that a retry never submits a second job.
    ``dataset_assignments``, ``continue_on_step_failure`` and ``rest_endpoint`` have no v2
    equivalent and are refused before anything is sent. ``run_status`` keeps one vocabulary for
    both APIs: a v2 ``Completed`` job is ``Finished``.

    :param experiment_name: the experiment the run is recorded under: 1-256 letters, digits,
        ``_`` and ``-``, starting with a letter or digit (the service's rule).
    :param published_pipeline_id: id of a published pipeline to run.
    :param pipeline_endpoint_id: id of a pipeline endpoint to run.
    :param pipeline_endpoint_name: name of a pipeline endpoint to run.
    :param pipeline_version: endpoint version to run (endpoints only; default: default version).
    :param rest_endpoint: a submit URL of a pipeline or endpoint, as shown in the studio. Its host
        must be the connection's service host: the token is never sent elsewhere.
    :param parameters: pipeline parameters, name -> str/int/float/bool; or a dict's JSON text,
        or the path of a ``.json`` file that is rendered as a template and parsed.
    :param data_path_assignments: data-path parameters, name -> ``{"datastore": ..., "path": ...}``
        (or the service's ``{"DataStoreName": ..., "RelativePath": ...}``); or a dict's JSON text.
    :param dataset_assignments: dataset parameters, name -> a saved dataset id, or the service's
        ``DataSetDefinitionValue``; or a dict's JSON text.
    :param tags: tags of the run (the task's identity is added as ``airflow.*`` tags).
    :param description: description of the run.
    :param continue_on_step_failure: whether the run goes on after a step fails.
    :param wait_for_completion: wait until the run ends (default True).
    :param deferrable: wait in the triggerer, freeing the worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait for the run after submission (default: no limit). In
        deferred mode the task's ``execution_timeout`` bounds the wait too, which Airflow alone
        does not do; either way the run is canceled when ``cancel_on_kill`` is set.
    :param cancel_on_kill: cancel the run when the task is killed or the timeout is reached.
    :param validate_parameters: check parameter names and types against the pipeline's declared
        ones before submitting (default True).
    :param fresh_run_on_retry: when an automatic retry finds that an earlier try of this task
        instance already ran the pipeline to ``Finished``, submit a new run anyway; by default
        that run is reported instead. Clearing the task always submits a new run once the
        earlier one has ended (whatever its outcome). A run of an earlier try that is still
        going is always re-attached to, never duplicated; one that failed or was canceled is
        always followed by a new run.
    """

    __module__ = _PUBLIC_MODULE

    template_fields: Sequence[str] = (
        "experiment_name",
        "published_pipeline_id",
        "pipeline_endpoint_id",
        "pipeline_endpoint_name",
        "pipeline_version",
        "rest_endpoint",
        "parameters",
        "data_path_assignments",
        "dataset_assignments",
        "tags",
        "description",
    )
    template_fields_renderers = _JSON_RENDERERS
    operator_extra_links = (AzureMLPipelineRunLink(),)

    def __init__(
        self,
        *,
        experiment_name: str,
        published_pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        pipeline_version: str | int | None = None,
        rest_endpoint: str | None = None,
        parameters: Mapping[str, Any] | str | None = None,
        data_path_assignments: Mapping[str, Any] | None = None,
        dataset_assignments: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        timeout: float | None = None,
        cancel_on_kill: bool = True,
        validate_parameters: bool = True,
        fresh_run_on_retry: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.experiment_name = experiment_name
        self.published_pipeline_id = published_pipeline_id
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.pipeline_endpoint_name = pipeline_endpoint_name
        self.pipeline_version = pipeline_version
        self.rest_endpoint = rest_endpoint
        self.parameters = parameters
        self.data_path_assignments = data_path_assignments
        self.dataset_assignments = dataset_assignments
        self.tags = tags
        self.description = description
        self.continue_on_step_failure = continue_on_step_failure
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.cancel_on_kill = cancel_on_kill
        self.validate_parameters = validate_parameters
        self.fresh_run_on_retry = fresh_run_on_retry
        self.run_id: str | None = None
        self._submitted_at: float | None = None
        self._started_at: float | None = None
        self._check_target_arguments()
        if poll_interval <= 0:
            raise AzureMLInvalidInputError(
                f"poll_interval must be > 0 seconds, got {poll_interval}"
            )

    def _check_target_arguments(self) -> str:
        kind = check_exactly_one(
            {
                "published_pipeline_id": self.published_pipeline_id,
                "pipeline_endpoint_id": self.pipeline_endpoint_id,
                "pipeline_endpoint_name": self.pipeline_endpoint_name,
                "rest_endpoint": self.rest_endpoint,
            },
            what="submission target",
        )
        if self.pipeline_version not in (None, "") and kind not in (
            "pipeline_endpoint_id",
            "pipeline_endpoint_name",
        ):
            raise AzureMLInvalidInputError(
                "pipeline_version applies to pipeline endpoints only; give pipeline_endpoint_id "
                f"or pipeline_endpoint_name instead of {kind}"
            )
        return kind

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        # A ``.json`` path in ``parameters`` is read as a template (not via template_ext, which
        # would also treat every nested value ending in .json, like a model path, as a file).
        if isinstance(self.parameters, str) and self.parameters.strip().endswith(".json"):
            env = jinja_env or self.get_template_env()
            self.parameters = env.loader.get_source(env, self.parameters.strip())[0]
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Context) -> str:
        self._started_at = time.time()
        # Built and checked first: bad input is refused before any request is sent.
        submission = self._build_submission(context)
        self.hook.check_submission(submission)
        target = self._resolve_target()
        state_store = context.get("task_state_store")
        ti = context["ti"]
        try:
            earlier = find_earlier_run(
                self.hook,
                target,
                ti,
                state_store,
                started_at=self._started_at,
                since=epoch(getattr(context.get("dag_run"), "start_date", None)),
            )
            cleared = earlier is not None and submitted_before_clear(
                earlier, first_try_since_clear(ti, self.retries), ti
            )
            if earlier is not None and self._reuses(earlier, cleared):
                run = earlier
            else:
                run = self._submit(target, submission)
                remember_run(state_store, run.id)
        except AzureMLUndecidableSubmissionError as exc:
            from airflow.exceptions import AirflowFailException

            # A retry would submit again without knowing whether a job exists: only the
            # user, having checked the jobs the message names, can decide.
            raise AirflowFailException(str(exc)) from exc
        self._submitted_at = time.time()
        self._announce_run(context, run)
        _lineage.record_submission(self, target, submission, run)
        if not self.wait_for_completion:
            context["ti"].xcom_push(key="run_status", value=run.status.value)
            emit_run_extras(self, context)
            return run.id
        if self.deferrable:
            self._defer_unless_done(context, run.id)
        status = wait_for_run(
            self.hook,
            run.id,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            cancel_on_timeout=self.cancel_on_kill,
            log=self.log,
        )
        return self._finish(context, run.id, status)

    def _reuses(self, earlier: PipelineRun, cleared: bool) -> bool:
        """Whether the run of an earlier try stands for this try (else a fresh run is due).

        :param earlier: the newest run an earlier try submitted.
        :param cleared: it was submitted before a user last cleared the task instance.
        """
        if not earlier.status.is_terminal:
            # Even after a clear: a second run next to one still going would duplicate it.
            self.log.info(
                "Re-attaching to run %s of an earlier try (%s)", earlier.id, earlier.status
            )
            return True
        if cleared:
            self.log.info(
                "Run %s of an earlier try ended %s before the task was cleared; submitting a "
                "fresh run",
                earlier.id,
                earlier.status,
            )
            return False
        if earlier.status.is_success and not self.fresh_run_on_retry:
            self.log.info(
                "Run %s of an earlier try already finished; reporting it, not running again "
                "(fresh_run_on_retry=True would submit a new run)",
                earlier.id,
            )
            return True
        self.log.info(
            "Run %s of an earlier try ended %s; submitting a fresh run", earlier.id, earlier.status
        )
        return False

    def _build_submission(self, context: Context) -> PipelineSubmissionInfo:
        return self.hook.build_submission(
            experiment_name=self.experiment_name,
            parameters=load_parameters(self.parameters),
            data_path_assignments=load_assignments(
                self.data_path_assignments,
                "data_path_assignments",
                "{'datastore': ..., 'path': ...}",
            ),
            dataset_assignments=load_assignments(
                self.dataset_assignments,
                "dataset_assignments",
                "a saved dataset id or a DataSetDefinitionValue dict",
            ),
            tags=self._run_tags(context),
            description=self.description,
            continue_on_step_failure=self.continue_on_step_failure,
        )

    def _submit(self, target: SubmitTarget, submission: PipelineSubmissionInfo) -> PipelineRun:
        if self.validate_parameters:
            interface = self.hook.get_pipeline_interface(target.pipeline_id)
            self.hook.validate_submission(interface, submission, target=target.label)
        self.log.info("Submitting a run of %s", target.label)
        return target.submit(self.hook, submission)

    def _run_tags(self, context: Context) -> dict[str, str]:
        ti = context["ti"]
        identity = {
            **task_identity_tags(ti),
            TRY_NUMBER_TAG: str(getattr(ti, "try_number", "")),
        }
        return {**dict(self.tags or {}), **identity}

    def _resolve_target(self) -> SubmitTarget:
        kind = self._check_target_arguments()
        if kind == "published_pipeline_id":
            return pipeline_target(
                self.hook, check_identifier(self.published_pipeline_id, "published_pipeline_id")
            )
        if kind == "rest_endpoint":
            return self._url_target(str(self.rest_endpoint))
        endpoint = self.get_endpoint(self.pipeline_endpoint_id, self.pipeline_endpoint_name)
        version = None
        if self.pipeline_version not in (None, ""):
            version = check_identifier(str(self.pipeline_version), "pipeline_version")
        return endpoint_target(self.hook, endpoint, version)

    def _url_target(self, url: str) -> SubmitTarget:
        parsed = self.hook.parse_submit_url(url)
        if parsed.endpoint_id:
            endpoint = self.hook.get_pipeline_endpoint(parsed.endpoint_id)
            resolved = endpoint_target(self.hook, endpoint, parsed.pipeline_version)
        else:
            resolved = pipeline_target(self.hook, str(parsed.pipeline_id))
        return SubmitTarget(
            label=f"{resolved.label} at {url}",
            pipeline_id=resolved.pipeline_id,
            url=url,
            other_pipeline_ids=resolved.other_pipeline_ids,
        )

    def _announce_run(self, context: Context, run: PipelineRun) -> None:
        self.run_id = run.id
        run_url = self.hook.get_run_url(run.id)
        self.log.info("Submitted pipeline run %s: %s", run.id, run_url)
        context["ti"].xcom_push(key="run_id", value=run.id)
        AzureMLPipelineRunLink.persist(context, run_url)

    def _defer_unless_done(self, context: Context, run_id: str) -> None:
        run = self.hook.get_pipeline_run(run_id)
        status = run.status
        if status.is_terminal:
            self.log.info("Pipeline run %s is already %s; not deferring", run_id, status)
            return
        end_time, bound = self._wait_deadline()
        from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import (
            AzureMLPipelineRunTrigger,
        )

        self.defer(
            trigger=AzureMLPipelineRunTrigger(
                run_id,
                azure_ml_pipelines_conn_id=self.azure_ml_pipelines_conn_id,
                poll_interval=self.poll_interval,
                end_time=end_time,
                timeout=bound,
                cancel_on_timeout=self.cancel_on_kill,
                cancel_on_kill=self.cancel_on_kill,
                experiment_name=run.experiment_name,
            ),
            method_name="execute_complete",
            # execute_complete runs on a fresh operator: the record travels with the deferral.
            kwargs={_lineage.LINEAGE_KWARG: self.lineage_record},
        )

    def _wait_deadline(self) -> tuple[float | None, float | None]:
        """When the deferred wait must end (epoch seconds) and the bound it came from.

        Airflow bounds only the worker's parts of a deferred task by ``execution_timeout``, not
        the wait in the triggerer; folding it in here makes the trigger cancel the run when the
        task's time is up, instead of leaving it running unseen.
        """
        deadlines: list[tuple[float, float]] = []
        submitted = self._submitted_at or time.time()
        if self.timeout is not None:
            deadlines.append((submitted + self.timeout, float(self.timeout)))
        if self.execution_timeout is not None:
            limit = self.execution_timeout.total_seconds()
            deadlines.append(((self._started_at or submitted) + limit, limit))
        if not deadlines:
            return None, None
        return min(deadlines)

    def execute_complete(self, context: Context, event: Any = None, lineage: Any = None) -> str:
        """Resume after the trigger fired: same outcome as the synchronous wait."""
        if event and event.get("run_id"):
            self.run_id = str(event["run_id"])
            if event.get("run_status"):
                context["ti"].xcom_push(key="run_status", value=event["run_status"])
        self.lineage_record = _lineage.resume_record(self, context, lineage, self.run_id)
        status = handle_trigger_event(self.hook, event)
        return self._finish(context, str(self.run_id), status)

    def _finish(self, context: Context, run_id: str, status: PipelineRunStatus) -> str:
        context["ti"].xcom_push(key="run_status", value=status.value)
        emit_run_extras(self, context, status=status.value)
        raise_for_run_outcome(self.hook, run_id, status)
        self.log.info("Pipeline run %s finished: %s", run_id, self.hook.get_run_url(run_id))
        return run_id

    def on_kill(self) -> None:
        """Cancel the run when a user stopped the task or its ``execution_timeout`` hit.

        Airflow also calls this when the worker stops gracefully (SIGTERM on a deploy or a
        drain); then the run is left going and the retry re-attaches to it (see
        :mod:`airflow_provider_mlpipelines._lifecycle`).
        """
        if not (self.run_id and self.cancel_on_kill and self.wait_for_completion):
            return
        # A stopping worker may deliver SIGTERM twice (to the whole process group, and again
        # forwarded by the task SDK's supervisor): the second call must not re-enter this one.
        if getattr(self, "_in_on_kill", False):
            return
        self._in_on_kill = True
        try:
            if task_stop_is_user_intent(self.log):
                cancel_run_quietly(self.hook, self.run_id, self.log)
        finally:
            self._in_on_kill = False
