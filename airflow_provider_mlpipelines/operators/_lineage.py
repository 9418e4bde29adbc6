"""OpenLineage for the operators: the data a run read and wrote, and the Azure ML run behind it.

The OpenLineage provider (``apache-airflow-providers-openlineage``, the ``openlineage`` extra)
is optional: nothing of it is imported here at module level, only inside the methods the
provider itself calls, so parsing a DAG never loads it.

What an operator recorded while it ran lives in ``operator.lineage_record``: a plain dict, so
that the deferred path can carry it through ``defer(kwargs=...)`` to ``execute_complete``,
which Airflow runs on a fresh operator instance.

Dataset names follow OpenLineage's naming conventions (:mod:`._lineage_names`): a datastore
path is named after the storage behind the datastore (``wasbs://``, ``abfss://``) when the
client could read the datastore (once per hook) and knows its type, else in the
``azureml://.../datastores/{datastore}`` namespace. Inputs are named when the run is
submitted; outputs once it has ended, from what the service says the run wrote (v1: each
step's outputs, v2: the job's ``properties.outputs``), for the COMPLETE and FAIL events and
the asset events alike, read once per record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.operators._lineage_names import (
    run_outputs,
    submission_inputs,
    workspace_namespace,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import PipelineRun, PipelineSubmissionInfo
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
    from airflow_provider_mlpipelines.operators._submission import SubmitTarget

#: The ``defer(kwargs=...)`` key that carries the record to ``execute_complete``.
LINEAGE_KWARG = "lineage"
#: The run facet this provider adds (its own schema, documented in the README).
RUN_FACET = "azureml_run"
_SCHEMA_URL = (
    "https://github.com/airflow-provider-mlpipelines/blob/main/README.md#lineage-and-assets"
)
# Parameter names that may hold a secret: their values are never put in a facet.
_SECRET_NAME = re.compile(r"secret|passw|token|key|credential|connection.?string|sas", re.I)
_REDACTED = "***"
#: v2 job properties naming the endpoint and deployment that ran a batch job.
_ENDPOINT_PROPERTY = "azureml.endpointname"
_DEPLOYMENT_PROPERTY = "azureml.deploymentname"


def safe_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    """The parameters as strings, with the value of any secret-looking name replaced."""
    return {
        str(name): _REDACTED if _SECRET_NAME.search(str(name)) else str(value)
        for name, value in (parameters or {}).items()
    }


def record_submission(
    operator: Any,
    target: SubmitTarget,
    submission: PipelineSubmissionInfo,
    run: PipelineRun,
) -> None:
    """Keep on ``operator.lineage_record`` what the facets and asset events will name.

    Sends no request: the endpoint's name and version, when not known from the arguments,
    are read only when a facet or an asset event asks for them (:func:`complete_target`).

    :param operator: the submit operator.
    :param target: the resolved target.
    :param submission: the submission sent.
    :param run: the run it made (or the earlier try's run that stands for it).
    """
    operator.lineage_record = _run_record(
        operator,
        submission,
        run.id,
        run.status.value,
        pipeline=target.pipeline_id,
        endpoint_id=target.endpoint_id,
        version=target.version,
    )
    if run.experiment_name:
        operator.lineage_record["experiment"] = run.experiment_name


def resume_record(
    operator: Any, context: Any, carried: dict[str, Any] | None, run_id: str | None
) -> dict[str, Any] | None:
    """The record in ``execute_complete``: the one carried through the deferral, or one
    rebuilt from the operator's arguments and the run id of the trigger's event.

    ``airflow dags test`` (Airflow 3.3) resumes with the event alone, dropping the deferral's
    kwargs; the rebuilt record sends no request either: the pipeline, endpoint and version
    are read when a facet or an asset event asks for them.

    :param operator: the fresh submit operator.
    :param context: the task's context.
    :param carried: ``defer(kwargs=...)``'s record, if it arrived.
    :param run_id: the run the trigger watched.
    """
    if carried or not run_id:
        return carried
    submission = operator._build_submission(context)
    endpoint = operator.pipeline_endpoint_id or operator.pipeline_endpoint_name
    version = operator.pipeline_version
    return _run_record(
        operator,
        submission,
        run_id,
        None,
        pipeline=None,
        endpoint_id=operator.pipeline_endpoint_id or None,
        version=None if version in (None, "") else str(version),
        endpoint_given=bool(endpoint),
    )


def _run_record(
    operator: Any,
    submission: PipelineSubmissionInfo,
    run_id: str,
    status: str | None,
    *,
    pipeline: str | None,
    endpoint_id: str | None,
    version: str | None,
    endpoint_given: bool = False,
) -> dict[str, Any]:
    hook = operator.hook
    v2 = hook.settings.api == "v2"
    on_endpoint = bool(endpoint_id) or endpoint_given
    return {
        "api": hook.settings.api,
        "run_id": run_id,
        "status": status,
        "studio_url": hook.get_run_url(run_id),
        "pipeline_id": None if v2 else pipeline,
        "component_id": pipeline if v2 else None,
        "endpoint_id": endpoint_id,
        "endpoint": (operator.pipeline_endpoint_name or None) if on_endpoint else None,
        "on_endpoint": on_endpoint,
        "version": None if v2 else version,
        "deployment": version if v2 else None,
        "experiment": submission.experiment_name,
        "parameters": safe_parameters(submission.parameter_assignments),
        "inputs": submission_inputs(hook, submission),
        "outputs": [],
    }


def complete_target(hook: AzureMLPipelinesHook, record: dict[str, Any]) -> dict[str, Any]:
    """Fill in what the arguments left open (the pipeline or component of a resumed run, an
    endpoint given by id, its default version) and, for a run that has ended, the outputs it
    wrote: a read of the run, on v1 of the endpoint, and of the run's outputs."""
    if record.get("_complete"):
        return record
    if record.get("run_id") and record.get("kind", "run") == "run" and _ended(record):
        record["outputs"] = run_outputs(hook, record["run_id"])
    v2 = record["api"] == "v2"
    run = None
    if (record["pipeline_id"] or record["component_id"]) is None or (
        v2 and record.get("on_endpoint")
    ):
        run = hook.get_pipeline_run(record["run_id"])
        record["component_id" if v2 else "pipeline_id"] = run.pipeline_id
    if record.get("on_endpoint"):
        if v2 and run is not None:
            record["endpoint"] = run.properties.get(_ENDPOINT_PROPERTY) or record["endpoint"]
            record["deployment"] = run.properties.get(_DEPLOYMENT_PROPERTY) or record["deployment"]
        elif record.get("endpoint") is None or record.get("version") is None:
            endpoint = (
                hook.get_pipeline_endpoint(record["endpoint_id"])
                if record.get("endpoint_id")
                else hook.get_pipeline_endpoint(name=record["endpoint"])
            )
            record["endpoint"] = endpoint.name
            record["version"] = record["version"] or endpoint.version_of(record["pipeline_id"])
    record["_complete"] = True
    return record


def _ended(record: Mapping[str, Any]) -> bool:
    # A run not waited for (wait_for_completion=False) has written nothing that is final yet.
    from airflow_provider_mlpipelines.api.status import PipelineRunStatus

    return (
        record.get("status") is not None
        and PipelineRunStatus.from_status(record["status"]).is_terminal
    )


def failed_step(hook: AzureMLPipelinesHook, record: Mapping[str, Any]) -> str | None:
    """The name of the first step of the record's run that failed (its node id when the
    step runs are not listed), if any."""
    run_id = record["run_id"]
    failed = sorted(
        node_id
        for node_id, step in hook.get_step_statuses(run_id).items()
        if step.status.value == "Failed"
    )
    if not failed:
        return None
    experiment = record.get("experiment")
    if experiment:
        for child in hook.list_child_runs(run_id, experiment):
            if child.node_id == failed[0]:
                return child.display_name or child.name or failed[0]
    return failed[0]


@functools.cache
def _facet_class() -> type:
    """The provider's run facet, defined on first use (its base is OpenLineage's)."""
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class AzureMLRunFacet(RunFacet):
        """The Azure ML run (or change) an Airflow task instance made."""

        api: str
        # OpenLineage facets name their fields in camelCase.
        runId: str | None = None
        studioUrl: str | None = None
        status: str | None = None
        experiment: str | None = None
        pipelineId: str | None = None
        componentId: str | None = None
        endpoint: str | None = None
        version: str | None = None
        deployment: str | None = None
        parameters: dict[str, str] = attr.field(factory=dict)
        failedStep: str | None = None

        @staticmethod
        def _get_schema() -> str:
            return _SCHEMA_URL

    return AzureMLRunFacet


def operator_lineage(operator: Any, moment: str) -> Any:
    """The ``OperatorLineage`` of ``operator`` at ``moment`` (start, complete or failure).

    :param operator: any operator of this provider.
    :param moment: ``start``, ``complete`` or ``failure``.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    record = getattr(operator, "lineage_record", None)
    if not record:
        return OperatorLineage()
    hook = operator.hook
    if moment != "start":
        complete_target(hook, record)
    facets: dict[str, Any] = {RUN_FACET: _run_facet(record)}
    if record.get("run_id") and record.get("kind", "run") == "run":
        from openlineage.client.facet_v2 import external_query_run

        facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=record["run_id"], source=workspace_namespace(hook)
        )
    if moment == "failure" and record.get("run_id") and record.get("kind", "run") == "run":
        step = failed_step(hook, record)
        facets[RUN_FACET].failedStep = step
        from openlineage.client.facet_v2 import error_message_run

        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"Azure ML run {record['run_id']} failed at step {step or '(unknown)'}",
            programmingLanguage="python",
        )
    inputs = [InputDataset(namespace=ns, name=name) for ns, name in record.get("inputs", [])]
    outputs = []
    if moment != "start":
        outputs = [OutputDataset(namespace=ns, name=n) for ns, n in record.get("outputs", [])]
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=facets)


def _run_facet(record: Mapping[str, Any]) -> Any:
    return _facet_class()(
        api=str(record.get("api") or "v1"),
        runId=record.get("run_id"),
        studioUrl=record.get("studio_url"),
        status=record.get("status"),
        experiment=record.get("experiment"),
        pipelineId=record.get("pipeline_id"),
        componentId=record.get("component_id"),
        endpoint=record.get("endpoint"),
        version=_text(record.get("version")),
        deployment=record.get("deployment"),
        parameters=dict(record.get("parameters") or {}),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def record_change(operator: Any, **fields: Any) -> None:
    """Keep what a publish or endpoint operator changed: the pipeline or component, the
    endpoint and version (``kind`` ``change``: no run, no datasets)."""
    hook = operator.hook
    v2 = hook.settings.api == "v2"
    pipeline = fields.pop("pipeline_id", None)
    version = fields.pop("version", None)
    operator.lineage_record = {
        "kind": "change",
        "api": hook.settings.api,
        "run_id": None,
        "status": None,
        "studio_url": fields.pop("studio_url", None),
        "pipeline_id": None if v2 else pipeline,
        "component_id": pipeline if v2 else None,
        "version": None if v2 else _text(version),
        "deployment": _text(version) if v2 else None,
        "outputs": [],
        "_complete": True,
        **fields,
    }


class LineageMixin:
    """The OpenLineage provider's operator methods, for every operator of this provider.

    An operator that recorded nothing (``lineage_record`` ``None``) reports empty lineage.
    """

    lineage_record: dict[str, Any] | None = None

    def get_openlineage_facets_on_start(self) -> Any:
        return operator_lineage(self, "start")

    def get_openlineage_facets_on_complete(self, task_instance: Any = None) -> Any:
        return operator_lineage(self, "complete")

    def get_openlineage_facets_on_failure(self, task_instance: Any = None) -> Any:
        return operator_lineage(self, "failure")
