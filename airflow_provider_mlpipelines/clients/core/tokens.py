"""Bearer tokens: acquired from azure-identity, cached per process, renewed before they expire.

The hooks keep their own cache rather than rely on the credential's internal one: the hooks
decide when a token is too old (a few minutes before expiry, or a fraction of a short
lifetime), and after a 401 they can throw the token *and* the credential away so that the
next token really is new. :class:`TokenCache` holds that logic once for the sync and the async
provider.

The cache is shared by every hook of the same connection and credential in a process: a
triggerer watching 2,000 runs holds 2,000 async hooks, and they must cause one token
acquisition per token lifetime, not 2,000. :class:`SharedToken` entries are leased from a
process-wide registry, keyed by :class:`TokenKey` (never by the secret in clear), and dropped
when the last hook holding them closes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines._compat import mask_secret
from airflow_provider_mlpipelines.clients.core.credentials import build_credential
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.exceptions import AzureMLAuthenticationError

log = logging.getLogger(__name__)

#: Renew a long-lived token this many seconds before it expires.
MAX_RENEWAL_MARGIN_SECONDS = 300.0
#: For short lifetimes, renew once this fraction of the lifetime is left.
RENEWAL_MARGIN_FRACTION = 0.2

# Secrets enter token keys only as an HMAC under a key that never leaves this process, so a
# key (in a repr, a traceback, a heap dump) reveals nothing that could be tested offline.
_FINGERPRINT_KEY = os.urandom(32)


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
    """One cached token, and the rule for when it is still good.

    :param clock: wall clock (epoch seconds); azure-identity reports expiry in epoch seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cached: CachedToken | None = None

    def __repr__(self) -> str:
        return f"TokenCache(cached={self._cached!r})"

    @property
    def cached(self) -> CachedToken | None:
        """The cached token and its times, even when due for renewal (``None`` when empty)."""
        return self._cached

    def usable_token(self) -> str | None:
        """The cached token if it is not yet due for renewal, else ``None``."""
        cached = self._cached
        if cached is None or self._clock() >= cached.renew_at:
            return None
        return cached.token

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


# --------------------------------------------------------------------------------------------
# The process-wide registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenKey:
    """What makes two hooks' tokens interchangeable: same connection, same identity, same scope.

    The connection id is part of the key so that each connection keeps its own token life
    (a renewal after a 401, an edited connection) exactly as a single hook would; the cost is
    one acquisition per connection instead of per identity.
    """

    conn_id: str
    credential_kind: str
    tenant_id: str | None
    client_id: str | None
    authority_host: str | None
    scope: str
    secret_fingerprint: str | None = None

    @classmethod
    def of(cls, settings: ConnectionSettings, scope: str | None = None) -> TokenKey:
        """The key of a connection's tokens for ``scope``.

        :param settings: the connection settings.
        :param scope: the OAuth scope the tokens are for; the connection's ``token_scope``
            (its cloud's resource manager scope unless overridden) when ``None``.
        """
        kind = settings.credential_kind
        client_id = settings.client_id
        if kind in ("managed_identity", "workload_identity"):
            client_id = settings.managed_identity_client_id or settings.client_id
        return cls(
            conn_id=settings.conn_id,
            credential_kind=kind,
            tenant_id=settings.tenant_id,
            client_id=client_id,
            authority_host=settings.authority_host,
            scope=scope or settings.token_scope,
            secret_fingerprint=secret_fingerprint(settings.client_secret),
        )


def secret_fingerprint(secret: str | None) -> str | None:
    """A stand-in for a secret in keys: an HMAC under a per-process random key, or ``None``."""
    if not secret:
        return None
    return hmac.new(_FINGERPRINT_KEY, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class SharedToken:
    """A token cache shared by the hooks of one :class:`TokenKey`, with its locks.

    Sync callers serialize on a thread lock; async callers on an ``asyncio.Lock`` of their own
    event loop (a lock must not be shared between loops), so that many callers waiting at once
    cause one acquisition.

    :param key: what the token is for.
    :param clock: the wall clock of the cache.
    """

    def __init__(self, key: TokenKey, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.cache = TokenCache(clock)
        self.thread_lock = threading.Lock()
        self.holders = 0
        # Separate from thread_lock, which a sync caller holds during a whole acquisition:
        # looking up a loop's lock must never block an event loop on the network.
        self._loop_locks_guard = threading.Lock()
        self._loop_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"SharedToken(conn_id={self.key.conn_id!r}, holders={self.holders})"

    def async_lock(self) -> asyncio.Lock:
        """The lock of the running event loop (created on first use in that loop)."""
        loop = asyncio.get_running_loop()
        with self._loop_locks_guard:
            lock = self._loop_locks.get(loop)
            if lock is None:
                for closed in [other for other in self._loop_locks if other.is_closed()]:
                    del self._loop_locks[closed]
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock


class SharedTokenRegistry:
    """Process-wide :class:`SharedToken` entries, counted by the providers holding them."""

    def __init__(self) -> None:
        self._entries: dict[TokenKey, SharedToken] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SharedTokenRegistry(entries={len(self._entries)})"

    def lease(self, key: TokenKey) -> SharedToken:
        """The entry of ``key`` (created if missing), counted as held until :meth:`release`.

        :param key: what the token is for.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = SharedToken(key)
            entry.holders += 1
            return entry

    def release(self, entry: SharedToken) -> None:
        """Stop holding ``entry``; the last holder's release forgets its token.

        :param entry: an entry returned by :meth:`lease`.
        """
        with self._lock:
            entry.holders -= 1
            if entry.holders <= 0 and self._entries.get(entry.key) is entry:
                del self._entries[entry.key]

    def held(self, key: TokenKey) -> SharedToken | None:
        """The entry of ``key`` while some provider holds it (for diagnostics and tests).

        :param key: what the token is for.
        """
        with self._lock:
            return self._entries.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


#: The registry every token provider of this process uses.
SHARED_TOKENS = SharedTokenRegistry()


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


class _SharedTokenHolder:
    """What both providers share: the lease on the registry entry of their connection.

    The lease is taken on first use and given back by ``close``; a provider used again after
    closing takes a new one. The credential stays with the provider: an ``azure.identity.aio``
    credential belongs to the event loop it was first used in.
    """

    def __init__(
        self, settings: ConnectionSettings, registry: SharedTokenRegistry, scope: str | None
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._scope = scope or settings.token_scope
        self._key = TokenKey.of(settings, self._scope)
        self._entry: SharedToken | None = None
        # A sync hook may serve several threads: two first uses must not take two leases.
        self._lease_lock = threading.Lock()

    @property
    def shared(self) -> SharedToken:
        """The shared entry this provider holds (leased on first use)."""
        entry = self._entry
        if entry is None:
            with self._lease_lock:
                entry = self._entry
                if entry is None:
                    entry = self._entry = self._registry.lease(self._key)
        return entry

    @property
    def _cache(self) -> TokenCache:
        return self.shared.cache

    def _release(self) -> None:
        with self._lease_lock:
            entry, self._entry = self._entry, None
        if entry is not None:
            self._registry.release(entry)

    def _store(self, access_token: Any, started: float) -> str:
        log.debug("Acquired a token for connection %s", self._settings.conn_id)
        return self._cache.store(access_token, started)


class SyncTokenProvider(_SharedTokenHolder):
    """Tokens for the sync hook; thread-safe so one hook can serve several threads.

    :param settings: the connection settings.
    :param credential_factory: builds a credential from settings (replaceable for tests).
    :param registry: where shared tokens live (the process-wide one by default).
    :param scope: the OAuth scope to request; the connection's ``token_scope`` by default (a v2
        connection also needs its ML scope for invokes).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        credential_factory: Callable[[ConnectionSettings], Any] = build_credential,
        registry: SharedTokenRegistry = SHARED_TOKENS,
        scope: str | None = None,
    ) -> None:
        super().__init__(settings, registry, scope)
        self._factory = credential_factory
        self._credential: Any = None

    def __repr__(self) -> str:
        return f"SyncTokenProvider(conn_id={self._settings.conn_id!r}, scope={self._scope!r})"

    def token(self) -> str:
        """A token that is valid for a while yet; acquires one when needed."""
        shared = self.shared
        usable = shared.cache.usable_token()
        if usable is not None:
            return usable
        with shared.thread_lock:
            return shared.cache.usable_token() or self._acquire()

    def renew(self, rejected: str | None = None) -> str:
        """Drop the cached token and the credential, and acquire a fresh token.

        :param rejected: the token the service refused; if another caller already replaced
            it, that replacement is returned instead of acquiring yet another one.
        """
        shared = self.shared
        with shared.thread_lock:
            current = shared.cache.usable_token()
            if current is not None and current != rejected:
                return current
            shared.cache.clear()
            self._discard_credential()
            return self._acquire()

    def close(self) -> None:
        """Close the credential and stop holding the shared token."""
        self._discard_credential()
        self._release()

    def _acquire(self) -> str:
        started = self._cache.now()
        try:
            # Inside the try: azure-identity refuses to build a credential whose environment
            # is incomplete (no AZURE_FEDERATED_TOKEN_FILE...), and that is an auth failure too.
            if self._credential is None:
                self._credential = self._factory(self._settings)
            access_token = self._credential.get_token(self._scope)
        except Exception as exc:
            raise credential_error(self._settings, exc) from None
        return self._store(access_token, started)

    def _discard_credential(self) -> None:
        credential, self._credential = self._credential, None
        close = getattr(credential, "close", None)
        if close is not None:
            close()


class AsyncTokenProvider(_SharedTokenHolder):
    """Tokens for the async hook: concurrent callers, of this and every other hook of the
    connection in the process, share one acquisition.

    :param settings: the connection settings.
    :param credential_factory: builds an ``azure.identity.aio`` credential from settings.
    :param registry: where shared tokens live (the process-wide one by default).
    :param scope: the OAuth scope to request; the connection's ``token_scope`` by default (a v2
        connection also needs its ML scope for invokes).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        credential_factory: Callable[[ConnectionSettings], Any] | None = None,
        registry: SharedTokenRegistry = SHARED_TOKENS,
        scope: str | None = None,
    ) -> None:
        super().__init__(settings, registry, scope)
        self._factory = credential_factory or _build_async_credential
        self._credential: Any = None

    def __repr__(self) -> str:
        return f"AsyncTokenProvider(conn_id={self._settings.conn_id!r}, scope={self._scope!r})"

    async def token(self) -> str:
        """A token that is valid for a while yet; one acquisition serves all waiting callers."""
        shared = self.shared
        usable = shared.cache.usable_token()
        if usable is not None:
            return usable
        async with shared.async_lock():
            return shared.cache.usable_token() or await self._acquire()

    async def renew(self, rejected: str | None = None) -> str:
        """Drop the cached token and the credential, and acquire a fresh token.

        :param rejected: the token the service refused (see :meth:`SyncTokenProvider.renew`).
        """
        shared = self.shared
        async with shared.async_lock():
            current = shared.cache.usable_token()
            if current is not None and current != rejected:
                return current
            shared.cache.clear()
            await self._discard_credential()
            return await self._acquire()

    async def close(self) -> None:
        """Close the credential and stop holding the shared token."""
        await self._discard_credential()
        self._release()

    async def _acquire(self) -> str:
        started = self._cache.now()
        try:
            if self._credential is None:
                self._credential = self._factory(self._settings)
            access_token = await self._credential.get_token(self._scope)
        except Exception as exc:
            raise credential_error(self._settings, exc) from None
        return self._store(access_token, started)

    async def _discard_credential(self) -> None:
        credential, self._credential = self._credential, None
        if credential is not None:
            await credential.close()


def _build_async_credential(settings: ConnectionSettings) -> Any:
    return build_credential(settings, asynchronous=True)
