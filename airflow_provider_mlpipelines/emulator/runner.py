"""Execution of pipeline runs: real steps as subprocesses, simulated steps as timers.

Each run is driven by one asyncio task that runs its steps in order. A real step is rendered
with the run's values and started in its own process group (so cancelling kills the whole
tree) with stdout/stderr going to files that the log routes serve while it runs. A simulated
step is an ``asyncio.sleep``: thousands of them cost no process and no thread.

Failure rule: a failed step fails the run. Without ``ContinueRunOnStepFailure`` the later
steps stay ``NotStarted``; with it they still run, and the run ends ``Failed`` when any step
failed (``Finished`` only when every step finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator import params as params_mod
from airflow_provider_mlpipelines.emulator.datastores import Datastores
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.records import RunRecord, StepRecord, utc_now
from airflow_provider_mlpipelines.emulator.spec_model import (
    PipelineSpec,
    StepSpec,
    WorkspaceSpecError,
)
from airflow_provider_mlpipelines.emulator.state import State
from airflow_provider_mlpipelines.emulator.templating import TemplateError, render
from airflow_provider_mlpipelines.emulator.workspace import check_duration, check_outcome

log = logging.getLogger(__name__)

CANCELED_DETAIL = "Canceled by request"


class Runner:
    """Runs pipeline runs to completion, one asyncio task per run.

    :param state: the records (every state change is saved through it).
    :param datastores: resolves data inputs and outputs to local paths.
    :param spec_of: graph id -> the pipeline snapshot it executes.
    :param work_root: folder of the per-run working folders.
    :param spec_dir: the workspace spec's folder (``{{ spec_dir }}`` in templates).
    :param max_processes: real steps running at once; later ones wait ``Queued``.
    :param kill_grace: seconds between SIGTERM and SIGKILL when killing a step.
    :param queue_delay: seconds a new run waits ``NotStarted`` before its first step, read
        again while it waits (fault settings change at run time: lowering the setting
        releases the runs already waiting).
    """

    def __init__(
        self,
        *,
        state: State,
        datastores: Datastores,
        spec_of: Callable[[str], PipelineSpec],
        work_root: Path,
        spec_dir: Path,
        max_processes: int = 8,
        kill_grace: float = 3.0,
        queue_delay: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._state = state
        self._datastores = datastores
        self._spec_of = spec_of
        self._work_root = work_root
        self._spec_dir = spec_dir
        self._slots = asyncio.Semaphore(max_processes)
        self._kill_grace = kill_grace
        self._queue_delay = queue_delay
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def active_runs(self) -> int:
        """How many runs are being driven now."""
        return len(self._tasks)

    def run_folder(self, run_id: str) -> Path:
        """The working folder of a run (created when its first real step starts).

        :param run_id: the run.
        """
        return self._work_root / run_id

    def log_path(self, run_id: str, node_id: str, kind: str) -> Path:
        """Where a real step's ``STDOUT`` or ``STDERR`` is written.

        :param run_id: the run.
        :param node_id: the step's node id.
        :param kind: ``STDOUT`` or ``STDERR``.
        """
        return self.run_folder(run_id) / "logs" / f"{node_id}.{kind.lower()}.txt"

    # ---------------------------------------------------------------------------- control
    def start(self, run: RunRecord) -> None:
        """Start driving ``run`` in the background.

        :param run: a new run in ``NotStarted``.
        """
        task = asyncio.get_running_loop().create_task(self._drive(run), name=f"run-{run.id}")
        self._tasks[run.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.id, None))

    async def cancel(self, run: RunRecord, wait: float = 10.0) -> None:
        """Cancel a run: kill its running step's process group; it ends ``Canceled``.

        Returns once the run is terminal, or after ``wait`` seconds.

        :param run: the run.
        :param wait: how long to wait for the run to settle.
        """
        task = self._tasks.get(run.id)
        if task is None:
            if not run.status.is_terminal:
                self._cancel_remaining(run)
                self._end_run(run, PipelineRunStatus.CANCELED, CANCELED_DETAIL)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=wait)

    async def shutdown(self) -> None:
        """Kill every running step and stop driving runs, leaving their state as it is.

        Runs still in flight are marked ``Failed`` by the next start (see the run service).
        """
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._kill_grace + 5)

    # ---------------------------------------------------------------------------- driving
    async def _drive(self, run: RunRecord) -> None:
        try:
            spec = self._spec_of(run.graph_id)
            loop = asyncio.get_running_loop()
            queued_at = loop.time()
            while (left := self._queue_delay() - (loop.time() - queued_at)) > 0:
                await asyncio.sleep(min(left, 0.2))
            run.status = PipelineRunStatus.RUNNING
            run.start_time = utc_now()
            self._save(run)
            failed: list[StepRecord] = []
            for step_spec, step in zip(spec.steps, run.steps, strict=True):
                if failed and not run.continue_on_step_failure:
                    step.status_detail = f"Not run: step '{failed[0].name}' failed"
                    continue
                if not await self._run_step(run, spec, step_spec, step):
                    failed.append(step)
            self._end_after_steps(run, failed)
        except asyncio.CancelledError:
            if self._stopping:
                raise
            self._cancel_remaining(run)
            self._end_run(run, PipelineRunStatus.CANCELED, CANCELED_DETAIL)
        except Exception as exc:
            log.exception("Run %s failed inside the emulator", run.id)
            self._end_run(run, PipelineRunStatus.FAILED, f"Emulator error: {exc}")

    def _end_after_steps(self, run: RunRecord, failed: list[StepRecord]) -> None:
        if not failed:
            self._end_run(run, PipelineRunStatus.FINISHED, None)
            return
        details = "; ".join(f"step '{s.name}': {s.status_detail}" for s in failed)
        self._end_run(run, PipelineRunStatus.FAILED, f"{len(failed)} step(s) failed: {details}")

    def _end_run(self, run: RunRecord, status: PipelineRunStatus, detail: str | None) -> None:
        run.status = status
        run.status_detail = detail
        run.end_time = utc_now()
        self._save(run)
        log.info("Run %s ended %s", run.id, status.value)

    def _cancel_remaining(self, run: RunRecord) -> None:
        now = utc_now()
        for step in run.steps:
            if not step.status.is_terminal:
                step.status = StepRunStatus.CANCELED
                step.status_detail = CANCELED_DETAIL
                step.end_time = now

    async def _run_step(
        self, run: RunRecord, spec: PipelineSpec, step_spec: StepSpec, step: StepRecord
    ) -> bool:
        step.schedule_time = utc_now()
        try:
            context = self._context(run, spec, step, step_spec)
        except (TemplateError, EmulatorError) as exc:
            self._fail_unrenderable(run, step, str(exc))
            return False
        if step_spec.kind == "simulated":
            return await self._simulate(run, step_spec, step, context)
        return await self._execute(run, step_spec, step, context)

    def _fail_unrenderable(self, run: RunRecord, step: StepRecord, message: str) -> None:
        step.status = StepRunStatus.FAILED
        step.status_detail = f"Step could not be prepared: {message}"
        step.end_time = utc_now()
        if step.kind == "process":
            path = self.log_path(run.id, step.node_id, "STDERR")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.status_detail + "\n", encoding="utf-8")
        self._save(run)

    async def _simulate(
        self, run: RunRecord, step_spec: StepSpec, step: StepRecord, context: dict[str, Any]
    ) -> bool:
        where = f"step '{step.name}'"
        try:
            duration = check_duration(render(step_spec.duration, context), where)
            outcome = check_outcome(render(step_spec.outcome, context), where)
        except (TemplateError, WorkspaceSpecError) as exc:
            self._fail_unrenderable(run, step, str(exc))
            return False
        step.duration = duration
        self._mark_running(run, step)
        try:
            await asyncio.sleep(duration)
        except asyncio.CancelledError:
            self._mark_step_canceled(run, step)
            raise
        if outcome == "Finished":
            self._finish_step(run, step, StepRunStatus.FINISHED, None)
            return True
        self._finish_step(run, step, StepRunStatus.FAILED, "Simulated failure (outcome: Failed)")
        return False

    async def _execute(
        self, run: RunRecord, step_spec: StepSpec, step: StepRecord, context: dict[str, Any]
    ) -> bool:
        try:
            argv = [render(arg, context) for arg in step_spec.command]
            env = {**os.environ, **self._step_env(run, step)}
            env.update({k: render(v, context) for k, v in step_spec.env.items()})
        except TemplateError as exc:
            self._fail_unrenderable(run, step, str(exc))
            return False
        step.command = argv
        step.status = StepRunStatus.QUEUED
        self._save(run)
        async with self._slots:
            return await self._spawn_and_wait(run, step, argv, env)

    async def _spawn_and_wait(
        self, run: RunRecord, step: StepRecord, argv: list[str], env: dict[str, str]
    ) -> bool:
        stdout_path = self.log_path(run.id, step.node_id, "STDOUT")
        stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            stdout_path.open("wb") as out,
            self.log_path(run.id, step.node_id, "STDERR").open("wb") as err,
        ):
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=self.run_folder(run.id),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                err.write(f"Could not start {argv[0]!r}: {exc}\n".encode())
                self._finish_step(run, step, StepRunStatus.FAILED, f"Could not start: {exc}")
                return False
            step.pid = proc.pid
            step.pid_start_ticks = process_start_ticks(proc.pid)
            self._mark_running(run, step)
            try:
                code = await proc.wait()
            except asyncio.CancelledError:
                await self._kill_group(proc)
                self._mark_step_canceled(run, step)
                raise
        # Grandchildren left behind by the step die with it.
        _signal_group(proc.pid, signal.SIGKILL)
        step.exit_code = code
        if code == 0:
            self._finish_step(run, step, StepRunStatus.FINISHED, None)
            return True
        reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        tail = _tail(self.log_path(run.id, step.node_id, "STDERR"))
        detail = f"Process {reason}" + (f"; stderr ends: {tail}" if tail else "")
        self._finish_step(run, step, StepRunStatus.FAILED, detail)
        return False

    async def _kill_group(self, proc: asyncio.subprocess.Process) -> None:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), self._kill_grace)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)

    # ---------------------------------------------------------------------------- state
    def _mark_running(self, run: RunRecord, step: StepRecord) -> None:
        step.status = StepRunStatus.RUNNING
        step.start_time = utc_now()
        self._save(run)

    def _mark_step_canceled(self, run: RunRecord, step: StepRecord) -> None:
        if self._stopping:
            return
        self._finish_step(run, step, StepRunStatus.CANCELED, CANCELED_DETAIL)

    def _finish_step(
        self, run: RunRecord, step: StepRecord, status: StepRunStatus, detail: str | None
    ) -> None:
        step.status = status
        step.status_detail = detail
        step.end_time = utc_now()
        self._save(run)

    def _save(self, run: RunRecord) -> None:
        run.touch()
        self._state.save_run(run)

    # ---------------------------------------------------------------------------- context
    def _context(
        self, run: RunRecord, spec: PipelineSpec, step: StepRecord, step_spec: StepSpec
    ) -> dict[str, Any]:
        typed = {
            p.name: params_mod.parse_value(p.type, run.parameters.get(p.name, p.default))
            for p in spec.parameters
        }
        data = {
            name: str(
                self._datastores.resolve(loc["datastore"], loc["path"], f"data input '{name}'")
            )
            for name, loc in run.data_inputs.items()
        }
        context: dict[str, Any] = {
            **typed,
            **data,
            "python": sys.executable,
            "run_id": run.id,
            "step_run_id": step.run_id,
            "node_id": step.node_id,
            "step_name": step.name,
            "experiment_name": run.experiment_name,
            "pipeline_name": spec.name,
            "workdir": str(self.run_folder(run.id)),
            "spec_dir": str(self._spec_dir),
            "datastores": {name: str(root) for name, root in self._datastores.roots.items()},
            "params": typed,
        }
        context["outputs"] = self._outputs(step, step_spec, context)
        return context

    def _outputs(
        self, step: StepRecord, step_spec: StepSpec, context: dict[str, Any]
    ) -> dict[str, str]:
        outputs = {}
        for name, location in step_spec.outputs.items():
            relative = render(location.relative_path, context)
            path = self._datastores.resolve(location.datastore_name, relative, f"output '{name}'")
            path.parent.mkdir(parents=True, exist_ok=True)
            step.outputs[name] = {"datastore": location.datastore_name, "path": relative}
            outputs[name] = str(path)
        return outputs

    @staticmethod
    def _step_env(run: RunRecord, step: StepRecord) -> dict[str, str]:
        return {
            "PYTHONUNBUFFERED": "1",
            "AZUREML_RUN_ID": step.run_id,
            "AZUREML_ROOT_RUN_ID": run.id,
            "AZUREML_EXPERIMENT_NAME": run.experiment_name,
        }


def _tail(path: Path, limit: int = 400) -> str:
    """The last ``limit`` characters of a log, on one line (what a failed step's detail quotes)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - limit))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def process_start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (Linux), to recognise it later.

    :param pid: the process id.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: fields follow the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def kill_orphaned_step(pid: int | None, start_ticks: int | None) -> bool:
    """Kill the process group of a step left running by a previous emulator process.

    Only when the pid still belongs to the same process (same start time), so a reused pid is
    never signalled.

    :param pid: the step's recorded pid (also its process group id).
    :param start_ticks: its recorded start time.
    """
    if pid is None or start_ticks is None or process_start_ticks(pid) != start_ticks:
        return False
    _signal_group(pid, signal.SIGKILL)
    return True
