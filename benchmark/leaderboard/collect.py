"""Reading finished runs, and their per-image results, back from an MLflow tracking store.

A *leaderboard run* of a task is a finished top-level run (not a sweep trial) whose ``variant`` tag
equals the digest of the profile's default settings for its (aug, detector) pair
(:func:`benchmark.config.variant_digest`), so runs of ablations or hand-tuned ``--set`` overrides never
mix with the defaults. Seeds, folds and the training-set size may differ: they are what is aggregated
over (seeds, folds) or shown side by side (``train_size``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from benchmark.tracking import TrackingError

TAG_COLUMNS = ("task", "aug", "detector", "profile", "seed", "fold", "train_size", "variant", "ablation", "cell",
               "test_digest", "mlflow.parentRunId")
PARAM_COLUMNS = ("fold",)


def search_finished_runs(tracking_uri: str, filter_string: str, experiment: str | None = None) -> pd.DataFrame:
    """Every FINISHED run matching ``filter_string`` (MLflow search syntax) in ``experiment`` or in all
    experiments: one row per run with ``run_id``, ``artifact_uri``, the :data:`TAG_COLUMNS` (missing
    tags as ``None``), the :data:`PARAM_COLUMNS` as ``param.<name>`` and ``metrics.<name>`` columns."""
    import mlflow
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri)
        if experiment is None:
            experiment_ids = [e.experiment_id for e in client.search_experiments()]
        else:
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise TrackingError(f"{tracking_uri}: no experiment named {experiment!r}")
            experiment_ids = [found.experiment_id]
        if not experiment_ids:
            return pd.DataFrame(columns=["run_id", "artifact_uri", *TAG_COLUMNS, *(f"param.{p}" for p in PARAM_COLUMNS)])
        mlflow.set_tracking_uri(tracking_uri)
        runs = mlflow.search_runs(experiment_ids, filter_string=f"{filter_string} and attributes.status = 'FINISHED'",
                                  output_format="pandas")
    except TrackingError:
        raise
    except Exception as error:  # MLflow raises many types; one line for the user
        raise TrackingError(f"cannot read tracking store {tracking_uri}: {str(error).strip().splitlines()[0]}") from None
    for tag in TAG_COLUMNS:
        runs[tag] = runs[f"tags.{tag}"] if f"tags.{tag}" in runs else None
    params = [f"param.{p}" for p in PARAM_COLUMNS]
    for param in PARAM_COLUMNS:
        runs[f"param.{param}"] = runs[f"params.{param}"] if f"params.{param}" in runs else None
    metric_columns = [c for c in runs.columns if c.startswith("metrics.")]
    return runs[["run_id", "artifact_uri", *TAG_COLUMNS, *params, *metric_columns]].reset_index(drop=True)


def leaderboard_runs(tracking_uri: str, task: str, profile: str, experiment: str | None = None) -> pd.DataFrame:
    """The leaderboard runs of ``task`` under ``profile`` (module docstring)."""
    from benchmark.config import resolve_config, variant_digest

    runs = search_finished_runs(tracking_uri, f"tags.task = '{task}' and tags.profile = '{profile}'", experiment)
    if runs.empty:
        return runs

    @lru_cache(maxsize=None)
    def default_variant(aug: str, detector: str) -> str:
        return variant_digest(resolve_config(profile, task, aug, detector))

    is_default = [variant == default_variant(aug, detector)
                  for aug, detector, variant in zip(runs["aug"], runs["detector"], runs["variant"])]
    top_level = runs["mlflow.parentRunId"].isna()
    return runs[pd.Series(is_default, index=runs.index) & top_level].reset_index(drop=True)


def local_artifact(run_id: str, artifact_uri: str, name: str, tracking_uri: str) -> Path | None:
    """The path of a run's artifact on this machine's file system, or None for a remote artifact store.

    A SQLite store made by this suite keeps artifacts beside it (``<store>/artifacts/<run>/artifacts``;
    MLflow's own layout adds an experiment folder). When the recorded absolute path does not exist (the
    store was moved or cloned elsewhere, as the committed ``leaderboards/store`` is) the run's folder is
    looked up under ``artifacts/`` beside the database."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme not in ("file", ""):
        return None
    recorded = Path(unquote(parsed.path)) / name
    if recorded.exists() or not tracking_uri.startswith("sqlite:///") or run_id not in recorded.parts:
        return recorded
    parts = recorded.parts
    start = parts.index(run_id)
    artifacts = Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"
    for candidate in (artifacts.joinpath(*parts[start:]), artifacts.joinpath(*parts[start - 1:])):
        if candidate.exists():
            return candidate
    return recorded


def predictions_path(run_id: str, artifact_uri: str, tracking_uri: str) -> Path:
    """A run's ``predictions.csv`` on this machine: in place for a local store, downloaded from a
    tracking server otherwise."""
    path = local_artifact(run_id, artifact_uri, "predictions.csv", tracking_uri)
    if path is not None and path.exists():
        return path
    import mlflow

    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions.csv",
                                                        tracking_uri=tracking_uri))
    except Exception as error:
        raise TrackingError(f"run {run_id}: cannot read predictions.csv: {str(error).strip().splitlines()[0]}") from None


def read_instances(runs: pd.DataFrame, columns: list[str], tracking_uri: str, threads: int = 8) -> pd.DataFrame:
    """``columns`` of every run's ``predictions.csv`` in one frame, with ``run`` = the run's position in
    ``runs``; string columns come back categorical. Files are parsed by pyarrow on ``threads`` threads (it
    releases the GIL), which keeps a store of thousands of runs at a few seconds."""
    import pyarrow as pa
    from pyarrow import csv

    # ids stay text even where they look like numbers ("001"), so that runs pair on the same image
    options = csv.ConvertOptions(include_columns=columns,
                                 column_types={"image_id": pa.string()} if "image_id" in columns else None)

    def read(position: int) -> pa.Table:
        run = runs.iloc[position]
        path = predictions_path(run["run_id"], run["artifact_uri"], tracking_uri)
        try:
            table = csv.read_csv(path, convert_options=options)
        except (pa.ArrowInvalid, KeyError) as error:
            raise TrackingError(f"{path}: unreadable predictions table: {str(error).splitlines()[0]}") from None
        return table.append_column("run", pa.array(np.full(table.num_rows, position, np.int32)))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        tables = list(pool.map(read, range(len(runs))))
    if not tables:
        return pd.DataFrame(columns=[*columns, "run"])
    table = pa.concat_tables(tables, promote_options="permissive")
    for name in columns:
        if pa.types.is_string(table.schema.field(name).type) or pa.types.is_large_string(table.schema.field(name).type):
            table = table.set_column(table.schema.get_field_index(name), name, table[name].dictionary_encode())
    return table.to_pandas()
