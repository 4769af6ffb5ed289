"""Database URLs as users write them: the driver SQLAlchemy should use, and passwords never shown.

``postgresql://`` (and ``postgres://``) name no driver; SQLAlchemy 2.1 then picks psycopg 3, while the
locked environment ships psycopg2. :func:`with_driver` spells the driver out when psycopg 3 is missing, so
the URL of the README's multi-machine recipe works for the Optuna storage and an MLflow store alike.

:func:`masked` replaces the password of every ``scheme://user:password@host`` in a text by ``***``, up to
the last ``@`` of the URL (a password written with a raw ``@`` is masked whole; a stray ``@`` later in the
same word masks too much, never too little); the suite applies it to every error line it prints, every
MLflow param and every error tag it writes.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)(?P<password>\S*)@")


def masked(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return PASSWORD.sub(lambda m: f"{m['head']}***@", text)


def sqlite_database(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, ``None`` for any other store."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def with_driver(url: str) -> str:
    """``postgresql://...`` as ``postgresql+psycopg2://...`` when only psycopg2 is installed; any other
    URL unchanged."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres"):
        return url
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    return url
