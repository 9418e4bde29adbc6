"""Fault injection for the service APIs: transient errors, throttling and latency.

The settings start off (no faults) and are changed at run time through
``POST /_emulator/admin/faults``; the fault middleware consults :meth:`FaultInjector.pick`
for every authenticated API request. Faults hit the service routes only, never the token
endpoint or the emulator's own routes.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request


@dataclass
class FaultSettings:
    """What to inject.

    :param error_rate: fraction (0-1) of API requests answered 503.
    :param throttle_rate: fraction (0-1) answered 429 with ``Retry-After``.
    :param retry_after_seconds: the ``Retry-After`` value of throttled answers.
    :param latency_seconds: delay added before every API request is handled.
    :param fail_next: answer the next N API requests with ``fail_status``.
    :param fail_status: status of the ``fail_next`` answers (429 or 5xx).
    :param path_contains: only requests whose path contains this text are affected.
    :param seed: seed of the random draws (for reproducible rates).
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_seconds: int = 1
    latency_seconds: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    path_contains: str = ""
    seed: int | None = None


class FaultInjector:
    """Decides, per request, whether to inject a fault."""

    def __init__(self) -> None:
        self.settings = FaultSettings()
        self._random = random.Random()
        self.injected = 0

    def update(self, changes: Any) -> FaultSettings:
        """Change some settings.

        :param changes: a JSON object of :class:`FaultSettings` fields.
        :raises EmulatorError: 400 for unknown fields or invalid values.
        """
        if not isinstance(changes, dict):
            raise bad_request("The body must be a JSON object of fault settings", "InvalidBody")
        types = {f.name: f.type for f in fields(FaultSettings)}
        unknown = sorted(set(changes) - set(types))
        if unknown:
            raise bad_request(
                f"Unknown fault setting(s) {', '.join(unknown)}; settings: {', '.join(types)}",
                "InvalidBody",
            )
        merged = {**asdict(self.settings), **changes}
        settings = _validated(merged)
        self.settings = settings
        self._random = random.Random(settings.seed)
        return settings

    def latency(self, path: str) -> float:
        """Seconds to delay a request to ``path``.

        :param path: the request path.
        """
        return self.settings.latency_seconds if self._applies(path) else 0.0

    def pick(self, path: str) -> EmulatorError | None:
        """The fault to answer a request to ``path`` with, if any.

        :param path: the request path.
        """
        settings = self.settings
        if not self._applies(path):
            return None
        if settings.fail_next > 0:
            settings.fail_next -= 1
            return self._fault(settings.fail_status)
        draw = self._random.random()
        if draw < settings.throttle_rate:
            return self._fault(429)
        if draw < settings.throttle_rate + settings.error_rate:
            return self._fault(503)
        return None

    def _applies(self, path: str) -> bool:
        return not self.settings.path_contains or self.settings.path_contains in path

    def _fault(self, status: int) -> EmulatorError:
        self.injected += 1
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
            retry_after_seconds=int(values["retry_after_seconds"]),
            latency_seconds=float(values["latency_seconds"]),
            fail_next=int(values["fail_next"]),
            fail_status=int(values["fail_status"]),
            path_contains=str(values["path_contains"] or ""),
            seed=None if values["seed"] is None else int(values["seed"]),
        )
    except (TypeError, ValueError) as exc:
        raise bad_request(f"Invalid fault setting: {exc}", "InvalidBody") from None
    if not (0 <= settings.error_rate <= 1 and 0 <= settings.throttle_rate <= 1):
        raise bad_request("error_rate and throttle_rate must be between 0 and 1", "InvalidBody")
    if settings.error_rate + settings.throttle_rate > 1:
        raise bad_request("error_rate + throttle_rate must not exceed 1", "InvalidBody")
    if settings.fail_status != 429 and not 500 <= settings.fail_status <= 599:
        raise bad_request("fail_status must be 429 or a 5xx status", "InvalidBody")
    if settings.latency_seconds < 0 or settings.fail_next < 0 or settings.retry_after_seconds < 0:
        raise bad_request(
            "latency_seconds, fail_next and retry_after_seconds must be >= 0", "InvalidBody"
        )
    return settings
