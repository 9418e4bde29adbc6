"""What every benchmark part shares: tables, percentiles, the emulator, child processes, results.

Nothing here imports Airflow: the parse-cost part must be able to start clean interpreters, and
the orchestrating processes should stay light next to the processes they measure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
CONN_ENV_VAR = "AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT"


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` by linear interpolation (NaN when empty).

    :param values: the sample.
    :param fraction: 0.5 for the median, 0.99 for p99.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Print (and return) a plain-text table with right-aligned cells.

    :param title: the line above the table.
    :param headers: the column names.
    :param rows: the rows; floats are shown with two decimals unless already text.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in cells)) if cells else len(str(header))
        for i, header in enumerate(headers)
    ]
    lines = [
        title,
        "  ".join(str(h).rjust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def save_results(name: str, figures: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write a part's figures (and the machine) to ``{directory}/{name}.json``.

    :param name: the part's name.
    :param figures: JSON-serializable figures.
    :param directory: the folder; ``benchmarks/results`` when ``None`` (a check of the harness
        passes another, so that it leaves the recorded figures alone).
    """
    directory = RESULTS_DIR if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    document = {"recorded": datetime.now().isoformat(timespec="seconds"), "machine": machine()}
    document.update(figures)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"figures written to {shown}", flush=True)
    return path


def machine() -> dict[str, Any]:
    """The machine the figures come from: CPUs, memory, Python, Airflow (not imported)."""
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(_mem_total_kib() / 1024 / 1024, 1),
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "aiohttp": _version("aiohttp"),
        "azure_identity": _version("azure-identity"),
        "kernel": platform.release(),
        # Other work on the machine skews every figure: recorded with each result.
        "load_average_1_5_15": [round(value, 2) for value in os.getloadavg()],
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_kib() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------
def exit_cleanly_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into ``SystemExit`` so ``finally`` blocks stop the children.

    Without it a terminated benchmark would leave its emulator and watcher running: they live
    in process groups of their own, out of reach of a signal sent to the benchmark's group.
    """

    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, leave)


def raise_open_file_limit() -> int:
    """Raise this process's soft open-files limit to its hard limit (children inherit it).

    Thousands of concurrent connections, and threads in the baseline, need more than 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class ChildResult:
    """A finished child process: exit code, wall seconds, CPU seconds, output.

    No peak RSS: Linux carries the parent's peak across fork and exec into the child's
    ``ru_maxrss``, so children report their own ``VmHWM`` instead.
    """

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    stdout: str


def run_and_wait4(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    stdout_path: Path | None = None,
) -> ChildResult:
    """Run a child in its own session; return its wall and CPU time (``os.wait4``).

    :param argv: the command.
    :param env: its environment.
    :param timeout: seconds before its process group is killed.
    :param stdout_path: where its standard output goes (read back into the result).
    """
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(
            open(stdout_path, "w") if stdout_path else open(os.devnull, "w")  # noqa: SIM115
        )
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            start_new_session=True,
        )
        try:
            usage = _wait4(process, timeout)
        except BaseException:
            kill_group(process)
            raise
        wall = time.perf_counter() - started
    text = stdout_path.read_text() if stdout_path else ""
    return ChildResult(process.returncode, wall, usage.ru_utime + usage.ru_stime, text)


def _wait4(process: subprocess.Popen[Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.args!r} still running after {timeout:g} s")
        time.sleep(0.01)


def kill_group(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a child started with ``start_new_session``: SIGTERM to its group, then SIGKILL.

    :param process: the child (the leader of its own process group).
    :param grace: seconds between the two signals.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards (also when the benchmark fails).

    :param prefix: the folder name's prefix.
    """
    with tempfile.TemporaryDirectory(prefix=f"mlp-bench-{prefix}-") as path:
        yield Path(path)


def airflow_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that imports Airflow: its own throwaway AIRFLOW_HOME.

    :param home: the AIRFLOW_HOME to use.
    :param extra: more variables.
    """
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # A test session's own Airflow settings must not leak into a benchmark child.
    env.pop("MLPIPELINES_TEST_AIRFLOW_HOME_READY", None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def running_emulator(
    state_dir: Path, *, token_lifetime: int | None = None, log_level: str = "WARNING"
) -> Iterator[Any]:
    """An emulator subprocess (its own process group), stopped afterwards whatever happens.

    :param state_dir: its state folder.
    :param token_lifetime: access token lifetime in seconds.
    :param log_level: its log level (WARNING keeps per-request logging out of the figures).
    """
    from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

    emulator = EmulatorProcess(
        state_dir,
        token_lifetime=token_lifetime,
        extra_args=["--log-level", log_level],
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()


def stats_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The emulator counters that changed between two ``/_emulator/stats`` snapshots.

    :param before: the earlier snapshot.
    :param after: the later snapshot.
    """
    routes = {
        name: count - before["requests"].get(name, 0)
        for name, count in after["requests"].items()
        if count - before["requests"].get(name, 0)
    }
    return {
        "requests_total": after["requests_total"] - before["requests_total"],
        "requests": routes,
        "tokens_issued": after["tokens_issued"] - before["tokens_issued"],
    }


def parse_iso(text: str | None) -> float:
    """Epoch seconds of an ISO-8601 timestamp (NaN when absent).

    :param text: e.g. ``2026-01-01T10:00:00.123456+00:00``.
    """
    if not text:
        return math.nan
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
