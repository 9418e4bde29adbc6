"""``airflow standalone`` for the worker-slots benchmark, and the few REST calls it needs.

The installation is throwaway (a temporary AIRFLOW_HOME with SQLite), bounded by ``timeout``,
and started as the leader of a session of its own; :meth:`Standalone.stop` signals that
session's process group and every process descended from it (found in ``/proc``, so that a
component that moved to another session is not forgotten). Airflow 3's public API (``/api/v2``)
is used with a token from ``POST /auth/token`` (the simple auth manager's generated admin
password).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
FINISHED_STATES = frozenset({"success", "failed"})


def free_port() -> int:
    """A loopback TCP port that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_tree(root: int) -> list[int]:
    """Every live process descended from ``root``, deepest first (read from ``/proc``).

    :param root: the ancestor's pid.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found[::-1]


class Standalone:
    """One ``airflow standalone`` (scheduler, triggerer, DAG processor, API server).

    :param home: its AIRFLOW_HOME.
    :param dags_folder: the DAGs folder.
    :param env: more environment variables (connections, Airflow settings).
    :param time_limit: seconds after which ``timeout`` ends it regardless.
    """

    def __init__(
        self, home: Path, dags_folder: Path, env: Mapping[str, str], time_limit: int
    ) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.extra_env = dict(env)
        self.time_limit = time_limit
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "standalone.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"Standalone(base_url={self.base_url!r})"

    def environment(self) -> dict[str, str]:
        """The environment of standalone and of every component it starts."""
        env = {
            **os.environ,
            **self.extra_env,
            # The venv's bin first: standalone starts its components as `airflow ...`.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "NO_COLOR": "1",
        }
        env.pop("MLPIPELINES_TEST_AIRFLOW_HOME_READY", None)
        return env

    def start(self) -> Standalone:
        """Start ``timeout LIMIT airflow standalone`` in a new session."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            ["timeout", "--kill-after=15", str(self.time_limit), "airflow", "standalone"],
            cwd=self.home,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the session and every descendant, then SIGKILL whatever is left.

        :param grace: seconds between the signals.
        """
        process, self._process = self._process, None
        if process is not None:
            members = process_tree(process.pid)
            self._signal(process.pid, members, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
            self._signal(process.pid, members + process_tree(process.pid), signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _signal(leader: int, members: list[int], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signum)
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def __enter__(self) -> Standalone:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of every component's combined output."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_for_api(self, timeout: float) -> None:
        """Wait until the API server's health check answers.

        :raises RuntimeError: standalone exited or did not answer in time.
        """
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).ok:
                    return
            time.sleep(1)
        raise RuntimeError(f"the API server did not answer within {timeout:g} s")

    def client(self, timeout: float = 120.0) -> RestClient:
        """A REST client logged in as the generated admin user."""
        import requests

        path = self.home / PASSWORD_FILE
        deadline = time.monotonic() + timeout
        while True:
            try:
                password = str(json.loads(path.read_text(encoding="utf-8"))["admin"])
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no generated admin password in {path}") from None
                time.sleep(0.5)
        reply = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": "admin", "password": password},
            timeout=30,
        )
        reply.raise_for_status()
        return RestClient(self.base_url, reply.json()["access_token"])


class RestClient:
    """The calls of Airflow 3's public REST API (``/api/v2``) that the benchmark makes.

    :param base_url: the API server.
    :param token: a JWT from ``POST /auth/token``.
    """

    def __init__(self, base_url: str, token: str) -> None:
        import requests

        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"RestClient(base_url={self.base_url!r})"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; the JSON answer.

        :raises RuntimeError: a non-2xx answer (status and body, never the token).
        """
        reply = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=60, **kwargs)
        if not reply.ok:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.text[:400]}")
        return reply.json()

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Wait until the DAG processor has parsed ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", f"/dags/{dag_id}")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any]) -> str:
        """Create a DAG run now; return its run id."""
        body = {"logical_date": None, "conf": dict(conf)}
        return str(self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, int]:
        """How many task instances (map indexes included) of a DAG run are in each state."""
        counts: dict[str, int] = {}
        offset = 0
        while True:
            page = self.call(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": offset},
            )
            for instance in page["task_instances"]:
                state = str(instance["state"])
                counts[state] = counts.get(state, 0) + 1
            offset += len(page["task_instances"])
            if not page["task_instances"] or offset >= page["total_entries"]:
                return counts
