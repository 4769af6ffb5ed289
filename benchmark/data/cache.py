"""Content-addressed, atomically written, self-verifying cache of arrays (phantom pools, generated sets).

A key is the SHA-256 of a JSON description (method config, training-split digest, seed, code
version). An entry is one ``.npz`` file written to a temporary name in the same folder and moved into
place with :func:`os.replace`, so readers see either no entry or a whole one, never half of it. Each
entry also stores the SHA-256 of its arrays (name, dtype, shape and bytes, in name order): an entry
that does not read back whole and equal to what was written (truncated, bit-flipped, written by
something else) is a logged miss, removed, and rebuilt by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
CHECKSUM = "__sha256__"


def default_cache_dir() -> Path:
    """``$BENCHMARK_CACHE_DIR``, else ``~/.cache/synthaug-benchmark`` (read at call time)."""
    return Path(os.environ.get("BENCHMARK_CACHE_DIR") or Path.home() / ".cache" / "synthaug-benchmark")


def cache_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:24]


def checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ArrayCache:
    def __init__(self, root: Path | str | None = None, namespace: str = "default"):
        self.folder = Path(root if root is not None else default_cache_dir()) / namespace

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The entry's arrays, or ``None`` when there is none or it fails its checksum (then it is
        removed, so that the caller's rebuild replaces it)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            stored = str(arrays.pop(CHECKSUM))
        except Exception as error:  # zipfile, zlib, numpy and the OS raise many types for a damaged file
            return self._discard(path, f"unreadable ({type(error).__name__}: {error})")
        if stored != checksum(arrays):
            return self._discard(path, "checksum mismatch")
        return arrays

    def _discard(self, path: Path, reason: str) -> None:
        log.warning("cache entry %s is %s; rebuilding it", path, reason)
        path.unlink(missing_ok=True)
        return None

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as f:
                np.savez(f, **arrays, **{CHECKSUM: np.array(checksum(arrays))})
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)
