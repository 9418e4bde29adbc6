"""A small client of the emulator's v2 routes for tests: real HTTPS, real tokens of two audiences.

Tokens come from azure-identity's ``ClientSecretCredential`` pointed at the emulator's
authority: ``https://management.azure.com/.default`` for ARM routes and
``https://ml.azure.com/.default`` for the scoring routes, as ``MLClient`` asks for them. Paths
are written out here from the contract, not taken from ``api/v2``, so these tests check the
emulator against the contract rather than against the module it is built from.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from azure.identity import ClientSecretCredential

ARM_SCOPE = "https://management.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"
TERMINAL_JOB_STATES = {"Completed", "Failed", "Canceled"}


class V2Client:
    """Calls the emulator's ARM and scoring routes.

    :param manifest: the emulator's manifest.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
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

    def token(self, scope: str = ARM_SCOPE) -> str:
        return self.credential.get_token(scope).token

    def arm(
        self,
        method: str,
        path: str,
        api_version: str | None = "2023-10-01",
        *,
        json: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """``method`` on ``{WS}{path}`` with an ARM token (or ``token``)."""
        params = {} if api_version is None else {"api-version": api_version}
        return self.session.request(
            method,
            self.base_url + self.ws + path,
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {token or self.token()}", **(headers or {})},
            verify=self.ca,
            timeout=30,
        )

    def url(self, url: str, method: str = "GET", *, scope: str = ARM_SCOPE, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token(scope)}", **kwargs.pop("headers", {})}
        return self.session.request(
            method, url, headers=headers, verify=self.ca, timeout=30, **kwargs
        )

    def wait_operation(self, response: requests.Response, timeout: float = 30) -> dict[str, Any]:
        """Follow ``Azure-AsyncOperation`` until the operation is terminal; its last body."""
        status_url = response.headers["Azure-AsyncOperation"]
        deadline = time.monotonic() + timeout
        while True:
            body = self.url(status_url).json()
            if body["status"] in ("Succeeded", "Failed", "Canceled"):
                return body
            assert time.monotonic() < deadline, f"operation still {body['status']}"
            time.sleep(float(response.headers.get("Retry-After", "1")) / 4)

    def put_and_wait(self, path: str, body: Any, api_version: str) -> dict[str, Any]:
        response = self.arm("PUT", path, api_version, json=body)
        assert response.status_code in (200, 201), response.text
        assert self.wait_operation(response)["status"] == "Succeeded"
        return self.arm("GET", path, api_version).json()

    def invoke(
        self,
        scoring_uri: str,
        body: Any,
        *,
        deployment: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        extra = dict(headers or {})
        if deployment:
            extra["azureml-model-deployment"] = deployment
        return self.url(scoring_uri, "POST", scope=ML_SCOPE, json=body, headers=extra)

    def job(self, name: str) -> dict[str, Any]:
        response = self.arm("GET", f"/jobs/{name}", "2024-01-01-preview")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_job(self, name: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(name)
            if job["properties"]["status"] in TERMINAL_JOB_STATES:
                return job
            assert time.monotonic() < deadline, f"job {name} still {job['properties']['status']}"
            time.sleep(0.25)

    def component_from_job(
        self, name: str, version: str, job_name: str, api_version: str = "2023-02-01-preview"
    ) -> requests.Response:
        body = {
            "properties": {
                "componentSpec": {
                    "source_job_id": job_name,
                    "sourceJobId": job_name,
                    "name": name,
                    "version": version,
                    "type": "pipeline",
                    "jobs": {},
                    "_source": "CLASS",
                },
                "isAnonymous": False,
                "properties": {},
                "tags": {},
            }
        }
        return self.arm("PUT", f"/components/{name}/versions/{version}", api_version, json=body)
