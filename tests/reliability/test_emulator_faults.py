"""The emulator's fault injection: flags, the admin route, drops, scope and counters."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_mlpipelines.clients.core.submission_input import build_submission
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

from .conftest import EmulatorAdmin

FAULT_FLAGS = (
    "--fault-error-rate",
    "--fault-throttle-rate",
    "--fault-retry-after",
    "--fault-drop-rate",
    "--fault-drop-mode",
    "--fault-latency",
    "--fault-queue-seconds",
    "--fault-seed",
    "--fault-token-endpoint",
    "--fault-error-mode",
    "--fault-list-delay-seconds",
    "--fault-runs-page-size",
)


def test_help_documents_every_fault_flag_and_the_token_endpoint_rule() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mlpipelines.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in FAULT_FLAGS:
        assert flag in result.stdout
    assert "/_emulator/admin/tokens" in result.stdout
    assert "never /_emulator/* routes" in result.stdout


def test_invalid_fault_flags_stop_the_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_mlpipelines.emulator",
            "--state-dir",
            str(tmp_path),
            "--fault-error-rate",
            "0.7",
            "--fault-drop-rate",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "must not exceed 1" in result.stderr


def _get(emulator: EmulatorProcess, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(
        f"{emulator.base_url}{path}", verify=emulator.ca_bundle, timeout=30, **kwargs
    )


def test_flags_start_faults_that_spare_emulator_routes_and_are_counted(tmp_path: Path) -> None:
    process = EmulatorProcess(
        tmp_path / "emulator",
        extra_args=["--fault-error-rate", "1", "--fault-seed", "3", "--fault-retry-after", "4"],
    )
    try:
        process.start()
        admin = EmulatorAdmin(process)
        assert admin.set_faults()["error_rate"] == 1.0
        refused = _get(process, "/pipelines/v1.0/anything")
        assert refused.status_code == 503
        assert refused.json()["Error"]["Code"] == "ServiceUnavailable"
        for path in ("/_emulator/manifest", "/_emulator/stats", "/_emulator/admin/faults"):
            assert _get(process, path, headers=process.admin_headers()).status_code == 200
        stats = admin.stats()
        assert stats["faults"] == {"503": 1}
        assert stats["faults_injected"] == 1
        admin.set_faults(error_rate=0.0, throttle_rate=1.0)
        throttled = _get(process, "/history/v1.0/anything")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "4"
    finally:
        process.stop()


@pytest.mark.parametrize("mode", ["before", "after"])
def test_dropped_submissions_never_duplicate_a_run(
    mode: str, own_emulator: EmulatorProcess
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    admin = EmulatorAdmin(own_emulator)
    hook = AzureMLPipelinesHook()
    try:
        pipeline = hook.publish_pipeline_from_run(
            own_emulator.manifest["pipeline_runs"]["simulated"], name="drops", version="1"
        )
        submission = build_submission(
            experiment_name="drops", parameters={"duration_seconds": 0}, tags={"case": mode}
        )
        admin.set_faults(drop_mode=mode, path_contains="PipelineSubmit")
        before = admin.total_runs()
        # The submission's connection is dropped (once or a few times, until the watcher
        # clears the rate); the hook must resolve it to exactly one run.
        admin.set_faults(drop_rate=1.0)
        _drop_once_then_clear(admin)
        run = hook.submit_pipeline_run(pipeline.id, submission)
        assert hook.get_pipeline_run(run.id).tags["case"] == mode
        assert admin.total_runs() == before + 1
        assert admin.stats()["faults"].get(f"drop_{mode}", 0) >= 1
        assert len(hook.list_pipeline_runs(pipeline.id)) == 1
    finally:
        hook.close()


def _drop_once_then_clear(admin: EmulatorAdmin) -> None:
    # A seeded rate would make the number of drops depend on the hook's request order, so
    # the test arms a drop rate of 1 and a watcher clears it after the first drop.
    def clear_after_first_drop() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            faults = admin.stats()["faults"]
            if any(key.startswith("drop_") for key in faults):
                admin.set_faults(drop_rate=0.0)
                return
            time.sleep(0.05)

    threading.Thread(target=clear_after_first_drop, daemon=True).start()


def test_token_endpoint_faults_are_opt_in_and_azure_identity_copes(
    own_emulator: EmulatorProcess,
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    admin = EmulatorAdmin(own_emulator)
    admin.set_faults(fail_next=1, fail_status=503, path_contains="oauth2")
    hook = AzureMLPipelinesHook()
    try:
        # Spared by default: the token request is not failed, the faults stay armed.
        hook.list_published_pipelines()
        assert admin.set_faults()["fail_next"] == 1
    finally:
        hook.close()
    admin.set_faults(token_endpoint=True, fail_next=2, fail_status=503, path_contains="oauth2")
    hook = AzureMLPipelinesHook()
    try:
        hook.list_published_pipelines()
    finally:
        hook.close()
    stats = admin.stats()
    assert stats["faults"]["503"] == 2
    assert stats["responses"]["503"] == 2


def test_token_lifetime_changes_at_run_time_and_tokens_are_listed(
    own_emulator: EmulatorProcess,
) -> None:
    admin = EmulatorAdmin(own_emulator)
    assert admin.set_token_lifetime(30)["lifetime_seconds"] == 30
    with pytest.raises(requests.HTTPError):
        admin.set_token_lifetime(0)
    form = {
        "grant_type": "client_credentials",
        "client_id": own_emulator.manifest["client_id"],
        "client_secret": own_emulator.manifest["client_secret"],
        "scope": "https://management.azure.com/.default",
    }
    token_url = f"{own_emulator.base_url}/{own_emulator.manifest['tenant_id']}/oauth2/v2.0/token"
    body = requests.post(token_url, data=form, verify=own_emulator.ca_bundle, timeout=30).json()
    assert body["expires_in"] == 30
    assert admin.issued_tokens() == [body["access_token"]]
    assert admin.stats()["token_lifetime_seconds"] == 30


def test_restart_keeps_the_port_and_the_state(own_emulator: EmulatorProcess) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        name = f"restart-{uuid.uuid4().hex[:6]}"
        pipeline = hook.publish_pipeline_from_run(
            own_emulator.manifest["pipeline_runs"]["simulated"], name=name, version="1"
        )
        port = own_emulator.port
        own_emulator.restart()
        assert own_emulator.port == port
        # The same hook (same session, same cached token) carries on after the restart.
        assert hook.get_published_pipeline(pipeline.id).name == name
    finally:
        hook.close()


def test_queued_runs_wait_not_started_then_run_and_the_setting_is_restored(
    own_emulator: EmulatorProcess,
) -> None:
    from airflow_provider_mlpipelines.api.status import PipelineRunStatus
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        pipeline = hook.publish_pipeline_from_run(
            own_emulator.manifest["pipeline_runs"]["simulated"], name="queued", version="1"
        )
        submission = build_submission(experiment_name="queued", parameters={"duration_seconds": 0})
        # An hour: nothing but the end of the block can start these runs.
        with own_emulator.faults(queue_seconds=3600) as settings:
            assert settings["queue_seconds"] == 3600
            run = hook.submit_pipeline_run(pipeline.id, submission)
            canceled = hook.submit_pipeline_run(pipeline.id, submission)
            # A run of 0 s would be over long before this second of looking ends.
            watched_until = time.monotonic() + 1
            while time.monotonic() < watched_until:
                assert hook.get_pipeline_run(run.id).status is PipelineRunStatus.NOT_STARTED
                time.sleep(0.1)
            hook.cancel_pipeline_run(canceled.id)
            # A queued run can be canceled before it starts.
            assert hook.get_pipeline_run(canceled.id).status is PipelineRunStatus.CANCELED
        # Restoring the setting releases the run already waiting.
        assert own_emulator.set_faults()["queue_seconds"] == 0
        deadline = time.monotonic() + 30
        while not hook.get_pipeline_run(run.id).status.is_terminal:
            assert time.monotonic() < deadline, "the queued run never ran"
            time.sleep(0.2)
        finished = hook.get_pipeline_run(run.id)
        assert finished.status is PipelineRunStatus.FINISHED
        assert finished.status_info.end_time is not None
    finally:
        hook.close()
    with pytest.raises(requests.HTTPError):
        own_emulator.set_faults(queue_seconds=-1)
