"""Fault injection for the service APIs: errors, throttling, dropped connections and latency.

The settings start from the ``--fault-*`` flags (no faults by default) and are changed at run
time through ``POST /_emulator/admin/faults``; the fault middleware consults
:meth:`FaultInjector.pick` for every service API request.

Scope: faults hit the service routes (``/pipelines/...`` and ``/history/...``). They never hit
the emulator's own routes (``/_emulator/...``), discovery or the studio pages. The token
endpoint is spared by default, so that rates describe the service APIs alone; with
``token_endpoint=true`` it is failed, throttled, delayed and dropped like the APIs, as a real
Entra ID endpoint under load can be (``azure-identity`` retries those answers itself).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request

#: ``drop_mode`` values: close before the request is handled (nothing happened) or after it
#: was handled (the change took effect but the client never hears of it).
DROP_BEFORE = "before"
DROP_AFTER = "after"
DROP_MODES = (DROP_BEFORE, DROP_AFTER)


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
    :param fail_next: answer the next N API requests with ``fail_status``.
    :param fail_status: status of the ``fail_next`` answers (429 or 5xx).
    :param path_contains: only requests whose path contains this text are affected.
    :param token_endpoint: whether the token endpoint gets the same faults.
    :param seed: seed of the random draws (for reproducible rates).
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


@dataclass(frozen=True)
class Drop:
    """The decision to close a request's connection without an answer.

    :param after_handling: close after the handler ran (else before).
    """

    after_handling: bool


class FaultInjector:
    """Decides, per request, whether to inject a fault, and counts what it injected.

    :param initial: the starting settings (e.g. from the command line); none when ``None``.
    """

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.settings = FaultSettings()
        self._random = random.Random()
        self.counts: Counter[str] = Counter()
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
        return settings

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

    def pick(self, path: str, *, token_endpoint: bool = False) -> EmulatorError | Drop | None:
        """The fault to answer a request to ``path`` with, if any.

        :param path: the request path.
        :param token_endpoint: the request is for the token endpoint.
        """
        settings = self.settings
        if not self.applies(path, token_endpoint=token_endpoint):
            return None
        if settings.fail_next > 0:
            settings.fail_next -= 1
            return self._fault(settings.fail_status)
        draw = self._random.random()
        if draw < settings.throttle_rate:
            return self._fault(429)
        draw -= settings.throttle_rate
        if draw < settings.error_rate:
            return self._fault(503)
        draw -= settings.error_rate
        if draw < settings.drop_rate:
            self.counts[f"drop_{settings.drop_mode}"] += 1
            return Drop(after_handling=settings.drop_mode == DROP_AFTER)
        return None

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
    if settings.fail_status != 429 and not 500 <= settings.fail_status <= 599:
        raise bad_request("fail_status must be 429 or a 5xx status", "InvalidBody")
    non_negative = (
        settings.latency_seconds,
        settings.queue_seconds,
        settings.fail_next,
        settings.retry_after_seconds,
    )
    if min(non_negative) < 0:
        raise bad_request(
            "latency_seconds, queue_seconds, fail_next and retry_after_seconds must be >= 0",
            "InvalidBody",
        )
    return settings


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"token_endpoint must be true or false, got {value!r}")
