"""Step execution rules, on an emulator with a workspace spec of the tests' own."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api.status import PipelineRunStatus, StepRunStatus
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

SPEC = textwrap.dedent(
    """
    identity:
      client_secret: secret-from-the-spec
      workspace_name: ws-custom
    pipelines:
      flaky:
        steps:
          - name: fail
            command:
              - "{{ python }}"
              - -c
              - "import sys; print('boom', file=sys.stderr); sys.exit(3)"
          - name: after
            command: "{{ python }} -c \\"print('after ran')\\""
      escape:
        parameters:
          name: {type: string, default: a}
        steps:
          - name: write
            command: ["{{ python }}", "-c", "print(1)"]
            outputs:
              out: {path: "out/{{ name }}.txt"}
      echo:
        parameters:
          greeting: {type: string, default: hello}
          loud: {type: bool, default: false}
        steps:
          - name: echo
            command: >-
              {{ python }} -c "import os, sys; print(os.environ['GREETING'], sys.argv[1:])"
              '{{ greeting }}' {{ loud }}
            env:
              GREETING: "{{ greeting }} from env"
    """
)


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiClient]:
    folder = tmp_path_factory.mktemp("custom-workspace")
    spec = folder / "workspace.yaml"
    spec.write_text(SPEC)
    process = EmulatorProcess(folder / "state", workspace=spec)
    client = None
    try:
        process.start()
        client = ApiClient(process.manifest)
        yield client
    finally:
        if client is not None:
            client.close()
        process.stop()


def _step_statuses(client: ApiClient, run_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    statuses = client.steps(run_id)
    return {
        name: StepRunStatus.parse(statuses[client.node_of(run_id, name)]["StatusCode"])
        for name in names
    }


def test_identity_comes_from_the_spec(custom: ApiClient) -> None:
    assert custom.manifest["client_secret"] == "secret-from-the-spec"
    assert custom.manifest["workspace_name"] == "ws-custom"
    assert set(custom.manifest["pipeline_runs"]) == {"flaky", "escape", "echo"}


def test_a_failed_step_stops_the_run_by_default(custom: ApiClient) -> None:
    pipeline = custom.publish("flaky")
    run = custom.wait(custom.submit(pipeline["Id"])["Id"])
    assert PipelineRunStatus.from_status(run["Status"]["StatusCode"]) is PipelineRunStatus.FAILED
    assert "exited with code 3" in run["Status"]["StatusDetail"]
    assert _step_statuses(custom, run["Id"], ("fail", "after")) == {
        "fail": StepRunStatus.FAILED,
        "after": StepRunStatus.NOT_STARTED,
    }
    assert custom.log(run["Id"], "fail", "STDERR") == "boom\n"


def test_continue_on_step_failure_runs_later_steps_and_still_fails(custom: ApiClient) -> None:
    pipeline = custom.publish("flaky")
    run = custom.wait(custom.submit(pipeline["Id"], ContinueRunOnStepFailure=True)["Id"])
    assert PipelineRunStatus.from_status(run["Status"]["StatusCode"]) is PipelineRunStatus.FAILED
    assert _step_statuses(custom, run["Id"], ("fail", "after")) == {
        "fail": StepRunStatus.FAILED,
        "after": StepRunStatus.FINISHED,
    }
    assert custom.log(run["Id"], "after") == "after ran\n"


def test_parameter_values_cannot_escape_the_datastore(custom: ApiClient) -> None:
    pipeline = custom.publish("escape")
    run = custom.wait(
        custom.submit(pipeline["Id"], ParameterAssignments={"name": "../../../escaped"})["Id"]
    )
    assert PipelineRunStatus.from_status(run["Status"]["StatusCode"]) is PipelineRunStatus.FAILED
    assert "could not be prepared" in run["Status"]["StatusDetail"]
    state_dir = Path(custom.manifest["state_dir"])
    assert not list(state_dir.parent.rglob("escaped.txt"))


def test_string_commands_take_values_as_single_arguments(custom: ApiClient) -> None:
    pipeline = custom.publish("echo")
    hostile = "hi; echo injected"
    run = custom.submit(pipeline["Id"], ParameterAssignments={"greeting": hostile, "loud": "true"})
    custom.wait(run["Id"])
    assert custom.log(run["Id"], "echo") == f"{hostile} from env ['{hostile}', 'True']\n"
