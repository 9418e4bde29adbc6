"""A replay server: answers the provider's real clients with recorded answers of the real service.

The recordings (``tests/fixtures/recordings``, cut from Microsoft's ``azure-ai-ml`` test
recordings; each file names its source) hold absolute URLs of Azure hosts. The server, on
loopback, serves each recorded exchange at ``{origin}/{host}{path}`` and rewrites every
``https://{host}`` in the recorded answers to ``{origin}/{host}``, so a client whose base URL
is ``{origin}/management.azure.com`` follows the recorded long-running operations, next links
and scoring URIs to it. Exchanges are answered in their recorded order per method and path;
what no exchange answers is a 599 naming the request, so a test fails on it.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
_HOST_URL = re.compile(r"https://([A-Za-z0-9.-]+\.(?:com|ms|net))")
#: Hop-by-hop and length headers the server sets itself.
_OWN_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def recording(name: str) -> dict[str, Any]:
    """One fixture file: ``{"source", "description", "entries"}``."""
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


def entries(name: str, *picks: int) -> list[dict[str, Any]]:
    """The entries of a fixture, all or those at ``picks``."""
    found = recording(name)["entries"]
    return [found[i] for i in picks] if picks else list(found)


@dataclass
class Received:
    """A request the server got."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class ReplayServer:
    """The server's state: what it will answer and what it was asked."""

    origin: str = ""
    queues: dict[tuple[str, str], deque[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    received: list[Received] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)

    def add(self, exchanges: Sequence[dict[str, Any]]) -> None:
        for exchange in exchanges:
            parts = urlsplit(exchange["RequestUri"])
            key = (exchange["RequestMethod"].upper(), f"/{parts.netloc}{parts.path}")
            self.queues[key].append(exchange)

    def url(self, recorded_url: str) -> str:
        """Where a recorded absolute URL is served here."""
        return self.rewrite(recorded_url)

    def rewrite(self, text: str) -> str:
        return _HOST_URL.sub(lambda m: f"{self.origin}/{m.group(1)}", text)

    def requests_to(self, method: str, path_part: str) -> list[Received]:
        return [r for r in self.received if r.method == method and path_part in r.path]


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            path, _, query = self.path.partition("?")
            server.received.append(
                Received(
                    self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            queue = server.queues.get((self.command, path))
            if not queue:
                server.unanswered.append(f"{self.command} {self.path}")
                self._send(599, {}, json.dumps({"error": f"nothing recorded for {self.path}"}))
                return
            exchange = queue.popleft()
            headers = {
                str(k): server.rewrite(", ".join(v) if isinstance(v, list) else str(v))
                for k, v in (exchange.get("ResponseHeaders") or {}).items()
                if str(k).lower() not in _OWN_HEADERS
            }
            recorded = exchange.get("ResponseBody")
            if recorded is None:
                text = ""
            elif recorded == "null":
                text = "null"
            else:
                text = server.rewrite(json.dumps(recorded))
            self._send(int(exchange["StatusCode"]), headers, text)

        def _send(self, status: int, headers: dict[str, str], text: str) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    return Handler


@contextmanager
def replaying(*exchanges: Sequence[dict[str, Any]]) -> Iterator[ReplayServer]:
    """Serve ``exchanges`` on a loopback port for the block; the server stops after it."""
    state = ReplayServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    for group in exchanges:
        state.add(group)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
