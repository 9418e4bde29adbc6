"""What v2 has no equivalent for, and the one error that says so, naming what to use instead."""

from __future__ import annotations

from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError

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
    "pipeline list": (
        "v2 lists pipeline components by name: use find_published_pipeline(name) for the "
        "versions of one component"
    ),
    "runs list": (
        "v2 does not list jobs per component: read a job by its name with get_pipeline_run"
    ),
    "run history": (
        "read a v2 job with get_pipeline_run, and its steps with get_step_statuses or "
        "list_child_runs"
    ),
}


def refuse(feature: str) -> AzureMLInvalidInputError:
    """The error for a v1 feature a v2 connection cannot serve."""
    return AzureMLInvalidInputError(
        f"{feature} is not available on a v2 (batch endpoint) connection: {V2_GAPS[feature]}"
    )
