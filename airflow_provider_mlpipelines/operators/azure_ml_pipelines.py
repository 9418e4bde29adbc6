"""Operators for Azure Machine Learning pipelines: publish, version, set status, submit, cancel."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import default_deferrable
from airflow_provider_mlpipelines._waiting import (
    cancel_run_quietly,
    handle_trigger_event,
    raise_for_run_outcome,
    wait_for_run,
)
from airflow_provider_mlpipelines.api.status import EntityStatus, PipelineRunStatus
from airflow_provider_mlpipelines.exceptions import (
    AzureMLConflictError,
    AzureMLInvalidInputError,
    format_choices,
)
from airflow_provider_mlpipelines.links.azure_ml_pipelines import AzureMLPipelineRunLink
from airflow_provider_mlpipelines.operators._base import (
    AzureMLPipelinesBaseOperator,
    check_exactly_one,
    check_identifier,
    check_status,
    looks_templated,
)
from airflow_provider_mlpipelines.operators._submission import (
    SubmitTarget,
    endpoint_target,
    find_earlier_run,
    load_parameters,
    pipeline_target,
    remember_run,
    task_identity_tags,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context
    from airflow_provider_mlpipelines.api.models import PipelineEndpoint, PipelineRun

_JSON_RENDERERS = {
    "parameters": "json",
    "data_path_assignments": "json",
    "dataset_assignments": "json",
    "tags": "json",
}
_PIPELINE_STATUSES = (EntityStatus.ACTIVE, EntityStatus.DISABLED, EntityStatus.DEPRECATED)
_ENDPOINT_STATUSES = (EntityStatus.ACTIVE, EntityStatus.DISABLED)


class AzureMLPublishPipelineOperator(AzureMLPipelinesBaseOperator):
    """Publish a pipeline from a finished pipeline run; return the published pipeline's id.

    Pushes XComs ``pipeline_id`` and ``pipeline_url`` (its studio page).

    :param pipeline_run_id: the pipeline run whose graph is published.
    :param pipeline_name: name of the published pipeline.
    :param version: version label of the published pipeline.
    :param description: description of the published pipeline.
    :param continue_on_step_failure: whether runs of it go on after a step fails.
    :param if_exists: ``reuse`` (default) returns an active pipeline with the same name and
        version instead of publishing a duplicate; ``fail`` raises in that case.
    """

    template_fields: Sequence[str] = ("pipeline_run_id", "pipeline_name", "version", "description")

    def __init__(
        self,
        *,
        pipeline_run_id: str,
        pipeline_name: str,
        version: str | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        if_exists: str = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_exists not in ("reuse", "fail"):
            raise AzureMLInvalidInputError(
                f"if_exists {if_exists!r} is not valid; choose 'reuse' or 'fail'"
            )
        self.pipeline_run_id = pipeline_run_id
        self.pipeline_name = pipeline_name
        self.version = version
        self.description = description
        self.continue_on_step_failure = continue_on_step_failure
        self.if_exists = if_exists

    def execute(self, context: Context) -> str:
        run_id = check_identifier(self.pipeline_run_id, "pipeline_run_id")
        version = None if self.version in (None, "") else str(self.version)
        existing = self.hook.find_published_pipeline(self.pipeline_name, version, active_only=True)
        if existing is not None and self.if_exists == "fail":
            raise AzureMLConflictError(
                "publish pipeline",
                f"{self.pipeline_name!r} version {version!r}",
                message=f"an active pipeline with this name and version exists: {existing.id}",
            )
        if existing is not None:
            self.log.info("Reusing published pipeline %s (%s)", existing.id, self.pipeline_name)
            pipeline = existing
        else:
            pipeline = self.hook.publish_pipeline_from_run(
                run_id,
                name=self.pipeline_name,
                version=version,
                description=self.description,
                continue_on_step_failure=self.continue_on_step_failure,
            )
            self.log.info(
                "Published pipeline %s (%s) from run %s", pipeline.id, pipeline.name, run_id
            )
        url = self.hook.get_pipeline_url(pipeline.id)
        self.log.info("Pipeline page: %s", url)
        context["ti"].xcom_push(key="pipeline_id", value=pipeline.id)
        context["ti"].xcom_push(key="pipeline_url", value=url)
        return pipeline.id


class AzureMLPipelineEndpointOperator(AzureMLPipelinesBaseOperator):
    """Put a published pipeline behind a pipeline endpoint, creating the endpoint if needed.

    Adds the pipeline as a new version of an existing endpoint (not twice: a pipeline that is
    already a version keeps it). Returns and pushes ``endpoint_id``, ``version``,
    ``endpoint_url`` and ``previous_default_version`` (for a rollback).

    :param pipeline_id: the published pipeline.
    :param pipeline_endpoint_name: the endpoint's name.
    :param description: description of a newly created endpoint.
    :param set_default: make the pipeline's version the endpoint's default (default True).
    """

    template_fields: Sequence[str] = ("pipeline_id", "pipeline_endpoint_name", "description")

    def __init__(
        self,
        *,
        pipeline_id: str,
        pipeline_endpoint_name: str,
        description: str | None = None,
        set_default: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline_id = pipeline_id
        self.pipeline_endpoint_name = pipeline_endpoint_name
        self.description = description
        self.set_default = set_default

    def execute(self, context: Context) -> dict[str, Any]:
        pipeline_id = check_identifier(self.pipeline_id, "pipeline_id")
        name = check_identifier(self.pipeline_endpoint_name, "pipeline_endpoint_name")
        endpoint = self.hook.find_pipeline_endpoint(name)
        previous_default = endpoint.default_version if endpoint else None
        if endpoint is None:
            endpoint = self.hook.create_pipeline_endpoint(name, pipeline_id, self.description)
            self.log.info("Created pipeline endpoint %s (%s)", name, endpoint.id)
        else:
            endpoint = self._add_version(endpoint, pipeline_id)
        version = endpoint.version_of(pipeline_id)
        result = {
            "endpoint_id": endpoint.id,
            "version": version,
            "endpoint_url": endpoint.url,
            "default_version": endpoint.default_version,
            "previous_default_version": previous_default,
        }
        self.log.info(
            "Pipeline %s is version %s of endpoint %s (default %s, previously %s)",
            pipeline_id,
            version,
            name,
            endpoint.default_version,
            previous_default,
        )
        for key, value in result.items():
            context["ti"].xcom_push(key=key, value=value)
        return result

    def _add_version(self, endpoint: PipelineEndpoint, pipeline_id: str) -> PipelineEndpoint:
        existing_version = endpoint.version_of(pipeline_id)
        if existing_version is not None:
            self.log.info("Pipeline %s already is version %s", pipeline_id, existing_version)
            if self.set_default and endpoint.default_version != existing_version:
                return self.hook.set_pipeline_endpoint_default_version(
                    endpoint.id, existing_version
                )
            return endpoint
        return self.hook.add_pipeline_to_endpoint(
            endpoint.id, pipeline_id, set_default=self.set_default
        )


class AzureMLSetPipelineEndpointDefaultVersionOperator(AzureMLPipelinesBaseOperator):
    """Set the default version of a pipeline endpoint; rolling back is the same call.

    Pushes ``previous_default_version``; returns the new default version.

    :param version: the version to make the default.
    :param pipeline_endpoint_id: the endpoint's id (or give its name).
    :param pipeline_endpoint_name: the endpoint's name (or give its id).
    """

    template_fields: Sequence[str] = ("version", "pipeline_endpoint_id", "pipeline_endpoint_name")

    def __init__(
        self,
        *,
        version: str | int,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_exactly_one(
            {
                "pipeline_endpoint_id": pipeline_endpoint_id,
                "pipeline_endpoint_name": pipeline_endpoint_name,
            },
            what="pipeline endpoint",
        )
        self.version = version
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.pipeline_endpoint_name = pipeline_endpoint_name

    def execute(self, context: Context) -> str:
        endpoint = self.get_endpoint(self.pipeline_endpoint_id, self.pipeline_endpoint_name)
        version = str(self.version)
        previous = endpoint.default_version
        if version not in endpoint.version_names:
            raise AzureMLInvalidInputError(
                f"pipeline endpoint {endpoint.name!r} has no version {version!r}; its versions "
                f"are {format_choices(endpoint.version_names)}"
            )
        if previous != version:
            self.hook.set_pipeline_endpoint_default_version(endpoint.id, version)
        self.log.info("Endpoint %s: default version %s (was %s)", endpoint.name, version, previous)
        context["ti"].xcom_push(key="previous_default_version", value=previous)
        return version


class AzureMLSetPublishedPipelineStatusOperator(AzureMLPipelinesBaseOperator):
    """Enable, disable or deprecate a published pipeline.

    :param pipeline_id: the published pipeline.
    :param status: ``Active``, ``Disabled`` or ``Deprecated``.
    """

    template_fields: Sequence[str] = ("pipeline_id", "status")

    def __init__(self, *, pipeline_id: str, status: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not looks_templated(status):
            check_status(status, _PIPELINE_STATUSES, argument="status")
        self.pipeline_id = pipeline_id
        self.status = status

    def execute(self, context: Context) -> str:
        status = check_status(self.status, _PIPELINE_STATUSES, argument="status")
        pipeline_id = check_identifier(self.pipeline_id, "pipeline_id")
        self.hook.set_published_pipeline_status(pipeline_id, status)
        self.log.info("Published pipeline %s is now %s", pipeline_id, status.value)
        return status.value


class AzureMLSetPipelineEndpointStatusOperator(AzureMLPipelinesBaseOperator):
    """Enable or disable a pipeline endpoint.

    :param status: ``Active`` or ``Disabled``.
    :param pipeline_endpoint_id: the endpoint's id (or give its name).
    :param pipeline_endpoint_name: the endpoint's name (or give its id).
    """

    template_fields: Sequence[str] = ("status", "pipeline_endpoint_id", "pipeline_endpoint_name")

    def __init__(
        self,
        *,
        status: str,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not looks_templated(status):
            check_status(status, _ENDPOINT_STATUSES, argument="status")
        check_exactly_one(
            {
                "pipeline_endpoint_id": pipeline_endpoint_id,
                "pipeline_endpoint_name": pipeline_endpoint_name,
            },
            what="pipeline endpoint",
        )
        self.status = status
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.pipeline_endpoint_name = pipeline_endpoint_name

    def execute(self, context: Context) -> str:
        status = check_status(self.status, _ENDPOINT_STATUSES, argument="status")
        endpoint = self.get_endpoint(self.pipeline_endpoint_id, self.pipeline_endpoint_name)
        self.hook.set_pipeline_endpoint_status(endpoint.id, status)
        self.log.info("Pipeline endpoint %s is now %s", endpoint.name, status.value)
        return status.value


class AzureMLSubmitPipelineRunOperator(AzureMLPipelinesBaseOperator):
    """Submit a run of a published pipeline or pipeline endpoint and, by default, wait for it.

    Give exactly one target: ``published_pipeline_id``; or ``pipeline_endpoint_id`` /
    ``pipeline_endpoint_name`` with an optional ``pipeline_version`` (default: the endpoint's
    default version); or ``rest_endpoint``, a pipeline's or endpoint's submit URL. The run id and
    its studio URL are logged and pushed (``run_id``, ``run_url``) as soon as the run exists;
    ``run_status`` is pushed when the wait ends. Returns the run id.

    :param experiment_name: the experiment the run is recorded under.
    :param published_pipeline_id: id of a published pipeline to run.
    :param pipeline_endpoint_id: id of a pipeline endpoint to run.
    :param pipeline_endpoint_name: name of a pipeline endpoint to run.
    :param pipeline_version: endpoint version to run (endpoints only; default: default version).
    :param rest_endpoint: a submit URL of a pipeline or endpoint, as shown in the studio. Its host
        must be the connection's service host: the token is never sent elsewhere.
    :param parameters: pipeline parameters, name -> str/int/float/bool; or a dict's JSON text,
        or the path of a ``.json`` file that is rendered as a template and parsed.
    :param data_path_assignments: data-path parameters, name -> ``{"datastore": ..., "path": ...}``
        (or the service's ``{"DataStoreName": ..., "RelativePath": ...}``).
    :param dataset_assignments: dataset parameters, name -> a saved dataset id, or the service's
        ``DataSetDefinitionValue``.
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
    :param fresh_run_on_retry: when a retry (or a cleared task) finds that an earlier try of this
        task instance already ran the pipeline to ``Finished``, submit a new run anyway. By
        default that run is reported instead. A run of an earlier try that is still going is
        always re-attached to, never duplicated; one that failed is always followed by a new run.
    """

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
        target = self._resolve_target()
        state_store = context.get("task_state_store")
        earlier = find_earlier_run(self.hook, target, context["ti"], state_store)
        if earlier is not None and self._reuses(earlier):
            run = earlier
        else:
            run = self._submit(context, target)
            remember_run(state_store, run.id)
        self._submitted_at = time.time()
        self._announce_run(context, run)
        if not self.wait_for_completion:
            context["ti"].xcom_push(key="run_status", value=run.status.value)
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

    def _reuses(self, earlier: PipelineRun) -> bool:
        """Whether the run of an earlier try stands for this try (else a fresh run is due)."""
        if not earlier.status.is_terminal:
            self.log.info(
                "Re-attaching to run %s of an earlier try (%s)", earlier.id, earlier.status
            )
            return True
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

    def _submit(self, context: Context, target: SubmitTarget) -> PipelineRun:
        submission = self.hook.build_submission(
            experiment_name=check_identifier(self.experiment_name, "experiment_name"),
            parameters=load_parameters(self.parameters),
            data_path_assignments=self.data_path_assignments,
            dataset_assignments=self.dataset_assignments,
            tags=self._run_tags(context),
            description=self.description,
            continue_on_step_failure=self.continue_on_step_failure,
        )
        if self.validate_parameters:
            interface = self.hook.get_pipeline_interface(target.pipeline_id)
            self.hook.validate_submission(interface, submission, target=target.label)
        self.log.info("Submitting a run of %s", target.label)
        return target.submit(self.hook, submission)

    def _run_tags(self, context: Context) -> dict[str, str]:
        ti = context["ti"]
        identity = {
            **task_identity_tags(ti),
            "airflow.try_number": str(getattr(ti, "try_number", "")),
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
            label=f"{resolved.label} at {url}", pipeline_id=resolved.pipeline_id, url=url
        )

    def _announce_run(self, context: Context, run: PipelineRun) -> None:
        self.run_id = run.id
        run_url = self.hook.get_run_url(run.id)
        self.log.info("Submitted pipeline run %s: %s", run.id, run_url)
        context["ti"].xcom_push(key="run_id", value=run.id)
        AzureMLPipelineRunLink.persist(context, run_url)

    def _defer_unless_done(self, context: Context, run_id: str) -> None:
        status = self.hook.get_pipeline_run(run_id).status
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
            ),
            method_name="execute_complete",
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

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: same outcome as the synchronous wait."""
        if event and event.get("run_id"):
            self.run_id = str(event["run_id"])
            if event.get("run_status"):
                context["ti"].xcom_push(key="run_status", value=event["run_status"])
        status = handle_trigger_event(self.hook, event)
        return self._finish(context, str(self.run_id), status)

    def _finish(self, context: Context, run_id: str, status: PipelineRunStatus) -> str:
        context["ti"].xcom_push(key="run_status", value=status.value)
        raise_for_run_outcome(self.hook, run_id, status)
        self.log.info("Pipeline run %s finished: %s", run_id, self.hook.get_run_url(run_id))
        return run_id

    def on_kill(self) -> None:
        if self.run_id and self.cancel_on_kill and self.wait_for_completion:
            cancel_run_quietly(self.hook, self.run_id, self.log)


class AzureMLCancelPipelineRunOperator(AzureMLPipelinesBaseOperator):
    """Cancel a pipeline run and wait until it has stopped; return its final status.

    A run that has already ended is left as it is (its status is returned).

    :param run_id: the pipeline run to cancel.
    :param wait_for_termination: wait until the run is terminal (default True).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait for the run to stop.
    """

    template_fields: Sequence[str] = ("run_id",)

    def __init__(
        self,
        *,
        run_id: str,
        wait_for_termination: bool = True,
        poll_interval: float = 5.0,
        timeout: float | None = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.wait_for_termination = wait_for_termination
        self.poll_interval = poll_interval
        self.timeout = timeout

    def execute(self, context: Context) -> str:
        run_id = check_identifier(self.run_id, "run_id")
        status = self.hook.get_pipeline_run(run_id).status
        if status.is_terminal:
            self.log.info("Pipeline run %s already ended %s; nothing to cancel", run_id, status)
            return status.value
        self.hook.cancel_pipeline_run(run_id)
        self.log.info("Cancellation of pipeline run %s requested", run_id)
        if self.wait_for_termination:
            status = wait_for_run(
                self.hook,
                run_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                cancel_on_timeout=False,
                log=self.log,
            )
            if status != PipelineRunStatus.CANCELED:
                self.log.warning(
                    "Pipeline run %s ended %s before it could be canceled", run_id, status
                )
        context["ti"].xcom_push(key="run_status", value=status.value)
        return status.value
