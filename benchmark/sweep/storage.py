"""Where a study lives, and the lock that keeps its trial budget exact across workers.

**Storage.** An Optuna RDB URL: the single-machine default ``sqlite:///mlruns/optuna.db``, or
``postgresql://user@host/db`` shared by workers on many machines. Heartbeats are always on (every
``heartbeat_interval`` seconds while a trial runs); a trial whose worker stopped heartbeating for
``grace_period`` seconds (a SIGKILL, a lost machine) is failed by the next worker that looks
(:func:`optuna.storages.fail_stale_trials`), and ``on_stale`` is called with it, so no trial stays
RUNNING for ever.

**Lock.** Counting the study's trials and starting one more must be one step, or two workers that count
at once both start the last trial. :class:`StudyLock` serialises that step: a PostgreSQL advisory lock
for PostgreSQL storages (it works across machines), an ``flock`` beside the database file for SQLite
(one machine), and nothing for other storages (the budget may then overshoot by up to one trial per
worker, which is logged).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Callable

from benchmark.database_url import with_driver
from benchmark.errors import ConfigError, first_line

log = logging.getLogger(__name__)


def default_storage_url() -> str:
    path = Path("mlruns").resolve() / "optuna.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_storage(url: str, heartbeat_interval: int, grace_period: int, on_stale: Callable | None = None):
    import optuna

    url = with_driver(url)
    if "://" not in url:
        raise ConfigError(f"--storage must be a database URL such as sqlite:///mlruns/optuna.db or "
                          f"postgresql://user@host/db, got {url!r}")
    try:
        with warnings.catch_warnings():
            # heartbeats: stable since v2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval,
                                              grace_period=grace_period,
                                              heartbeat_stale_trial_callback=on_stale,
                                              engine_kwargs={"pool_pre_ping": True})
    except Exception as error:  # SQLAlchemy and the drivers raise many types; the user needs one line
        raise ConfigError(f"cannot open study storage {url}: {first_line(error)}") from None


class StudyLock:
    """A re-entrant-safe lock for one study of one storage (module docstring); ``release`` may be called
    when not held."""

    def __init__(self, url: str, study_name: str):
        self.url, self.study_name = url, study_name
        self._held = False
        self._file = None
        self._connection = None
        self._key = int.from_bytes(hashlib.sha256(f"{study_name}".encode()).digest()[:8], "big", signed=True)
        if url.startswith("postgresql"):
            import sqlalchemy

            self._engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        elif url.startswith("sqlite:///"):
            digest = hashlib.sha256(study_name.encode()).hexdigest()[:12]
            self._path = Path(url.removeprefix("sqlite:///") + f".{digest}.lock")
        else:
            log.warning("no cross-worker lock for storage %s: the trial budget may overshoot by one "
                        "per worker", url)

    def acquire(self) -> None:
        if self._held:
            return
        if self.url.startswith("postgresql"):
            import sqlalchemy

            self._connection = self._engine.connect()
            self._connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": self._key})
        elif self.url.startswith("sqlite:///"):
            self._file = open(self._path, "a")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        if self._connection is not None:
            import sqlalchemy

            self._connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self._held = False
