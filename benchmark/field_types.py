"""Check configuration values against the type hints of the settings dataclass they build.

Every settings block (``data``, ``train``, each method's block) reaches its dataclass through
:func:`benchmark.config.build`, which calls :func:`check_field_types` first, so a value of the wrong kind
is one :class:`~benchmark.errors.ConfigError` naming the key, whichever plug-in it belongs to, rather
than a ``TypeError`` deep inside a comparison or a model. The rules, per annotation:

- ``int``: an integer (``True`` is not one); ``float``: an integer or float, finite (NaN and infinity
  are never a setting);
- ``str``, ``bool``: exactly that type; ``Literal[a, b]``: one of the listed values;
- ``X | None``: ``None`` or an ``X``; ``tuple[X, ...]`` / ``list[X]``: a list or tuple of ``X``;
  ``tuple[X, Y]``: a list or tuple of that length with items of those types.

Annotations outside these forms (paths, mappings, ``Any``) are left to the dataclass; ranges (``> 0``,
``<= 1``) are each dataclass's own ``__post_init__`` checks.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields
from typing import Any

from benchmark.checks import is_integer, is_number
from benchmark.errors import ConfigError

UNCHECKED = object()
SECTIONS = ("data", "train")  # named by their dotted keys (train.lr), as the run-level checks do


def check_field_types(cls: type, params: dict[str, Any], what: str) -> None:
    """Raise a one-line ConfigError for the first value in ``params`` that does not fit its field's hint."""
    hints = typing.get_type_hints(cls)
    for field in fields(cls):
        if field.name not in params:
            continue
        value = params[field.name]
        expected = describe(hints.get(field.name, Any))
        if expected is not UNCHECKED and not fits(value, hints[field.name]):
            key = f"{what}.{field.name}" if what in SECTIONS else f"{what}: {field.name}"
            raise ConfigError(f"{key} must be {expected}, got {value!r}")


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint`` under the module's rules (unknown hints fit anything)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_integer(value)
    if hint is float:
        return is_number(value) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(fits(v, item) for v in value)
    return True


def describe(hint: Any) -> Any:
    """``hint`` in words for the error line, or :data:`UNCHECKED` for hints the module does not check."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    simple = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
              type(None): "null"}
    if hint in simple:
        return simple[hint]
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [describe(a) for a in args]
        return UNCHECKED if UNCHECKED in parts else " or ".join(parts)
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            items = [describe(a) for a in args]
            return UNCHECKED if UNCHECKED in items else f"a list of {len(args)} ({', '.join(items)})"
        item = describe(args[0]) if args else "anything"
        return UNCHECKED if item is UNCHECKED else f"a list, each {item}"
    return UNCHECKED
