"""Checks the v2 rules share: the ARM errors they answer (contract section 9), body values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mlpipelines.api.v2.models import pick
from airflow_provider_mlpipelines.emulator.errors import EmulatorError


def user_error(message: str, target: str | None = None, status: int = 400) -> EmulatorError:
    """The ARM ``UserError`` the service answers for invalid requests (contract section 9)."""
    return EmulatorError(status, "UserError", message, target)


def not_found(kind: str, name: str) -> EmulatorError:
    return EmulatorError(404, "UserError", f"{kind} '{name}' was not found", kind)


def conflict(message: str, target: str | None = None) -> EmulatorError:
    return EmulatorError(409, "Conflict", message, target)


def require(body: Any, key: str) -> Any:
    """The value of ``key`` in a body; a ``UserError`` naming it when it is missing or empty."""
    value = pick(body, key)
    if value in (None, ""):
        raise user_error(f"'{key}' is required", key)
    return value


def str_map(value: Any) -> dict[str, str]:
    """A JSON object as string keys and values (``null`` as ``""``); ``{}`` for anything else."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}
