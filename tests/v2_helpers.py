"""What the v2 tests share: an emulator's v2 connection, its components and endpoint, counters.

Everything is real: the emulator runs as a subprocess, the hooks speak HTTPS to it with the
azure-identity credentials of ``manifest["airflow_conn_v2"]``, and the counters are the
emulator's own (``GET /_emulator/stats``) or its ARM job list, read with a token of its own.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess

ARM_SCOPE = "https://management.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"
#: Stats names of the two requests that create a v2 job.
INVOKE = "invoke batch endpoint"
JOB_PUT = "submit pipeline job"
JOB_API = "2024-01-01-preview"
#: Fault settings that switch every fault off again.
NO_FAULTS: dict[str, Any] = {
    "error_rate": 0.0,
    "throttle_rate": 0.0,
    "drop_rate": 0.0,
    "drop_mode": "before",
    "error_mode": "before",
    "latency_seconds": 0.0,
    "queue_seconds": 0.0,
    "fail_next": 0,
    "fail_status": 503,
    "retry_after_seconds": 1,
    "path_contains": "",
    "lro_fail_next": 0,
}


def v2_conn_json(emulator: EmulatorProcess, **extras: Any) -> str:
    """The emulator's ready v2 connection as JSON, with ``extras`` changed."""
    conn = json.loads(json.dumps(emulator.manifest["airflow_conn_v2"]))
    conn["extra"].update(extras)
    return json.dumps(conn)


def register_v2_conn(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorProcess) -> str:
    """Register the emulator's v2 connection under a fresh id (an ``AIRFLOW_CONN_*``)."""
    conn_id = f"aml_v2_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", v2_conn_json(emulator))
    return conn_id


@contextmanager
def module_v2_emulator(
    tmp_path_factory: pytest.TempPathFactory, *extra_args: str
) -> Iterator[tuple[EmulatorProcess, str]]:
    """An emulator of a test module's own, and the id of its v2 connection (also the default
    connection for the block, for the DAGs of ``tests/dags``)."""
    process = EmulatorProcess(tmp_path_factory.mktemp("emulator-v2"), extra_args=extra_args)
    conn_id = f"aml_v2_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        try:
            process.start()
            patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", v2_conn_json(process))
            patch.setenv(CONN_ENV_VAR, v2_conn_json(process))
            yield process, conn_id
        finally:
            process.stop()


@dataclass
class Deployed:
    """Components registered from the manifest's v2 jobs, and a batch endpoint of ``score``.

    :param components: component ARM id by source job (``train``, ``score``, ``simulated``).
    :param endpoint: the batch endpoint's name; its default deployment runs ``simulated``.
    :param deployment: that deployment's name.
    :param score_deployment: a second deployment, of ``score`` (integer input
        ``round_digits``).
    """

    components: dict[str, str]
    endpoint: str
    deployment: str
    score_deployment: str


def deploy(hook: Any, emulator: EmulatorProcess) -> Deployed:
    """Register the three v2 jobs as components and put ``simulated`` (default) and ``score``
    behind a new batch endpoint, through the hook."""
    suffix = uuid.uuid4().hex[:6]
    jobs = emulator.manifest["v2_pipeline_jobs"]
    components = {
        name: hook.publish_pipeline_once(jobs[name], name=f"{name}_{suffix}", version="1")[0].id
        for name in ("train", "score", "simulated")
    }
    endpoint = f"ep-{suffix}"
    hook.ensure_pipeline_in_endpoint(
        endpoint, components["simulated"], deployment_name="sim", set_default=True
    )
    hook.ensure_pipeline_in_endpoint(
        endpoint, components["score"], deployment_name="score", set_default=False
    )
    return Deployed(components, endpoint, "sim", "score")


def requests_named(emulator: EmulatorProcess, *names: str) -> int:
    """How many requests of these routes (stats names) reached the emulator."""
    counted = emulator.stats()["requests"]
    return sum(int(counted.get(name, 0)) for name in names)


def faults_of(emulator: EmulatorProcess, kind: str) -> int:
    """How many faults of ``kind`` (``429``, ``503_after``, ``drop_after``...) were injected."""
    return int(emulator.stats()["faults"].get(kind, 0))


def token_requests(emulator: EmulatorProcess, scope: str) -> int:
    """How many tokens the emulator's token endpoint was asked for ``scope``."""
    return int(emulator.stats()["token_scopes"].get(scope, 0))


class RawArm:
    """The emulator's ARM job routes read directly (paths written out from the contract), with
    a credential of its own, so that counting never goes through the code under test.

    :param emulator: the emulator.
    """

    def __init__(self, emulator: EmulatorProcess) -> None:
        import requests
        from azure.identity import ClientSecretCredential

        manifest = emulator.manifest
        self.base_url = manifest["base_url"]
        self.ca = manifest["ca_bundle"]
        self.ws = (
            f"/subscriptions/{manifest['subscription_id']}/resourceGroups/"
            f"{manifest['resource_group']}/providers/Microsoft.MachineLearningServices/"
            f"workspaces/{manifest['workspace_name']}"
        )
        self.credential = ClientSecretCredential(
            manifest["tenant_id"],
            manifest["client_id"],
            manifest["client_secret"],
            authority=self.base_url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
        )
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()
        self.credential.close()

    def get(self, path: str, api_version: str = JOB_API, **params: str) -> Any:
        """GET ``{WS}{path}``; the raw ``requests`` response."""
        token = self.credential.get_token(ARM_SCOPE).token
        return self.session.get(
            self.base_url + self.ws + path,
            params={"api-version": api_version, **params},
            headers={"Authorization": f"Bearer {token}"},
            verify=self.ca,
            timeout=30,
        )

    def job(self, name: str) -> dict[str, Any]:
        response = self.get(f"/jobs/{name}")
        assert response.status_code == 200, response.text
        return response.json()

    def job_names(self) -> list[str]:
        """The names of every job of the workspace (every page)."""
        token = self.credential.get_token(ARM_SCOPE).token
        names: list[str] = []
        url: str | None = f"{self.base_url}{self.ws}/jobs?api-version={JOB_API}"
        while url:
            response = self.session.get(
                url, headers={"Authorization": f"Bearer {token}"}, verify=self.ca, timeout=30
            )
            assert response.status_code == 200, response.text
            body = response.json()
            names.extend(item["name"] for item in body["value"])
            url = body.get("nextLink")
        return names

    def wait_job(
        self, name: str, states: tuple[str, ...], timeout: float = 120.0
    ) -> dict[str, Any]:
        """Poll the job until its status is one of ``states`` (a deadline, not a sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(name)
            status = job["properties"]["status"]
            if status in states:
                return job
            assert time.monotonic() < deadline, f"job {name} still {status} after {timeout} s"
            time.sleep(0.25)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def recording_hook(conn_id: str) -> Any:
    """A sync hook on ``conn_id`` whose waits are recorded in ``hook.waits`` (and really
    waited)."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook(conn_id)
    waits: list[float] = []
    hook.sleep = lambda seconds: (waits.append(seconds), time.sleep(seconds))  # type: ignore[method-assign]
    hook.waits = waits  # type: ignore[attr-defined]
    return hook
