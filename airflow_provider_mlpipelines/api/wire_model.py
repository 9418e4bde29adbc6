"""How an entity dataclass maps to the service's JSON: :func:`wire` fields, :class:`WireModel`.

Each field names its JSON key with :func:`wire`; :class:`WireModel` turns a dataclass into the
service's JSON and back. Parsing is tolerant (missing keys take defaults, enums accept names
and numeric forms, unknown keys are ignored); rendering omits ``None`` like the official SDK.
The underscored helpers are shared by the entity modules of this package only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, fields
from typing import Any, TypeVar

M = TypeVar("M", bound="WireModel")


def wire(
    key: str,
    *,
    default: Any = None,
    factory: Callable[[], Any] | None = None,
    parse: Callable[[Any], Any] | None = None,
    dump: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare a dataclass field stored under the JSON key ``key``."""
    metadata = {"wire": key, "parse": parse, "dump": dump}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class WireModel:
    """Mixin giving a dataclass ``from_json``/``to_json`` through its :func:`wire` fields."""

    @classmethod
    def from_json(cls: type[M], data: Mapping[str, Any] | None) -> M:
        data = data or {}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f.metadata.get("wire")
            if key is None or key not in data or data[key] is None:
                continue
            parse = f.metadata.get("parse")
            kwargs[f.name] = parse(data[key]) if parse else data[key]
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            key = f.metadata.get("wire")
            value = getattr(self, f.name)
            if key is None or value is None:
                continue
            dump = f.metadata.get("dump")
            body[key] = dump(value) if dump else value
        return body

    @classmethod
    def wire_keys(cls) -> frozenset[str]:
        """The JSON keys this model understands, exactly as the service spells them."""
        return frozenset(f.metadata["wire"] for f in fields(cls) if "wire" in f.metadata)  # type: ignore[arg-type]


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in dict(value).items()}


def _enum_value(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def _list_of(model: type[M]) -> Callable[[Any], list[M]]:
    return lambda items: [model.from_json(item) for item in items]


def _dump_list(items: list[WireModel]) -> list[dict[str, Any]]:
    return [item.to_json() for item in items]


def _dump_model(item: WireModel) -> dict[str, Any]:
    return item.to_json()
