"""Typed pipeline parameters: parsing wire strings and rendering values back.

The service carries every parameter value as a string (the SDK sends ``str(value)``, so a
Python ``True`` arrives as ``"True"``); a pipeline declares each parameter's type. These pure
functions are shared by spec loading (typed defaults) and submission checks.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_mlpipelines.api.status import ParameterType

#: Spellings accepted for a ``bool`` parameter, case-insensitively.
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

#: Spec type names (``int``, ``float``, ``bool``, ``string``) and their wire types.
SPEC_TYPE_NAMES: dict[str, ParameterType] = {
    "int": ParameterType.INT,
    "float": ParameterType.DOUBLE,
    "bool": ParameterType.BOOL,
    "string": ParameterType.STRING,
}


class ParameterValueError(ValueError):
    """A value does not fit the declared type of its parameter."""


def spec_type(name: str) -> ParameterType:
    """The wire type of a spec type name.

    :param name: ``int``, ``float``, ``bool`` or ``string`` (wire names such as ``Double`` too).
    :raises ParameterValueError: for an unknown type name.
    """
    lowered = str(name).strip().lower()
    if lowered in SPEC_TYPE_NAMES:
        return SPEC_TYPE_NAMES[lowered]
    try:
        parsed = ParameterType.parse(name)
    except ValueError:
        parsed = ParameterType.UNDEFINED
    if parsed is ParameterType.UNDEFINED:
        raise ParameterValueError(
            f"unknown parameter type {name!r}; use one of {', '.join(SPEC_TYPE_NAMES)}"
        )
    return parsed


def parse_value(kind: ParameterType, raw: Any) -> Any:
    """Turn ``raw`` (a wire string, or a typed value from a spec) into a value of ``kind``.

    :param kind: the declared type.
    :param raw: the value to check.
    :raises ParameterValueError: when ``raw`` does not fit ``kind``.
    """
    if kind is ParameterType.INT:
        return _parse_int(raw)
    if kind is ParameterType.DOUBLE:
        return _parse_float(raw)
    if kind is ParameterType.BOOL:
        return _parse_bool(raw)
    if isinstance(raw, (dict, list)):
        raise ParameterValueError(f"expected a string, got {type(raw).__name__}")
    return "" if raw is None else str(raw)


def to_wire(kind: ParameterType, value: Any) -> str:
    """Render a typed value as the string the service reports.

    :param kind: the declared type.
    :param value: a value returned by :func:`parse_value`.
    """
    if kind is ParameterType.BOOL:
        return "True" if value else "False"
    if kind is ParameterType.DOUBLE:
        return repr(float(value))
    return str(value)


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ParameterValueError(f"expected an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        raise ParameterValueError(f"expected an integer, got {str(raw)!r}") from None


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ParameterValueError(f"expected a number, got {raw!r}")
    try:
        value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
    except ValueError:
        raise ParameterValueError(f"expected a number, got {str(raw)!r}") from None
    if not math.isfinite(value):
        raise ParameterValueError(f"expected a finite number, got {str(raw)!r}")
    return value


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    lowered = str(raw).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParameterValueError(f"expected True or False, got {str(raw)!r}")
