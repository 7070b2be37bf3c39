"""Typed conversion of JSON values to the config dataclasses, and back.

:func:`config_from_dict` converts a JSON-like dict (after inheritance and overrides) to a
:class:`~hifihr.config.schema.Config`: it rejects an unknown key (naming its full dotted path and
the closest valid key), a value of the wrong type or outside its allowed set (naming the key,
the value and what is allowed) and a name absent from the field's registry, then runs the
checks across fields (:func:`hifihr.config.checks.validate`). :func:`config_to_dict` is its
inverse; :func:`describe_config` lists every key.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import types
from typing import Any, Literal, Mapping, Sequence, Union, get_args, get_origin, get_type_hints

from hifihr.config.checks import validate
from hifihr.config.schema import Config, ConfigError, join_key, unknown_key_error
from hifihr.losses import WeightSchedule
from hifihr.registry import Registry, did_you_mean


def import_modules(names: Sequence[str]) -> None:
    """Import each module of a config's ``imports`` (dotted names on ``sys.path``), so that what
    they register is known before the config is checked.

    Raises:
        ConfigError: a module cannot be found (naming ``imports.<i>``).
    """
    for i, name in enumerate(names):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            raise ConfigError(f"imports.{i}: cannot import module {name!r} ({err}); is its folder on sys.path (PYTHONPATH)?") from err


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _describe(tp: Any) -> str:
    """What a type accepts, in words."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is Any:
        return "any value"
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if tp is WeightSchedule:
        return 'a schedule {"values": [...], "milestones": [...]}'
    if dataclasses.is_dataclass(tp):
        return f"an object with keys {', '.join(f.name for f in dataclasses.fields(tp))}"
    if origin is tuple:
        return f"a list, each {_describe(args[0])}"
    if origin is dict:
        return f"an object, each value {_describe(args[1])}"
    if _is_union(tp):
        return " or ".join(_describe(a) for a in args)
    raise TypeError(f"no description for type {tp!r}")


def _kind_matches(value: Any, tp: Any) -> bool:
    """Whether a JSON value has the kind (number, string, list, object, ...) a type expects."""
    origin = get_origin(tp)
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str or origin is Literal:
        return isinstance(value, str)
    if tp is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if origin is dict or dataclasses.is_dataclass(tp):
        return isinstance(value, Mapping) or isinstance(value, tp if dataclasses.is_dataclass(tp) else dict)
    raise TypeError(f"no kind for type {tp!r}")


def _type_error(key: str, value: Any, tp: Any) -> ConfigError:
    return ConfigError(f"{key}: expected {_describe(tp)}, got {json.dumps(value, default=repr)} ({type(value).__name__})")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert a JSON value to type ``tp``; errors name ``key``."""
    origin, args = get_origin(tp), get_args(tp)
    if _is_union(tp):
        candidates = [a for a in args if _kind_matches(value, a)]
        if not candidates:
            raise _type_error(key, value, tp)
        return _convert(value, candidates[0], key)
    if not _kind_matches(value, tp):
        raise _type_error(key, value, tp)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {', '.join(repr(a) for a in args)}, got {value!r}{did_you_mean(value, args)}")
        return value
    if tp is float:
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if origin is tuple:
        return tuple(_convert(item, args[0], join_key(key, i)) for i, item in enumerate(value))
    if origin is dict:
        return {str(k): _convert(v, args[1], join_key(key, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else _convert_dataclass(value, tp, key)
    return value


def _check_registered(value: Any, registry: Registry, key: str) -> None:
    """Check that the name ``value`` (or each item of a list, or each key of an object) is in ``registry``."""
    if isinstance(value, str):
        named = [(key, value)]
    elif isinstance(value, Mapping):
        named = [(join_key(key, name), name) for name in value]
    else:
        named = [(join_key(key, i), name) for i, name in enumerate(value)]
    for where, name in named:
        if name not in registry:
            raise ConfigError(f"{where}: {registry.unknown_message(name)}")


def _convert_dataclass(data: Mapping[str, Any], cls: type, key: str) -> Any:
    hints = get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    for name in data:
        if name not in valid:
            raise unknown_key_error(key, name, valid)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = _convert(data[f.name], hints[f.name], join_key(key, f.name))
        if f.metadata.get("registry") is not None:
            _check_registered(value, f.metadata["registry"].resolve(), join_key(key, f.name))
        minimum = f.metadata.get("minimum")
        if minimum is not None and value is not None and (value <= minimum if f.metadata["exclusive"] else value < minimum):
            relation = ">" if f.metadata["exclusive"] else ">="
            raise ConfigError(f"{join_key(key, f.name)}: expected a value {relation} {minimum}, got {value!r}")
        values[f.name] = value
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{key}: {err}") from err


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Validate a config given as a JSON-like dict (without ``base``) and build it; the modules
    of its ``imports`` are imported first (:func:`import_modules`).

    Raises:
        ConfigError: see the module docstring.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config is a JSON object, got {type(data).__name__}")
    if "imports" in data:
        import_modules(_convert(data["imports"], tuple[str, ...], "imports"))
    cfg = _convert_dataclass(data, Config, "")
    validate(cfg)
    return cfg


def _to_json(value: Any) -> Any:
    if isinstance(value, WeightSchedule):
        return value.to_json()
    if dataclasses.is_dataclass(value):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain JSON types; ``config_from_dict(config_to_dict(cfg)) == cfg``."""
    return _to_json(cfg)


def describe_config() -> list[tuple[str, str, Any, str]]:
    """Every leaf key: (dotted key, allowed values in words, default, one-line doc)."""
    rows: list[tuple[str, str, Any, str]] = []

    def visit(cls: type, prefix: str) -> None:
        hints = get_type_hints(cls)
        defaults = cls()
        for f in dataclasses.fields(cls):
            key = join_key(prefix, f.name)
            if dataclasses.is_dataclass(hints[f.name]) and hints[f.name] is not WeightSchedule:
                visit(hints[f.name], key)
                continue
            allowed = _describe(hints[f.name])
            if f.metadata.get("registry") is not None:
                registry = f.metadata["registry"].resolve()
                allowed += f"; {registry.kind} names: {', '.join(registry.names())}"
            rows.append((key, allowed, _to_json(getattr(defaults, f.name)), f.metadata["doc"]))

    visit(Config, "")
    return rows
