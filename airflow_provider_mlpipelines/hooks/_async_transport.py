"""Sending one operation over ``aiohttp``, with the same calls, retries and errors as sync.

One ``aiohttp.ClientSession`` serves a whole hook: it is created lazily inside the running
event loop, and its connection pool is bounded, so thousands of concurrent polls share a few
dozen connections instead of opening one each.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings
from airflow_provider_mlpipelines.hooks._retry import Action, AttemptOutcome, RetryPolicy
from airflow_provider_mlpipelines.hooks._tokens import AsyncTokenProvider
from airflow_provider_mlpipelines.hooks._transport import (
    AttemptSequence,
    Call,
    Reply,
    request_headers,
)

#: Connections one hook keeps open at most; further requests wait for a free one.
CONNECTION_LIMIT = 64


def outcome_of_aiohttp_error(error: BaseException) -> AttemptOutcome:
    """Classify an aiohttp failure: did the request possibly reach the server?"""
    import aiohttp

    if isinstance(error, aiohttp.ClientSSLError):
        return AttemptOutcome(permanent=True)
    if isinstance(error, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return AttemptOutcome(request_may_have_arrived=False)
    return AttemptOutcome(request_may_have_arrived=True)


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | bool:
    """TLS verification for aiohttp: a context trusting the CA bundle, or system trust."""
    if settings.ca_bundle:
        return ssl.create_default_context(cafile=settings.ca_bundle)
    return True


class AsyncTransport:
    """Sends :class:`Call` objects with one shared ``aiohttp.ClientSession``.

    :param settings: the connection settings.
    :param tokens: the async token provider.
    :param sleep: how to wait between attempts.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        tokens: AsyncTokenProvider,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self._sleep = sleep
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The shared session; created on first use, inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = self._new_session()
        return self._session

    def _new_session(self) -> Any:
        import aiohttp

        # Only socket-level timeouts: waiting for a pooled connection must not count,
        # or polls queued behind the connection limit would time out.
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.settings.request_timeout_seconds,
            sock_read=self.settings.request_timeout_seconds,
        )
        connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT, ssl=ssl_context(self.settings))
        return aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def execute(
        self, call: Call, *, retries_done: int = 0, policy: RetryPolicy | None = None
    ) -> Reply:
        """Send ``call`` until it succeeds or the policy gives up (see the sync transport)."""
        attempts = AttemptSequence(call, policy or self.settings.retry_policy, retries_done)
        token = await self.tokens.token()
        while True:
            reply, outcome, failure = await self._attempt(call, token)
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

        try:
            async with self.session.request(
                call.method,
                call.url,
                params=call.params,
                headers=request_headers(call, token),
                json=call.body,
                allow_redirects=False,
            ) as response:
                text = await response.text()
                headers = {key.lower(): value for key, value in response.headers.items()}
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return None, outcome_of_aiohttp_error(exc), exc
        reply = Reply(response.status, text, headers, call.operation)
        return reply, AttemptOutcome(response.status, headers.get("retry-after")), None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
