"""Argument checks both clients make before anything is sent, and how messages quote ids."""

from __future__ import annotations

from typing import Any

from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError


def quoted(value: Any) -> str:
    """How an object id appears in messages: ``'abc'``."""
    return repr(str(value))


def check_id(value: Any, what: str) -> str:
    """An id argument as a non-empty string, or raise naming the argument."""
    if not isinstance(value, str) or not value.strip():
        raise AzureMLInvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def entity_status(status: EntityStatus | str) -> EntityStatus:
    """An entity status from a name, a code or the enum, or raise naming the valid ones."""
    try:
        return EntityStatus.parse(status)
    except ValueError as exc:
        raise AzureMLInvalidInputError(str(exc)) from None
