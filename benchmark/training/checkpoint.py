"""Training checkpoints: one ``last.pt`` per unfinished run, in ``checkpoints/<run id>/`` beside the run's
SQLite tracking store (``mlruns/checkpoints/`` for the default store), else under
``$BENCHMARK_CHECKPOINT_DIR`` or the suite's cache folder: never relative to the working folder, which
may be read-only or another on the next start.

A checkpoint holds tensors, plain containers and numbers only (state dicts, RNG states, the history as a
dict), so it is read with ``torch.load(..., weights_only=True)``: a checkpoint is data, and a planted file
whose pickle would run code is refused instead of executed. torch does not verify what it reads back, so
the state carries its own SHA-256 (:func:`state_digest`) and a checkpoint that does not match it is
refused. It is written to a temporary file and renamed (a crash never leaves half a checkpoint behind),
and removed when its run finishes: only an unfinished run can be resumed, and a sweep of many trials
leaves none behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import torch

from benchmark.data.cache import default_cache_dir
from benchmark.database_url import sqlite_database
from benchmark.errors import BenchmarkError, ConfigError, first_line

CHECKPOINT_NAME = "last.pt"
DIGEST = "sha256"


class CheckpointError(BenchmarkError):
    """A checkpoint exists but cannot be read as one."""


def checkpoint_dir(run_id: str, tracking_uri: str) -> Path:
    """Where the checkpoint of ``run_id`` tracked at ``tracking_uri`` lives (module docstring)."""
    database = sqlite_database(tracking_uri)
    if database is not None:
        root = database.parent / "checkpoints"
    else:
        root = Path(os.environ.get("BENCHMARK_CHECKPOINT_DIR") or default_cache_dir() / "checkpoints")
    return root.resolve() / run_id


def state_digest(state: Any) -> str:
    """SHA-256 of a nested state: mapping keys in string order, sequences in order, tensors by dtype,
    shape and raw bytes, everything else by ``repr``."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(f"key:{key!r}".encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"seq:{len(value)}".encode())
            for item in value:
                feed(item)
        elif isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor:{value.dtype}:{tuple(value.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        else:
            digest.update(f"value:{value!r}".encode())

    feed(state)
    return digest.hexdigest()


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({**state, DIGEST: state_digest(state)}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The state saved by :func:`save_checkpoint`; a damaged, truncated or code-carrying file is a
    :class:`CheckpointError` naming it."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for a bad file
        reason = first_line(error, 200)
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({reason[:200]}); delete it and run without "
            "--resume to start over"
        ) from None
    if not isinstance(state, dict) or "epoch" not in state or DIGEST not in state:
        raise CheckpointError(f"{path}: not a training checkpoint of this suite; delete it and run without "
                              "--resume")
    if state.pop(DIGEST) != state_digest(state):
        raise CheckpointError(f"{path}: damaged checkpoint (its contents do not match their checksum); "
                              "delete it and run without --resume to start over")
    return state


def check_resumable(run_id: str, tracking_uri: str) -> None:
    """Before a run is reopened: its checkpoint exists and reads, else a one-line error and the run is
    left as it was. A run stopped before its first checkpoint cannot continue: its logged epochs (if any)
    would be mixed with a restarted training, so the user starts it afresh instead."""
    path = checkpoint_dir(run_id, tracking_uri) / CHECKPOINT_NAME
    if not path.exists():
        raise ConfigError(
            f"--resume: run {run_id} has no checkpoint ({path}); it stopped before its first "
            "checkpoint or ran elsewhere: run the command without --resume to start over"
        )
    load_checkpoint(path)


@contextlib.contextmanager
def removed_on_success(directory: Path) -> Iterator[Path]:
    """Yield ``directory``; delete it when the block ends without an exception."""
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
