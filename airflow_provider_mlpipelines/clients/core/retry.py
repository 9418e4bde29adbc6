"""The retry policy shared by the sync and the async hook.

Everything here is pure: given what one attempt produced (a status, or a connection failure)
and how many retries were already made, :meth:`RetryPolicy.decide` says what to do next. The
hooks only carry the decision out, so both transports retry, renew tokens and refuse to resend
submissions in exactly the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from enum import Enum

#: Statuses worth another attempt.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses the service sends before it processes a request, so a resend cannot duplicate it.
UNPROCESSED_STATUSES = frozenset({429, 503})

DEFAULT_MAX_RETRIES = 5
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_MAX_BACKOFF_SECONDS = 60.0
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0


class Action(str, Enum):
    """What the transport does after one attempt."""

    SUCCEED = "succeed"
    RENEW_TOKEN = "renew token"
    RETRY = "retry"
    CHECK_SUBMISSION = "check submission"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """The next step after one attempt.

    :param action: what to do.
    :param wait: seconds to sleep before the next attempt (``RETRY``), or before resending
        after a submission was looked for and not found (``CHECK_SUBMISSION``); ``None`` with
        ``CHECK_SUBMISSION`` means no retry is left: fail if the submission is not found.
    :param reason: why no retry is left when that is not just the retry count (the wait
        would end after the deadline), for the error message.
    """

    action: Action
    wait: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt produced.

    :param status: the HTTP status, or ``None`` when no response arrived.
    :param retry_after: the raw ``Retry-After`` header, if any.
    :param request_may_have_arrived: ``True`` when no response arrived but the request was
        possibly received (read timeout, connection reset after sending); ``False`` when it
        certainly was not (the connection could not be opened).
    :param permanent: no response arrived for a reason retrying cannot fix (a TLS
        certificate that fails verification).
    """

    status: int | None = None
    retry_after: str | None = None
    request_may_have_arrived: bool = False
    permanent: bool = False

    @property
    def connection_failed(self) -> bool:
        return self.status is None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter that honours ``Retry-After``.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param backoff: the first backoff in seconds, doubled on each retry.
    :param max_backoff: cap of one wait of our own backoff. A ``Retry-After`` is not cut to
        it: the service's own ask is waited out in full, up to ``deadline``.
    :param random_fraction: source of jitter in [0, 1); replaceable for deterministic tests.
    :param clock: wall clock used to read an HTTP-date ``Retry-After`` and the deadline.
    :param deadline: epoch seconds by which the caller must be done (e.g. the task's
        ``execution_timeout``); a wait that would end later is not started, the call fails
        saying so. ``None``: no deadline, every ``Retry-After`` is waited out.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: float = DEFAULT_BACKOFF_SECONDS
    max_backoff: float = DEFAULT_MAX_BACKOFF_SECONDS
    random_fraction: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    deadline: float | None = None

    def wait_before_retry(self, retries_done: int, retry_after: str | None = None) -> float | None:
        """Seconds to wait before retry number ``retries_done + 1``, or ``None`` to give up.

        :param retries_done: how many retries were already made (0 after the first attempt).
        :param retry_after: the ``Retry-After`` header of the last response, if any.
        """
        return self.plan_wait(retries_done, retry_after)[0]

    def plan_wait(
        self, retries_done: int, retry_after: str | None = None
    ) -> tuple[float | None, str | None]:
        """The wait before the next retry, or ``None`` and why not (when not the retry count).

        :param retries_done: how many retries were already made (0 after the first attempt).
        :param retry_after: the ``Retry-After`` header of the last response, if any.
        """
        if retries_done >= self.max_retries:
            return None, None
        now = self.clock()
        advised = parse_retry_after(retry_after, now=now)
        if advised is None:
            ceiling = min(self.max_backoff, self.backoff * (2**retries_done))
            wait = ceiling * self.random_fraction()
        else:
            # Waiting less than the service asked only earns another refusal.
            wait = advised
        if self.deadline is None or now + wait <= self.deadline:
            return wait, None
        left = max(0.0, self.deadline - now)
        if advised is None:
            return None, f"the next retry ({wait:.1f} s) would start after the deadline"
        return None, (
            f"the service asked to retry after {advised:g} s, beyond the task's deadline "
            f"({left:.0f} s left)"
        )

    def until(self, deadline: float | None) -> RetryPolicy:
        """This policy with ``deadline`` (the earlier one when both have one).

        :param deadline: epoch seconds, or ``None`` to keep the policy as it is.
        """
        if deadline is None or (self.deadline is not None and self.deadline <= deadline):
            return self
        return replace(self, deadline=deadline)

    def decide(
        self,
        retries_done: int,
        outcome: AttemptOutcome,
        *,
        token_renewed: bool = False,
        idempotent: bool = True,
        can_check_submission: bool = False,
    ) -> Decision:
        """Decide what follows an attempt.

        :param retries_done: retries already made for this operation.
        :param outcome: what the attempt produced.
        :param token_renewed: whether the token was already renewed after a 401 once.
        :param idempotent: whether resending the request cannot cause a second effect.
        :param can_check_submission: whether the caller can look for the effect of an
            ambiguous attempt (a tagged submission) before resending.
        """
        if outcome.status is not None and 200 <= outcome.status < 300:
            return Decision(Action.SUCCEED)
        if outcome.status == 401:
            return Decision(Action.FAIL if token_renewed else Action.RENEW_TOKEN)
        if not self._retryable(outcome):
            return Decision(Action.FAIL)
        wait, reason = self.plan_wait(retries_done, outcome.retry_after)
        if idempotent or not is_ambiguous(outcome, submission=can_check_submission):
            if wait is None:
                return Decision(Action.FAIL, reason=reason)
            return Decision(Action.RETRY, wait)
        if can_check_submission:
            return Decision(Action.CHECK_SUBMISSION, wait, reason)
        return Decision(Action.FAIL)

    @staticmethod
    def _retryable(outcome: AttemptOutcome) -> bool:
        if outcome.connection_failed:
            return not outcome.permanent
        return outcome.status in RETRYABLE_STATUSES


def is_ambiguous(outcome: AttemptOutcome, *, submission: bool = False) -> bool:
    """Whether the request may have taken effect although the attempt failed.

    :param outcome: what the attempt produced.
    :param submission: the request submits a run that can be looked up: then only an answer
        that proves the refusal (a 4xx, 429 included) is unambiguous. A 503 is not proof: a
        gateway may answer it after the service took the request and created the run.
    """
    if outcome.connection_failed:
        return outcome.request_may_have_arrived
    if submission:
        return not 400 <= (outcome.status or 0) < 500
    return outcome.status not in UNPROCESSED_STATUSES


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds advised by a ``Retry-After`` header (delta-seconds or an HTTP date).

    :param value: the header value.
    :param now: the current time as epoch seconds, for the HTTP-date form.
    :return: non-negative seconds, or ``None`` when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        # "-0000" in an HTTP date yields a naive datetime; HTTP dates are always UTC.
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, moment.timestamp() - now)
