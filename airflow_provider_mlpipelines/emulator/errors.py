"""The one exception type of the emulator's service layer.

Rules raise :class:`EmulatorError` with the HTTP status and the contract's error code; the HTTP
layer renders it as the PascalCase (pipelines) or camelCase (run history) error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar


class EmulatorError(Exception):
    """A request broke a rule of the service.

    :param status: the HTTP status to answer with.
    :param code: the contract's ``Error.Code``.
    :param message: a readable message naming the object and the rule.
    :param target: the field or object the error is about, when there is one.
    :param headers: extra response headers (e.g. ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}


def bad_request(message: str, code: str = "BadRequest", target: str | None = None) -> EmulatorError:
    """A 400 error.

    :param message: what is wrong, naming the field or object.
    :param code: a ``BadRequest``-family code.
    :param target: the field the error is about.
    """
    return EmulatorError(400, code, message, target)


R = TypeVar("R")


def lookup(records: Mapping[str, R], kind: str, object_id: str) -> R:
    """The record ``object_id`` of ``records``, or a 404 naming ``kind``.

    :param records: the records by id.
    :param kind: what is looked up, e.g. ``"Pipeline"``.
    :param object_id: the id.
    """
    record = records.get(object_id)
    if record is None:
        raise not_found(kind, object_id)
    return record


def not_found(kind: str, object_id: str, target: str | None = None) -> EmulatorError:
    """A 404 ``NotFound`` error for an unknown id.

    :param kind: what was looked up, e.g. ``"Pipeline"``.
    :param object_id: the id or name that names nothing.
    :param target: the field that held the id, when it came from a body.
    """
    return EmulatorError(404, "NotFound", f"{kind} '{object_id}' was not found", target)


def conflict(message: str, code: str = "Conflict", target: str | None = None) -> EmulatorError:
    """A 409 error.

    :param message: what conflicts.
    :param code: the error code.
    :param target: the field the error is about.
    """
    return EmulatorError(409, code, message, target)


def listing(names: Sequence[str]) -> str:
    """Render names for a message: ``a, b`` or ``(none)``.

    :param names: the names to list.
    """
    return ", ".join(names) if names else "(none)"
