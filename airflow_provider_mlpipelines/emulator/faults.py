"""Fault injection for the service APIs: errors, throttling, dropped connections and latency.

The settings start from the ``--fault-*`` flags (no faults by default) and are changed at run
time through ``POST /_emulator/admin/faults``; the fault middleware consults
:meth:`FaultInjector.pick` for every service API request.

Scope: faults hit the service routes (``/pipelines/...``, ``/history/...`` and the v2 ARM and
scoring routes, ``/subscriptions/...`` and ``/inference/...``). They never hit
the emulator's own routes (``/_emulator/...``), discovery or the studio pages. The token
endpoint is spared by default, so that rates describe the service APIs alone; with
``token_endpoint=true`` it is failed, throttled, delayed and dropped like the APIs, as a real
Entra ID endpoint under load can be (``azure-identity`` retries those answers itself).

A network outage (``outage_seconds``) is wider and of its own kind: for its duration every
request but the emulator's own routes is reset, token endpoint, discovery and studio included,
while the runs go on executing. Unlike a restart of the process, it fails no run in flight.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request

#: ``drop_mode`` values: close before the request is handled (nothing happened) or after it
#: was handled (the change took effect but the client never hears of it).
DROP_BEFORE = "before"
DROP_AFTER = "after"
DROP_MODES = (DROP_BEFORE, DROP_AFTER)
#: ``error_mode`` values: a 5xx answer instead of handling the request, or after handling it
#: (the change took effect, yet the client is told the service was unavailable).
ERROR_MODES = DROP_MODES


@dataclass
class FaultSettings:
    """What to inject.

    :param error_rate: fraction (0-1) of API requests answered 503.
    :param throttle_rate: fraction (0-1) answered 429 with ``Retry-After``.
    :param drop_rate: fraction (0-1) whose connection is closed without any answer.
    :param drop_mode: ``before`` (the request is not handled) or ``after`` (it is handled,
        then the answer is thrown away).
    :param retry_after_seconds: the ``Retry-After`` value of throttled answers.
    :param latency_seconds: delay added before every API request is handled.
    :param queue_seconds: how long each new run stays ``NotStarted`` before its first step
        starts, as while a compute cluster scales up (not bound to a path; not counted).
        Runs already waiting follow later changes: setting it to 0 releases them at once.
    :param fail_next: answer the next N API requests with ``fail_status``.
    :param fail_status: status of the ``fail_next`` answers (429 or 5xx).
    :param path_contains: only requests whose path contains this text are affected.
    :param token_endpoint: whether the token endpoint gets the same faults.
    :param seed: seed of the random draws (for reproducible rates).
    :param error_mode: ``before`` (a 5xx answer instead of handling) or ``after`` (the request
        is handled, then answered with the 5xx); throttling (429) is always ``before``.
    :param list_delay_seconds: a new run appears in the runs list of its pipeline only this
        long after it was created (the service's lists are not guaranteed to be consistent at
        once); getting the run by id works at once.
    :param runs_page_size: answer the runs list in pages of this many runs, as
        ``{"value": [...], "continuationToken": ...}`` (``$continuationToken`` asks for the
        next page); 0, the default, answers one bare array as the contract documents.
    :param outage_seconds: a network outage of this many seconds, starting when the setting
        is applied: every request but the emulator's own (``/_emulator/...``) has its
        connection reset without an answer, service and token endpoint alike, whatever
        ``path_contains`` says, while runs keep executing. Read back, it is the time the outage
        has left (0 when none); setting 0 ends it.
    :param lro_fail_next: the next N long-running operations that v2 requests start (endpoint
        and deployment writes, job cancels; only on paths matching ``path_contains``) end
        ``Failed`` with an error instead of completing; the resource keeps its in-progress
        ``provisioningState``.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    drop_mode: str = DROP_BEFORE
    retry_after_seconds: int = 1
    latency_seconds: float = 0.0
    queue_seconds: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    path_contains: str = ""
    token_endpoint: bool = False
    seed: int | None = None
    error_mode: str = DROP_BEFORE
    list_delay_seconds: float = 0.0
    runs_page_size: int = 0
    outage_seconds: float = 0.0
    lro_fail_next: int = 0


@dataclass(frozen=True)
class Drop:
    """The decision to close a request's connection without an answer.

    :param after_handling: close after the handler ran (else before).
    """

    after_handling: bool


@dataclass(frozen=True)
class ErrorAfterHandling:
    """The decision to handle a request, then answer it with ``error`` all the same.

    :param error: the answer.
    """

    error: EmulatorError


class FaultInjector:
    """Decides, per request, whether to inject a fault, and counts what it injected.

    :param initial: the starting settings (e.g. from the command line); none when ``None``.
    """

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.settings = FaultSettings()
        self._random = random.Random()
        self.counts: Counter[str] = Counter()
        self._outage_until = 0.0
        if initial:
            self.update(initial)

    @property
    def injected(self) -> int:
        """How many faults were injected in all (latency not counted)."""
        return sum(n for kind, n in self.counts.items() if kind != "latency")

    def update(self, changes: Any) -> FaultSettings:
        """Change some settings.

        :param changes: a JSON object of :class:`FaultSettings` fields.
        :raises EmulatorError: 400 for unknown fields or invalid values.
        """
        if not isinstance(changes, dict):
            raise bad_request("The body must be a JSON object of fault settings", "InvalidBody")
        names = [f.name for f in fields(FaultSettings)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise bad_request(
                f"Unknown fault setting(s) {', '.join(unknown)}; settings: {', '.join(names)}",
                "InvalidBody",
            )
        merged = {**asdict(self.settings), **changes}
        settings = _validated(merged)
        self.settings = settings
        self._random = random.Random(settings.seed)
        if "outage_seconds" in changes:
            self._outage_until = time.monotonic() + settings.outage_seconds
        return self.current()

    def current(self) -> FaultSettings:
        """The settings as they are now (``outage_seconds``: what the outage has left)."""
        return replace(self.settings, outage_seconds=round(self.outage_left(), 3))

    def outage_left(self) -> float:
        """Seconds until the network outage ends; 0 when there is none."""
        return max(0.0, self._outage_until - time.monotonic())

    def in_outage(self) -> bool:
        """Whether a network outage is on; each call during one counts a reset connection."""
        if self.outage_left() <= 0:
            return False
        self.counts["outage_reset"] += 1
        return True

    def applies(self, path: str, *, token_endpoint: bool = False) -> bool:
        """Whether faults may hit a request to ``path``.

        :param path: the request path.
        :param token_endpoint: the request is for the token endpoint.
        """
        if token_endpoint and not self.settings.token_endpoint:
            return False
        return not self.settings.path_contains or self.settings.path_contains in path

    def latency(self, path: str, *, token_endpoint: bool = False) -> float:
        """Seconds to delay a request to ``path``.

        :param path: the request path.
        :param token_endpoint: the request is for the token endpoint.
        """
        if not self.applies(path, token_endpoint=token_endpoint):
            return 0.0
        delay = self.settings.latency_seconds
        if delay > 0:
            self.counts["latency"] += 1
        return delay

    def take_lro_failure(self, path: str) -> bool:
        """Whether the long-running operation a request to ``path`` started is to fail.

        :param path: the request path.
        """
        if self.settings.lro_fail_next <= 0 or not self.applies(path):
            return False
        self.settings.lro_fail_next -= 1
        self.counts["lro_failed"] += 1
        return True

    def pick(
        self, path: str, *, token_endpoint: bool = False
    ) -> EmulatorError | ErrorAfterHandling | Drop | None:
        """The fault to answer a request to ``path`` with, if any.

        :param path: the request path.
        :param token_endpoint: the request is for the token endpoint.
        """
        settings = self.settings
        if not self.applies(path, token_endpoint=token_endpoint):
            return None
        if settings.fail_next > 0:
            settings.fail_next -= 1
            return self._error(settings.fail_status)
        draw = self._random.random()
        if draw < settings.throttle_rate:
            return self._fault(429)
        draw -= settings.throttle_rate
        if draw < settings.error_rate:
            return self._error(503)
        draw -= settings.error_rate
        if draw < settings.drop_rate:
            self.counts[f"drop_{settings.drop_mode}"] += 1
            return Drop(after_handling=settings.drop_mode == DROP_AFTER)
        return None

    def _error(self, status: int) -> EmulatorError | ErrorAfterHandling:
        # A throttled request is refused before any work, whatever the error mode.
        if status == 429 or self.settings.error_mode != DROP_AFTER:
            return self._fault(status)
        self.counts[f"{status}_after"] += 1
        return ErrorAfterHandling(
            EmulatorError(
                status, "ServiceUnavailable", f"Injected fault: the service answered {status}"
            )
        )

    def _fault(self, status: int) -> EmulatorError:
        self.counts[str(status)] += 1
        if status == 429:
            return EmulatorError(
                429,
                "TooManyRequests",
                "Injected fault: the request was throttled; retry after the Retry-After delay",
                headers={"Retry-After": str(self.settings.retry_after_seconds)},
            )
        return EmulatorError(
            status, "ServiceUnavailable", f"Injected fault: the service answered {status}"
        )


def _validated(values: dict[str, Any]) -> FaultSettings:
    try:
        settings = FaultSettings(
            error_rate=float(values["error_rate"]),
            throttle_rate=float(values["throttle_rate"]),
            drop_rate=float(values["drop_rate"]),
            drop_mode=str(values["drop_mode"]),
            retry_after_seconds=int(values["retry_after_seconds"]),
            latency_seconds=float(values["latency_seconds"]),
            queue_seconds=float(values["queue_seconds"]),
            fail_next=int(values["fail_next"]),
            fail_status=int(values["fail_status"]),
            path_contains=str(values["path_contains"] or ""),
            token_endpoint=_as_bool(values["token_endpoint"]),
            seed=None if values["seed"] is None else int(values["seed"]),
            error_mode=str(values["error_mode"]),
            list_delay_seconds=float(values["list_delay_seconds"]),
            runs_page_size=int(values["runs_page_size"]),
            outage_seconds=float(values["outage_seconds"]),
            lro_fail_next=int(values["lro_fail_next"]),
        )
    except (TypeError, ValueError) as exc:
        raise bad_request(f"Invalid fault setting: {exc}", "InvalidBody") from None
    rates = (settings.error_rate, settings.throttle_rate, settings.drop_rate)
    if not all(0 <= rate <= 1 for rate in rates):
        raise bad_request(
            "error_rate, throttle_rate and drop_rate must be between 0 and 1", "InvalidBody"
        )
    if sum(rates) > 1:
        raise bad_request("error_rate + throttle_rate + drop_rate must not exceed 1", "InvalidBody")
    if settings.drop_mode not in DROP_MODES:
        raise bad_request(
            f"drop_mode must be one of {', '.join(DROP_MODES)}, got '{settings.drop_mode}'",
            "InvalidBody",
        )
    if settings.error_mode not in ERROR_MODES:
        raise bad_request(
            f"error_mode must be one of {', '.join(ERROR_MODES)}, got '{settings.error_mode}'",
            "InvalidBody",
        )
    if settings.outage_seconds < 0:
        raise bad_request("outage_seconds must be >= 0", "InvalidBody")
    if settings.list_delay_seconds < 0 or settings.runs_page_size < 0:
        raise bad_request("list_delay_seconds and runs_page_size must be >= 0", "InvalidBody")
    if settings.fail_status != 429 and not 500 <= settings.fail_status <= 599:
        raise bad_request("fail_status must be 429 or a 5xx status", "InvalidBody")
    non_negative = (
        settings.latency_seconds,
        settings.queue_seconds,
        settings.fail_next,
        settings.retry_after_seconds,
        settings.lro_fail_next,
    )
    if min(non_negative) < 0:
        raise bad_request(
            "latency_seconds, queue_seconds, fail_next, retry_after_seconds and lro_fail_next "
            "must be >= 0",
            "InvalidBody",
        )
    return settings


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"token_endpoint must be true or false, got {value!r}")
