"""Fixtures of the hook tests: connections to the emulator, published pipelines, fault tools.

Every connection is an ``AIRFLOW_CONN_*`` JSON variable, as a deployment would give it; every
hook talks to a real emulator over HTTPS with the real azure-identity credentials.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hook_fault_proxy import FaultProxy, running_proxy
from hook_helpers import Faults, conn_json, publish, wait_for_run

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

SESSION_CONN_ID = "aml_hook_tests"


@pytest.fixture(autouse=True, scope="session")
def _quiet_azure_http_logs() -> Iterator[None]:
    # azure-core logs every token request at INFO; it drowns the logs the tests look at.
    azure_logger = logging.getLogger("azure")
    level = azure_logger.level
    azure_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        azure_logger.setLevel(level)


@pytest.fixture(scope="session")
def session_conn_id(emulator: EmulatorProcess) -> Iterator[str]:
    """A connection id (not the default one) for the session emulator, for shared fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{SESSION_CONN_ID.upper()}", emulator.airflow_conn)
        yield SESSION_CONN_ID


@pytest.fixture
def make_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Register a connection to an emulator under a fresh id; returns the id."""

    def register(emulator: EmulatorProcess, **changes: Any) -> str:
        conn_id = f"aml_{uuid.uuid4().hex[:10]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(emulator, **changes))
        return conn_id

    return register


@pytest.fixture
def hook(emulator_conn: dict[str, Any]) -> Iterator[AzureMLPipelinesHook]:
    """A sync hook on the default connection, pointed at the session emulator."""
    created = AzureMLPipelinesHook()
    try:
        yield created
    finally:
        created.close()


@pytest.fixture(scope="session")
def session_hook(session_conn_id: str) -> Iterator[AzureMLPipelinesHook]:
    created = AzureMLPipelinesHook(session_conn_id)
    try:
        yield created
    finally:
        created.close()


@pytest.fixture(scope="session")
def train_pipeline(session_hook: AzureMLPipelinesHook, emulator: EmulatorProcess) -> Any:
    """The ``train`` pipeline, published once for the session."""
    return publish(session_hook, emulator, "train")


@pytest.fixture(scope="session")
def simulated_pipeline(session_hook: AzureMLPipelinesHook, emulator: EmulatorProcess) -> Any:
    """The ``simulated`` pipeline (timer steps only), published once for the session."""
    return publish(session_hook, emulator, "simulated")


@pytest.fixture
def faults(emulator: EmulatorProcess) -> Iterator[Faults]:
    """Fault injection on the session emulator, switched off again after the test."""
    injector = Faults(emulator)
    try:
        yield injector
    finally:
        injector.reset()


@pytest.fixture
def proxy(emulator: EmulatorProcess) -> Iterator[FaultProxy]:
    """A fault-injecting HTTP proxy on loopback in front of the session emulator."""
    with running_proxy(emulator.base_url, emulator.ca_bundle) as started:
        yield started


@pytest.fixture(scope="session")
def finished_train_run(session_hook: AzureMLPipelinesHook, train_pipeline: Any) -> Any:
    """A run of ``train`` that really executed its steps and finished."""
    submission = session_hook.build_submission(
        experiment_name="hook-tests-finished", parameters={"epochs": 3}
    )
    run = session_hook.submit_pipeline_run(train_pipeline.id, submission)
    return wait_for_run(session_hook, run.id)
