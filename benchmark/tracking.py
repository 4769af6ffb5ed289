"""MLflow tracking: the embedded SQLite store in ``mlruns/``, experiments per task, one run per experiment.

The default store is ``sqlite:///mlruns/mlflow.db`` (relative to the working directory) with artifacts
in ``mlruns/artifacts/``; MLflow 3.13+ refuses the plain file store. ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` points at a server instead. :func:`tracked_run` guarantees that a run never
stays RUNNING: an exception ends it FAILED (reason in the ``error`` tag), Ctrl-C ends it KILLED, and a
SQLite store that stops taking writes (a full disk) ends it in the room :mod:`benchmark.store_reserve`
keeps for that.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

from benchmark.database_url import masked, sqlite_database, with_driver
from benchmark.errors import BenchmarkError, first_line
from benchmark.record.tags import ENV_CPU_CAPABILITY, ENV_CUDA_DEVICE, ENV_NUMPY, ENV_TORCH, ERROR
from benchmark.store_reserve import StoreFullError, ensure_reserve, release_reserve

MAX_PARAM_LENGTH = 6000
SERVER_TIMEOUT_S = 10.0
# MLflow 3's UI opens an experiment in its GenAI (traces) view unless the experiment says it trains models.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"


class TrackingError(BenchmarkError):
    """The tracking store cannot be opened or written."""


def default_tracking_uri() -> str:
    local = f"sqlite:///{Path('mlruns').resolve() / 'mlflow.db'}"
    return with_driver(os.environ.get("MLFLOW_TRACKING_URI") or local)


def resolved_uri(uri: str | None) -> str:
    """``uri`` as MLflow is given it: the driver spelled out, or the default store when there is none."""
    return with_driver(uri) if uri else default_tracking_uri()


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """For a SQLite store, an exclusive lock on ``<database>.lock`` beside it: processes that open a fresh
    store at the same moment would otherwise race to create its schema and its experiments, and one of
    them would lose its run. Other stores do their own locking."""
    database = sqlite_database(uri)
    if database is None:
        yield
        return
    import fcntl

    with open(database.with_name(database.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_experiment(uri: str | None, name: str) -> str:
    """Point MLflow at ``uri`` and return the id of experiment ``name``, creating it if needed (under
    :func:`store_lock`)."""
    uri = resolved_uri(uri)
    database = sqlite_database(uri)
    try:
        if database is not None:
            store_dir = database.parent
            store_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(store_dir, os.W_OK):
                raise TrackingError(f"{store_dir}: tracking store folder is not writable "
                                    "(use --tracking-uri)")
            ensure_reserve(database)
        if uri.startswith(("http://", "https://")):
            check_server(uri)
        with store_lock(uri):
            return _experiment_id(uri, name, None if database is None else database.parent / "artifacts")
    except (TrackingError, StoreFullError):
        raise
    except Exception as error:  # MLflow raises many types; the user needs one line
        raise TrackingError(f"cannot open tracking store {uri}: {first_line(error)}") from None


def _experiment_id(uri: str, name: str, artifacts: Path | None) -> str:
    """The id of experiment ``name``, created with its artifacts in ``artifacts`` (``None``: the
    store's default) if it does not exist."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:
            mlflow.MlflowClient(uri).set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG,
                                                        MODEL_TRAINING)
        return experiment.experiment_id
    location = None if artifacts is None else artifacts.resolve().as_uri()
    tags = {EXPERIMENT_KIND_TAG: MODEL_TRAINING}
    return mlflow.create_experiment(name, artifact_location=location, tags=tags)


def check_server(uri: str, timeout_s: float = SERVER_TIMEOUT_S) -> None:
    """One request to the tracking server's ``/health`` before anything else: a server that refuses or
    does not answer within ``timeout_s`` is one line now, not minutes of MLflow's retries later."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")  # credentials stay out of the probe
    try:
        health = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}/health"
        with urllib.request.urlopen(health, timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return  # it answered: a proxy or an older server without /health; MLflow reports the rest
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingError(f"tracking server {masked(uri)} does not answer ({reason}) within "
                            f"{timeout_s:g} s") from None


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment_tags() -> dict[str, str]:
    """What a run's numbers depend on besides its code, data, settings and seed: the NumPy and PyTorch
    versions, the CPU kernels PyTorch dispatches to (``torch.backends.cpu.get_cpu_capability()``, e.g.
    ``AVX2`` or ``AVX512``: training follows them, so equal runs give equal numbers only on equal kernels)
    and the CUDA device, if any."""
    import numpy
    import torch

    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return {ENV_NUMPY: numpy.__version__, ENV_TORCH: torch.__version__,
            ENV_CPU_CAPABILITY: torch.backends.cpu.get_cpu_capability(), ENV_CUDA_DEVICE: cuda}


def loggable_params(flat: dict[str, Any]) -> dict[str, str]:
    """MLflow params: strings of at most the store's length, with passwords in URLs masked."""
    return {k: masked(str(v))[:MAX_PARAM_LENGTH] for k, v in flat.items()}


@contextlib.contextmanager
def tracked_run(experiment_id: str, run_name: str, tags: dict[str, str], run_id: str | None = None,
                parent_run_id: str | None = None,
                stop_exceptions: tuple[type[BaseException], ...] = ()) -> Iterator[Any]:
    """Start (or, with ``run_id``, reopen) a run, as a child of ``parent_run_id`` if given, and end it
    FINISHED, FAILED or KILLED, never RUNNING. Ctrl-C and ``stop_exceptions`` (a pruned sweep trial)
    end it KILLED, any other exception FAILED; the reason goes to the ``error`` tag."""
    import mlflow

    run = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                           run_name=None if run_id else run_name, tags=tags, parent_run_id=parent_run_id,
                           nested=parent_run_id is not None)
    try:
        yield run
    except (KeyboardInterrupt, *stop_exceptions) as error:
        reason = ("interrupted (KeyboardInterrupt)" if isinstance(error, KeyboardInterrupt)
                  else f"stopped: {error}")
        end_run("KILLED", reason)
        raise
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}"
        end_run("FAILED", reason)
        if is_store_error(error):
            closed = close_in_reserve(run.info.run_id, "FAILED", reason)
            raise store_failure(error, run.info.run_id, "could not be recorded whole", closed) from error
        raise
    try:
        mlflow.end_run("FINISHED")
    except Exception as error:
        if not is_store_error(error):
            raise
        closed = close_in_reserve(run.info.run_id, "FINISHED")
        raise store_failure(error, run.info.run_id, "was scored but could not be marked FINISHED",
                            closed) from error


def close_in_reserve(run_id: str, status: str, reason: str | None = None) -> str | None:
    """After the store refused a write: free a SQLite store's reserve (:mod:`benchmark.store_reserve`) and
    end run ``run_id`` with ``status`` (and ``reason`` in its ``error`` tag) in the room it leaves. The
    status the run now has, or ``None`` when there was no reserve or the store still refuses."""
    import mlflow

    database = sqlite_database(mlflow.get_tracking_uri())
    if database is None or not release_reserve(database):
        return None
    client = mlflow.MlflowClient()
    try:
        if reason is not None:
            client.set_tag(run_id, ERROR, masked(reason)[:5000])
        client.set_terminated(run_id, status)
    except Exception:
        return None
    return status


def store_failure(error: BaseException, run_id: str, what: str, closed: str | None) -> TrackingError:
    """The one line for a store that stopped taking writes; ``closed``: the status the run was ended with
    in the reserve, if it could be."""
    full = f"the tracking store stopped taking writes ({first_line(error)}); run {run_id} {what}"
    if closed == "FINISHED":
        return TrackingError(f"{full}; it was ended FINISHED in the room kept for closing runs: free space "
                             "before the next run")
    if closed is not None:
        return TrackingError(f"{full} and was ended {closed} in the room kept for closing runs: free space, "
                             "then --resume it")
    return TrackingError(f"{full}: free space, then --resume it")


def is_store_error(error: BaseException) -> bool:
    """An error raised by the tracking store (its database or its driver), not by the run's own code."""
    import sqlite3

    from mlflow.exceptions import MlflowException

    module = type(error).__module__ or ""
    return isinstance(error, (sqlite3.Error, MlflowException)) or module.startswith(("sqlalchemy", "psycopg"))


def end_run(status: str, reason: str, attempts: int = 3) -> None:
    """Tag the active run with ``reason`` and end it with ``status``. A second interrupt while closing
    (Ctrl-C pressed twice; SIGTERM sent to both a launcher and its child) is absorbed and the closing
    retried: otherwise the run would be left to MLflow's exit hook, which ends it FINISHED."""
    import mlflow

    for attempt in range(attempts):
        try:
            try:
                mlflow.set_tag(ERROR, masked(reason)[:5000])
            except Exception:  # the store itself failed: still take the run off MLflow's stack below
                pass
            try:
                mlflow.end_run(status)  # pops the run first, so MLflow's exit hook never ends it FINISHED
            except Exception:  # the store refuses the status; the error that ended the run is reported
                pass
            return
        except KeyboardInterrupt:
            if attempt == attempts - 1:
                raise
