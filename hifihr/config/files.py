"""Config files and the command line: ``base`` inheritance, ``--set`` overrides, saving.

A config file is JSON; it may start with ``"base": "relative/path.json"`` to inherit another
file: objects merge key by key, anything else (numbers, strings, lists) replaces the inherited
value. ``--set a.b=value`` overrides apply after inheritance; the value is parsed as JSON when it
can be (numbers, true, false, null, lists, objects), else taken as a string;
``data.train.0.root=...`` indexes lists. ``python -m hifihr.config FILE [--set k=v ...]`` prints
the resolved config (:func:`main`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from hifihr.config.convert import config_from_dict, config_to_dict
from hifihr.config.schema import Config, ConfigError
from hifihr.files import write_atomic


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: objects merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) else value
    return merged


def read_config_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a dict, with its ``base`` chain merged in (``base`` paths are relative to the file).

    Raises:
        ConfigError: unreadable or invalid JSON, a missing base, or a cycle of bases.
    """
    path = Path(path).resolve()
    if path in _chain:
        raise ConfigError(f"config inheritance cycle: {' -> '.join(str(p) for p in (*_chain, path))}")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        via = f" (base of {_chain[-1]})" if _chain else ""
        raise ConfigError(f"config file {path} not found{via}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a JSON object, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a path string, got {base!r}")
    return _merge(read_config_file(path.parent / base, (*_chain, path)), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value); the value is JSON when it parses, else the string.

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"override {text!r}: expected KEY=VALUE with a dotted key, e.g. optim.lr=1e-4")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], text: str) -> None:
    """Apply one ``--set`` override to a raw config dict in place (list items by index: ``data.train.0.root``)."""
    parts, value = parse_override(text)
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {text!r}: {here!r} is not an index of a list of {len(node)} items")
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ConfigError(f"override {text!r}: {'.'.join(parts[:depth])!r} is {node!r}, not an object or list")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"override {text!r}: {last!r} is not an index of a list of {len(node)} items")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"override {text!r}: {'.'.join(parts[:-1])!r} is {node!r}, not an object or list")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read, inherit, override and validate a config file.

    Args:
        path: JSON config file.
        overrides: ``"a.b=value"`` strings, applied in order after inheritance.

    Raises:
        ConfigError: see the module docstring; the message names the key.
    """
    data = read_config_file(path)
    for text in overrides:
        apply_override(data, text)
    return config_from_dict(data)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as JSON, atomically (:func:`hifihr.files.write_atomic`)."""
    write_atomic(path, json.dumps(config_to_dict(cfg), indent=2) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m hifihr.config FILE [--set k=v ...] [--out PATH]``: print (and save) the resolved config."""
    parser = argparse.ArgumentParser(description="Validate a config and print it resolved.")
    parser.add_argument("config", type=Path, help="JSON config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    parser.add_argument("--out", type=Path, help="also save the resolved config here")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out is not None:
        save_config(cfg, args.out)
    print(json.dumps(config_to_dict(cfg), indent=2))
    return 0
