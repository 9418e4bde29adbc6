"""Rules of the v2 side: batch endpoints, pipeline component deployments, components and jobs.

Handlers parse a request (any casing, contract section 1.6) and call one method here; the
endpoint, deployment and component rules are those of :mod:`.resources`. Jobs run on the v1
runner: a component version names a v1 graph, and a job is a v1 run of it whose id is
the job's name, so steps really run, are canceled, and survive restarts exactly like v1 runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_provider_mlpipelines.api.models import PipelineSubmissionInfo
from airflow_provider_mlpipelines.api.v2.bodies import parse_datastore_uri
from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import EmulatorError, listing
from airflow_provider_mlpipelines.emulator.records import RunRecord
from airflow_provider_mlpipelines.emulator.submission import check_experiment_name, resolve_inputs
from airflow_provider_mlpipelines.emulator.v2.checks import conflict, not_found, str_map, user_error
from airflow_provider_mlpipelines.emulator.v2.operations import Operation
from airflow_provider_mlpipelines.emulator.v2.records import ComponentRecord, JobRecord
from airflow_provider_mlpipelines.emulator.v2.resources import V2Resources

log = logging.getLogger(__name__)

#: How long a repeated ``repeatability_request-id`` returns the first job (contract section 7).
REPEATABILITY_SECONDS = 600
#: Where a job's data inputs may point in the emulator: a datastore path.
_LITERAL = "literal"
_DATA_KINDS = ("uri_folder", "urifolder", "uri_file", "urifile")


class V2Service(V2Resources):
    """The v2 resources of the emulated workspace, and the jobs that run their components.

    :param workspace: the v1 service (graphs and their pipeline snapshots).
    :param runs: the v1 run service, whose runner executes jobs.
    :param store: where v2 records are persisted.
    :param location: the workspace's region, reported on tracked resources.
    :param operations: the long-running operations.
    """

    # ------------------------------------------------------------------------- jobs
    def get_job(self, name: str) -> tuple[JobRecord, RunRecord]:
        job = self.jobs.get(name)
        if job is None:
            raise not_found("Job", name)
        return job, self.runs.get_run(name)

    def list_jobs(self, tag: str | None = None) -> list[tuple[JobRecord, RunRecord]]:
        """Jobs oldest first; ``tag`` is ``name`` or ``name=value``."""
        found = []
        for job in sorted(self.jobs.values(), key=lambda j: j.created):
            if tag:
                key, has_value, value = tag.partition("=")
                if key not in job.tags or (has_value and job.tags[key] != value):
                    continue
            found.append((job, self.runs.get_run(job.name)))
        return found

    def submit_job(self, name: str, body: Any) -> tuple[JobRecord, RunRecord, bool]:
        """A pipeline job of a registered component (PUT ``jobs/{name}``, contract section 8)."""
        props = pick(body, "properties", default={})
        job_type = pick(props, "jobType")
        if str(job_type).lower() != "pipeline":
            raise user_error(
                f"properties.jobType '{job_type}' is not supported; the emulator runs Pipeline "
                "jobs",
                "jobType",
            )
        if name in self.jobs:
            job, run = self.get_job(name)
            return job, run, False
        component = self.component_by_id(pick(props, "componentId"), target="componentId")
        job, run = self.start_job(
            component,
            name=name,
            experiment=pick(props, "experimentName") or "Default",
            inputs=pick(props, "inputs", default={}),
            inputs_target="inputs",
            display_name=pick(props, "displayName"),
            tags=str_map(pick(props, "tags")),
            properties=str_map(pick(props, "properties")),
            run_source="REMOTE.WORKSPACE.JOB",
        )
        return job, run, True

    def invoke(
        self,
        endpoint_name: str,
        deployment_header: str | None,
        body: Any,
        repeatability_id: str | None,
    ) -> tuple[JobRecord, RunRecord]:
        """Create a batch job on an endpoint's deployment (contract section 7)."""
        endpoint = self.get_endpoint(endpoint_name)
        if self.behaviour.invoke_repeatability != "honour":
            repeatability_id = None
        if repeatability_id:
            earlier = self._repeatable.get((endpoint.name.lower(), repeatability_id))
            if earlier and earlier[0] > time.monotonic():
                return self.get_job(earlier[1])
        deployment_name = deployment_header or endpoint.default_deployment
        if not deployment_name:
            raise EmulatorError(
                404,
                "UserError",
                f"Batch endpoint '{endpoint.name}' has no default deployment; set "
                "defaults.deploymentName or send the azureml-model-deployment header",
                "azureml-model-deployment",
            )
        deployment = self.deployments.get(f"{endpoint.name}/{deployment_name}".lower())
        if deployment is None:
            raise EmulatorError(
                404,
                "UserError",
                f"Deployment '{deployment_name}' was not found under batch endpoint "
                f"'{endpoint.name}'; its deployments: "
                f"{listing(self._deployment_names(endpoint.name))}",
                "azureml-model-deployment",
            )
        props = pick(body, "properties", default={})
        requested = pick(props, "name")
        name, display_name = self._invoke_names(str(requested) if requested else None)
        if name in self.jobs:
            raise conflict(f"A job named '{name}' already exists", "name")
        component = self.component_by_id(deployment.component_id, target="componentId")
        experiment = endpoint.name
        if self.behaviour.invoke_experiment == "requested":
            experiment = pick(props, "properties", "experimentName") or endpoint.name
        job, run = self.start_job(
            component,
            name=name,
            experiment=str(experiment),
            inputs=pick(props, "inputData", default={}),
            inputs_target="inputData",
            display_name=display_name,
            tags={
                "azureml.batchrun": "true",
                "azureml.deploymentname": deployment.name,
                "azureml.jobtype": "azureml.pipelinejob",
            },
            properties={
                "azureml.endpointname": endpoint.name,
                "azureml.deploymentname": deployment.name,
                "runSource": "BatchDeployment",
                "runType": "HTTP",
            },
            run_source="BatchDeployment",
            endpoint=endpoint.name,
            deployment=deployment.name,
            continue_on_step_failure=str(
                deployment.settings.get("continue_on_step_failure", "false")
            ).lower()
            == "true",
        )
        if repeatability_id:
            job.repeatability_id = repeatability_id
            expires = time.monotonic() + REPEATABILITY_SECONDS
            self._repeatable[(endpoint.name.lower(), repeatability_id)] = (expires, job.name)
        return job, run

    def _invoke_names(self, requested: str | None) -> tuple[str, str]:
        """The job name and display name of an invoke, as the behaviour switches say.

        The recorded service names the job ``batchjob-{guid}`` and, when the client sent no
        name, makes up an ``adjective_noun_suffix`` display name.
        """
        behaviour = self.behaviour
        if requested and behaviour.invoke_job_name == "honour":
            return requested, requested
        name = f"batchjob-{uuid.uuid4()}"
        if requested and behaviour.invoke_display_name == "requested":
            return name, requested
        return name, _made_up_display_name()

    def start_job(
        self,
        component: ComponentRecord,
        *,
        name: str,
        experiment: str,
        inputs: Any,
        inputs_target: str,
        display_name: str | None,
        tags: dict[str, str],
        properties: dict[str, str],
        run_source: str,
        endpoint: str | None = None,
        deployment: str | None = None,
        continue_on_step_failure: bool = False,
    ) -> tuple[JobRecord, RunRecord]:
        """Check ``inputs`` against the component, then start a real run named ``name``."""
        spec = self.workspace.spec_of(component.graph_id)
        info = _submission_info(inputs, inputs_target, experiment)
        try:
            check_experiment_name(experiment)
            resolved = resolve_inputs(spec, component.name, info, self.workspace.datastores)
        except EmulatorError as exc:
            # The v1 rules name the v1 field; v2 callers sent inputData/inputs.
            raise user_error(exc.message, inputs_target) from None
        run = self.runs.create_run(
            spec,
            component.graph_id,
            experiment,
            run_id=name,
            parameters=resolved.parameter_strings,
            data_inputs=resolved.data_inputs,
            tags=tags,
            properties=properties,
            run_source=run_source,
            continue_on_step_failure=continue_on_step_failure,
        )
        job = JobRecord(
            name=name,
            component_key=component.key,
            experiment_name=experiment,
            display_name=display_name,
            endpoint=endpoint,
            deployment=deployment,
            inputs=dict(inputs) if isinstance(inputs, Mapping) else {},
            tags=tags,
            properties=properties,
        )
        self.jobs[name] = job
        self._save("job", name, job)
        log.info("Started v2 job %s of component %s", name, component.key)
        return job, run

    def component_of(self, job: JobRecord) -> ComponentRecord | None:
        return self.components.get(job.component_key)

    def cancel_job(self, name: str) -> Operation | None:
        """Request a job's cancellation; ``None`` when it has already ended and the behaviour
        accepts that (200, no change); refused otherwise, as the service does."""
        job, run = self.get_job(name)
        if run.status.is_terminal:
            if self.behaviour.cancel_ended == "refuse":
                raise user_error(
                    f"Job {name} is in a terminal status, it can't be canceled.", "name"
                )
            return None
        job.cancel_requested = True
        self._save("job", name, job)
        task = asyncio.get_running_loop().create_task(self._cancel_run(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.operations.start(ready=lambda: self.runs.get_run(name).status.is_terminal)

    async def _cancel_run(self, name: str) -> None:
        # A short pause makes CancelRequested observable, as on the service.
        await asyncio.sleep(min(0.5, self.operations.delay))
        await self.runs.cancel(name)


def _submission_info(inputs: Any, target: str, experiment: str) -> PipelineSubmissionInfo:
    """v2 job inputs as the v1 submission the shared input rules check."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise user_error(f"{target} must be a JSON object of inputs", target)
    parameters: dict[str, str] = {}
    data_paths: dict[str, Any] = {}
    for name, value in inputs.items():
        kind = str(pick(value, "jobInputType", default="")).lower()
        if kind == _LITERAL:
            literal = pick(value, "value")
            if isinstance(literal, (dict, list)) or literal is None:
                raise user_error(f"{target}.{name}: a literal value must be a scalar", target)
            parameters[str(name)] = (
                str(literal).lower() if isinstance(literal, bool) else str(literal)
            )
        elif kind in _DATA_KINDS:
            uri = str(pick(value, "uri", default=""))
            found = parse_datastore_uri(uri)
            if found is None or not found[1]:
                raise user_error(
                    f"{target}.{name}: uri '{uri}' is not an azureml://datastores/{{name}}/"
                    "paths/{path} location (the emulator resolves datastore paths only)",
                    target,
                )
            data_paths[str(name)] = {
                "DataStoreName": found[0],
                "RelativePath": found[1],
            }
        else:
            raise user_error(
                f"{target}.{name}: jobInputType '{pick(value, 'jobInputType')}' is not "
                "supported; use literal, uri_folder or uri_file",
                target,
            )
    return PipelineSubmissionInfo(
        experiment_name=experiment,
        parameter_assignments=parameters,
        data_path_assignments=data_paths,
    )


_ADJECTIVES = ("blue", "careful", "mango", "lemon", "quiet", "brave", "calm", "eager")
_NOUNS = ("store", "bulb", "island", "yacht", "river", "cloud", "stone", "leaf")


def _made_up_display_name() -> str:
    """A display name in the shape the service makes up (``blue_store_3k1gd32x``)."""
    suffix = uuid.uuid4().hex
    return f"{_ADJECTIVES[int(suffix[0], 16) % 8]}_{_NOUNS[int(suffix[1], 16) % 8]}_{suffix[2:10]}"
