"""Type checks of the values a settings dataclass accepts from a profile. YAML reads ``true`` and
``false`` as booleans, and Python's ``bool`` is a subclass of ``int``: a bare ``isinstance(v, int)`` would
take ``epochs: true`` for 1. Both checks refuse booleans."""

from __future__ import annotations

from typing import Any


def is_integer(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
