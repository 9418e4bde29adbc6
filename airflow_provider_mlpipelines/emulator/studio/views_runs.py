"""Studio pages of runs: the home page, a run (or v2 job) with its graph, a step, an experiment,
and the datastores' files.
"""

from __future__ import annotations

from aiohttp import web

from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.errors import EmulatorError, not_found
from airflow_provider_mlpipelines.emulator.http import EmulatorContext, context_of
from airflow_provider_mlpipelines.emulator.records import RunRecord, StepRecord
from airflow_provider_mlpipelines.emulator.spec_model import StepSpec
from airflow_provider_mlpipelines.emulator.studio import files, graph
from airflow_provider_mlpipelines.emulator.studio.rendering import page, render
from airflow_provider_mlpipelines.emulator.studio.summaries import (
    RunFilter,
    duration,
    input_links,
    job_of,
    run_rows,
    step_row,
)


@page
async def home(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/``: recent runs and jobs, filtered by the query string, and the
    workspace's pipelines, endpoints and components.

    :param request: the request.
    """
    context = context_of(request)
    runs = list(context.runs.state.runs.values())
    wanted = RunFilter.from_query(request.query)
    v2 = context.v2
    return render(
        "home.html",
        title="Runs and jobs",
        rows=run_rows(context, runs, wanted),
        total=len(runs),
        wanted=wanted,
        statuses=[status.value for status in PipelineRunStatus],
        experiments=sorted({run.experiment_name for run in runs}),
        pipelines=sorted(context.runs.state.pipelines.values(), key=lambda p: p.created),
        endpoints=sorted(context.runs.state.endpoints.values(), key=lambda e: e.created),
        batch_endpoints=[] if v2 is None else sorted(v2.endpoints.values(), key=lambda e: e.name),
        components=[] if v2 is None else sorted(v2.components.values(), key=lambda c: c.key),
    )


@page
async def run_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/runs/{object_id}``: a run or v2 job, its step graph, inputs and steps; a
    step's child run id shows that step's page.

    :param request: the request.
    """
    context = context_of(request)
    run, step = context.runs.history_lookup(request.match_info["object_id"], None)
    if step is not None:
        return _step_page(context, run, step)
    specs = _step_specs(context, run)
    rows = {s.name: step_row(run, s) for s in run.steps}
    job = job_of(context, run.id)
    component = None
    if job is not None and context.v2 is not None:
        component = context.v2.component_of(job)
    return render(
        "run.html",
        title=f"{'Job' if job else 'Pipeline run'} {run.id}",
        refresh=not run.status.is_terminal,
        run=run,
        job=job,
        component=component,
        run_duration=duration(run.start_time, run.end_time),
        inputs=input_links(run),
        steps=[rows[s.name] for s in specs if s.name in rows],
        layout=graph.layout(specs),
        step_rows=rows,
    )


@page
async def step_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/runs/{run_id}/steps/{node_id}``: a step's status, outputs and logs.

    :param request: the request.
    """
    context = context_of(request)
    run = context.runs.get_run(request.match_info["run_id"])
    node_id = request.match_info["node_id"]
    step = run.step(node_id)
    if step is None:
        raise not_found("Step", node_id)
    return _step_page(context, run, step)


@page
async def experiment_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/experiments/{object_id}``: the runs and jobs of an experiment.

    :param request: the request.
    """
    context = context_of(request)
    name = request.match_info["object_id"]
    runs = [r for r in context.runs.state.runs.values() if r.experiment_name == name]
    if not runs:
        raise not_found("Experiment", name)
    return render(
        "runs.html", title=f"Experiment {name}", rows=run_rows(context, runs), total=len(runs)
    )


@page
async def file_page(request: web.Request) -> web.StreamResponse:
    """GET ``/studio/files/{datastore}/{path}``: a datastore file (read-only) or a folder listing.

    :param request: the request.
    """
    roots = context_of(request).workspace.datastores.roots
    datastore = request.match_info["datastore"]
    raw = request.match_info.get("path", "")
    target = files.resolve_in(roots, datastore, raw)
    if target.is_dir():
        root = roots[datastore]
        relative = target.relative_to(root).as_posix()
        return render(
            "folder.html",
            title=f"{datastore}/{'' if relative == '.' else relative}",
            datastore=datastore,
            entries=files.list_folder(root, target),
        )
    response = web.FileResponse(target, headers=files.FILE_HEADERS)
    response.content_type = files.content_type(target)
    return response


def _step_page(context: EmulatorContext, run: RunRecord, step: StepRecord) -> web.Response:
    row = step_row(run, step)
    logs = {kind: context.runs.log_text(run, step, kind) for kind in ("STDOUT", "STDERR")}
    return render(
        "step.html",
        title=f"Step {step.name} of {run.id}",
        refresh=not step.status.is_terminal and not run.status.is_terminal,
        run=run,
        step=step,
        row=row,
        logs=logs,
    )


def _step_specs(context: EmulatorContext, run: RunRecord) -> list[StepSpec]:
    """The run's steps as its graph snapshot declares them (their ``after`` edges), or as a
    chain of its step records when the snapshot no longer loads."""
    try:
        spec = context.workspace.spec_of(run.graph_id)
    except EmulatorError:
        spec = None
    names = {step.name for step in run.steps}
    if spec is not None and {s.name for s in spec.steps} == names:
        return list(spec.steps)
    return [StepSpec(name=step.name, kind=step.kind) for step in run.steps]
