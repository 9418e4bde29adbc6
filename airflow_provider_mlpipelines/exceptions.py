"""Every exception the provider raises, in one hierarchy.

Messages name the operation and the object it was applied to, and never contain secrets: the
client secret and bearer tokens are never passed into an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.exceptions import AirflowException


class AzureMLPipelinesError(AirflowException):
    """Base class of every error of this provider."""


# --------------------------------------------------------------------------------------------
# Errors the service answered with
# --------------------------------------------------------------------------------------------
class AzureMLServiceError(AzureMLPipelinesError):
    """The service answered an operation with an error status.

    :param operation: what was attempted, e.g. ``"get pipeline"``.
    :param resource: the object it was applied to, e.g. ``"pipeline 'abc'"``.
    :param status_code: the HTTP status.
    :param code: the service's ``Error.Code``.
    :param message: the service's ``Error.Message``.
    :param correlation_id: the request's correlation id, when the service gave one.
    """

    def __init__(
        self,
        operation: str,
        resource: str | None = None,
        *,
        status_code: int | None = None,
        code: str | None = None,
        message: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.resource = resource
        self.status_code = status_code
        self.code = code
        self.service_message = message
        self.correlation_id = correlation_id
        super().__init__(self._render())

    def _render(self) -> str:
        target = f"{self.operation} {self.resource}" if self.resource else self.operation
        parts = [f"{target} failed"]
        status = " ".join(str(p) for p in (self.status_code, self.code) if p is not None)
        if status:
            parts.append(f": {status}")
        if self.service_message:
            parts.append(f": {self.service_message}")
        if self.correlation_id:
            parts.append(f" (correlation id {self.correlation_id})")
        return "".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "status_code": self.status_code,
            "code": self.code,
            "message": self.service_message,
            "correlation_id": self.correlation_id,
        }
        return (_rebuild_service_error, (type(self), self.operation, self.resource, kwargs))


def _rebuild_service_error(
    cls: type[AzureMLServiceError], operation: str, resource: str | None, kwargs: dict[str, Any]
) -> AzureMLServiceError:
    return cls(operation, resource, **kwargs)


class AzureMLBadRequestError(AzureMLServiceError):
    """400: the service rejected the request's content."""


class AzureMLAuthenticationError(AzureMLServiceError):
    """401 or 403, or no token could be obtained."""


class AzureMLNotFoundError(AzureMLServiceError):
    """404: the named object does not exist."""


class AzureMLConflictError(AzureMLServiceError):
    """409: the object already exists or changed concurrently."""


class AzureMLPreconditionFailedError(AzureMLConflictError):
    """412: the object changed since it was read (its ``Etag`` is stale); read it again."""


class AzureMLThrottledError(AzureMLServiceError):
    """429: still throttled after the configured retries."""


class AzureMLServerError(AzureMLServiceError):
    """5xx, or the connection failed, after the configured retries."""


def service_error_class(status_code: int | None) -> type[AzureMLServiceError]:
    """The exception class for an HTTP status."""
    if status_code is None:
        return AzureMLServerError
    return {
        400: AzureMLBadRequestError,
        401: AzureMLAuthenticationError,
        403: AzureMLAuthenticationError,
        404: AzureMLNotFoundError,
        409: AzureMLConflictError,
        412: AzureMLPreconditionFailedError,
        429: AzureMLThrottledError,
    }.get(status_code, AzureMLServerError if status_code >= 500 else AzureMLServiceError)


class AzureMLAmbiguousSubmissionError(AzureMLServerError):
    """A submission failed after it was sent, and whether a run was created cannot be told."""


class AzureMLUndecidableSubmissionError(AzureMLAmbiguousSubmissionError):
    """As :class:`AzureMLAmbiguousSubmissionError`, and a retry could not tell either (a v2
    invoke whose job the service named itself): the submit operator fails its task without
    retrying, so that nothing is submitted twice; the message names the jobs to check."""


# --------------------------------------------------------------------------------------------
# Errors found before anything was sent
# --------------------------------------------------------------------------------------------
class AzureMLInvalidInputError(AzureMLPipelinesError, ValueError):
    """An argument is invalid; raised before anything is submitted."""


class AzureMLConnectionConfigError(AzureMLInvalidInputError):
    """The Airflow connection lacks a field or has an invalid one (bad input, caught before
    any request is sent)."""


# --------------------------------------------------------------------------------------------
# Outcomes of a pipeline run
# --------------------------------------------------------------------------------------------
class AzureMLPipelineRunError(AzureMLPipelinesError):
    """A pipeline run ended without success.

    :param run_id: the run.
    :param status: its terminal status (``Failed`` or ``Canceled``).
    :param detail: a readable account: failed steps, their status detail and last stderr lines.
    """

    def __init__(self, run_id: str, status: str, detail: str | None = None) -> None:
        self.run_id = run_id
        self.status = status
        self.detail = detail
        message = f"Pipeline run {run_id} ended {status}"
        super().__init__(f"{message}:\n{detail}" if detail else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id, self.status, self.detail))


class AzureMLPipelineRunFailedError(AzureMLPipelineRunError):
    """The run ended ``Failed``."""


class AzureMLPipelineRunCanceledError(AzureMLPipelineRunError):
    """The run ended ``Canceled``."""


class AzureMLPipelineRunTimeoutError(AzureMLPipelinesError):
    """Waiting for a run exceeded its timeout (the run was canceled when that was asked for)."""

    def __init__(self, run_id: str, timeout: float, canceled: bool) -> None:
        self.run_id = run_id
        self.timeout = timeout
        self.canceled = canceled
        action = "it was canceled" if canceled else "it was left running"
        super().__init__(f"Pipeline run {run_id} did not finish within {timeout:g} s; {action}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id, self.timeout, self.canceled))


def format_choices(choices: Sequence[str]) -> str:
    """Render valid choices for an error message: ``'a', 'b'`` or ``(none)``."""
    return ", ".join(repr(c) for c in choices) if choices else "(none)"
