"""Readable accounts of what the service reported, for logs and exception messages (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from airflow_provider_mlpipelines.api.models import HistoryRun, PipelineRun, StepStatus


@dataclass(frozen=True)
class FailedStep:
    """One failed step and what is known about it.

    :param step: the step's status.
    :param name: the step's name, when run history could tell it.
    :param log_tail: the last lines of its stderr, or ``None`` when they could not be read.
    :param log_problem: why the log could not be read, if it could not.
    """

    step: StepStatus
    name: str | None = None
    log_tail: str | None = None
    log_problem: str | None = None


def failed_steps(steps: Mapping[str, StepStatus]) -> list[StepStatus]:
    """The steps that ended in a failure state, in node-id order."""
    return [steps[node] for node in sorted(steps) if steps[node].status.is_failure]


def step_names(children: Iterable[HistoryRun]) -> dict[str, str]:
    """Map node ids to step names from the run-history children of a pipeline run."""
    names: dict[str, str] = {}
    for child in children:
        name = child.display_name or child.name
        if child.node_id and name:
            names[child.node_id] = name
    return names


def tail_lines(text: str, count: int) -> str:
    """The last ``count`` non-empty-trailing lines of ``text``."""
    if count <= 0:
        return ""
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-count:])


def render_run_failure(run: PipelineRun, failed: Sequence[FailedStep], max_log_lines: int) -> str:
    """Describe a failed or canceled run: its status detail, then each failed step's stderr tail.

    :param run: the pipeline run.
    :param failed: the failed steps with what is known about them.
    :param max_log_lines: how many stderr lines were kept per step (for the heading).
    """
    # Callers name the run and its status (see AzureMLPipelineRunError); the report adds the rest.
    lines = [f"Status detail: {run.status_detail}"] if run.status_detail else []
    if not failed:
        lines.append("No failed step was reported.")
    for item in failed:
        lines.extend(_render_step(item, max_log_lines))
    return "\n".join(lines)


def _render_step(item: FailedStep, max_log_lines: int) -> list[str]:
    step = item.step
    label = f"Step {step.node_id!r}"
    if item.name:
        label += f" ({item.name})"
    label += f" {step.status.value}"
    if step.status_detail:
        label += f": {step.status_detail}"
    lines = [label]
    if item.log_tail:
        lines.append(f"  stderr (last {max_log_lines} lines):")
        lines.extend(f"    {line}" for line in item.log_tail.splitlines())
    elif item.log_problem:
        lines.append(f"  stderr unavailable: {item.log_problem}")
    else:
        lines.append("  stderr is empty")
    return lines
