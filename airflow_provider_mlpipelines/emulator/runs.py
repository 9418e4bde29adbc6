"""Rules of pipeline runs: submission, cancellation, step views and run history.

A run is created from a published pipeline (directly or through an endpoint) or, once at first
start, from each pipeline of the spec (the "seed" runs the manifest lists for publishing).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator.bodies import require_bool, require_str_map, wire_key
from airflow_provider_mlpipelines.emulator.errors import (
    EmulatorError,
    bad_request,
    listing,
    lookup,
)
from airflow_provider_mlpipelines.emulator.pagination import (
    decode_token,
    encode_token,
    top_page_size,
)
from airflow_provider_mlpipelines.emulator.records import (
    EndpointRecord,
    PipelineRecord,
    RunRecord,
    StepRecord,
    new_id,
    utc_now,
)
from airflow_provider_mlpipelines.emulator.render import node_id_for
from airflow_provider_mlpipelines.emulator.runner import Runner, kill_orphaned_step
from airflow_provider_mlpipelines.emulator.service import WorkspaceService, parameter_strings
from airflow_provider_mlpipelines.emulator.spec_model import PipelineSpec
from airflow_provider_mlpipelines.emulator.state import State
from airflow_provider_mlpipelines.emulator.step_views import job_log, parse_node_path, read_log
from airflow_provider_mlpipelines.emulator.submission import check_experiment_name, resolve_inputs

log = logging.getLogger(__name__)

RESTART_DETAIL = (
    "The emulator restarted while this run was in flight ({status}); the run was not resumed"
)
SEED_DETAIL = (
    "Seed run recorded by the emulator at first start (steps not executed): publish it to "
    "get a published pipeline"
)
PIPELINE_ID_PROPERTY = "azureml.pipelineid"
_TAGS_FIELD = wire_key(PipelineSubmissionInfo, "tags")
_PROPERTIES_FIELD = wire_key(PipelineSubmissionInfo, "properties")
_CONTINUE_FIELD = wire_key(PipelineSubmissionInfo, "continue_run_on_step_failure")


class RunService:
    """Runs of the emulated workspace.

    :param workspace: the pipelines and endpoints service.
    :param state: the records.
    :param runner: executes runs.
    """

    def __init__(self, workspace: WorkspaceService, state: State, runner: Runner) -> None:
        self.workspace = workspace
        self.state = state
        self.runner = runner

    # ---------------------------------------------------------------------------- submit
    def submit_to_pipeline(
        self, pipeline_id: str, info: PipelineSubmissionInfo, parent_run_id: str | None
    ) -> RunRecord:
        """Submit a run of a published pipeline.

        :param pipeline_id: the pipeline.
        :param info: the ``PipelineSubmissionInfo`` body.
        :param parent_run_id: the ``parentRunId`` query value.
        :raises EmulatorError: 404 for an unknown pipeline; 400 for a disabled pipeline or an
            invalid submission.
        """
        pipeline = self.workspace.get_pipeline(pipeline_id)
        self.workspace.check_submittable(pipeline)
        return self._submit(pipeline, None, info, parent_run_id)

    def submit_to_endpoint(
        self,
        endpoint_id: str,
        path_version: str | None,
        query_version: str | None,
        info: PipelineSubmissionInfo,
        parent_run_id: str | None,
    ) -> RunRecord:
        """Submit a run of one version of a pipeline endpoint.

        :param endpoint_id: the endpoint.
        :param path_version: the version given in the path, if any.
        :param query_version: the ``pipelineVersion`` query value, if any.
        :param info: the ``PipelineSubmissionInfo`` body.
        :param parent_run_id: the ``parentRunId`` query value.
        """
        endpoint, pipeline = self.workspace.resolve_endpoint_submission(
            endpoint_id, path_version, query_version
        )
        return self._submit(pipeline, endpoint, info, parent_run_id)

    def _submit(
        self,
        pipeline: PipelineRecord,
        endpoint: EndpointRecord | None,
        info: PipelineSubmissionInfo,
        parent_run_id: str | None,
    ) -> RunRecord:
        experiment = check_experiment_name(info.experiment_name)
        spec = self.workspace.spec_of(pipeline.graph_id)
        inputs = resolve_inputs(spec, pipeline.name, info, self.workspace.datastores)
        if parent_run_id is not None and parent_run_id not in self.state.runs:
            log.info("Run submitted with parent run %s unknown to the emulator", parent_run_id)
        properties = require_str_map(info.properties, _PROPERTIES_FIELD)
        properties[PIPELINE_ID_PROPERTY] = pipeline.id
        run = self._new_run(spec, pipeline.graph_id, experiment)
        run.pipeline_id = pipeline.id
        run.endpoint_id = None if endpoint is None else endpoint.id
        run.parent_run_id = parent_run_id
        run.description = info.description
        run.parameters = inputs.parameter_strings
        run.data_inputs = {
            n: {"datastore": d, "path": p} for n, (d, p) in inputs.data_inputs.items()
        }
        run.dataset_assignments = dict(info.dataset_assignments or {})
        run.continue_on_step_failure = require_bool(
            info.continue_run_on_step_failure, _CONTINUE_FIELD, pipeline.continue_on_step_failure
        )
        run.run_source = info.run_source
        run.run_type = info.run_type
        run.schedule_id = info.schedule_id
        run.tags = require_str_map(info.tags, _TAGS_FIELD)
        run.properties = properties
        self.state.save_run(run)
        self.runner.start(run)
        log.info("Submitted run %s of pipeline %s (%s)", run.id, pipeline.name, pipeline.id)
        return run

    def _new_run(self, spec: PipelineSpec, graph_id: str, experiment: str) -> RunRecord:
        run_id = new_id()
        now = utc_now()
        steps = [
            StepRecord(
                node_id=node_id_for(spec.name, step.name),
                name=step.name,
                kind=step.kind,
                run_id=new_id(),
                creation_time=now,
            )
            for step in spec.steps
        ]
        return RunRecord(
            id=run_id,
            graph_id=graph_id,
            pipeline_name=spec.name,
            experiment_name=experiment,
            created=now,
            steps=steps,
        )

    def create_run(
        self,
        spec: PipelineSpec,
        graph_id: str,
        experiment: str,
        *,
        run_id: str,
        parameters: dict[str, str],
        data_inputs: dict[str, tuple[str, str]],
        tags: dict[str, str],
        properties: dict[str, str],
        run_source: str,
        continue_on_step_failure: bool = False,
    ) -> RunRecord:
        """Start a run of a graph under a caller-chosen id (a v2 job's name) with checked inputs.

        :param spec: the graph's pipeline snapshot.
        :param graph_id: the graph.
        :param experiment: a valid experiment name.
        :param run_id: the run's id; it must not exist yet.
        :param parameters: parameter values as the service reports them.
        :param data_inputs: data input name -> ``(datastore, relative path)``.
        """
        if run_id in self.state.runs:
            raise EmulatorError(409, "Conflict", f"A run named '{run_id}' already exists")
        run = self._new_run(spec, graph_id, experiment)
        run.id = run_id
        run.parameters = dict(parameters)
        run.data_inputs = {n: {"datastore": d, "path": p} for n, (d, p) in data_inputs.items()}
        run.tags = dict(tags)
        run.properties = dict(properties)
        run.run_source = run_source
        run.continue_on_step_failure = continue_on_step_failure
        self.state.save_run(run)
        self.runner.start(run)
        return run

    def create_seed_run(self, spec: PipelineSpec, experiment: str) -> RunRecord:
        """Record a finished run of a spec pipeline, to be published (steps are not executed).

        :param spec: the pipeline of the workspace spec.
        :param experiment: the experiment to record it in.
        """
        graph = self.workspace.create_graph(spec)
        run = self._new_run(spec, graph.id, experiment)
        now = utc_now()
        run.parameters = parameter_strings(spec)
        run.data_inputs = {}
        for data_input in spec.data_inputs:
            datastore, path = self.workspace.datastores.resolve_value(
                data_input.default, data_input.name
            )
            run.data_inputs[data_input.name] = {"datastore": datastore, "path": path}
        run.status = PipelineRunStatus.FINISHED
        run.status_detail = SEED_DETAIL
        run.start_time = run.end_time = now
        run.run_source = "Emulator"
        run.tags = {"emulator.seed": "true"}
        run.continue_on_step_failure = spec.continue_on_step_failure
        for step in run.steps:
            step.status = StepRunStatus.BYPASSED
            step.status_detail = "Not executed: seed run"
            step.start_time = step.end_time = now
        self.state.save_run(run)
        return run

    # ---------------------------------------------------------------------------- queries
    def get_run(self, run_id: str) -> RunRecord:
        """A pipeline run by id.

        :param run_id: the id.
        :raises EmulatorError: 404 when unknown.
        """
        return lookup(self.state.runs, "PipelineRun", run_id)

    def runs_of_pipeline(self, pipeline_id: str) -> list[RunRecord]:
        """Runs submitted to a published pipeline, oldest first.

        :param pipeline_id: the pipeline.
        :raises EmulatorError: 404 for an unknown pipeline.
        """
        self.workspace.get_pipeline(pipeline_id)
        return [self.state.runs[r] for r in self.state.run_ids_by_pipeline.get(pipeline_id, [])]

    def listed_runs(
        self, pipeline_id: str, *, delay_seconds: float, page_size: int, token: str | None
    ) -> tuple[list[RunRecord], str | None]:
        """What the runs list of a pipeline shows: the runs old enough to be listed, one page.

        :param pipeline_id: the pipeline.
        :param delay_seconds: a run is listed only this long after its creation.
        :param page_size: runs per page; 0 lists every run at once.
        :param token: the ``$continuationToken`` of the page wanted, if not the first.
        :return: the runs and the next page's token (``None`` on the last page).
        :raises EmulatorError: 404 for an unknown pipeline; 400 for a foreign token.
        """
        runs = self.runs_of_pipeline(pipeline_id)
        if delay_seconds > 0:
            # Runs are kept oldest first, so the listed ones stay a prefix and offsets stay valid.
            cutoff = datetime.now(timezone.utc) - timedelta(seconds=delay_seconds)
            runs = [run for run in runs if datetime.fromisoformat(run.created) <= cutoff]
        offset = decode_token(token, pipeline_id) if token else 0
        if page_size <= 0:
            return runs[offset:], None
        end = offset + page_size
        return runs[offset:end], encode_token(pipeline_id, end) if end < len(runs) else None

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run (a no-op for a finished one).

        :param run_id: the run.
        :raises EmulatorError: 404 when unknown.
        """
        run = self.get_run(run_id)
        if not run.status.is_terminal:
            await self.runner.cancel(run)
        return run

    def steps_of(self, run_id: str, node_path: Any) -> tuple[RunRecord, list[StepRecord]]:
        """A run and the steps a node-id path selects (every step for an empty path).

        :param run_id: the run.
        :param node_path: the body: a JSON array of node ids (the last one names the step).
        :raises EmulatorError: 404 for an unknown run or node; 400 for a malformed body.
        """
        run = self.get_run(run_id)
        path = parse_node_path(node_path)
        if not path:
            return run, list(run.steps)
        step = run.step(path[-1])
        if step is None:
            raise EmulatorError(
                404,
                "NotFound",
                f"Node '{path[-1]}' is not a step of run {run_id}; nodes: "
                f"{listing([s.node_id for s in run.steps])}",
            )
        return run, [step]

    def step_log(self, run_id: str, kind: str, node_path: Any) -> str:
        """A step's ``STDOUT``, ``STDERR`` or ``JobLog`` text (empty before it starts).

        :param run_id: the run.
        :param kind: the log kind.
        :param node_path: the body naming the step.
        """
        run, steps = self.steps_of(run_id, node_path)
        if not parse_node_path(node_path):
            raise bad_request(
                "Name the step: the body is a JSON array holding its node id", "InvalidBody"
            )
        return self.log_text(run, steps[0], kind)

    def log_text(self, run: RunRecord, step: StepRecord, kind: str) -> str:
        """The text of one log of a step.

        :param run: the run.
        :param step: the step.
        :param kind: ``STDOUT``, ``STDERR`` or ``JobLog``.
        """
        if kind == "JobLog":
            return job_log(run, step)
        if step.kind == "simulated":
            if kind == "STDOUT" and step.start_time:
                duration = step.duration or 0.0
                return f"Simulated step '{step.name}': {duration:g} s, {step.status.value}\n"
            return ""
        return read_log(self.runner.log_path(run.id, step.node_id, kind))

    def step_outputs(self, run_id: str, node_path: Any) -> tuple[RunRecord, StepRecord]:
        """The step whose outputs are asked for.

        :param run_id: the run.
        :param node_path: the body naming the step.
        """
        run, steps = self.steps_of(run_id, node_path)
        if not parse_node_path(node_path):
            raise bad_request(
                "Name the step: the body is a JSON array holding its node id", "InvalidBody"
            )
        return run, steps[0]

    # ---------------------------------------------------------------------------- history
    def history_lookup(
        self, run_id: str, experiment: str | None
    ) -> tuple[RunRecord, StepRecord | None]:
        """A run-history run: a pipeline run or a step's child run.

        :param run_id: the run id.
        :param experiment: the experiment in the path, if any (it must match).
        :raises EmulatorError: 404 when unknown or in another experiment.
        """
        run = self.state.runs.get(run_id)
        step = None
        if run is None and run_id in self.state.steps_by_run_id:
            run, step = self.state.steps_by_run_id[run_id]
        if run is None or (experiment is not None and run.experiment_name != experiment):
            where = f" in experiment '{experiment}'" if experiment else ""
            raise EmulatorError(404, "NotFound", f"Run '{run_id}' was not found{where}")
        return run, step

    def children_page(
        self, run_id: str, experiment: str, top: str | None, token: str | None
    ) -> tuple[RunRecord, list[StepRecord], str | None]:
        """One page of a run's child (step) runs.

        :param run_id: the parent run.
        :param experiment: its experiment.
        :param top: the ``$top`` query value (page size).
        :param token: the ``$continuationToken`` query value.
        :raises EmulatorError: 400 for an invalid page size or token.
        """
        run, step = self.history_lookup(run_id, experiment)
        if step is not None:
            return run, [], None
        size = top_page_size(top)
        offset = decode_token(token, run_id) if token else 0
        page = run.steps[offset : offset + size]
        next_offset = offset + size
        next_token = encode_token(run_id, next_offset) if next_offset < len(run.steps) else None
        return run, page, next_token

    # ---------------------------------------------------------------------------- restart
    def reconcile_after_restart(self) -> int:
        """Fail every run left in flight by a previous emulator process.

        Returns how many runs were failed.
        """
        count = 0
        for run in self.state.runs.values():
            if run.status.is_terminal:
                continue
            now = utc_now()
            detail = RESTART_DETAIL.format(status=run.status.value)
            for step in run.steps:
                if step.status in (StepRunStatus.RUNNING, StepRunStatus.QUEUED):
                    if kill_orphaned_step(step.pid, step.pid_start_ticks):
                        log.warning(
                            "Killed step process %s left running by the last emulator", step.pid
                        )
                    step.status = StepRunStatus.FAILED
                    step.status_detail = detail
                    step.end_time = now
            run.status = PipelineRunStatus.FAILED
            run.status_detail = detail
            run.end_time = now
            run.touch()
            self.state.save_run(run)
            count += 1
        return count
