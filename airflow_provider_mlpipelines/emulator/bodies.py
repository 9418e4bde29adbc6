"""Checks of request bodies against the models of ``api/`` (pure functions).

Field names are case-sensitive in the contract. A key that matches a model field only when
case is ignored is a client bug worth a clear 400 (``experimentName`` for ``ExperimentName``);
keys unknown in any case are ignored, like the tolerant parsing of the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from airflow_provider_mlpipelines.api.models import WireModel
from airflow_provider_mlpipelines.emulator.errors import bad_request

M = TypeVar("M", bound=WireModel)


def wire_key(model: type[WireModel], attribute: str) -> str:
    """The JSON key of a model attribute, for messages that name a field.

    :param model: the model.
    :param attribute: the Python attribute name.
    """
    return next(f.metadata["wire"] for f in fields(model) if f.name == attribute)  # type: ignore[arg-type]


def check_wire_keys(data: Mapping[str, Any], model: type[WireModel], where: str) -> None:
    """Reject keys that differ from a field of ``model`` only by case.

    :param data: the JSON object.
    :param model: the model it should match.
    :param where: the object's place in the request, for the message (``""`` for the body).
    :raises EmulatorError: 400 ``InvalidFieldName`` naming the right spelling.
    """
    keys = model.wire_keys()
    by_lower = {key.lower(): key for key in keys}
    for key in data:
        right = by_lower.get(str(key).lower())
        if right is not None and key not in keys:
            place = f" in {where}" if where else ""
            raise bad_request(
                f"Unknown field '{key}'{place}; field names are case-sensitive: "
                f"did you mean '{right}'?",
                "InvalidFieldName",
                f"{where}.{key}" if where else str(key),
            )


def parse_object(data: Any, model: type[M], where: str) -> M:
    """Check and parse one JSON object into ``model``.

    :param data: the JSON value.
    :param model: the model to parse into.
    :param where: the value's place in the request, for messages.
    :raises EmulatorError: 400 when ``data`` is not an object, has a wrongly cased key or a
        field of the wrong JSON type.
    """
    if not isinstance(data, Mapping):
        label = where or "The request body"
        raise bad_request(
            f"{label} must be a JSON object, got {json_type(data)}", "InvalidBody", where or None
        )
    check_wire_keys(data, model, where)
    try:
        parsed = model.from_json(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise bad_request(
            f"{where or 'The request body'} has a field of the wrong type: {exc}",
            "InvalidBody",
            where or None,
        ) from None
    _check_nested_keys(parsed, data, where)
    return parsed


def _check_nested_keys(parsed: WireModel, data: Mapping[str, Any], where: str) -> None:
    for f in fields(parsed):  # type: ignore[arg-type]
        key = f.metadata.get("wire")
        value = getattr(parsed, f.name)
        raw = data.get(key) if key else None
        place = f"{where}.{key}" if where else str(key)
        if isinstance(value, WireModel) and isinstance(raw, Mapping):
            check_wire_keys(raw, type(value), place)
            _check_nested_keys(value, raw, place)
        elif isinstance(value, list) and isinstance(raw, list):
            for index, (item, raw_item) in enumerate(zip(value, raw, strict=False)):
                if isinstance(item, WireModel) and isinstance(raw_item, Mapping):
                    check_wire_keys(raw_item, type(item), f"{place}[{index}]")
                    _check_nested_keys(item, raw_item, f"{place}[{index}]")


def require_str_map(value: Any, where: str) -> dict[str, str]:
    """A ``{str: str}`` field (numbers and booleans are turned into strings).

    :param value: the field's JSON value (``None`` means empty).
    :param where: the field name, for messages.
    :raises EmulatorError: 400 when it is not an object of scalar values.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_request(
            f"{where} must be a JSON object, got {json_type(value)}", "InvalidBody", where
        )
    result = {}
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            raise bad_request(
                f"{where}.{key} must be a string, got {json_type(item)}", "InvalidBody", where
            )
        result[str(key)] = "" if item is None else _scalar_text(item)
    return result


def require_bool(value: Any, where: str, default: bool) -> bool:
    """A boolean field.

    :param value: the field's JSON value (``None`` means ``default``).
    :param where: the field name, for messages.
    :param default: the value when absent.
    :raises EmulatorError: 400 when it is not a boolean.
    """
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{where} must be true or false, got {value!r}", "InvalidBody", where)
    return value


def json_type(value: Any) -> str:
    """The JSON type name of a value, for messages.

    :param value: any parsed JSON value.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _scalar_text(value: Any) -> str:
    # Mirror the SDK, which sends str(value): a JSON true arrives as "True".
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
