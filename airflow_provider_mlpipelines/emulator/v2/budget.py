"""ARM's request budget: a token bucket per subscription and kind of request (docs/emulator.md,
"ARM request budget").

Azure Resource Manager has budgeted subscription requests with token buckets since 2024: reads
(GET, HEAD) 250 tokens refilled at 25 a second, writes (PUT, POST, PATCH) and deletes (DELETE)
200 refilled at 10 a second ("Understand how Azure Resource Manager throttles requests",
https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling).
The emulator's budget is off unless ``--arm-budget`` (or the admin route) turns it on. This
module is the model and its command-line flags, with no HTTP in it; the ``arm_budget``
middleware applies it.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["reads", "writes", "deletes"]
KINDS: tuple[Kind, ...] = ("reads", "writes", "deletes")

#: The header of each kind's remaining requests, on every answer the budget was asked about.
REMAINING_HEADERS: dict[Kind, str] = {
    kind: f"x-ms-ratelimit-remaining-subscription-{kind}" for kind in KINDS
}
#: ARM's error code of a request its budget refused (429).
THROTTLED_CODE = "SubscriptionRequestsThrottled"

_KIND_OF_METHOD: dict[str, Kind] = {
    "GET": "reads",
    "HEAD": "reads",
    "PUT": "writes",
    "POST": "writes",
    "PATCH": "writes",
    "DELETE": "deletes",
}


def kind_of(method: str) -> Kind:
    """The budget an HTTP method spends; a method ARM does not route (OPTIONS) counts as a read.

    :param method: the request's method.
    """
    return _KIND_OF_METHOD.get(method.upper(), "reads")


def subscription_of(path: str) -> str:
    """The subscription id of an ARM path (``/subscriptions/{id}/...``), lower-cased as ARM
    compares ids.

    :param path: the request's path.
    """
    parts = path.split("/")
    return parts[2].lower() if len(parts) > 2 else ""


def throttled_message(kind: Kind, subscription: str, retry_after: int) -> str:
    """ARM's message for a refused request, as users report it since the token buckets
    (velero-io/velero#9171), without the ``actor`` (the principal's object id).

    :param kind: the budget that was empty.
    :param subscription: the subscription id of the request.
    :param retry_after: the seconds in ``Retry-After``.
    """
    return (
        f"Number of '{kind[:-1]}' requests for subscription '{subscription}' exceeded. Please try "
        f"again after '{retry_after}' seconds after additional tokens are available. Refer to "
        "https://aka.ms/arm-throttling for additional information."
    )


@dataclass(frozen=True)
class BucketSettings:
    """The size and refill rate of one kind's bucket.

    :param bucket: the most tokens the bucket holds (at least 1); it starts full.
    :param refill: the tokens added per second (more than 0; fractions add up).
    :raises ValueError: for a size or rate out of range.
    """

    bucket: int
    refill: float

    def __post_init__(self) -> None:
        if isinstance(self.bucket, bool) or not isinstance(self.bucket, int) or self.bucket < 1:
            raise ValueError(f"bucket must be a whole number of at least 1, not {self.bucket!r}")
        refill = self.refill
        if isinstance(refill, bool) or not isinstance(refill, (int, float)) or not refill > 0:
            raise ValueError(
                f"refill must be a number of tokens per second above 0, not {refill!r}"
            )
        if math.isinf(refill):
            raise ValueError("refill must be finite")


#: ARM's figures since 2024, per subscription and kind.
DEFAULT_BUCKETS: dict[Kind, BucketSettings] = {
    "reads": BucketSettings(250, 25.0),
    "writes": BucketSettings(200, 10.0),
    "deletes": BucketSettings(200, 10.0),
}


@dataclass(frozen=True)
class ArmBudgetSettings:
    """Whether the budget is on, and each kind's bucket.

    :param enabled: whether ARM requests spend tokens (and may be refused); off by default.
    :param reads: the bucket of GET and HEAD requests.
    :param writes: the bucket of PUT, POST and PATCH requests.
    :param deletes: the bucket of DELETE requests.
    """

    enabled: bool = False
    reads: BucketSettings = field(default_factory=lambda: DEFAULT_BUCKETS["reads"])
    writes: BucketSettings = field(default_factory=lambda: DEFAULT_BUCKETS["writes"])
    deletes: BucketSettings = field(default_factory=lambda: DEFAULT_BUCKETS["deletes"])

    def of(self, kind: Kind) -> BucketSettings:
        """The bucket settings of ``kind``.

        :param kind: reads, writes or deletes.
        """
        return {"reads": self.reads, "writes": self.writes, "deletes": self.deletes}[kind]

    def to_json(self) -> dict[str, Any]:
        """The settings as the admin route shows and takes them."""
        body: dict[str, Any] = {"enabled": self.enabled}
        for kind in KINDS:
            bucket = self.of(kind)
            body[kind] = {"bucket": bucket.bucket, "refill": bucket.refill}
        return body

    @classmethod
    def from_json(cls, body: object) -> ArmBudgetSettings:
        """Settings from the admin route's body; what it leaves out takes ARM's figure (off for
        ``enabled``), so that one PUT says everything the budget does.

        :param body: ``{"enabled": bool, "reads": {"bucket": n, "refill": r}, ...}``.
        :raises ValueError: naming the field that is wrong.
        """
        if not isinstance(body, Mapping):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"enabled", *KINDS}
        if unknown:
            raise ValueError(
                f"unknown fields {sorted(unknown)}; known: enabled, {', '.join(KINDS)}"
            )
        enabled = body.get("enabled", False)
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be true or false, not {enabled!r}")
        buckets = {kind: _bucket_from_json(kind, body.get(kind)) for kind in KINDS}
        return cls(enabled, buckets["reads"], buckets["writes"], buckets["deletes"])


#: The flags' word for each kind: ``--arm-read-bucket``, ``--arm-write-refill``...
_FLAG_WORDS: dict[Kind, str] = {"reads": "read", "writes": "write", "deletes": "delete"}


def add_arm_budget_flags(parser: argparse.ArgumentParser) -> None:
    """Add the "ARM budget" argument group to the emulator's command line.

    :param parser: the emulator's parser.
    """
    group = parser.add_argument_group(
        "ARM budget",
        "ARM's request budget per subscription: a token bucket per kind of request (reads: "
        "GET; writes: PUT, POST, PATCH; deletes: DELETE), ARM's figures by default. Off unless "
        "--arm-budget; change it at run time with PUT /_emulator/admin/arm-budget.",
    )
    group.add_argument(
        "--arm-budget",
        action="store_true",
        help="Each authenticated ARM request takes a token of its kind from its subscription's "
        "bucket, answers carry x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}, and "
        "an empty bucket answers 429 SubscriptionRequestsThrottled with Retry-After. Off by "
        "default.",
    )
    for kind, word in _FLAG_WORDS.items():
        default = DEFAULT_BUCKETS[kind]
        group.add_argument(
            f"--arm-{word}-bucket",
            type=int,
            default=default.bucket,
            metavar="TOKENS",
            help=f"Size of the {kind} bucket (default {default.bucket}).",
        )
        group.add_argument(
            f"--arm-{word}-refill",
            type=float,
            default=default.refill,
            metavar="PER_SECOND",
            help=f"Tokens added to the {kind} bucket per second (default {default.refill:g}).",
        )


def arm_budget_from_args(args: argparse.Namespace) -> ArmBudgetSettings:
    """The settings the flags of :func:`add_arm_budget_flags` name.

    :param args: the parsed command line.
    :raises ValueError: for a size or rate out of range.
    """
    buckets = {
        kind: BucketSettings(
            getattr(args, f"arm_{word}_bucket"), getattr(args, f"arm_{word}_refill")
        )
        for kind, word in _FLAG_WORDS.items()
    }
    return ArmBudgetSettings(
        args.arm_budget, buckets["reads"], buckets["writes"], buckets["deletes"]
    )


def arm_budget_args(settings: ArmBudgetSettings) -> list[str]:
    """The command-line arguments that start an emulator with ``settings``.

    :param settings: the budget's settings.
    """
    argv = ["--arm-budget"] if settings.enabled else []
    for kind, word in _FLAG_WORDS.items():
        bucket = settings.of(kind)
        argv += [f"--arm-{word}-bucket", str(bucket.bucket)]
        argv += [f"--arm-{word}-refill", repr(float(bucket.refill))]
    return argv


def _bucket_from_json(kind: Kind, value: object) -> BucketSettings:
    default = DEFAULT_BUCKETS[kind]
    if value is None:
        return default
    if not isinstance(value, Mapping) or set(value) - {"bucket", "refill"}:
        raise ValueError(f'{kind} must be {{"bucket": <tokens>, "refill": <tokens per second>}}')
    try:
        return BucketSettings(
            value.get("bucket", default.bucket), value.get("refill", default.refill)
        )
    except ValueError as exc:
        raise ValueError(f"{kind}: {exc}") from None


@dataclass(frozen=True)
class Take:
    """What the budget said to one request.

    :param allowed: whether a token was taken (else the request is refused).
    :param remaining: whole tokens left after it, for the remaining-requests header.
    :param retry_after: when refused, seconds until a token is back (at least 1); else 0.
    """

    allowed: bool
    remaining: int
    retry_after: int = 0


class TokenBucket:
    """A bucket that starts full and refills continuously, by the clock.

    :param settings: its size and refill rate.
    :param clock: seconds from a monotonic clock; tests pass their own.
    """

    def __init__(
        self, settings: BucketSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = float(settings.bucket)
        self._rate = float(settings.refill)
        self._clock = clock
        self._tokens = self._capacity
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        # A clock that went back (an injected one) must not drain the bucket.
        self._tokens = min(self._capacity, self._tokens + max(0.0, now - self._last) * self._rate)
        self._last = now

    def take(self) -> Take:
        """Take one token if there is a whole one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Take(True, math.floor(self._tokens))
        wait = math.ceil((1.0 - self._tokens) / self._rate)
        return Take(False, 0, max(1, wait))

    def remaining(self) -> int:
        """Whole tokens in the bucket now."""
        self._refill()
        return math.floor(self._tokens)


class ArmBudget:
    """The buckets of every subscription seen, made full on first use.

    Every method holds one lock: aiohttp calls from its single loop, but tests and the admin
    route may call from other threads, and a take must read and spend in one step.

    :param settings: whether it is on, and the buckets' sizes and rates.
    :param clock: seconds from a monotonic clock; tests pass their own.
    """

    def __init__(
        self,
        settings: ArmBudgetSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings or ArmBudgetSettings()
        self._clock = clock
        self._buckets: dict[tuple[str, Kind], TokenBucket] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> ArmBudgetSettings:
        """The settings in force."""
        return self._settings

    @property
    def enabled(self) -> bool:
        """Whether ARM requests spend tokens."""
        return self._settings.enabled

    def configure(self, settings: ArmBudgetSettings) -> None:
        """Replace the settings; every bucket starts full again.

        :param settings: the new settings.
        """
        with self._lock:
            self._settings = settings
            self._buckets.clear()

    def take(self, subscription: str, kind: Kind) -> Take:
        """Spend one token of ``kind`` from ``subscription``'s budget, if there is one.

        :param subscription: the subscription id (lower case).
        :param kind: reads, writes or deletes.
        """
        with self._lock:
            bucket = self._buckets.get((subscription, kind))
            if bucket is None:
                bucket = TokenBucket(self._settings.of(kind), self._clock)
                self._buckets[(subscription, kind)] = bucket
            return bucket.take()

    def remaining(self) -> dict[str, dict[str, int]]:
        """Subscription -> kind -> whole tokens left, for the buckets in use."""
        with self._lock:
            found: dict[str, dict[str, int]] = {}
            for (subscription, kind), bucket in sorted(self._buckets.items()):
                found.setdefault(subscription, {})[kind] = bucket.remaining()
            return found
