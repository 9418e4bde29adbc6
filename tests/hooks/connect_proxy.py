"""A real HTTPS egress proxy for tests: HTTP ``CONNECT`` tunnels, counted per target.

Clients reach it through ``HTTPS_PROXY=http://127.0.0.1:PORT``; it opens a TCP connection to
the ``host:port`` of each ``CONNECT`` request, answers ``200 Connection established`` and then
relays bytes both ways without looking at them (the TLS session is end to end, between the
client and the emulator). Every tunnel is recorded, so a test can tell which targets were
reached through the proxy and how often.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

_MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Tunnel:
    """One ``CONNECT`` request: its target and how many bytes went each way."""

    target: str
    established: bool = False
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass
class ConnectProxy:
    """A ``CONNECT`` proxy on a loopback port, served by an event loop in its own thread."""

    host: str = "127.0.0.1"
    port: int = 0
    tunnels: list[Tunnel] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The value for ``HTTPS_PROXY``."""
        return f"http://{self.host}:{self.port}"

    def count(self, target: str) -> int:
        """How many tunnels to ``target`` (``host:port``) were established."""
        with self._lock:
            return sum(1 for t in self.tunnels if t.target == target and t.established)

    def targets(self) -> list[str]:
        with self._lock:
            return [t.target for t in self.tunnels]

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> ConnectProxy:
        ready = threading.Event()
        loop = self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="connect-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the CONNECT proxy did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None

    # ------------------------------------------------------------------------------ serving
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._tunnel(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEADER_BYTES:
            return
        method, _, rest = head.decode("latin-1").partition(" ")
        target = rest.partition(" ")[0]
        if method != "CONNECT" or ":" not in target:
            with self._lock:
                self.refused.append(f"{method} {target}")
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        tunnel = Tunnel(target)
        with self._lock:
            self.tunnels.append(tunnel)
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        with self._lock:
            tunnel.established = True
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, tunnel, "bytes_up"),
                self._pipe(up_reader, writer, tunnel, "bytes_down"),
            )
        finally:
            up_writer.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        tunnel: Tunnel,
        counter: str,
    ) -> None:
        try:
            while chunk := await source.read(65536):
                with self._lock:
                    setattr(tunnel, counter, getattr(tunnel, counter) + len(chunk))
                sink.write(chunk)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.write_eof()


@contextlib.contextmanager
def running_connect_proxy() -> Iterator[ConnectProxy]:
    """A started :class:`ConnectProxy`, stopped when the block ends (even on failure)."""
    proxy = ConnectProxy().start()
    try:
        yield proxy
    finally:
        proxy.stop()
