"""Fixtures shared by every test: emulators of the Azure ML pipelines service.

- ``emulator`` (session): one emulator with the default workspace for the whole session.
- ``emulator_factory``: starts emulators of a test's own (short token lifetime, restarts, a
  custom workspace); every one is stopped at teardown.
- ``emulator_conn``: points ``AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT`` at the session
  emulator for one test and returns its manifest.
- ``emulator_v2``, ``v2_hook``, ``deployed``, ``raw``: for the v2 test modules, each of which
  defines ``v2_emulator`` (its own emulator and v2 connection id).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_mlpipelines.emulator.testing import CONN_ENV_VAR, EmulatorProcess
from tests.v2_helpers import NO_FAULTS, Deployed, RawArm, deploy, recording_hook

EmulatorFactory = Callable[..., EmulatorProcess]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One running emulator (default workspace) shared by the whole session."""
    process = EmulatorProcess(tmp_path_factory.mktemp("emulator-session"))
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """Start emulators for one test: ``emulator_factory(token_lifetime=2, ...)``.

    Keyword arguments go to :class:`EmulatorProcess`; ``state_dir`` defaults to a fresh
    folder under the test's ``tmp_path``. Every emulator started is stopped at teardown.
    """
    started: list[EmulatorProcess] = []
    counter = itertools.count()

    def start(**kwargs: Any) -> EmulatorProcess:
        kwargs.setdefault("state_dir", tmp_path / f"emulator-{next(counter)}")
        process = EmulatorProcess(**kwargs)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def emulator_conn(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Set the default Airflow connection to the session emulator; returns its manifest."""
    monkeypatch.setenv(CONN_ENV_VAR, emulator.airflow_conn)
    return emulator.manifest


# --------------------------------------------------------------------------------------------
# The v2 test modules' fixtures; each module defines ``v2_emulator`` (its emulator and
# connection id, started with the flags it needs) and requests these.
# --------------------------------------------------------------------------------------------
@pytest.fixture
def emulator_v2(v2_emulator: tuple[EmulatorProcess, str]) -> Iterator[EmulatorProcess]:
    """The module's emulator, its faults switched off again after each test."""
    process = v2_emulator[0]
    try:
        yield process
    finally:
        process.set_faults(**NO_FAULTS)


@pytest.fixture
def v2_hook(v2_emulator: tuple[EmulatorProcess, str]) -> Iterator[Any]:
    """A sync hook on the module's v2 connection whose waits are recorded in ``hook.waits``
    (and really waited)."""
    hook = recording_hook(v2_emulator[1])
    try:
        yield hook
    finally:
        hook.close()


@pytest.fixture(scope="module")
def deployed(v2_emulator: tuple[EmulatorProcess, str]) -> Deployed:
    """The module's components and batch endpoint (see :func:`deploy`)."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    with AzureMLPipelinesHook(v2_emulator[1]) as hook:
        return deploy(hook, v2_emulator[0])


@pytest.fixture
def raw(emulator_v2: EmulatorProcess) -> Iterator[RawArm]:
    """The emulator's ARM job routes, read with a credential of the test's own."""
    client = RawArm(emulator_v2)
    try:
        yield client
    finally:
        client.close()
