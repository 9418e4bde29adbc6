"""Bearer tokens: acquired from azure-identity, cached, and renewed shortly before they expire.

The hooks keep their own cache rather than rely on the credential's internal one: the hooks
decide when a token is too old (a few minutes before expiry, or a fraction of a short
lifetime), and after a 401 they can throw the token *and* the credential away so that the
next token really is new. :class:`TokenCache` holds that logic once for the sync and the async
provider.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines._compat import mask_secret
from airflow_provider_mlpipelines.api.routes import ARM_SCOPE
from airflow_provider_mlpipelines.exceptions import AzureMLAuthenticationError
from airflow_provider_mlpipelines.hooks._connection import ConnectionSettings, build_credential

log = logging.getLogger(__name__)

#: Renew a long-lived token this many seconds before it expires.
MAX_RENEWAL_MARGIN_SECONDS = 300.0
#: For short lifetimes, renew once this fraction of the lifetime is left.
RENEWAL_MARGIN_FRACTION = 0.2


@dataclass(frozen=True)
class CachedToken:
    """An access token and the moments it was obtained and expires (epoch seconds)."""

    token: str
    expires_on: float
    acquired_at: float

    def __repr__(self) -> str:
        return f"CachedToken(expires_on={self.expires_on}, acquired_at={self.acquired_at})"

    @property
    def renew_at(self) -> float:
        """The moment from which this token is renewed instead of used."""
        lifetime = max(0.0, self.expires_on - self.acquired_at)
        margin = min(MAX_RENEWAL_MARGIN_SECONDS, lifetime * RENEWAL_MARGIN_FRACTION)
        return self.expires_on - margin


class TokenCache:
    """The one cached token of a hook, and the rule for when it is still good.

    :param clock: wall clock (epoch seconds); azure-identity reports expiry in epoch seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cached: CachedToken | None = None

    def __repr__(self) -> str:
        return f"TokenCache(cached={self._cached!r})"

    def usable_token(self) -> str | None:
        """The cached token if it is not yet due for renewal, else ``None``."""
        if self._cached is None or self._clock() >= self._cached.renew_at:
            return None
        return self._cached.token

    def store(self, access_token: Any, acquired_at: float) -> str:
        """Cache an azure-core ``AccessToken`` (or ``AccessTokenInfo``) and return its value."""
        token = access_token.token
        mask_secret(token)
        self._cached = CachedToken(token, float(access_token.expires_on), acquired_at)
        return token

    def clear(self) -> None:
        self._cached = None

    def now(self) -> float:
        return self._clock()


def credential_error(settings: ConnectionSettings, error: Exception) -> AzureMLAuthenticationError:
    """An :class:`AzureMLAuthenticationError` for a failed token acquisition, without secrets."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return AzureMLAuthenticationError(
        "acquire token",
        f"for connection {settings.conn_id!r} ({settings.credential_kind} credential)",
        code=type(error).__name__,
        message=scrub(first_line, settings.client_secret),
    )


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class SyncTokenProvider:
    """Tokens for the sync hook; thread-safe so one hook can serve several threads.

    :param settings: the connection settings.
    :param credential_factory: builds a credential from settings (replaceable for tests).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        credential_factory: Callable[[ConnectionSettings], Any] = build_credential,
    ) -> None:
        self._settings = settings
        self._factory = credential_factory
        self._credential: Any = None
        self._cache = TokenCache()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SyncTokenProvider(conn_id={self._settings.conn_id!r})"

    def token(self) -> str:
        """A token that is valid for a while yet; acquires one when needed."""
        with self._lock:
            return self._cache.usable_token() or self._acquire()

    def renew(self, rejected: str | None = None) -> str:
        """Drop the cached token and the credential, and acquire a fresh token.

        :param rejected: the token the service refused; if another thread already replaced
            it, that replacement is returned instead of acquiring yet another one.
        """
        with self._lock:
            current = self._cache.usable_token()
            if current is not None and current != rejected:
                return current
            self._cache.clear()
            self._discard_credential()
            return self._acquire()

    def close(self) -> None:
        with self._lock:
            self._discard_credential()
            self._cache.clear()

    def _acquire(self) -> str:
        if self._credential is None:
            self._credential = self._factory(self._settings)
        started = self._cache.now()
        try:
            access_token = self._credential.get_token(ARM_SCOPE)
        except Exception as exc:
            raise credential_error(self._settings, exc) from None
        log.debug("Acquired a token for connection %s", self._settings.conn_id)
        return self._cache.store(access_token, started)

    def _discard_credential(self) -> None:
        credential, self._credential = self._credential, None
        close = getattr(credential, "close", None)
        if close is not None:
            close()


class AsyncTokenProvider:
    """Tokens for the async hook: concurrent callers share one acquisition.

    :param settings: the connection settings.
    :param credential_factory: builds an ``azure.identity.aio`` credential from settings.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        credential_factory: Callable[[ConnectionSettings], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._factory = credential_factory or _build_async_credential
        self._credential: Any = None
        self._cache = TokenCache()
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"AsyncTokenProvider(conn_id={self._settings.conn_id!r})"

    async def token(self) -> str:
        """A token that is valid for a while yet; one acquisition serves all waiting callers."""
        usable = self._cache.usable_token()
        if usable is not None:
            return usable
        async with self._get_lock():
            return self._cache.usable_token() or await self._acquire()

    async def renew(self, rejected: str | None = None) -> str:
        """Drop the cached token and the credential, and acquire a fresh token.

        :param rejected: the token the service refused (see :meth:`SyncTokenProvider.renew`).
        """
        async with self._get_lock():
            current = self._cache.usable_token()
            if current is not None and current != rejected:
                return current
            self._cache.clear()
            await self._discard_credential()
            return await self._acquire()

    async def close(self) -> None:
        await self._discard_credential()
        self._cache.clear()

    def _get_lock(self) -> asyncio.Lock:
        # Created on first use so that it belongs to the loop the hook is used in.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _acquire(self) -> str:
        if self._credential is None:
            self._credential = self._factory(self._settings)
        started = self._cache.now()
        try:
            access_token = await self._credential.get_token(ARM_SCOPE)
        except Exception as exc:
            raise credential_error(self._settings, exc) from None
        log.debug("Acquired a token for connection %s", self._settings.conn_id)
        return self._cache.store(access_token, started)

    async def _discard_credential(self) -> None:
        credential, self._credential = self._credential, None
        if credential is not None:
            await credential.close()


def _build_async_credential(settings: ConnectionSettings) -> Any:
    return build_credential(settings, asynchronous=True)
