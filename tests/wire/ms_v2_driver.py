"""Drive the emulator's v2 side with Microsoft's own client, ``azure-ai-ml``'s ``MLClient``.

Run by ``test_ms_client_v2.py`` with the interpreter of the Microsoft-client venv (never the
Airflow one): ``python ms_v2_driver.py MANIFEST``. The emulator is reached the way the v2
contract's section 10 says: ``AZUREML_DEV_URL_MFE`` (the SDK's ARM base URL override) and the
emulator's CA in ``REQUESTS_CA_BUNDLE``; nothing in the SDK is patched. Every step checks what
the SDK parsed from the emulator's answers and prints one JSON line; any failure exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

TERMINAL = ("Completed", "Failed", "Canceled")


def emit(step: str, **facts: Any) -> None:
    print(json.dumps({"step": step, **facts}, default=str), flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def status_of(job: Any) -> str:
    # The SDK's JobStatus is a str enum; its value is the service's word.
    return str(getattr(job.status, "value", job.status))


def wait_job(ml: Any, name: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = ml.jobs.get(name)
        if status_of(job) in TERMINAL:
            return job
        check(time.monotonic() < deadline, f"job {name} still {job.status} after {timeout} s")
        time.sleep(0.5)


def main(manifest_path: str) -> None:
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    os.environ["AZUREML_DEV_URL_MFE"] = manifest["base_url"]
    os.environ["REQUESTS_CA_BUNDLE"] = manifest["ca_bundle"]

    from azure.ai.ml import Input, MLClient
    from azure.ai.ml.entities import BatchEndpoint, PipelineComponentBatchDeployment
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        manifest["tenant_id"],
        manifest["client_id"],
        manifest["client_secret"],
        authority=manifest["base_url"],
        disable_instance_discovery=True,
        connection_verify=manifest["ca_bundle"],
    )
    ml = MLClient(
        credential,
        manifest["subscription_id"],
        manifest["resource_group"],
        manifest["workspace_name"],
        enable_telemetry=False,
    )
    workspace = (
        f"/subscriptions/{manifest['subscription_id']}/resourceGroups/"
        f"{manifest['resource_group']}/providers/Microsoft.MachineLearningServices/"
        f"workspaces/{manifest['workspace_name']}"
    )
    jobs = manifest["v2_pipeline_jobs"]

    component = ml.components.get("score_source", "1")
    check(
        {"round_digits", "input_data"} <= set(component.inputs),
        f"component inputs {list(component.inputs)}",
    )
    emit("components.get", name=component.name, inputs=sorted(component.inputs))

    endpoint = ml.batch_endpoints.begin_create_or_update(
        BatchEndpoint(name="mlclient-scoring", description="made by MLClient")
    ).result()
    check(str(endpoint.provisioning_state).lower().endswith("succeeded"), "endpoint not ready")
    check(endpoint.scoring_uri.startswith(manifest["base_url"]), endpoint.scoring_uri)
    emit("batch_endpoints.begin_create_or_update", name=endpoint.name, uri=endpoint.scoring_uri)

    deployment = ml.batch_deployments.begin_create_or_update(
        PipelineComponentBatchDeployment(
            name="blue",
            endpoint_name=endpoint.name,
            component=f"{workspace}/components/score_source/versions/1",
            settings={"default_compute": "cpu-cluster", "continue_on_step_failure": False},
        )
    ).result()
    check(str(deployment.component).endswith("/components/score_source/versions/1"), "component")
    emit("batch_deployments.begin_create_or_update", name=deployment.name)

    from_job = ml.batch_deployments.begin_create_or_update(
        PipelineComponentBatchDeployment(
            name="timer", endpoint_name=endpoint.name, job_definition=jobs["simulated"]
        )
    ).result()
    check("/components/azureml_anonymous/versions/" in str(from_job.component), "anonymous")
    emit("batch_deployments.from_job_definition", component=str(from_job.component))

    endpoint = ml.batch_endpoints.get(endpoint.name)
    endpoint.defaults.deployment_name = "blue"
    endpoint = ml.batch_endpoints.begin_create_or_update(endpoint).result()
    check(endpoint.defaults.deployment_name == "blue", "default deployment not set")
    names = sorted(d.name for d in ml.batch_deployments.list(endpoint_name=endpoint.name))
    check(names == ["blue", "timer"], f"deployments {names}")
    emit("batch_endpoints.set_default", default=endpoint.defaults.deployment_name, names=names)

    scored = ml.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        experiment_name="mlclient-check",
        inputs={
            "round_digits": Input(type="integer", default=2),
            "input_data": Input(
                type="uri_file",
                path="azureml://datastores/workspaceblobstore/paths/scoring/2026-01-02.csv",
            ),
        },
    )
    done = wait_job(ml, scored.name)
    check(status_of(done) == "Completed", f"scoring job ended {done.status}")
    check(done.experiment_name == "mlclient-check", f"experiment {done.experiment_name}")
    emit("batch_endpoints.invoke", job=scored.name, status=status_of(done))

    slow = ml.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        deployment_name="timer",
        inputs={"duration_seconds": Input(type="number", default=60)},
    )
    ml.jobs.begin_cancel(slow.name).result()
    canceled = wait_job(ml, slow.name, timeout=30)
    check(status_of(canceled) == "Canceled", f"canceled job ended {canceled.status}")
    emit("jobs.begin_cancel", job=slow.name, status=status_of(canceled))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception:
        traceback.print_exc()
        sys.exit(1)
