"""Slowing down before Azure Resource Manager's request budget runs out.

ARM budgets requests per subscription (reads, writes and deletes apart) and reports what is
left on every answer in ``x-ms-ratelimit-remaining-subscription-reads`` (``-writes``,
``-deletes``). The budget is shared with everything else on the subscription (Terraform, the
portal, monitoring), so draining it makes every caller see 429s. Both transports note the
header on each answer; once what is left is at or below the connection's floor
(``ratelimit_floor``), further requests of that kind are spaced to at most
``ratelimit_pace`` per second, process-wide, until an answer reports more left again. The pace
is below the refill of both of ARM's models (the legacy 12,000 reads an hour, 3.3 per second;
the token bucket's 25 reads per second), so a paced client stops draining under either. A 429
is still waited out by the retry policy (``Retry-After``).

Answers without the headers (the pipelines API, run history, the token endpoint) leave the
budget as it was: only ARM counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: The header that reports what is left, by kind of request.
REMAINING_HEADERS = {
    "read": "x-ms-ratelimit-remaining-subscription-reads",
    "write": "x-ms-ratelimit-remaining-subscription-writes",
    "delete": "x-ms-ratelimit-remaining-subscription-deletes",
}

#: Seconds after which a low reading is no longer trusted: the budget refills meanwhile, and the
#: next answer reports it anew.
STALE_SECONDS = 60.0


def kind_of(method: str) -> str:
    """ARM's kind of a request: ``read`` (GET, HEAD), ``delete`` or ``write`` (the rest).

    :param method: the HTTP method.
    """
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "read"
    return "delete" if method == "DELETE" else "write"


@dataclass
class _Gauge:
    remaining: int | None = None
    seen_at: float = 0.0
    next_slot: float = 0.0


@dataclass
class RequestBudget:
    """What is left of one subscription's budgets, as the latest answers reported it.

    :param clock: the monotonic clock (tests inject their own).
    """

    clock: Callable[[], float] = time.monotonic
    _gauges: dict[str, _Gauge] = field(default_factory=dict)
    # Threads of a worker's hooks and the triggerer's loop share budgets; nothing blocks under it.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, method: str, headers: Mapping[str, str]) -> None:
        """Record what an answer says is left of its kind's budget (nothing without the header).

        :param method: the request's HTTP method.
        :param headers: the answer's headers, names in lower case.
        """
        kind = kind_of(method)
        value = headers.get(REMAINING_HEADERS[kind])
        if value is None:
            return
        try:
            remaining = int(float(value))
        except ValueError:
            return
        with self._lock:
            gauge = self._gauges.setdefault(kind, _Gauge())
            gauge.remaining = remaining
            gauge.seen_at = self.clock()

    def delay(self, method: str, floor: int, pace: float) -> float:
        """Seconds to wait before sending a request of ``method``'s kind (0 while above floor).

        Each request sent counts against the last reading until the next answer reports anew,
        so that requests already in flight (a triggerer has dozens) are not all sent on one
        reading above the floor. Each caller that must wait takes the next free slot, so
        concurrent callers are spaced ``1 / pace`` apart instead of all going at once.

        :param method: the request's HTTP method.
        :param floor: what is left at which pacing starts.
        :param pace: requests per second while at or below the floor.
        """
        now = self.clock()
        with self._lock:
            gauge = self._gauges.get(kind_of(method))
            if (
                gauge is None
                or gauge.remaining is None
                or now - gauge.seen_at > STALE_SECONDS
                or pace <= 0
            ):
                return 0.0
            if gauge.remaining > floor:
                gauge.remaining -= 1
                return 0.0
            slot = max(now, gauge.next_slot)
            gauge.next_slot = slot + 1.0 / pace
            return slot - now

    def remaining(self, kind: str) -> int | None:
        """What the latest answer of ``kind`` reported left (``None``: no answer said).

        :param kind: ``read``, ``write`` or ``delete``.
        """
        with self._lock:
            gauge = self._gauges.get(kind)
            return None if gauge is None else gauge.remaining


class BudgetRegistry:
    """One :class:`RequestBudget` per host and subscription, shared by the whole process."""

    def __init__(self) -> None:
        self._budgets: dict[tuple[str, str], RequestBudget] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str, subscription_id: str) -> RequestBudget:
        """The budget that a request to ``url`` for ``subscription_id`` spends.

        :param url: the request's URL (its host picks the budget: ARM's, or another service's).
        :param subscription_id: the connection's subscription.
        """
        key = ((urlsplit(url).netloc or "").lower(), subscription_id.lower())
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = RequestBudget()
            return budget

    def clear(self) -> None:
        """Forget every reading (tests)."""
        with self._lock:
            self._budgets.clear()


#: The budgets every transport of this process reads and updates.
BUDGETS = BudgetRegistry()
