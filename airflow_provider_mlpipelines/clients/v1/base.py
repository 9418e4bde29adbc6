"""What every part of the v1 client shares: the settings, the transport and the way a route
becomes a sent call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.datastores import DatastoreStorage
from airflow_provider_mlpipelines.api.run_tags import RUNS_LIST_LAG_SECONDS
from airflow_provider_mlpipelines.clients.core.datastores import DatastoreCache
from airflow_provider_mlpipelines.clients.core.retry import RetryPolicy
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.transport import Call, Reply, SyncTransport
from airflow_provider_mlpipelines.clients.v1.calls import build_call, datastore_call


class V1Base:
    """The v1 client's plumbing.

    :param settings: the connection settings (``api`` is ``v1``).
    :param transport: sends calls with the connection's token, retries and error mapping.
    :param sleep: how to wait (between looks at a lagging runs list, between endpoint writes).
    :param runs_list_lag_seconds: how long a new run may take to show in its pipeline's runs
        list (see :attr:`runs_list_lag_seconds`).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        transport: SyncTransport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        runs_list_lag_seconds: float = RUNS_LIST_LAG_SECONDS,
    ) -> None:
        self._settings = settings
        self.transport = transport
        self.sleep = sleep
        #: How long a new run may take to show in its pipeline's runs list. A run looked up
        #: there (after an ambiguous submission, or by a retried task) and not found is looked
        #: for again until this long after it would have been created, before a new one is
        #: submitted.
        self.runs_list_lag_seconds = runs_list_lag_seconds
        self.datastores = DatastoreCache(self._read_datastore)

    @property
    def settings(self) -> ConnectionSettings:
        return self._settings

    def _call(self, route: routes.Route, resource: str | None = None, **kwargs: Any) -> Call:
        return build_call(self.settings, route, resource, **kwargs)

    def _send(self, call: Call, policy: RetryPolicy | None = None) -> Reply:
        return self.transport.execute(call, policy=policy)

    def _json(self, route: routes.Route, resource: str | None = None, **kwargs: Any) -> Any:
        return self._send(self._call(route, resource, **kwargs)).json()

    def get_datastore(self, name: str) -> DatastoreStorage | None:
        """The storage behind datastore ``name`` (read once; ``None`` when unreadable).

        :param name: the datastore's name.
        """
        return self.datastores.get(name)

    def _read_datastore(self, name: str) -> DatastoreStorage:
        return DatastoreStorage.from_v1_json(
            name, self._send(datastore_call(self.settings, name)).json()
        )

    def close(self) -> None:
        """Nothing beyond the hook's transport to release."""
