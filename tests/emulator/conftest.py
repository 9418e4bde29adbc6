"""Fixtures of the emulator tests (see ``emulator_client.py`` for the client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from emulator_client import ApiClient

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess


@pytest.fixture(scope="session")
def api(emulator: EmulatorProcess) -> Iterator[ApiClient]:
    """A client of the session emulator."""
    client = ApiClient(emulator.manifest)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def published(api: ApiClient) -> dict[str, dict[str, Any]]:
    """The default workspace's pipelines, published once on the session emulator."""
    return {name: api.publish(name) for name in ("train", "score", "simulated")}


@pytest.fixture
def client_for() -> Iterator[Callable[[EmulatorProcess], ApiClient]]:
    """Make clients of other emulators (closed at teardown)."""
    clients: list[ApiClient] = []

    def make(process: EmulatorProcess) -> ApiClient:
        client = ApiClient(process.manifest)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()
