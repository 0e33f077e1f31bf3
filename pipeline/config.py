"""Typed configs: nested dataclasses, checked by pydantic as they are read from TOML and ``--set``.

Why stdlib dataclasses checked by a pydantic ``TypeAdapter`` (rather than pydantic models): the
stages, the fingerprints (``dataclasses.asdict`` / ``fingerprinted_dict``) and the stores' recorded
configs all work on the dataclasses, which stay exactly as they were, so an unchanged value gives
an unchanged fingerprint; pydantic only reads the field declarations.

The declarations carry the whole rule for a value, next to the field:
- its type, strictly (``Float``, ``Int``, ``Bool``, ``Text`` below): no ``"abc"`` or ``true`` for a
  number, no ``1.5`` for an integer, no ``"yes"`` for a boolean; an integer is accepted for a float
  (and stored as a float: ``1`` and ``1.0`` fingerprint alike); NaN and infinities are refused;
- its range (``Annotated[Float, Gt(0)]``) and its choices (a ``Literal`` of ``pipeline/choices.py``);
- unknown keys are refused (a typo must not pass silently), and ``Text`` refuses an empty string.
What depends on other values or on the filesystem (a folder that must exist, two settings that
must agree) is checked by ``workflows/validate.py`` before a run starts.

A refusal is one ``ConfigError`` line naming the key, the value given and what was expected::

    fuse.depth_tolerance = 'abc': expected a number

``null``: TOML has no null, so an optional setting is set back to "none" with the bare word
``null`` in ``--set`` (``--set purify.student=null``, ``--set fuse.simulated.noise_std=null``:
the preset's value again); ``'null'`` in quotes is the string. In a config file an optional
setting is none by leaving it out (every optional setting defaults to none). Optional text
settings (paths) hold ``""`` for none, so ``student = ""`` says the same in a file.

A field declared with ``field(..., metadata=NOT_FINGERPRINTED)`` does not change results
(paths, worker counts, batch sizes): it is stored with a group but left out of fingerprints.
A config class may also define ``unused_fields(self) -> set[str]``: the fields its current values
make irrelevant (the simulated source's settings in an openclip run), also left out.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Gt, Interval, Le, MaxLen, MinLen  # noqa: F401 (re-exported for the sections)
from pydantic import AfterValidator, BeforeValidator, Strict

from .errors import ConfigError

NOT_FINGERPRINTED = {"fingerprint": False}

CHECKED = {"extra": "forbid", "allow_inf_nan": False, "use_attribute_docstrings": True}
"""pydantic rules of every config dataclass (``__pydantic_config__``; nested ones inherit them)."""

NULL = "null"
"""The bare word that sets an optional value back to none in ``--set``."""

# ---- the value types the sections declare their fields with --------------------------------------
def _device(name: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ValueError("cpu, cuda or cuda:<index>")
    return name


Float = Annotated[float, Strict()]
"""A finite number; an integer is taken as a float."""
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict(), MinLen(1)]
"""A string that must not be empty."""
OptionalText = Annotated[str, BeforeValidator(lambda v: "" if v is None else v), Strict()]
"""A string where ``""`` means none (a path left unset); ``null`` is taken as ``""``."""
Device = Annotated[str, Strict(), AfterValidator(_device)]
"""A torch device: ``cpu``, ``cuda`` or ``cuda:<index>``."""
Share = Interval(ge=0, le=1)
"""A share or probability, in [0, 1]."""

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


# ---- building and checking ---------------------------------------------------------------------
@functools.cache
def _adapter(cls: type):
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def from_dict(cls: type[T], data: dict, where: str = "") -> T:
    """Build dataclass ``cls`` from a (possibly partial) dict, every value checked; ``where`` is the
    key prefix errors name (``"distill."``). Raises a one-line ConfigError."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise ConfigError(f"config key {where.rstrip('.') or '(top)'} = {_show(data)}: expected a table")
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(error_line(exc.errors()[0], cls, where)) from None


def merge(cfg: T, data: dict, where: str = "") -> T:
    """A copy of ``cfg`` with the (possibly partial, nested) values of ``data`` applied, checked."""
    return from_dict(type(cfg), deep_merge(dataclasses.asdict(cfg), data), where)


def check_values(cfg: T, where: str = "") -> T:
    """Check every value of a config built in code (``dataclasses.replace`` does not check)."""
    return from_dict(type(cfg), dataclasses.asdict(cfg), where)


def deep_merge(base: dict, data: dict) -> dict:
    """``base`` with ``data`` laid over it: tables merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def json_schema(cls: type) -> dict:
    """The JSON schema of a config class (for editors): types, ranges, choices, defaults, docs."""
    return _adapter(cls).json_schema()


# ---- reading -------------------------------------------------------------------------------------
def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a folder, expected a TOML config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def parse_override(text: str) -> dict:
    """``"fuse.depth_tolerance=0.1"`` -> ``{"fuse": {"depth_tolerance": 0.1}}``: TOML value syntax,
    bare words taken as strings, the bare word ``null`` as none."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(part.strip() for part in parts):
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    if raw.strip() == NULL:
        value = None
    else:
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
    out: dict = {}
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part.strip(), {})
    node[parts[-1].strip()] = value
    return out


def to_toml(cfg: Any) -> str:
    """A config dataclass (or its ``asdict``) as TOML that reads back to the same config; none
    values are left out (TOML has no null, and every optional value's default is none)."""
    import tomli_w

    data = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    return tomli_w.dumps(_drop_none(data))


def _drop_none(data: dict) -> dict:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


# ---- one line per refusal --------------------------------------------------------------------
def error_line(error: dict, cls: type | None = None, where: str = "") -> str:
    """``<key> = <value given>: expected <what>`` for the first error pydantic reports."""
    loc = list(error["loc"])
    key = where + _key(loc)
    kind = error["type"]
    if kind == "unexpected_keyword_argument":
        return f"unknown config key {key!r}" + _did_you_mean(cls, loc)
    return f"{key} = {_show(error.get('input'))}: expected {_expected(kind, error.get('ctx') or {}, error)}"


def _key(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return "a table"
    return repr(value)


_EXPECTED = {
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "string_too_short": "a non-empty string",
    "list_type": "a list", "tuple_type": "a list", "dataclass_type": "a table",
    "dict_type": "a table",
}


def _expected(kind: str, ctx: dict, error: dict) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    bounds = {"greater_than": ("> ", "gt"), "greater_than_equal": (">= ", "ge"),
              "less_than": ("< ", "lt"), "less_than_equal": ("<= ", "le")}
    if kind in bounds:
        sign, name = bounds[kind]
        return f"{sign}{_number(ctx[name])}"
    if kind == "literal_error":
        return "one of " + ctx["expected"].replace(" or ", ", ")
    if kind == "string_pattern_mismatch":
        return f"a value matching {ctx['pattern']}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"at most {ctx['max_length']} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"][0].lower() + error["msg"][1:]


def _number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _did_you_mean(cls: type | None, loc: list) -> str:
    node = cls
    for part in loc[:-1]:
        fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        if part not in fields:
            return ""
        node = _field_type(node, part)
    if not dataclasses.is_dataclass(node):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), [f.name for f in dataclasses.fields(node)], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_type(cls: type, name: str):
    import typing

    return typing.get_type_hints(cls).get(name)
