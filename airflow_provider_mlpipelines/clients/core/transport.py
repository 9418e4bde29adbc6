"""Sending one operation over ``requests``: token, retries, error mapping.

:class:`Call` describes an operation independently of the HTTP library, so the async
transport builds the same calls; the retry decisions come from the shared
:class:`~airflow_provider_mlpipelines.clients.core.retry.RetryPolicy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mlpipelines.clients.core.budget import BUDGETS
from airflow_provider_mlpipelines.clients.core.errors import (
    Operation,
    connection_error,
    describe_exception,
    parse_json,
    response_error,
)
from airflow_provider_mlpipelines.clients.core.retry import (
    Action,
    AttemptOutcome,
    Decision,
    RetryPolicy,
)
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.tokens import SyncTokenProvider
from airflow_provider_mlpipelines.exceptions import AzureMLServerError, AzureMLServiceError

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Call:
    """One REST operation, ready to send.

    :param operation: what it does, for logs and errors.
    :param method: the HTTP method.
    :param url: the absolute URL.
    :param params: query parameters.
    :param headers: extra request headers.
    :param body: the JSON body; ``None`` sends none.
    :param idempotent: whether resending it cannot cause a second effect.
    :param checkable: whether an ambiguous failure can be resolved by looking for its effect
        (tagged submissions); the transport then raises :class:`AmbiguousAttempt`.
    :param bounded: whether the caller's deadline limits its retries; ``False`` for cleanup
        that must still be done once the deadline has passed (canceling a run).
    """

    operation: Operation
    method: str
    url: str
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    body: Any = None
    idempotent: bool = True
    checkable: bool = False
    bounded: bool = True

    def policy_within(self, policy: RetryPolicy, deadline: float | None) -> RetryPolicy:
        """``policy`` limited by ``deadline``, unless this call is not bounded by it."""
        return policy.until(deadline) if self.bounded else policy


@dataclass(frozen=True)
class Reply:
    """A response: status, body text and headers, and the operation it answers."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    operation: Operation | None = None

    def json(self) -> Any:
        """The body as JSON (``None`` when empty).

        :raises AzureMLServerError: the body is not JSON (a proxy's page, a truncated body).
        """
        value = parse_json(self.text)
        if value is None and self.text.strip() and self.text.strip() != "null":
            operation = self.operation or Operation("read response")
            raise AzureMLServerError(
                operation.name,
                operation.resource,
                status_code=self.status,
                code="InvalidResponse",
                message=f"the response is not JSON: {describe_exception(ValueError(self.text))}",
            )
        return value

    def text_value(self) -> str:
        """The body as text; a JSON string body is unwrapped."""
        value = parse_json(self.text)
        return value if isinstance(value, str) else self.text


class AmbiguousAttempt(Exception):
    """A checkable call failed in a way that may have left an effect behind.

    :param retries_done: retries made so far for the call.
    :param wait: seconds to wait before resending, or ``None`` when no retry is left.
    :param error: the error to raise if the effect is absent and no retry is left.
    """

    def __init__(self, retries_done: int, wait: float | None, error: AzureMLServiceError):
        super().__init__(str(error))
        self.retries_done = retries_done
        self.wait = wait
        self.error = error


def log_retry(
    operation: Operation, what: str, retries_done: int, policy: RetryPolicy, wait: float
) -> None:
    """Log one retry at warning level: operation, resource, status, attempt and wait."""
    log.warning(
        "%s: %s on attempt %d of %d; retrying in %.2f s",
        operation,
        what,
        retries_done + 1,
        policy.max_retries + 1,
        wait,
    )


def outcome_of_requests_error(error: Exception) -> AttemptOutcome:
    """Classify a ``requests`` exception: did the request possibly reach the server?"""
    import requests
    import urllib3.exceptions as u3

    if isinstance(error, requests.exceptions.SSLError):
        return AttemptOutcome(permanent=True)
    if isinstance(error, requests.exceptions.ProxyError):
        # The proxy could not be reached or refused the tunnel: nothing reached the service.
        return AttemptOutcome(request_may_have_arrived=False)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return AttemptOutcome(request_may_have_arrived=False)
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        if isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError)):
            return AttemptOutcome(request_may_have_arrived=False)
    return AttemptOutcome(request_may_have_arrived=True)


class AttemptSequence:
    """The attempts of one operation: applies the retry policy's decision after each attempt.

    Both transports drive it the same way: send, hand the result to :meth:`next_step`, then
    return the reply, renew the token, or sleep and send again, as told. Failures are raised
    from here, so their mapping and the retry logs are the same for sync and async.

    :param call: the operation.
    :param policy: the retry policy.
    :param retries_done: retries already spent on the operation (when resending).
    """

    def __init__(self, call: Call, policy: RetryPolicy, retries_done: int = 0) -> None:
        self.call = call
        self.policy = policy
        self.retries_done = retries_done
        self.token_renewed = False

    def next_step(
        self, reply: Reply | None, outcome: AttemptOutcome, failure: BaseException | None
    ) -> Decision:
        """What to do after an attempt: ``SUCCEED``, ``RENEW_TOKEN`` or ``RETRY`` (with a wait).

        :raises AzureMLServiceError: the attempt failed and no retry is left or allowed.
        :raises AmbiguousAttempt: a checkable call failed in a way that may have had effect.
        """
        decision = self.policy.decide(
            self.retries_done,
            outcome,
            token_renewed=self.token_renewed,
            idempotent=self.call.idempotent,
            can_check_submission=self.call.checkable,
        )
        if decision.action is Action.SUCCEED:
            return decision
        if decision.action is Action.RENEW_TOKEN:
            log.info("%s: token refused (401); acquiring a new one", self.call.operation)
            self.token_renewed = True
            return decision
        error = _error(self.call, reply, failure)
        if decision.reason:
            error = with_reason(error, decision.reason)
        if decision.action is Action.CHECK_SUBMISSION:
            raise AmbiguousAttempt(self.retries_done, decision.wait, error)
        if decision.action is not Action.RETRY or decision.wait is None:
            raise error
        log_retry(
            self.call.operation,
            _what(reply, failure),
            self.retries_done,
            self.policy,
            decision.wait,
        )
        self.retries_done += 1
        return decision


class SyncTransport:
    """Sends :class:`Call` objects with one pooled ``requests.Session``.

    :param settings: the connection settings (timeout, retry policy, TLS verification).
    :param tokens: the token provider.
    :param session: the session to send with.
    :param sleep: how to wait between attempts.
    :param deadline: epoch seconds by which every call must be done (see
        :class:`~airflow_provider_mlpipelines.clients.core.retry.RetryPolicy`); ``None``: none.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        tokens: SyncTokenProvider,
        session: Any,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.session = session
        self._sleep = sleep
        self.deadline = deadline

    def execute(
        self, call: Call, *, retries_done: int = 0, policy: RetryPolicy | None = None
    ) -> Reply:
        """Send ``call`` until it succeeds or the policy gives up.

        :param call: the operation.
        :param retries_done: retries already spent on this operation (when resending).
        :param policy: overrides the connection's retry policy.
        :raises AzureMLServiceError: the mapped error of the last attempt.
        :raises AmbiguousAttempt: a checkable call failed ambiguously.
        """
        policy = call.policy_within(policy or self.settings.retry_policy, self.deadline)
        attempts = AttemptSequence(call, policy, retries_done)
        token = self.tokens.token()
        budget = BUDGETS.for_url(call.url, self.settings.subscription_id)
        while True:
            pause = budget.delay(call.method, *pacing(self.settings))
            if pause > 0:
                self._sleep(pause)
            reply, outcome, failure = self._attempt(call, token)
            if reply is not None:
                budget.note(call.method, reply.headers)
            step = attempts.next_step(reply, outcome, failure)
            if step.action is Action.SUCCEED and reply is not None:
                return reply
            if step.action is Action.RENEW_TOKEN:
                token = self.tokens.renew(rejected=token)
                continue
            self._sleep(step.wait or 0.0)
            token = self.tokens.token()

    def _attempt(
        self, call: Call, token: str
    ) -> tuple[Reply | None, AttemptOutcome, Exception | None]:
        import requests

        try:
            response = self.session.request(
                call.method,
                call.url,
                params=call.params,
                headers=request_headers(call, token),
                json=call.body,
                timeout=self.settings.request_timeout_seconds,
                allow_redirects=False,
                # Per request, because requests lets REQUESTS_CA_BUNDLE override session.verify.
                verify=self.settings.verify,
            )
        except requests.exceptions.RequestException as exc:
            return None, outcome_of_requests_error(exc), exc
        reply = Reply(response.status_code, response.text, response.headers, call.operation)
        outcome = AttemptOutcome(response.status_code, response.headers.get("Retry-After"))
        return reply, outcome, None

    def close(self) -> None:
        """Nothing of its own to release: the hook closes the session and the tokens."""


def pacing(settings: ConnectionSettings) -> tuple[int, float]:
    """The connection's ARM budget floor and paced rate (see :mod:`.budget`)."""
    return settings.ratelimit_floor, settings.ratelimit_pace


def request_headers(call: Call, token: str) -> dict[str, str]:
    """The headers of one attempt: the bearer token, ``Accept`` and the call's own headers."""
    headers = {"Authorization": f"Bearer {token}", "Accept": JSON_CONTENT_TYPE}
    headers.update(call.headers or {})
    return headers


def with_reason(error: AzureMLServiceError, reason: str) -> AzureMLServiceError:
    """``error`` (same class) with ``reason`` added to its message.

    :param error: the mapped error of the last attempt.
    :param reason: why it was not retried, e.g. the service asked for a wait beyond the deadline.
    """
    message = f"{error.service_message}; {reason}" if error.service_message else reason
    return type(error)(
        error.operation,
        error.resource,
        status_code=error.status_code,
        code=error.code,
        message=message,
        correlation_id=error.correlation_id,
    )


def _error(call: Call, reply: Reply | None, failure: BaseException | None) -> AzureMLServiceError:
    if reply is not None:
        return response_error(call.operation, reply.status, reply.text, reply.headers)
    if failure is None:
        failure = ConnectionError("no response")
    return connection_error(call.operation, call.url, failure)


def _what(reply: Reply | None, failure: BaseException | None) -> str:
    if reply is not None:
        return f"HTTP {reply.status}"
    return f"{type(failure).__name__}: {describe_exception(failure)}" if failure else "no response"
