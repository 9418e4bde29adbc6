"""The token endpoint's error, rendered in Entra ID's OAuth error format (``AADSTS`` codes)."""

from __future__ import annotations

import time
from typing import Any


class AadError(Exception):
    """An error of the token endpoint, rendered in Entra's OAuth error format.

    :param status: HTTP status (400 or 401).
    :param error: the OAuth ``error`` code, e.g. ``invalid_client``.
    :param code: the ``AADSTS`` number.
    :param description: the readable description (never contains a secret).
    """

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def body(self, trace_id: str) -> dict[str, Any]:
        """The response body.

        :param trace_id: the request id, echoed as trace and correlation id.
        """
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.description} Trace ID: {trace_id} "
                f"Correlation ID: {trace_id} Timestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": trace_id,
        }
