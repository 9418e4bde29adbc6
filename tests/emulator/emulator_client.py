"""A small REST client of the emulator for tests: real HTTPS, real tokens.

The client speaks to the emulator with ``requests`` (verifying the emulator's CA) and gets its
tokens from azure-identity's ``ClientSecretCredential`` pointed at the emulator's authority.
``verify`` is passed on every request because ``REQUESTS_CA_BUNDLE`` in the environment would
override a session-level setting.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from azure.identity import ClientSecretCredential

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.status import PipelineRunStatus
from airflow_provider_mlpipelines.emulator.testing import admin_headers

_UNSET: Any = object()


class ApiClient:
    """Calls the emulator's service routes with a bearer token from azure-identity.

    :param manifest: the emulator's manifest.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self.base_url = manifest["base_url"]
        self.ca = manifest["ca_bundle"]
        self.scope = {
            "subscription_id": manifest["subscription_id"],
            "resource_group": manifest["resource_group"],
            "workspace_name": manifest["workspace_name"],
        }
        self.credential = ClientSecretCredential(
            manifest["tenant_id"],
            manifest["client_id"],
            manifest["client_secret"],
            authority=self.base_url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
        )
        self.session = requests.Session()
        #: The headers that open the emulator's own routes (``/_emulator/...``).
        self.admin_headers = admin_headers(manifest["state_dir"])

    def close(self) -> None:
        self.session.close()
        self.credential.close()

    def token(self) -> str:
        return self.credential.get_token(routes.ARM_SCOPE).token

    def url(self, route: routes.Route, **values: str) -> str:
        return self.base_url + route.format(**self.scope, **values)

    def request(
        self,
        route: routes.Route,
        *,
        body: Any = _UNSET,
        data: str | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = _UNSET,
        **values: str,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        bearer = self.token() if token is _UNSET else token
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        kwargs: dict[str, Any] = {"params": params, "headers": all_headers}
        if body is not _UNSET:
            kwargs["json"] = body
        if data is not None:
            kwargs["data"] = data
            all_headers.setdefault("Content-Type", "application/json")
        return self.session.request(
            route.method, self.url(route, **values), verify=self.ca, timeout=30, **kwargs
        )

    def ok(self, route: routes.Route, **kwargs: Any) -> Any:
        response = self.request(route, **kwargs)
        assert response.status_code == 200, f"{route.name}: {response.status_code} {response.text}"
        if not response.content:
            return None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str) -> requests.Response:
        """A GET of one of the emulator's own paths, with the admin key (no bearer token)."""
        return self.session.get(
            self.base_url + path, headers=self.admin_headers, verify=self.ca, timeout=30
        )

    # ---------------------------------------------------------------- flows
    def publish(self, name: str, **extra: Any) -> dict[str, Any]:
        """Publish spec pipeline ``name`` from its seed run, the way the SDK does."""
        run = self.ok(routes.RUN_GET, run_id=self.manifest["pipeline_runs"][name])
        graph = self.ok(routes.GRAPH_GET, graph_id=run["GraphId"])
        interface = self.ok(routes.GRAPH_INTERFACE, graph_id=run["GraphId"])
        body = {"Name": name, "Graph": graph, "GraphInterface": interface, **extra}
        return self.ok(routes.PIPELINE_CREATE, body=body)

    def submit(self, pipeline_id: str, **body: Any) -> dict[str, Any]:
        body.setdefault("ExperimentName", "emulator-tests")
        return self.ok(routes.PIPELINE_SUBMIT, body=body, pipeline_id=pipeline_id)

    def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll a run until it is terminal; return the run entity."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.ok(routes.RUN_GET, run_id=run_id)
            if PipelineRunStatus.from_status(run["Status"]["StatusCode"]).is_terminal:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['Status']}"
            time.sleep(0.1)

    def wait_for_step(self, run_id: str, step: str, code: int, timeout: float = 30) -> None:
        """Poll until step ``step`` has status code ``code``."""
        deadline = time.monotonic() + timeout
        while self.steps(run_id)[self.node_of(run_id, step)]["StatusCode"] != code:
            assert time.monotonic() < deadline, f"step {step} of {run_id} never reached {code}"
            time.sleep(0.05)

    def steps(self, run_id: str) -> dict[str, Any]:
        return self.ok(routes.RUN_STEP_STATUSES, body=[], run_id=run_id)

    def node_of(self, run_id: str, step: str) -> str:
        run = self.ok(routes.RUN_GET, run_id=run_id)
        graph = self.ok(routes.GRAPH_GET, graph_id=run["GraphId"])
        return next(n["Id"] for n in graph["ModuleNodes"] if n["Comment"] == step)

    def log(self, run_id: str, step: str, kind: str = "STDOUT") -> str:
        node = self.node_of(run_id, step)
        return self.ok(routes.RUN_STEP_LOG, body=[node], run_id=run_id, log_kind=kind)

    def output_path(self, run_id: str, step: str, output: str) -> str:
        """Local path of a step output (from its ``DataLocation.Uri``)."""
        node = self.node_of(run_id, step)
        outputs = self.ok(routes.RUN_STEP_OUTPUTS, body=[node], run_id=run_id)
        return outputs[output]["DataLocation"]["Uri"].removeprefix("file://")
