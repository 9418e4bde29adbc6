"""How deep a call travels: the provider's modules on the stack when ``requests`` sends it.

docs/architecture.md's "how a call travels" is this test's record: a v1 status read as the
operators and the sensor wait (``_waiting.wait_for_run``) and a v2 invoke as the submit
operator sends it (``operators._submission.SubmitTarget.submit``), each a real call to the
emulator. At most six layers from the operators down to the wire.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_mlpipelines._waiting import wait_for_run
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook
from airflow_provider_mlpipelines.operators._submission import SubmitTarget
from tests.v2_helpers import Deployed, module_v2_emulator

PACKAGE = "airflow_provider_mlpipelines"
MAX_LAYERS = 6


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The provider's modules on the stack (outermost first, repeats folded) at each send.

    The send itself goes through unchanged: this only looks at the stack on the way.
    """
    recorded: list[list[str]] = []
    send = requests.Session.send

    def looking(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        names = [f.frame.f_globals.get("__name__", "") for f in reversed(inspect.stack())]
        chain: list[str] = []
        for name in names:
            short = name[len(PACKAGE) + 1 :]
            if name.startswith(PACKAGE + ".") and (not chain or chain[-1] != short):
                chain.append(short)
        recorded.append(chain)
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", looking)
    return recorded


def test_a_v1_status_read_is_five_layers_from_the_wait_to_the_wire(
    emulator_conn: dict[str, Any], simulated_pipeline: Any, sends: list[list[str]]
) -> None:
    with AzureMLPipelinesHook() as hook:
        submission = hook.build_submission(experiment_name="call-layers")
        run = hook.submit_pipeline_run(simulated_pipeline.id, submission)
        status = wait_for_run(
            hook,
            run.id,
            poll_interval=0.1,
            timeout=60,
            cancel_on_timeout=False,
            log=logging.getLogger(__name__),
        )
    assert status.is_terminal
    # Token requests go out through azure-identity's own session, from the token provider.
    reads = [c for c in sends if c[0] == "_waiting" and c[-1] == "clients.core.transport"]
    assert reads[0] == [
        "_waiting",
        "hooks.azure_ml_pipelines",
        "clients.v1.client",
        "clients.v1.base",
        "clients.core.transport",
    ]
    # The operator or the sensor that waits is one more layer above ``_waiting``.
    assert len(reads[0]) + 1 <= MAX_LAYERS


@pytest.fixture(scope="module")
def v2_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, str]]:
    with module_v2_emulator(tmp_path_factory) as started:
        yield started


def test_a_v2_invoke_is_four_layers_from_the_submit_target_to_the_wire(
    v2_emulator: tuple[EmulatorProcess, str], deployed: Deployed, sends: list[list[str]]
) -> None:
    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        target = SubmitTarget(
            label="layers",
            pipeline_id=deployed.components["simulated"],
            endpoint_id=deployed.endpoint,
        )
        run = target.submit(hook, hook.build_submission(experiment_name="call-layers"))
    assert run.id
    invoke = [c for c in sends if c[-2:] == ["clients.v2.jobs", "clients.core.transport"]]
    assert invoke[-1] == [
        "operators._submission",
        "hooks.azure_ml_pipelines",
        "clients.v2.jobs",
        "clients.core.transport",
    ]
    # The submit operator's execute is one more layer above the target.
    assert len(invoke[-1]) + 1 <= MAX_LAYERS
    assert all(len(c) <= MAX_LAYERS for c in sends if c[-1] == "clients.core.transport")
