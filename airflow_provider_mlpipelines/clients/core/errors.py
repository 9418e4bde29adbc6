"""Turning failed responses and failed connections into the provider's exceptions.

Shared by both transports: they hand over the status, body text and headers, and get an
exception whose message names the operation and the resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mlpipelines.api.models import ServiceErrorInfo
from airflow_provider_mlpipelines.exceptions import (
    AzureMLServerError,
    AzureMLServiceError,
    service_error_class,
)

#: Response headers that carry a request's correlation id, most specific first. ARM answers
#: carry ``x-ms-correlation-request-id`` (what Azure support asks for) and no
#: ``x-ms-request-id``; the scoring (invoke) host answers ``X-Request-ID``; run history
#: ``mise-correlation-id`` (tests/fixtures/recordings/NOTES.md, section 7).
CORRELATION_HEADERS = (
    "x-ms-correlation-request-id",
    "x-ms-request-id",
    "x-request-id",
    "x-ms-client-request-id",
    "mise-correlation-id",
)
#: Keys of an error body's ``Correlation`` map that identify the request, most specific first.
_CORRELATION_KEYS = ("RequestId", "requestId", "request", "operation", "Operation")
_MAX_TEXT_BODY = 300


@dataclass(frozen=True)
class Operation:
    """What one call does, for logs and error messages.

    :param name: the operation, e.g. ``"get pipeline"`` (a route's name).
    :param resource: the object, e.g. ``"'abc'"``; ``None`` for workspace-wide operations.
    """

    name: str
    resource: str | None = None

    def __str__(self) -> str:
        return f"{self.name} {self.resource}" if self.resource else self.name


def parse_json(text: str) -> Any:
    """The JSON value of ``text``, or ``None`` when it is empty or not JSON."""
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def response_error(
    operation: Operation, status: int, text: str, headers: Mapping[str, str]
) -> AzureMLServiceError:
    """The exception for a response with an error status.

    :param operation: what was attempted.
    :param status: the HTTP status.
    :param text: the response body.
    :param headers: the response headers (case-insensitive mapping, or lower-case keys).
    """
    info = ServiceErrorInfo.from_json(parse_json(text))
    message = info.message or _plain_text(text)
    details = [str(d.get("Message") or d.get("message")) for d in info.details if _has_message(d)]
    if details:
        message = "; ".join([m for m in (message, *details) if m])
    if info.inner_codes and message:
        # ARM says "UserError" for a 404 too; the inner chain names what was wrong.
        message = f"{message} [{' > '.join(info.inner_codes)}]"
    return service_error_class(status)(
        operation.name,
        operation.resource,
        status_code=status,
        code=info.code,
        message=message or None,
        correlation_id=correlation_id(info, headers),
    )


def connection_error(operation: Operation, url: str, error: BaseException) -> AzureMLServerError:
    """The exception for a request that got no response, after the retries ran out."""
    return AzureMLServerError(
        operation.name,
        operation.resource,
        code=type(error).__name__,
        message=f"no response from {_origin(url)}: {describe_exception(error)}",
    )


def describe_exception(error: BaseException) -> str:
    """A short, single-line account of a transport exception."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= _MAX_TEXT_BODY else text[:_MAX_TEXT_BODY] + "..."


def correlation_id(info: ServiceErrorInfo, headers: Mapping[str, str]) -> str | None:
    """Every id that identifies the failed request: the response header's and the error body's.

    ARM gives both, and they differ: ``x-ms-correlation-request-id`` (a GUID) in the headers and
    an ``operation``/``request`` pair in the body's ``Correlation`` item; the pipelines service
    gives a ``Correlation`` map in the body. Each one found is named, the most useful first.
    """
    lowered = {str(k).lower(): v for k, v in headers.items()}
    header = next((str(lowered[h]) for h in CORRELATION_HEADERS if lowered.get(h)), None)
    body = [info.correlation[k] for k in _CORRELATION_KEYS if info.correlation.get(k)]
    if not body and info.correlation:
        body = [next(iter(info.correlation.values()))]
    if header is None:
        return ", ".join(dict.fromkeys(body)) or None
    named = [
        f"{k} {info.correlation[k]}" for k in ("operation", "request") if k in info.correlation
    ]
    extra = named or [v for v in body if v != header]
    return f"{header} ({', '.join(extra)})" if extra else header


def _has_message(detail: Mapping[str, Any]) -> bool:
    return bool(detail.get("Message") or detail.get("message"))


def _plain_text(text: str) -> str:
    if parse_json(text) is not None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_TEXT_BODY else flat[:_MAX_TEXT_BODY] + "..."


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
