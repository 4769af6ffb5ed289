"""Content-addressed, atomically written cache of arrays (phantom pools, generated sets).

A key is the SHA-256 of a JSON description (method config, training-split digest, seed, code
version). An entry is one ``.npz`` file written to a temporary name in the same folder and moved into
place with :func:`os.replace`, so readers see either no entry or a whole one, never half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """``$BENCHMARK_CACHE_DIR``, else ``~/.cache/synthaug-benchmark`` (read at call time)."""
    return Path(os.environ.get("BENCHMARK_CACHE_DIR") or Path.home() / ".cache" / "synthaug-benchmark")


def cache_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:24]


class ArrayCache:
    def __init__(self, root: Path | str | None = None, namespace: str = "default"):
        self.folder = Path(root if root is not None else default_cache_dir()) / namespace

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            return None  # an unreadable entry is a miss; the next save replaces it

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)
