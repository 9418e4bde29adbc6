"""Register and run a user's own components on the emulator with Microsoft's ``MLClient``.

Run by ``test_ms_user_components.py`` with the Microsoft-client venv's interpreter:
``python ms_v2_components_driver.py MANIFEST PIPELINE_DIR [--register-only]``. It does what
Microsoft's "deploy a pipeline component to a batch endpoint" guide does, unmodified: load
command components and a pipeline component from YAML (the SDK uploads the local ``code``
folder), build one with ``@dsl.pipeline``, register them, re-register (same version back,
changed content refused), run a ``PipelineJob``, deploy the pipeline component to a batch
endpoint and invoke it, and run a failing and a canceled pipeline. Each step prints one JSON
line; any failure exits 1. ``--register-only`` registers the YAML pipeline component only.
"""

# No "from __future__ import annotations": @dsl.pipeline reads its parameters' annotations.
import json
import os
import sys
import time
import traceback
from typing import Any

# The script's folder is on sys.path: the helpers of the v2 driver next to it.
from ms_v2_driver import check, emit, status_of, wait_job

DATA = "azureml://datastores/workspaceblobstore/paths/housing"
#: The sleeping step's duration: odd enough to find its process by its command line.
SLEEP_SECONDS = 4321


def wait_running(ml: Any, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while status_of(ml.jobs.get(name)) != "Running":
        check(time.monotonic() < deadline, f"job {name} never ran")
        time.sleep(0.3)


def client(manifest: dict[str, Any]) -> Any:
    from azure.ai.ml import MLClient
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        manifest["tenant_id"],
        manifest["client_id"],
        manifest["client_secret"],
        authority=manifest["base_url"],
        disable_instance_discovery=True,
        connection_verify=manifest["ca_bundle"],
    )
    return MLClient(
        credential,
        manifest["subscription_id"],
        manifest["resource_group"],
        manifest["workspace_name"],
        enable_telemetry=False,
    )


def register(ml: Any, folder: str) -> dict[str, Any]:
    from azure.ai.ml import Input, dsl, load_component
    from azure.core.exceptions import HttpResponseError

    prep = ml.components.create_or_update(load_component(f"{folder}/prep.yml"))
    train = ml.components.create_or_update(load_component(f"{folder}/train.yml"))
    check((prep.name, prep.version) == ("own_prep", "1"), f"prep {prep.name}:{prep.version}")
    check(prep.inputs["max_rows"].default in ("1000", 1000), f"default {prep.inputs}")
    emit("components.create_or_update.command", prep=prep.id, train=train.id)

    again = ml.components.create_or_update(load_component(f"{folder}/prep.yml"))
    check(again.id == prep.id, f"re-registered {again.id}")
    changed = load_component(f"{folder}/prep.yml")
    changed.description = "another text under the same version"
    try:
        ml.components.create_or_update(changed)
    except HttpResponseError as exc:
        check(exc.status_code == 409, f"changed content answered {exc.status_code}")
        refused = str(exc.message)
    else:
        raise AssertionError("changed content under own_prep:1 was accepted")
    emit("components.immutable", same=again.id, refused=refused)

    pipeline = ml.components.create_or_update(load_component(f"{folder}/pipeline.yml"))
    check(sorted(pipeline.jobs) == ["prep", "train"], f"jobs {list(pipeline.jobs)}")
    emit("components.create_or_update.pipeline_yaml", id=pipeline.id)

    prep_step = load_component(f"{folder}/prep.yml")
    train_step = load_component(f"{folder}/train.yml")

    @dsl.pipeline(name="own_dsl_pipeline", description="prep then train, from the DSL")
    def dsl_pipeline(raw_data: Input(type="uri_folder"), max_rows: int = 40):  # type: ignore[no-untyped-def,valid-type]
        prepared = prep_step(raw_data=raw_data, max_rows=max_rows, drop_column="age")
        trained = train_step(training_data=prepared.outputs.prepared, epochs=50)
        return {"model": trained.outputs.model}

    from_dsl = ml.components.create_or_update(dsl_pipeline, version="1")
    emit("components.create_or_update.pipeline_dsl", id=from_dsl.id)
    return {"yaml": pipeline, "dsl": from_dsl}


def run_pipeline_job(ml: Any, component: Any) -> str:
    from azure.ai.ml import Input
    from azure.ai.ml.entities import PipelineJob

    job = ml.jobs.create_or_update(
        PipelineJob(
            component=component,
            inputs={"raw_data": Input(type="uri_folder", path=DATA), "max_rows": 25},
            settings={"default_compute": "cpu-cluster"},
        ),
        experiment_name="own-components",
    )
    done = wait_job(ml, job.name)
    check(status_of(done) == "Completed", f"pipeline job ended {done.status}")
    children = sorted(c.display_name or c.name for c in ml.jobs.list(parent_job_name=job.name))
    emit("jobs.create_or_update.pipeline_job", job=job.name, children=children)
    return str(job.name)


def deploy_and_invoke(ml: Any, component: Any) -> str:
    from azure.ai.ml import Input
    from azure.ai.ml.entities import BatchEndpoint, PipelineComponentBatchDeployment

    endpoint = ml.batch_endpoints.begin_create_or_update(
        BatchEndpoint(name="own-pipeline")
    ).result()
    ml.batch_deployments.begin_create_or_update(
        PipelineComponentBatchDeployment(
            name="own-v1",
            endpoint_name=endpoint.name,
            component=component,
            settings={"default_compute": "cpu-cluster", "continue_on_step_failure": False},
        )
    ).result()
    endpoint = ml.batch_endpoints.get(endpoint.name)
    endpoint.defaults.deployment_name = "own-v1"
    ml.batch_endpoints.begin_create_or_update(endpoint).result()
    job = ml.batch_endpoints.invoke(
        endpoint_name=endpoint.name,
        inputs={"raw_data": Input(type="uri_folder", path=DATA)},
    )
    done = wait_job(ml, job.name)
    check(status_of(done) == "Completed", f"batch job ended {done.status}")
    emit("batch_endpoints.invoke", job=job.name, status=status_of(done))
    return str(job.name)


def failing_and_canceled(ml: Any) -> None:
    from azure.ai.ml import dsl
    from azure.ai.ml.entities import CommandComponent

    fail = CommandComponent(
        name="own_fail",
        version="1",
        command=(
            "python -c \"import sys; sys.stderr.write('boom-${{inputs.word}}\\n'); sys.exit(3)\""
        ),
        inputs={"word": {"type": "string", "default": "marker"}},
        environment="azureml:AzureML-sklearn-1.5:1",
    )
    sleeper = CommandComponent(
        name="own_sleep",
        version="1",
        command='python -c "import time; time.sleep(${{inputs.seconds}})"',
        inputs={"seconds": {"type": "integer", "default": SLEEP_SECONDS}},
        environment="azureml:AzureML-sklearn-1.5:1",
    )
    fail = ml.components.create_or_update(fail)
    sleeper = ml.components.create_or_update(sleeper)

    @dsl.pipeline(name="own_failing")
    def failing():  # type: ignore[no-untyped-def]
        fail()

    @dsl.pipeline(name="own_sleeping")
    def sleeping():  # type: ignore[no-untyped-def]
        sleeper()

    failing_component = ml.components.create_or_update(failing, version="1")
    sleeping_component = ml.components.create_or_update(sleeping, version="1")

    from azure.ai.ml.entities import PipelineJob

    compute = {"default_compute": "cpu-cluster"}
    failed = ml.jobs.create_or_update(
        PipelineJob(component=failing_component, settings=compute), experiment_name="own-fail"
    )
    done = wait_job(ml, failed.name)
    check(status_of(done) == "Failed", f"failing job ended {done.status}")
    emit("jobs.failed", job=failed.name, status=status_of(done))

    slow = ml.jobs.create_or_update(
        PipelineJob(component=sleeping_component, settings=compute), experiment_name="own-cancel"
    )
    wait_running(ml, slow.name)
    deadline = time.monotonic() + 30
    while not (before := sleeping_processes()):
        check(time.monotonic() < deadline, "the sleeping step's process never started")
        time.sleep(0.2)
    ml.jobs.begin_cancel(slow.name).result()
    canceled = wait_job(ml, slow.name, timeout=30)
    check(status_of(canceled) == "Canceled", f"canceled job ended {canceled.status}")
    after = sleeping_processes()
    check(not after, f"step processes {after} outlived the cancel")
    emit("jobs.begin_cancel", job=slow.name, status=status_of(canceled), killed=before)


def sleeping_processes() -> list[int]:
    """Processes running the sleeping step's command (found by its unique sleep time)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"time.sleep({SLEEP_SECONDS})" in cmdline:
            found.append(int(entry))
    return found


def main(manifest_path: str, folder: str, register_only: bool = False) -> None:
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    os.environ["AZUREML_DEV_URL_MFE"] = manifest["base_url"]
    os.environ["REQUESTS_CA_BUNDLE"] = manifest["ca_bundle"]
    ml = client(manifest)
    if register_only:
        from azure.ai.ml import load_component

        pipeline = ml.components.create_or_update(load_component(f"{folder}/pipeline.yml"))
        emit("components.create_or_update.pipeline_yaml", id=pipeline.id)
        return
    pipelines = register(ml, folder)
    run_pipeline_job(ml, pipelines["dsl"])
    deploy_and_invoke(ml, pipelines["yaml"])
    failing_and_canceled(ml)


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2], "--register-only" in sys.argv[3:])
    except Exception:
        traceback.print_exc()
        sys.exit(1)
