"""Persistence of the emulator's state: one small SQLite file of JSON documents.

Every entity is a JSON document keyed by ``(kind, id)``. Changes are coalesced: a record is
marked dirty and serialised at the next flush (a fraction of a second later, in one
transaction), so a run that changes state many times costs one row write per flush, and a
status GET never touches the disk. ``flush()`` runs at shutdown too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS documents ("
    " kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class Documented(Protocol):
    """Anything that can render itself as a JSON document."""

    def to_doc(self) -> dict[str, Any]: ...


class Store:
    """The state file; single-threaded, used from the event loop only.

    :param path: the SQLite file to open or create.
    :param flush_interval: seconds between a change and its write.
    """

    def __init__(self, path: Path, flush_interval: float = 0.1) -> None:
        self.path = path
        self._flush_interval = flush_interval
        _make_private(path)
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._dirty: dict[tuple[str, str], Documented | None] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self.writes = 0

    # ---------------------------------------------------------------- documents
    def load(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every stored document of ``kind``.

        :param kind: e.g. ``"run"``.
        """
        rows = self._db.execute("SELECT body FROM documents WHERE kind = ?", (kind,))
        for (body,) in rows.fetchall():
            yield json.loads(body)

    def mark_dirty(self, kind: str, object_id: str, record: Documented) -> None:
        """Schedule ``record`` to be written at the next flush.

        :param kind: the document kind.
        :param object_id: the document id.
        :param record: the object to serialise when flushing (its latest state is written).
        """
        self._dirty[(kind, object_id)] = record
        self._schedule_flush()

    def delete(self, kind: str, object_id: str) -> None:
        """Schedule the deletion of a document.

        :param kind: the document kind.
        :param object_id: the document id.
        """
        self._dirty[(kind, object_id)] = None
        self._schedule_flush()

    def flush(self) -> None:
        """Write every pending change in one transaction."""
        self._flush_handle = None
        if not self._dirty:
            return
        pending, self._dirty = self._dirty, {}
        upserts = [
            (kind, object_id, json.dumps(record.to_doc(), separators=(",", ":")))
            for (kind, object_id), record in pending.items()
            if record is not None
        ]
        deletes = [key for key, record in pending.items() if record is None]
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO documents (kind, id, body) VALUES (?, ?, ?)", upserts
            )
            self._db.executemany("DELETE FROM documents WHERE kind = ? AND id = ?", deletes)
        self.writes += len(upserts) + len(deletes)

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_handle = loop.call_later(self._flush_interval, self._safe_flush)

    def _safe_flush(self) -> None:
        try:
            self.flush()
        except sqlite3.Error:
            # Keep serving; the next change retries the write.
            log.exception("Writing the emulator state to %s failed", self.path)

    # ---------------------------------------------------------------- metadata
    def get_meta(self, key: str) -> str | None:
        """A stored setting.

        :param key: the setting's name.
        """
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting now (settings are rare and must not wait for a flush).

        :param key: the setting's name.
        :param value: its value.
        """
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_or_create_meta(self, key: str, create: Callable[[], str]) -> str:
        """A stored setting, created by ``create`` the first time.

        :param key: the setting's name.
        :param create: makes the first value.
        """
        value = self.get_meta(key)
        if value is None:
            value = create()
            self.set_meta(key, value)
        return value

    def close(self) -> None:
        """Flush and close the file."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush()
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _make_private(path: Path) -> None:
    # The file holds the client secret and the managed identity's secret: owner only. SQLite
    # creates its -wal and -shm files with the mode of the database file; those of an older
    # state dir are tightened too.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)
