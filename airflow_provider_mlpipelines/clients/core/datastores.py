"""The datastore read both clients share: once per datastore and client, never fatal.

A datastore's storage only improves how lineage names data, so a read that fails (no read
permission on datastores, a datastore deleted since, a network error) is remembered as
unknown and the caller names the data in the ``azureml://`` namespace instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from airflow_provider_mlpipelines.api.datastores import DatastoreStorage
from airflow_provider_mlpipelines.exceptions import AzureMLPipelinesError, AzureMLServiceError

log = logging.getLogger(__name__)


class DatastoreCache:
    """Datastore name -> its storage (``None``: unknown), each read at most once.

    :param read: reads one datastore from the service.
    """

    def __init__(self, read: Callable[[str], DatastoreStorage]) -> None:
        self._read = read
        self._known: dict[str, DatastoreStorage | None] = {}
        # The OpenLineage listener and the task may ask from different threads.
        self._lock = threading.Lock()

    def get(self, name: str) -> DatastoreStorage | None:
        """The storage of datastore ``name``, or ``None`` when it could not be read.

        :param name: the datastore's name.
        """
        with self._lock:
            if name in self._known:
                return self._known[name]
            self._known[name] = storage = self._read_once(name)
            return storage

    def _read_once(self, name: str) -> DatastoreStorage | None:
        try:
            return self._read(name)
        except AzureMLServiceError as exc:
            # 403 (no datastore read permission) and 404 are expected answers here; only the
            # status and code are logged, the message may quote the request.
            log.warning(
                "Datastore %s could not be read (%s %s); its data is named in the azureml:// "
                "namespace",
                name,
                exc.status_code,
                exc.code or "",
            )
        except AzureMLPipelinesError as exc:
            log.warning(
                "Datastore %s could not be read (%s); its data is named in the azureml:// "
                "namespace",
                name,
                type(exc).__name__,
            )
        return None
