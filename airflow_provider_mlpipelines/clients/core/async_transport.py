"""Sending one operation over ``aiohttp``, with the same calls, retries and errors as sync.

One ``aiohttp.ClientSession`` serves every async hook of an event loop that has the same TLS
and timeout settings: a triggerer running 2,000 triggers in one loop keeps one session and a
bounded pool of a few dozen connections, instead of a session, a pool and a TLS connection per
trigger. :class:`SessionRegistry` hands the session out and counts its holders; the last
holder's release closes it. Sessions belong to their loop: a new loop (a restarted triggerer)
gets a new one.

Requests go through the proxy the environment names (``HTTPS_PROXY``, ``ALL_PROXY``, except
for ``NO_PROXY`` hosts), as with ``requests`` and azure-identity: a triggerer behind an egress
proxy reaches the service the way the workers do. The proxy is chosen per request by
:func:`env_proxy` rather than by ``aiohttp``'s ``trust_env``, which would also read
``~/.netrc`` and then refuse every request that carries a bearer token.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

from airflow_provider_mlpipelines.clients.core.budget import BUDGETS
from airflow_provider_mlpipelines.clients.core.retry import Action, AttemptOutcome, RetryPolicy
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.tokens import AsyncTokenProvider
from airflow_provider_mlpipelines.clients.core.transport import (
    AttemptSequence,
    Call,
    Reply,
    pacing,
    request_headers,
)

log = logging.getLogger(__name__)

#: Connections one shared session keeps open at most; further requests wait for a free one.
CONNECTION_LIMIT = 64


def outcome_of_aiohttp_error(error: BaseException) -> AttemptOutcome:
    """Classify an aiohttp failure: did the request possibly reach the server?"""
    import aiohttp

    if isinstance(error, aiohttp.ClientSSLError):
        return AttemptOutcome(permanent=True)
    if isinstance(error, aiohttp.ClientHttpProxyError):
        # The proxy refused the tunnel (CONNECT answered 403, 502...): nothing reached the service.
        return AttemptOutcome(request_may_have_arrived=False)
    if isinstance(error, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return AttemptOutcome(request_may_have_arrived=False)
    return AttemptOutcome(request_may_have_arrived=True)


def env_proxy(url: str) -> tuple[str | None, tuple[str, str] | None]:
    """The proxy the environment names for ``url``, and its credentials, or ``(None, None)``.

    ``HTTPS_PROXY`` (or ``HTTP_PROXY`` for an ``http`` URL), else ``ALL_PROXY``, unless
    ``NO_PROXY`` names the host (with or without the port); lower-case names win, as in
    ``requests``. Credentials in the proxy URL are returned apart, for ``proxy_auth``.

    :param url: the URL about to be requested.
    """
    parts = urlsplit(url)
    if not parts.hostname or proxy_bypass(parts.netloc):
        return None, None
    proxies = getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None, None
    if "://" not in proxy:
        proxy = "http://" + proxy
    found = urlsplit(proxy)
    if found.username is None:
        return proxy, None
    host = found.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{found.port}" if found.port else host
    bare = found._replace(netloc=netloc).geturl()
    return bare, (unquote(found.username), unquote(found.password or ""))


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | bool:
    """TLS verification for aiohttp: a context trusting the CA bundle, or system trust."""
    return trust_for(settings.ca_bundle)


def trust_for(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """A TLS context trusting ``ca_bundle``, or ``True`` (system trust) without one."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return True


@dataclass(frozen=True)
class SessionKey:
    """The settings that make two hooks' sessions interchangeable within one event loop.

    :param ca_bundle: the CA bundle that TLS verification trusts (``None``: system trust).
    :param request_timeout_seconds: the socket connect and read timeout.
    :param connection_limit: the most connections the session keeps open.
    """

    ca_bundle: str | None
    request_timeout_seconds: float
    connection_limit: int = CONNECTION_LIMIT

    @classmethod
    def of(cls, settings: ConnectionSettings) -> SessionKey:
        """The session key of a connection's settings.

        :param settings: the connection settings.
        """
        return cls(settings.ca_bundle, settings.request_timeout_seconds)

    def new_session(self) -> Any:
        """A new ``aiohttp.ClientSession`` with these settings (inside the running loop)."""
        import aiohttp

        # Only socket-level timeouts: waiting for a pooled connection must not count,
        # or polls queued behind the connection limit would time out.
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.request_timeout_seconds,
            sock_read=self.request_timeout_seconds,
        )
        connector = aiohttp.TCPConnector(limit=self.connection_limit, ssl=trust_for(self.ca_bundle))
        return aiohttp.ClientSession(connector=connector, timeout=timeout)


@dataclass
class _SharedSession:
    session: Any
    holders: int = 0


class SessionRegistry:
    """Shared ``aiohttp`` sessions by event loop and :class:`SessionKey`, counted by holders."""

    def __init__(self) -> None:
        self._entries: dict[tuple[asyncio.AbstractEventLoop, SessionKey], _SharedSession] = {}
        # Hooks of several loops (threads) may lease at once; no await happens under it.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SessionRegistry(sessions={len(self)})"

    def lease(self, key: SessionKey) -> Any:
        """The running loop's open session for ``key`` (created if needed), now held once more.

        :param key: the session settings.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            self._forget_closed_loops()
            entry = self._entries.get((loop, key))
            if entry is None or entry.session.closed:
                entry = self._entries[(loop, key)] = _SharedSession(key.new_session())
                log.debug("Opened a shared HTTP session (%s)", key)
            entry.holders += 1
            return entry.session

    async def release(self, key: SessionKey, session: Any) -> None:
        """Give back one hold on ``session``; the last one closes it.

        :param key: the key it was leased with.
        :param session: the session :meth:`lease` returned.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get((loop, key))
            if entry is None or entry.session is not session:
                last = True  # already replaced or forgotten: nobody else holds it
            else:
                entry.holders -= 1
                last = entry.holders <= 0
                if last:
                    del self._entries[(loop, key)]
        if last and not session.closed:
            await session.close()

    def open_sessions(self) -> list[Any]:
        """The sessions currently held, in every loop (for diagnostics and tests)."""
        with self._lock:
            return [entry.session for entry in self._entries.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget_closed_loops(self) -> None:
        for entry_key in [k for k in self._entries if k[0].is_closed()]:
            del self._entries[entry_key]


#: The registry every async transport of this process uses.
SHARED_SESSIONS = SessionRegistry()


class AsyncTransport:
    """Sends :class:`Call` objects with the event loop's shared ``aiohttp.ClientSession``.

    :param settings: the connection settings.
    :param tokens: the async token provider.
    :param sleep: how to wait between attempts.
    :param sessions: where shared sessions live (the process-wide registry by default).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        tokens: AsyncTokenProvider,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        sessions: SessionRegistry = SHARED_SESSIONS,
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self._sleep = sleep
        self.deadline = deadline
        self._sessions = sessions
        self._session_key = SessionKey.of(settings)
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The shared session; leased on first use, inside the running loop."""
        if self._session is None or self._session.closed:
            # A session closed behind the registry's back is replaced there too (see lease).
            self._session = self._sessions.lease(self._session_key)
        return self._session

    async def execute(
        self, call: Call, *, retries_done: int = 0, policy: RetryPolicy | None = None
    ) -> Reply:
        """Send ``call`` until it succeeds or the policy gives up (see the sync transport)."""
        policy = call.policy_within(policy or self.settings.retry_policy, self.deadline)
        attempts = AttemptSequence(call, policy, retries_done)
        token = await self.tokens.token()
        budget = BUDGETS.for_url(call.url, self.settings.subscription_id)
        while True:
            pause = budget.delay(call.method, *pacing(self.settings))
            if pause > 0:
                await self._sleep(pause)
            reply, outcome, failure = await self._attempt(call, token)
            if reply is not None:
                budget.note(call.method, reply.headers)
            step = attempts.next_step(reply, outcome, failure)
            if step.action is Action.SUCCEED and reply is not None:
                return reply
            if step.action is Action.RENEW_TOKEN:
                token = await self.tokens.renew(rejected=token)
                continue
            await self._sleep(step.wait or 0.0)
            token = await self.tokens.token()

    async def _attempt(
        self, call: Call, token: str
    ) -> tuple[Reply | None, AttemptOutcome, BaseException | None]:
        import aiohttp

        proxy, credentials = env_proxy(call.url)
        try:
            async with self.session.request(
                call.method,
                call.url,
                params=call.params,
                headers=request_headers(call, token),
                json=call.body,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=aiohttp.BasicAuth(*credentials) if credentials else None,
            ) as response:
                text = await response.text()
                headers = {key.lower(): value for key, value in response.headers.items()}
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return None, outcome_of_aiohttp_error(exc), exc
        reply = Reply(response.status, text, headers, call.operation)
        return reply, AttemptOutcome(response.status, headers.get("retry-after")), None

    async def close(self) -> None:
        """Give back this transport's hold on the shared session (closing it if it was last)."""
        session, self._session = self._session, None
        if session is not None:
            await self._sessions.release(self._session_key, session)
