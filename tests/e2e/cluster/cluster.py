"""Drive ``scripts/cluster.sh`` from tests: start, stop, signal and restart its processes.

:class:`Cluster` runs ``scripts/cluster.sh up`` in a folder of its own with a clean environment
(no setting of the pytest session's own Airflow leaks in), reads what ``up`` printed and the
settings file it wrote, and gives the tests the REST API (:class:`AirflowApi`, JWT auth), the
emulator's manifest, the pid of every component and the processes of its session.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests

from airflow_provider_mlpipelines.emulator.testing import admin_headers
from tests.e2e.airflow_standalone import PASSWORD_FILE, AirflowApi, wait_until

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "cluster.sh"


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any Airflow setting, plus ``extra``.

    :param extra: settings for every process of the cluster (they win over the script's).
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "MLPIPELINES_TEST_"))
    }
    env.update(extra)
    return env


def session_members(leader: int) -> list[int]:
    """Live processes of the session ``leader`` leads (every component has its own).

    :param leader: the session id (the pid in the component's pid file).
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state, ppid, pgrp, session, ...
        if int(fields[3]) == leader and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def session_of(pid: int) -> int | None:
    """The session id of ``pid`` (``None`` once it is gone).

    :param pid: a process.
    """
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


class Cluster:
    """One ``scripts/cluster.sh`` cluster in ``folder``.

    :param folder: the cluster's folder (CLUSTER_DIR).
    :param env: settings for every process (DAGS_FOLDER, AIRFLOW__..., ...).
    """

    def __init__(self, folder: Path, env: Mapping[str, str]) -> None:
        self.folder = folder
        self.env = clean_environment({**env, "CLUSTER_DIR": str(folder)})
        self.settings: dict[str, str] = {}
        self.manifest: dict[str, Any] = {}
        self._api: AirflowApi | None = None

    def script(self, *args: str, timeout: float = 600) -> str:
        """Run ``scripts/cluster.sh ARGS``; return its output.

        :param args: the command and its arguments.
        :param timeout: seconds the command may take.
        """
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)}: {result.stdout}\n{result.stderr}")
        return result.stdout

    def up(self) -> Cluster:
        """``up``; then read the settings and the manifest it reported."""
        out = self.script("up")
        printed = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        self.settings = dict(
            line.split("=", 1)
            for line in Path(printed["settings"]).read_text().splitlines()
            if "=" in line
        )
        self.manifest = json.loads(Path(printed["manifest"]).read_text())
        self.base_url = printed["api"]
        return self

    def down(self) -> None:
        """``down`` (every process of the cluster ends)."""
        self.script("down")

    @property
    def home(self) -> Path:
        return Path(self.settings["AIRFLOW_HOME"])

    @property
    def airflow_conn(self) -> str:
        return self.settings["AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT"]

    def api(self) -> AirflowApi:
        """A REST client logged in as the admin user (the simple auth manager's password)."""
        if self._api is None:
            password_file = self.home / PASSWORD_FILE
            password = wait_until(
                lambda: password_file.exists() and json.loads(password_file.read_text()),
                60,
                f"{password_file}",
            )["admin"]
            response = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": "admin", "password": password},
                timeout=60,
            )
            response.raise_for_status()
            self._api = AirflowApi(self.base_url, token=response.json()["access_token"])
        return self._api

    def pid(self, component: str) -> int:
        """The pid (and session id) of ``component``, from its pid file.

        :param component: e.g. ``worker-1``.
        """
        return int((self.folder / "pids" / f"{component}.pid").read_text())

    def component_of(self, pid: int, prefix: str) -> str:
        """The component (``prefix-N``) whose session holds ``pid``.

        :param pid: a process.
        :param prefix: ``worker`` or ``triggerer``.
        """
        session = session_of(pid)
        for number in (1, 2):
            name = f"{prefix}-{number}"
            if session == self.pid(name):
                return name
        raise LookupError(f"pid {pid} belongs to no {prefix} (session {session})")

    def holder_of(self, path: Path, prefix: str) -> str:
        """The component (``prefix-N``) one of whose processes has ``path`` open.

        A triggerer keeps the log file of each trigger it runs open, so this tells which
        triggerer runs a trigger.

        :param path: a file.
        :param prefix: ``worker`` or ``triggerer``.
        """
        target = str(path.resolve())
        for number in (1, 2):
            name = f"{prefix}-{number}"
            for pid in session_members(self.pid(name)):
                with contextlib.suppress(OSError):
                    for fd in Path(f"/proc/{pid}/fd").iterdir():
                        with contextlib.suppress(OSError):
                            if os.readlink(fd) == target:
                                return name
        raise LookupError(f"no {prefix} has {path} open")

    def signal(self, component: str, signum: int) -> list[int]:
        """Send ``signum`` to every process of ``component``'s session, as systemd's
        ``KillMode=control-group`` or a container runtime stopping a pod does; return them.

        :param component: e.g. ``worker-1``.
        :param signum: the signal.
        """
        members = session_members(self.pid(component))
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        return members

    def restart(self, component: str) -> None:
        """``restart COMPONENT``: stop what is left of it and start it again.

        :param component: e.g. ``worker-1``.
        """
        self.script("restart", component)

    def log(self, component: str) -> str:
        """What ``component`` wrote to its own log file.

        :param component: e.g. ``triggerer-1``.
        """
        path = self.folder / "logs" / f"{component}.log"
        return path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def queued_runs(cluster: Cluster, seconds: float) -> Iterator[None]:
    """Make the cluster emulator's runs queue ``seconds`` before they start, for the block.

    :param cluster: the cluster whose emulator to set.
    :param seconds: the emulator's ``queue_seconds``.
    """
    url = f"{cluster.manifest['base_url']}/_emulator/admin/faults"
    verify = cluster.manifest["ca_bundle"]
    headers = admin_headers(cluster.manifest["state_dir"])

    def set_queue(value: float) -> None:
        requests.post(
            url, json={"queue_seconds": value}, headers=headers, verify=verify, timeout=30
        ).raise_for_status()

    earlier = requests.get(url, headers=headers, verify=verify, timeout=30)
    earlier.raise_for_status()
    set_queue(seconds)
    try:
        yield
    finally:
        set_queue(earlier.json()["queue_seconds"])
