"""What the studio pages show, read from the emulator's records: run rows, step rows, filters.

A v2 job is a v1 run of the same id (``emulator/v2/records.py``), so one list of runs holds both;
the job record adds the display name, endpoint, deployment and component.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from airflow_provider_mlpipelines.emulator.http import EmulatorContext
from airflow_provider_mlpipelines.emulator.records import RunRecord, StepRecord
from airflow_provider_mlpipelines.emulator.v2.records import JobRecord

#: The most rows a list shows (newest first).
MAX_ROWS = 200


@dataclass(frozen=True)
class RunRow:
    """One run (v1) or job (v2) in a list."""

    id: str
    api: str
    name: str
    experiment: str
    status: str
    created: str
    duration: str
    active: bool


@dataclass(frozen=True)
class RunFilter:
    """The home page's filter, from its query string (all optional).

    :param status: a run status (``Running``, ``Failed``...), exact.
    :param experiment: an experiment name, exact.
    :param text: a piece of the run id, name or experiment, any case.
    """

    status: str = ""
    experiment: str = ""
    text: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> RunFilter:
        return cls(
            status=query.get("status", "").strip(),
            experiment=query.get("experiment", "").strip(),
            text=query.get("q", "").strip(),
        )

    def matches(self, row: RunRow) -> bool:
        if self.status and row.status != self.status:
            return False
        if self.experiment and row.experiment != self.experiment:
            return False
        needle = self.text.lower()
        return not needle or any(
            needle in value.lower() for value in (row.id, row.name, row.experiment)
        )


@dataclass(frozen=True)
class FileLink:
    """A datastore location and its studio file URL."""

    name: str
    datastore: str
    path: str
    url: str


@dataclass
class StepRow:
    """A step of a run page: its record, spec and links."""

    record: StepRecord
    duration: str
    outputs: list[FileLink] = field(default_factory=list)
    url: str = ""


def parse_time(value: str | None) -> datetime | None:
    """An ISO time of a record, or ``None``."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def duration(start: str | None, end: str | None) -> str:
    """``1 h 02 min``, ``3 min 04 s``, ``2.5 s``: from start to end (or now, while active).

    :param start: the start time, if it started.
    :param end: the end time, if it ended.
    """
    began = parse_time(start)
    if began is None:
        return ""
    ended = parse_time(end) or datetime.now(timezone.utc)
    seconds = max((ended - began).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def file_url(datastore: str, path: str) -> str:
    """The studio URL of a file or folder in a datastore.

    :param datastore: the datastore.
    :param path: the path inside it.
    """
    return f"/studio/files/{quote(datastore, safe='')}/{quote(path.lstrip('/'))}"


def run_url(run_id: str) -> str:
    """The studio URL of a run or job."""
    return f"/studio/runs/{quote(run_id, safe='')}"


def step_url(run_id: str, node_id: str) -> str:
    """The studio URL of a step's page (its logs and outputs)."""
    return f"{run_url(run_id)}/steps/{quote(node_id, safe='')}"


def job_of(context: EmulatorContext, run_id: str) -> JobRecord | None:
    """The v2 job of a run, if the run is one."""
    return None if context.v2 is None else context.v2.jobs.get(run_id)


def run_row(context: EmulatorContext, run: RunRecord) -> RunRow:
    """A run as a list row (a v2 job shows its display name).

    :param context: the emulator.
    :param run: the run.
    """
    job = job_of(context, run.id)
    name = run.pipeline_name if job is None else (job.display_name or job.component_key)
    return RunRow(
        id=run.id,
        api="v1" if job is None else "v2",
        name=name,
        experiment=run.experiment_name,
        status=run.status.value,
        created=run.created[:19].replace("T", " "),
        duration=duration(run.start_time, run.end_time),
        active=not run.status.is_terminal,
    )


def run_rows(
    context: EmulatorContext, runs: Iterable[RunRecord], wanted: RunFilter | None = None
) -> list[RunRow]:
    """Rows of ``runs`` passing the filter, newest first, at most :data:`MAX_ROWS`.

    :param context: the emulator.
    :param runs: the runs.
    :param wanted: the filter (none: every run).
    """
    rows = []
    for run in sorted(runs, key=lambda r: r.created, reverse=True):
        row = run_row(context, run)
        if wanted is None or wanted.matches(row):
            rows.append(row)
            if len(rows) >= MAX_ROWS:
                break
    return rows


def input_links(run: RunRecord) -> list[FileLink]:
    """The run's data inputs, linked to their files."""
    return [
        FileLink(name, ref["datastore"], ref["path"], file_url(ref["datastore"], ref["path"]))
        for name, ref in sorted(run.data_inputs.items())
        if "datastore" in ref and "path" in ref
    ]


def step_row(run: RunRecord, step: StepRecord) -> StepRow:
    """A step with its duration, output links and page URL."""
    outputs = [
        FileLink(name, ref["datastore"], ref["path"], file_url(ref["datastore"], ref["path"]))
        for name, ref in sorted(step.outputs.items())
        if "datastore" in ref and "path" in ref
    ]
    return StepRow(
        step, duration(step.start_time, step.end_time), outputs, step_url(run.id, step.node_id)
    )
