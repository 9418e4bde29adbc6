"""Run ``airflow standalone`` as a subprocess and talk to its REST API (Airflow 3 and 2.11).

Used by the end-to-end and reliability tests and by ``benchmarks/worker_slots.py``.

:class:`AirflowStandalone` starts every Airflow component (scheduler, triggerer, API server or
webserver, DAG processor) on a throwaway AIRFLOW_HOME with SQLite, bounded by ``timeout``, in a
process session of its own; :meth:`AirflowStandalone.stop` ends that session and every process
that descends from it. :class:`AirflowApi` is a small authenticated client of the public REST
API: ``/api/v2`` with a JWT on Airflow 3, ``/api/v1`` with basic auth on Airflow 2.11 (the
calls used here have the same shapes on both).
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
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import quote

import requests

from airflow_provider_mlpipelines._compat import AIRFLOW_V_3

#: Where the simple auth manager writes the generated admin password (in AIRFLOW_HOME).
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
#: Where Airflow 2's standalone writes the FAB admin user's password (in AIRFLOW_HOME).
PASSWORD_FILE_AIRFLOW_2 = "standalone_admin_password.txt"
TERMINAL_RUN_STATES = {"success", "failed"}
HEALTH_PATH = "/api/v2/monitor/health" if AIRFLOW_V_3 else "/api/v1/health"
#: What the triggerer logs when a trigger fires (the wording differs between 3 and 2).
TRIGGER_FIRED = "Trigger fired event" if AIRFLOW_V_3 else " fired: "


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(root_pid: int) -> list[int]:
    """Every live process below ``root_pid`` (Linux ``/proc``), children before parents.

    Collected so that processes which left the session (a daemon calling ``setsid``) are
    still found and stopped.

    :param root_pid: the process whose descendants are wanted.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    pending = [root_pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return list(reversed(found))


T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, pause: float = 1.0) -> T:
    """Poll ``check`` until it returns something truthy; return that.

    :param check: the condition.
    :param timeout: seconds to wait.
    :param what: the awaited condition, for the error.
    :param pause: seconds between checks.
    :raises TimeoutError: it never held.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        time.sleep(pause)


#: Attempts at creating a DAG run through the API (resends need the run id to be ours).
TRIGGER_ATTEMPTS = 4


class AirflowStandalone:
    """``airflow standalone`` in a subprocess of its own session.

    :param home: the AIRFLOW_HOME (SQLite database, logs, generated admin password).
    :param dags_folder: the DAGs folder.
    :param env: more environment variables for every component (connections, Variables).
    :param time_limit: seconds after which ``timeout`` stops everything regardless.
    :param schedule: let the scheduler create DAG runs itself, as in production (timetables and
        asset events); ``False`` (the default): only the runs a caller triggers, so that an
        unpaused DAG with a schedule gets no runs of its own.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: Mapping[str, str],
        time_limit: int = 300,
        *,
        schedule: bool = False,
    ) -> None:
        self.home = home
        self.schedule = schedule
        self.dags_folder = dags_folder
        self.extra_env = dict(env)
        self.time_limit = time_limit
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_file = home / "standalone.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._started_at: float | None = None

    def environment(self) -> dict[str, str]:
        """The environment of ``airflow standalone`` and, through it, of every component."""
        venv_bin = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            # Two worker slots unless ``env`` says otherwise (the default starts 32 workers).
            "AIRFLOW__CORE__PARALLELISM": "2",
            **self.extra_env,
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
            **(self._api_server_env() if AIRFLOW_V_3 else self._webserver_env()),
            # The log servers of the scheduler and the triggerer would take fixed ports.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # With it off, the scheduler creates no runs itself: neither a timetable's nor an
            # asset event's.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.schedule),
            "NO_COLOR": "1",
        }
        # The test session's own Airflow settings must not leak into this installation.
        env.pop("MLPIPELINES_TEST_AIRFLOW_HOME_READY", None)
        return env

    def _api_server_env(self) -> dict[str, str]:
        return {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
        }

    def _webserver_env(self) -> dict[str, str]:
        return {
            "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
            "AIRFLOW__WEBSERVER__BASE_URL": self.base_url,
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__API__AUTH_BACKENDS": (
                "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth"
            ),
            # XCom values as JSON, not as their Python repr (Airflow 3 always does this).
            "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",
        }

    def start(self) -> AirflowStandalone:
        """Start ``timeout LIMIT airflow standalone`` as the leader of a new session."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_file.open("ab")
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            ["timeout", "--kill-after=15", str(self.time_limit), "airflow", "standalone"],
            cwd=self.home,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, grace: float = 20.0) -> None:
        """Stop the session started here and every process that descends from it.

        :param grace: seconds between SIGTERM and SIGKILL.
        """
        process, self._process = self._process, None
        if process is not None:
            stragglers = descendants(process.pid)
            self._signal_all(process.pid, stragglers, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
            self._signal_all(process.pid, stragglers + descendants(process.pid), signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    @staticmethod
    def _signal_all(leader: int, pids: list[int], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signum)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def __enter__(self) -> AirflowStandalone:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def uptime(self) -> float:
        """Seconds since :meth:`start` (0 before it)."""
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def is_running(self) -> bool:
        """Whether the standalone process is alive."""
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 80) -> str:
        """The last lines of the combined output of every component.

        :param lines: how many lines.
        """
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def task_logs(self, dag_id: str, run_id: str, task_id: str, limit: int = 20_000) -> str:
        """Every log file (tries and triggerer) of one task instance, for a failure's report.

        :param limit: characters kept from the end of each file.
        """
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        parts = []
        for path in sorted(folder.glob("**/attempt=*")):
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts) or f"(no log files under {folder})"

    def wait_for_api(self, timeout: float) -> None:
        """Wait until the API server answers its health check.

        :param timeout: seconds to wait.
        :raises RuntimeError: standalone exited, or the API did not answer in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise RuntimeError(f"airflow standalone exited:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}{HEALTH_PATH}", timeout=5).ok:
                    return
            time.sleep(1)
        raise RuntimeError(f"the API server did not answer within {timeout:g} s")

    def admin_password(self, timeout: float = 60.0) -> str:
        """The admin password that standalone generated (the simple auth manager's file on
        Airflow 3, FAB's on Airflow 2).

        :param timeout: seconds to wait for the file.
        """
        path = self.home / (PASSWORD_FILE if AIRFLOW_V_3 else PASSWORD_FILE_AIRFLOW_2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                text = path.read_text(encoding="utf-8")
                password = str(json.loads(text)["admin"]) if AIRFLOW_V_3 else text.strip()
                if password:
                    return password
            time.sleep(0.5)
        raise RuntimeError(f"no generated admin password in {path}")

    def api(self) -> AirflowApi:
        """A REST client logged in as the generated admin user."""
        if not AIRFLOW_V_3:
            return AirflowApi(
                self.base_url, basic_auth=("admin", self.admin_password()), api_path="/api/v1"
            )
        response = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": "admin", "password": self.admin_password()},
            timeout=30,
        )
        response.raise_for_status()
        return AirflowApi(self.base_url, token=response.json()["access_token"])


class AirflowApi:
    """The calls of Airflow's public REST API that the tests and the benchmark need.

    :param base_url: the API server's (or Airflow 2 webserver's) URL.
    :param token: a JWT from ``POST /auth/token`` (Airflow 3).
    :param basic_auth: user and password (Airflow 2 with the basic-auth API backend).
    :param api_path: ``/api/v2`` (Airflow 3) or ``/api/v1`` (Airflow 2).
    """

    #: Seconds per call: a loaded SQLite installation can be slow to answer.
    call_timeout = 60.0

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        api_path: str = "/api/v2",
    ) -> None:
        self.base_url = base_url
        self.api_path = api_path
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.auth = basic_auth

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; returns the JSON body.

        :param method: the HTTP method.
        :param path: the path under ``api_path``.
        :raises requests.HTTPError: any status but 2xx (the message holds the body, not the
            token).
        """
        response = self.session.request(
            method, f"{self.base_url}{self.api_path}{path}", timeout=self.call_timeout, **kwargs
        )
        if not response.ok:
            raise requests.HTTPError(
                f"{method} {path}: {response.status_code} {response.text[:500]}", response=response
            )
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the DAG processor has parsed ``dag_id``; return the DAG.

        :param dag_id: the DAG.
        :param timeout: seconds to wait.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call("GET", f"/dags/{dag_id}")
            except requests.HTTPError as error:
                if error.response is None or error.response.status_code != 404:
                    raise
                if time.monotonic() > deadline:
                    raise
            time.sleep(1)

    def unpause(self, dag_id: str) -> dict[str, Any]:
        """Unpause a DAG.

        :param dag_id: the DAG.
        """
        return self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(
        self, dag_id: str, logical_date: str | None, conf: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create a DAG run (``TriggerDAGRunPostBody``); return it.

        :param dag_id: the DAG.
        :param logical_date: ISO-8601 with a time zone; ``None`` for a run without one.
        :param conf: the run's conf.
        """
        # A run id of our own makes the POST safe to resend: SQLite under load sometimes
        # answers 500 "Database error" to a request that may or may not have created the run.
        run_id = f"manual__api_{uuid.uuid4().hex}"
        body: dict[str, Any] = {"conf": dict(conf), "dag_run_id": run_id}
        if logical_date is not None or self.api_path == "/api/v2":
            body["logical_date"] = logical_date  # Airflow 3 wants it, null or not
        for attempt in range(1, TRIGGER_ATTEMPTS + 1):
            try:
                return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
            except requests.HTTPError as err:
                status = err.response.status_code if err.response is not None else 0
                if status == 409:  # an earlier attempt created it after all
                    return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
                if status < 500 or attempt == TRIGGER_ATTEMPTS:
                    raise
                time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Poll a DAG run until it is ``success`` or ``failed``; return it.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param timeout: seconds to wait.
        :raises TimeoutError: the run was still going.
        """
        deadline = time.monotonic() + timeout
        while True:
            dag_run = self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
            if dag_run["state"] in TERMINAL_RUN_STATES:
                return dag_run
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG run {run_id} still {dag_run['state']} after {timeout} s")
            time.sleep(2)

    def run_state(self, dag_id: str, run_id: str) -> str:
        """A DAG run's state now.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        return str(self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"])

    def task_state_counts(self, dag_id: str, run_id: str) -> dict[str, int]:
        """How many task instances of a DAG run (map indexes included) are in each state.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        counts: dict[str, int] = {}
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        offset = 0
        while True:
            page = self.call("GET", path, params={"limit": 100, "offset": offset})
            for instance in page["task_instances"]:
                counts[str(instance["state"])] = counts.get(str(instance["state"]), 0) + 1
            offset += len(page["task_instances"])
            if not page["task_instances"] or offset >= page["total_entries"]:
                return counts

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """Each task instance's state in a DAG run.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        page = self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in page["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """One XCom value.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param task_id: the task.
        :param key: the XCom key.
        """
        run = quote(run_id, safe="")
        path = f"/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/xcomEntries/{key}"
        # Airflow 3 answers with the stored JSON; Airflow 2 must be asked not to stringify it.
        params = {} if self.api_path == "/api/v2" else {"deserialize": "true", "stringify": "false"}
        return self.call("GET", path, params=params)["value"]

    def events(self, dag_id: str, run_id: str, task_id: str, event: str) -> list[dict[str, Any]]:
        """Audit-log entries of one task instance with the event name ``event``.

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        :param task_id: the task.
        :param event: e.g. ``deferred``.
        """
        params = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "event": event}
        return self.call("GET", "/eventLogs", params=params)["event_logs"]

    def event_counts(self, dag_id: str, run_id: str) -> dict[str, int]:
        """How many audit-log entries of each event name a DAG run has (all pages).

        :param dag_id: the DAG.
        :param run_id: the DAG run.
        """
        counts: dict[str, int] = {}
        offset = 0
        while True:
            params = {"dag_id": dag_id, "run_id": run_id, "limit": 100, "offset": offset}
            page = self.call("GET", "/eventLogs", params=params)
            for entry in page["event_logs"]:
                counts[str(entry["event"])] = counts.get(str(entry["event"]), 0) + 1
            offset += len(page["event_logs"])
            if not page["event_logs"] or offset >= page["total_entries"]:
                return counts
