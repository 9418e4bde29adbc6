"""The interface both API clients implement in full: ``PipelinesClient`` and its async sibling.

Every operation the operators, the sensor, the trigger, the link and ``test_connection`` use
is named here, with the shared models of :mod:`airflow_provider_mlpipelines.api` as arguments
and results; no field of either wire format crosses it. The v1 client
(:class:`~airflow_provider_mlpipelines.clients.v1.client.V1Client`) and the v2 client
(:class:`~airflow_provider_mlpipelines.clients.v2.client.V2Client`) are peers: each answers
every method, and an operation that one API has no equivalent for is answered by an
:class:`~airflow_provider_mlpipelines.exceptions.AzureMLInvalidInputError` naming what to use
instead. mypy checks both clients against these protocols (``clients/conformance.py``), and a
test checks every method's presence and signature at run time.

The v1 words name the concepts (published pipeline, pipeline endpoint, version, run); on v2
they are a pipeline component version, a batch endpoint, a deployment and a pipeline job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.datastores import DataLocation, DatastoreStorage
    from airflow_provider_mlpipelines.api.models import (
        HistoryRun,
        HistoryRunDetails,
        PipelineEndpoint,
        PipelineInterface,
        PipelineRun,
        PipelineSubmissionInfo,
        PipelineVersion,
        PublishedPipeline,
        StepStatus,
    )
    from airflow_provider_mlpipelines.api.results import EndpointUpdate, SubmitUrl
    from airflow_provider_mlpipelines.api.status import EntityStatus
    from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
    from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings


class RunTarget(Protocol):
    """Where a task submits, as far as finding its earlier runs needs to know."""

    @property
    def pipeline_ids(self) -> Sequence[str]:
        """Every pipeline a run of the target may have gone to, the current one first."""
        ...

    @property
    def endpoint_id(self) -> str | None:
        """The endpoint submitted to, if any."""
        ...


class PipelinesClient(Protocol):
    """The sync operations, as the sync hook delegates them (see the hook for their docs)."""

    @property
    def settings(self) -> ConnectionSettings:
        """The connection settings the client was built from."""
        ...

    @property
    def listing_lag_seconds(self) -> float:
        """How long a new run may take to be found by :meth:`runs_of_task`."""
        ...

    # Published pipelines (v2: pipeline component versions)
    def get_published_pipeline(self, pipeline_id: str) -> PublishedPipeline: ...

    def list_published_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]: ...

    def find_published_pipeline(
        self, name: str, version: str | None = None, active_only: bool = True
    ) -> PublishedPipeline | None: ...

    def publish_pipeline_from_run(
        self,
        run_id: str,
        *,
        name: str,
        version: str | None = None,
        description: str | None = None,
        continue_on_step_failure: bool | None = None,
        properties: dict[str, str] | None = None,
    ) -> PublishedPipeline: ...

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
    ) -> tuple[PublishedPipeline, bool]: ...

    def set_published_pipeline_status(
        self, pipeline_id: str, status: EntityStatus | str
    ) -> None: ...

    def get_pipeline_interface(self, pipeline_id: str) -> PipelineInterface: ...

    def get_pipeline_url(self, pipeline_id: str) -> str: ...

    # Pipeline endpoints (v2: batch endpoints; their versions are deployments)
    def create_pipeline_endpoint(
        self, name: str, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpoint: ...

    def get_pipeline_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None
    ) -> PipelineEndpoint: ...

    def find_pipeline_endpoint(self, name: str) -> PipelineEndpoint | None: ...

    def list_pipeline_endpoints(
        self, active_only: bool = True, batch_size: int = 100
    ) -> list[PipelineEndpoint]: ...

    def add_pipeline_to_endpoint(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> PipelineEndpoint: ...

    def add_pipeline_version(
        self, endpoint_id: str, pipeline_id: str, *, set_default: bool = False
    ) -> EndpointUpdate: ...

    def ensure_pipeline_in_endpoint(
        self,
        name: str,
        pipeline_id: str,
        *,
        description: str | None = None,
        set_default: bool = True,
        deployment_name: str | None = None,
    ) -> EndpointUpdate: ...

    def set_pipeline_endpoint_default_version(
        self, endpoint_id: str, version: str
    ) -> PipelineEndpoint: ...

    def change_default_version(self, endpoint_id: str, version: str) -> EndpointUpdate: ...

    def set_pipeline_endpoint_status(
        self, endpoint_id: str, status: EntityStatus | str
    ) -> PipelineEndpoint: ...

    def list_pipeline_endpoint_versions(self, endpoint_id: str) -> list[PipelineVersion]: ...

    def list_pipeline_endpoint_pipelines(
        self, endpoint_id: str, active_only: bool = False
    ) -> list[PublishedPipeline]: ...

    # Submissions
    def check_submission(
        self, submission: PipelineSubmissionInfo, parent_run_id: str | None = None
    ) -> None: ...

    def validate_submission(
        self, interface: PipelineInterface, submission: PipelineSubmissionInfo, *, target: str
    ) -> None: ...

    def submit_pipeline_run(
        self,
        pipeline_id: str,
        submission: PipelineSubmissionInfo,
        *,
        parent_run_id: str | None = None,
    ) -> PipelineRun: ...

    def submit_pipeline_endpoint_run(
        self,
        endpoint_id: str,
        submission: PipelineSubmissionInfo,
        *,
        pipeline_version: str | None = None,
        parent_run_id: str | None = None,
    ) -> PipelineRun: ...

    def submit_to_url(self, url: str, submission: PipelineSubmissionInfo) -> PipelineRun: ...

    def parse_submit_url(self, url: str) -> SubmitUrl: ...

    def runs_of_task(
        self,
        target: RunTarget,
        identity: Mapping[str, str],
        tries: Sequence[int],
        since: float | None = None,
    ) -> list[PipelineRun]: ...

    def list_pipeline_runs(self, pipeline_id: str) -> list[PipelineRun]: ...

    # Runs (v2: pipeline jobs) and their steps
    def get_pipeline_run(self, run_id: str) -> PipelineRun: ...

    def cancel_pipeline_run(self, run_id: str) -> None: ...

    def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]: ...

    def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str: ...

    def get_history_run(self, run_id: str, experiment_name: str | None = None) -> HistoryRun: ...

    def get_history_run_details(self, run_id: str, experiment_name: str) -> HistoryRunDetails: ...

    def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]: ...

    def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str: ...

    def get_run_url(self, run_id: str) -> str: ...

    # Data, for lineage
    def get_datastore(self, name: str) -> DatastoreStorage | None:
        """The storage behind datastore ``name``, read once per client; ``None`` when it could
        not be read (never raises for the service's answer)."""
        ...

    def get_run_outputs(self, run_id: str) -> list[DataLocation]:
        """Where the run wrote its outputs (v1: each step's, v2: the job's), as far as the
        service says."""
        ...

    # test_connection
    def probe_workspace(self, policy: RetryPolicy | None = None) -> int:
        """One cheap authenticated read (every token the API needs acquired first): the number
        of published pipelines (v1) or batch endpoints (v2)."""
        ...

    def close(self) -> None:
        """Release what the client holds beyond the hook's transport (a second token)."""
        ...


class AsyncPipelinesClient(Protocol):
    """The async operations the triggers use, as the async hook delegates them."""

    @property
    def settings(self) -> ConnectionSettings:
        """The connection settings the client was built from."""
        ...

    async def get_pipeline_run(self, run_id: str) -> PipelineRun: ...

    async def cancel_pipeline_run(self, run_id: str) -> None: ...

    async def get_step_statuses(self, run_id: str) -> dict[str, StepStatus]: ...

    async def get_step_log(self, run_id: str, node_id: str, kind: str = "STDERR") -> str: ...

    async def list_child_runs(
        self, run_id: str, experiment_name: str, page_size: int = 500
    ) -> list[HistoryRun]: ...

    async def describe_run_failure(self, run_id: str, max_log_lines: int = 20) -> str: ...

    async def query_runs(self, experiment_name: str, run_ids: Sequence[str]) -> list[HistoryRun]:
        """Many runs of one experiment in one ``runs:query`` (every page), from run history."""
        ...

    async def get_run_status(self, run_id: str) -> PipelineRun:
        """One run's status the cheapest way the API has (v2: run history, not ARM)."""
        ...

    def get_run_url(self, run_id: str) -> str: ...
