"""Run the emulator as a subprocess from tests (yours or ours).

Example::

    from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

    with EmulatorProcess(tmp_path / "emulator") as emulator:
        os.environ.update(emulator.env())          # AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT
        run_id = emulator.manifest["pipeline_runs"]["train"]
        ...

Its own routes (``/_emulator/...``: manifest, stats, admin switches) need the admin key of the
state dir: :meth:`EmulatorProcess.admin` sends it, and :func:`admin_headers` gives the headers
to any other client.

The emulator runs in its own process group; :meth:`EmulatorProcess.stop` sends SIGTERM (the
emulator kills its running steps and saves its state), then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow_provider_mlpipelines.emulator.admin_access import admin_headers, make_private_dir
from airflow_provider_mlpipelines.emulator.v2.budget import ArmBudgetSettings, arm_budget_args

MANIFEST_FILE = "manifest.json"
CONN_ENV_VAR = "AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT"


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not become ready in time; the message holds its log tail."""


class EmulatorProcess:
    """One emulator subprocess.

    :param state_dir: the emulator's state dir (created if missing; reuse it to keep state).
    :param workspace: a workspace spec file; the shipped default workspace when ``None``.
    :param token_lifetime: access token lifetime in seconds (the emulator's default when
        ``None``).
    :param port: the port; 0 picks a free one (and :meth:`restart` reuses the picked one).
    :param extra_args: more command-line arguments for the emulator.
    :param arm_budget: ARM's request budget from the start, in the shape of
        :meth:`set_arm_budget`'s settings, e.g. ``{"enabled": True, "reads": {"bucket": 5}}``
        (``None``: the emulator's default, off).
    :param log_file: where the emulator's stdout/stderr go; ``{state_dir}/emulator.log`` when
        ``None``.
    :param startup_timeout: seconds to wait for the manifest.
    :param stop_timeout: seconds between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        workspace: str | os.PathLike[str] | None = None,
        token_lifetime: int | None = None,
        port: int = 0,
        *,
        extra_args: Sequence[str] = (),
        arm_budget: dict[str, Any] | None = None,
        log_file: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.workspace = None if workspace is None else Path(workspace).resolve()
        self.token_lifetime = token_lifetime
        self.port = port
        self.extra_args = tuple(extra_args)
        # Checked here, so that a wrong setting fails the test before the emulator starts.
        self.initial_arm_budget = (
            None if arm_budget is None else ArmBudgetSettings.from_json(arm_budget)
        )
        self.log_file = Path(log_file) if log_file is not None else self.state_dir / "emulator.log"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.manifest: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> EmulatorProcess:
        """Start the emulator and wait until its manifest is written.

        :raises EmulatorStartError: when it exits early or is not ready in time.
        """
        if self.is_running():
            raise RuntimeError(f"The emulator (pid {self.pid}) is already running")
        make_private_dir(self.state_dir)
        (self.state_dir / MANIFEST_FILE).unlink(missing_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_file.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.manifest = self._wait_for_manifest()
        except BaseException:
            self.stop()
            raise
        self.port = int(self.base_url.rsplit(":", 1)[1])
        return self

    def command(self) -> list[str]:
        """The emulator's command line."""
        argv = [
            sys.executable,
            "-m",
            "airflow_provider_mlpipelines.emulator",
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
        ]
        if self.workspace is not None:
            argv += ["--workspace", str(self.workspace)]
        if self.token_lifetime is not None:
            argv += ["--token-lifetime", str(self.token_lifetime)]
        if self.initial_arm_budget is not None:
            argv += arm_budget_args(self.initial_arm_budget)
        return argv + list(self.extra_args)

    def stop(self, graceful: bool = True) -> int | None:
        """Stop the emulator: SIGTERM (unless ``graceful`` is false), SIGKILL after a grace period.

        Returns its exit code (``None`` if it was not started).

        :param graceful: send SIGTERM first; with ``False`` it is killed at once, like a crash.
        """
        process, self._process = self._process, None
        code = None
        if process is not None:
            if process.poll() is None:
                self._signal(process, signal.SIGTERM if graceful else signal.SIGKILL)
                try:
                    process.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.wait(10)
            code = process.returncode
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return code

    def kill(self) -> int | None:
        """Kill the emulator with SIGKILL at once (a crash: no state flush, steps orphaned)."""
        return self.stop(graceful=False)

    def restart(self, graceful: bool = True) -> EmulatorProcess:
        """Stop and start again on the same state dir and port.

        :param graceful: stop with SIGTERM (else SIGKILL, like a crash).
        """
        self.stop(graceful=graceful)
        return self.start()

    def is_running(self) -> bool:
        """Whether the emulator process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The emulator's process id while it runs."""
        return None if self._process is None else self._process.pid

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ access
    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return str(self.manifest["base_url"])

    @property
    def ca_bundle(self) -> str:
        """Absolute path of the CA certificate clients must trust."""
        return str(self.manifest["ca_bundle"])

    @property
    def airflow_conn(self) -> str:
        """The Airflow connection as a JSON string (for ``AIRFLOW_CONN_...``)."""
        return json.dumps(self.manifest["airflow_conn"])

    def env(self) -> dict[str, str]:
        """Environment variables pointing Airflow's default connection at this emulator."""
        return {CONN_ENV_VAR: self.airflow_conn}

    def stats(self) -> dict[str, Any]:
        """The emulator's counters (``GET /_emulator/stats``)."""
        return self.admin("GET", "/_emulator/stats")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings at run time; returns all of them as they now are.

        :param settings: fields of ``POST /_emulator/admin/faults``, e.g. ``error_rate=0.2``
            or ``queue_seconds=3`` (see ``mlpipelines-emulator --help``).
        """
        return self.admin("POST", "/_emulator/admin/faults", json=settings)

    @contextlib.contextmanager
    def faults(self, **settings: Any) -> Iterator[dict[str, Any]]:
        """Apply fault settings for the ``with`` block, then restore the earlier ones.

        ``with emulator.faults(queue_seconds=3): dag.test()`` makes every run of the block
        wait three seconds before it starts, so that a deferrable task really defers.

        :param settings: as for :meth:`set_faults`.
        """
        earlier = self.admin("GET", "/_emulator/admin/faults")
        try:
            yield self.set_faults(**settings)
        finally:
            self.set_faults(**{name: earlier[name] for name in settings})

    def network_outage(self, seconds: float) -> float:
        """Cut the network for ``seconds``, from now; returns the seconds the outage has left.

        Every request but the emulator's own routes (``/_emulator/...``) has its connection
        reset, token endpoint included, while runs keep executing: unlike :meth:`restart`,
        which fails the runs in flight. ``network_outage(0)`` ends an outage early.

        :param seconds: how long the outage lasts.
        """
        return float(self.set_faults(outage_seconds=seconds)["outage_seconds"])

    def outage_left(self) -> float:
        """Seconds until the network outage ends (0 when there is none)."""
        return float(self.admin("GET", "/_emulator/admin/faults")["outage_seconds"])

    def set_arm_budget(self, **settings: Any) -> dict[str, Any]:
        """Replace ARM's request budget at run time (``PUT /_emulator/admin/arm-budget``); every
        bucket starts full. Returns the settings and the tokens left per subscription.

        :param settings: ``enabled``, ``reads``, ``writes``, ``deletes`` (each
            ``{"bucket": n, "refill": per_second}``); what is left out takes ARM's figure
            (250/25 reads, 200/10 writes and deletes) and ``enabled`` false.
        """
        return self.admin("PUT", "/_emulator/admin/arm-budget", json=settings)

    @contextlib.contextmanager
    def arm_budget(self, **settings: Any) -> Iterator[dict[str, Any]]:
        """Apply ARM budget settings for the ``with`` block, then restore the earlier ones
        (with full buckets).

        :param settings: as for :meth:`set_arm_budget`.
        """
        earlier = self.admin("GET", "/_emulator/admin/arm-budget")
        earlier.pop("remaining", None)
        try:
            yield self.set_arm_budget(**settings)
        finally:
            self.set_arm_budget(**earlier)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the emulator's log.

        :param lines: how many lines.
        """
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def admin_headers(self) -> dict[str, str]:
        """The headers that open the emulator's own routes (its state dir's admin key)."""
        return admin_headers(self.state_dir)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call one of the emulator's own routes (``/_emulator/...``) with the admin key;
        returns the JSON answer.

        :param method: the HTTP method.
        :param path: the path, e.g. ``/_emulator/admin/tokens``.
        :param kwargs: passed on to ``requests.request`` (``json=...``, ``headers=...``).
        :raises requests.HTTPError: the emulator refused the call.
        """
        import requests

        headers = {**self.admin_headers(), **kwargs.pop("headers", {})}
        response = requests.request(
            method,
            f"{self.base_url}{path}",
            headers=headers,
            verify=self.ca_bundle,
            timeout=30,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------------------------ internals
    def _wait_for_manifest(self) -> dict[str, Any]:
        path = self.state_dir / MANIFEST_FILE
        deadline = time.monotonic() + self.startup_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise EmulatorStartError(
                    f"The emulator exited with code {code} before it was ready. Log "
                    f"({self.log_file}):\n{self.log_tail()}"
                )
            manifest = _read_manifest(path)
            if manifest is not None and manifest.get("pid") == self._process.pid:
                return manifest
            time.sleep(0.05)
        raise EmulatorStartError(
            f"The emulator was not ready after {self.startup_timeout:g} s. Log "
            f"({self.log_file}):\n{self.log_tail()}"
        )

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
