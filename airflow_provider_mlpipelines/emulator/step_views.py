"""What the step views of a run read: the node-id path a request names, and a step's log texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_mlpipelines.emulator.bodies import json_type
from airflow_provider_mlpipelines.emulator.errors import bad_request
from airflow_provider_mlpipelines.emulator.records import RunRecord, StepRecord


def parse_node_path(body: Any) -> list[str]:
    """The node ids a step request's body lists (none for an empty body)."""
    if body is None:
        return []
    if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
        raise bad_request(
            f"The body must be a JSON array of node ids, got {json_type(body)}", "InvalidBody"
        )
    return body


def read_log(path: Path) -> str:
    """A step's log file as text; empty while the step has not written it."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def job_log(run: RunRecord, step: StepRecord) -> str:
    """The ``JobLog`` of a step: what the emulator knows of it, one fact a line."""
    lines = [
        f"Step: {step.name} (node {step.node_id}, run {step.run_id})",
        f"Pipeline run: {run.id} (experiment {run.experiment_name})",
        f"Kind: {step.kind}",
        f"Status: {step.status.value}" + (f" ({step.status_detail})" if step.status_detail else ""),
    ]
    if step.command:
        lines.append("Command: " + " ".join(step.command))
    if step.duration is not None:
        lines.append(f"Duration: {step.duration:g} s")
    for label, value in (
        ("Queued", step.schedule_time),
        ("Started", step.start_time),
        ("Ended", step.end_time),
        ("Exit code", step.exit_code),
    ):
        if value is not None:
            lines.append(f"{label}: {value}")
    return "\n".join(lines) + "\n"
