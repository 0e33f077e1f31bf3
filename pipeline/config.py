"""Typed configs: nested dataclasses loaded from TOML, with ``key=value`` overrides.

A field declared with ``field(..., metadata=NOT_FINGERPRINTED)`` does not change results
(paths, worker counts, batch sizes): it is stored with a group but left out of fingerprints.
A config class may also define ``unused_fields(self) -> set[str]``: the fields its current values
make irrelevant (the simulated source's settings in an openclip run), also left out.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

NOT_FINGERPRINTED = {"fingerprint": False}

T = TypeVar("T")


def to_dict(cfg: Any) -> dict:
    """Plain-JSON dict of a config dataclass (all fields)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def fingerprinted_dict(cfg: Any) -> dict:
    """The fields of a config dataclass that change results, recursively."""
    out = {}
    unused = cfg.unused_fields() if hasattr(cfg, "unused_fields") else set()
    for f in dataclasses.fields(cfg):
        if not f.metadata.get("fingerprint", True) or f.name in unused:
            continue
        value = getattr(cfg, f.name)
        out[f.name] = fingerprinted_dict(value) if dataclasses.is_dataclass(value) else value
    return json.loads(json.dumps(out, default=str))


def from_dict(cls: type[T], data: dict, where: str = "") -> T:
    """Build dataclass ``cls`` from a dict, refusing unknown keys (typos must not pass silently)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown config key {where}{sorted(unknown)[0]!r}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}{name}")
    return cls(**kwargs)


def merge(cfg: T, data: dict, where: str = "") -> T:
    """A copy of ``cfg`` with the (possibly partial, nested) values of ``data`` applied."""
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for name, value in data.items():
        if name not in names:
            raise ConfigError(f"unknown config key {where}{name!r}")
        current = getattr(cfg, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = merge(current, value, f"{where}{name}.")
        else:
            changes[name] = _coerce(hints[name], value, f"{where}{name}")
    return dataclasses.replace(cfg, **changes)


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def parse_override(text: str) -> dict:
    """``"fuse.depth_tolerance=0.1"`` -> ``{"fuse": {"depth_tolerance": 0.1}}`` (TOML value syntax,
    bare words taken as strings)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {where!r}: expected a table")
        return from_dict(hint, value, f"{where}.")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {where!r}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return type(value)(_coerce(item, v, where) for v in value) if origin is list else tuple(
            _coerce(item, v, where) for v in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"config key {where!r}: expected {hint.__name__}, got {value!r}")
    return value
