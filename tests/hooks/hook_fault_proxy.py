"""A real HTTP(S) proxy in front of the emulator that injects faults on chosen requests.

It listens on a loopback socket and forwards requests to the emulator over HTTPS, except
where a :class:`Fault` says otherwise: answer with a status (429 with ``Retry-After``...),
forward and then drop the connection without answering (the request took effect but the
client cannot know), forward and then answer 500, or drop without forwarding. Every request
is recorded, so tests can count what reached the emulator.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

_HOP_BY_HOP = {
    "connection",
    "content-length",
    "content-encoding",
    "host",
    "keep-alive",
    "transfer-encoding",
    "accept-encoding",
}


@dataclass
class Fault:
    """What to do with matching requests.

    :param method: HTTP method to match.
    :param path_pattern: regular expression searched in the request path.
    :param action: ``respond`` (answer ``status`` without forwarding), ``forward_then_drop``,
        ``forward_then_respond`` (forward, then answer ``status`` instead),
        ``forward_then_stall`` (forward, then say nothing for ``stall_seconds`` and drop), or
        ``drop`` (drop without forwarding).
    :param status: the status to answer with.
    :param headers: headers of that answer.
    :param times: how many matching requests it applies to (``None``: all of them).
    :param stall_seconds: how long ``forward_then_stall`` keeps the client waiting.
    :param body: the body of a ``respond`` answer; an error JSON naming the status if empty.
    """

    method: str
    path_pattern: str
    action: str
    status: int = 500
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int | None = 1
    stall_seconds: float = 5.0
    body: bytes = b""

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return method == self.method and re.search(self.path_pattern, path) is not None


@dataclass(frozen=True)
class Seen:
    """One request the proxy received, and whether it reached the emulator."""

    method: str
    path: str
    body: bytes
    forwarded: bool
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FaultProxy:
    """The proxy's state: its faults and what it saw. Thread-safe."""

    def __init__(self, upstream: str, ca_bundle: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.ca_bundle = ca_bundle
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.base_url = ""

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def requests_to(self, method: str, path_pattern: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and re.search(path_pattern, s.path)]

    def forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        kept = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        return requests.request(
            method,
            self.upstream + path,
            headers=kept,
            data=body or None,
            verify=self.ca_bundle,
            allow_redirects=False,
            timeout=60,
        )


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on ``proxy.seen`` instead."""

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.take_fault(self.command, self.path)
            action = fault.action if fault else "forward"
            forwarded = action.startswith("forward")
            proxy.record(Seen(self.command, self.path, body, forwarded, dict(self.headers)))
            upstream = (
                proxy.forward(self.command, self.path, dict(self.headers), body)
                if forwarded
                else None
            )
            if action == "forward_then_stall":
                assert fault is not None
                time.sleep(fault.stall_seconds)
                self._drop()
            elif action in ("drop", "forward_then_drop"):
                self._drop()
            elif action in ("respond", "forward_then_respond"):
                assert fault is not None
                error = {"Error": {"Code": "Injected", "Message": f"injected {fault.status}"}}
                body = fault.body or json.dumps(error).encode()
                self._answer(fault.status, fault.headers, body)
            else:
                assert upstream is not None
                self._answer(upstream.status_code, upstream.headers, upstream.content)

        def _answer(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _drop(self) -> None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    return Handler


@contextmanager
def running_proxy(
    upstream: str,
    ca_bundle: str,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> Iterator[FaultProxy]:
    """Start a proxy on 127.0.0.1 (HTTPS when a certificate is given); stop it on exit."""
    proxy = FaultProxy(upstream, ca_bundle)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(proxy))
    server.daemon_threads = True
    scheme = "http"
    if certfile is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    proxy.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
