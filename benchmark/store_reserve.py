"""Room to close a run on a full disk: a ballast file beside a SQLite tracking store.

A SQLite store on a full disk refuses every write, the one that would end the run FAILED included, so the
run would stay RUNNING. Every run therefore starts with ``<database>.reserve`` (:data:`RESERVE_BYTES` of
allocated blocks) beside the database. When the store stops taking writes, the reserve is deleted and the
run is ended FAILED in the room it leaves (a status update and a tag rewrite a few pages, and SQLite's
rollback journal as many again). The next run re-creates the reserve, and refuses to start, in one line,
while the disk has no room for it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO

from benchmark.errors import BenchmarkError

RESERVE_BYTES = 1 << 20


class StoreFullError(BenchmarkError):
    """The tracking store's disk has no room left for the reserve."""


def reserve_path(database: Path) -> Path:
    return database.with_name(database.name + ".reserve")


def ensure_reserve(database: Path) -> None:
    """Create ``<database>.reserve`` (:data:`RESERVE_BYTES` of blocks allocated on disk) unless it is there
    whole; no room for it is a :class:`StoreFullError` naming the folder."""
    path = reserve_path(database)
    if path.is_file() and path.stat().st_size >= RESERVE_BYTES:
        return
    try:
        with open(path, "wb") as handle:
            _allocate(handle)
    except OSError as error:
        path.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreFullError(
                f"{database.parent}: the tracking store's disk is full (no room for the "
                f"{RESERVE_BYTES >> 20} MiB that lets a run be closed): free space and run again"
            ) from None
        raise


def _allocate(handle: BinaryIO) -> None:
    """Allocate :data:`RESERVE_BYTES` on disk for ``handle``: ``posix_fallocate`` where the file system has
    it, zeros written out elsewhere (a sparse file would reserve nothing)."""
    try:
        os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
    except (AttributeError, OSError) as error:
        if isinstance(error, OSError) and error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        handle.write(bytes(RESERVE_BYTES))
        handle.flush()


def release_reserve(database: Path) -> bool:
    """Delete the reserve, so the store can take the writes that close a run; ``False`` if there was none."""
    path = reserve_path(database)
    if not path.exists():
        return False
    path.unlink()
    return True
