"""Config dataclasses: validation helpers, JSON round trip and ``--set key=value`` overrides.

Every persisted or CLI-reachable object has a ``@dataclass(frozen=True, kw_only=True)``
``XxxConfig`` with a ``version`` field. Its JSON form is ``{"_type", "_version", "_data"}``
and it is rebuilt only through a registry (an allow-list), never by importing a name from
the file.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from wirelessml.errors import ConfigError

__all__ = [
    "check_field",
    "config_from_dict",
    "config_from_json",
    "config_to_dict",
    "config_to_json",
    "parse_overrides",
]

C = TypeVar("C")


def check_field(ok: bool, config: object, field: str, value: object, allowed: str) -> None:
    """Raise :class:`ConfigError` naming the field, its bad value and what is allowed.

    Args:
        ok: The condition that must hold.
        config: The config object (its class name prefixes the field).
        field: Field name.
        value: The offending value.
        allowed: What is allowed, in words (``"a number in (0, 1]"``).
    """
    if not ok:
        name = type(config).__name__ if not isinstance(config, str) else config
        raise ConfigError(f"{name}.{field}={value!r} is not allowed: expected {allowed}")


def config_to_dict(config: object) -> dict[str, Any]:
    """Plain JSON-able dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))  # type: ignore[arg-type]


def config_to_json(config: object, type_name: str) -> str:
    """Serialize as ``{"_type": type_name, "_version": config.version, "_data": {...}}``."""
    payload = {
        "_type": type_name,
        "_version": getattr(config, "version", 1),
        "_data": config_to_dict(config),
    }
    return json.dumps(payload, sort_keys=True)


def _coerce(value: Any, annotation: Any) -> Any:
    """Turn JSON lists back into tuples where the field is a tuple (recursively)."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(annotation):
            if arg is type(None) and value is None:
                return None
        for arg in typing.get_args(annotation):
            if arg is not type(None) and isinstance(value, list) and typing.get_origin(arg) is tuple:
                return _coerce(value, arg)
        return value
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        return tuple(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build ``cls`` from a plain dict, refusing unknown fields (with the list of known ones)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has no field {unknown[0]!r}; known fields: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(v, hints[k]) for k, v in data.items()}
    return cls(**kwargs)


def config_from_json(text: str, registry: Mapping[str, type[C]]) -> C:
    """Rebuild a config from its JSON form through ``registry`` (type name → config class)."""
    try:
        payload = json.loads(text)
        type_name, version, data = payload["_type"], payload["_version"], payload["_data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a wirelessml config JSON ({exc})") from None
    if type_name not in registry:
        raise ConfigError(f"unknown config type {type_name!r}; known: {', '.join(sorted(registry))}")
    cls = registry[type_name]
    expected = next(f.default for f in dataclasses.fields(cls) if f.name == "version")  # type: ignore[arg-type]
    if version != expected:
        raise ConfigError(
            f"{cls.__name__} version {version} cannot be read by this wirelessml "
            f"(it reads version {expected})"
        )
    return config_from_dict(cls, data)


def _parse_value(text: str) -> Any:
    """A Python literal (``ast.literal_eval``, never ``eval``), else the raw string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(cls: type, items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings into a dict of field values for ``cls``.

    Values are Python literals (``snr_db=(0, 25)``, ``num_rx_ant=2``, ``model='tdl-b'``);
    a bare word is taken as a string (``channel_model=cdl-c``).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not of the form key=value")
        if key not in names:
            raise ConfigError(
                f"--set {key}: {cls.__name__} has no such field; known fields: "
                f"{', '.join(sorted(names))}"
            )
        value = _parse_value(raw.strip())
        out[key] = list(value) if isinstance(value, tuple) else value
    return out
