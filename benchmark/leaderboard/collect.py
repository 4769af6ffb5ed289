"""Reading finished runs, and their per-image results, back from an MLflow tracking store.

A *leaderboard run* of a task is a finished top-level run (not a sweep trial) whose ``variant`` tag
equals the digest of the profile's default settings for its (aug, detector) pair
(:func:`benchmark.config.variant_digest`), so runs of ablations or hand-tuned ``--set`` overrides never
mix with the defaults. Seeds, folds and the training-set size may differ: they are what is aggregated
over (seeds, folds) or shown side by side (``train_size``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from benchmark.errors import first_line
from benchmark.record.artifacts import PREDICTIONS
from benchmark.record.predictions import IMAGE_ID, PER_IMAGE_SCORE, read_predictions
from benchmark.record.tags import (
    AUG,
    COLUMNS,
    DETECTOR,
    FOLD,
    PARENT_RUN,
    PROFILE,
    TASK,
    TEST_DIGEST,
    VARIANT,
)
from benchmark.tracking import TrackingError

N_TRAIN = "data.n_train"  # the number of training images, a param of every run (stages.open_run)
PARAM_COLUMNS = (FOLD, N_TRAIN)


def search_finished_runs(tracking_uri: str, tags: Mapping[str, str], experiment: str | None = None,
                         through_mlflow: bool = False) -> pd.DataFrame:
    """Every FINISHED, active run whose tags equal ``tags``, in ``experiment`` or in all active
    experiments, newest first: one row per run with ``run_id``, ``artifact_uri``, the tags
    :data:`benchmark.record.tags.COLUMNS` (missing tags as ``None``), the :data:`PARAM_COLUMNS` as
    ``param.<name>`` and ``metrics.<name>`` columns (the latest value of each metric).

    A ``sqlite:///`` store is read with one SQL query per MLflow table, in read-only mode (safe
    beside a writing run); any other store, or any store with ``through_mlflow``, through
    :func:`mlflow.search_runs`. Both give the same frame (a test holds them to it); the first skips
    MLflow's import, its schema check and its ORM objects, which are most of the time on a store of
    thousands of runs (1,000 runs: 0.14 s instead of 3.3 s, with the CPU shared)."""
    if tracking_uri.startswith("sqlite:///") and not through_mlflow:
        runs = _search_sqlite(Path(unquote(tracking_uri.removeprefix("sqlite:///"))), tags, experiment)
    else:
        runs = _search_mlflow(tracking_uri, tags, experiment)
    for tag in COLUMNS:
        runs[tag] = runs[f"tags.{tag}"].astype(object).where(runs[f"tags.{tag}"].notna(), None) \
            if f"tags.{tag}" in runs else None
    params = [f"param.{p}" for p in PARAM_COLUMNS]
    for param in PARAM_COLUMNS:
        runs[f"param.{param}"] = runs[f"params.{param}"] if f"params.{param}" in runs else None
    metric_columns = sorted(c for c in runs.columns if c.startswith("metrics."))
    return runs[["run_id", "artifact_uri", *COLUMNS, *params, *metric_columns]].reset_index(drop=True)


def _search_mlflow(tracking_uri: str, tags: Mapping[str, str], experiment: str | None) -> pd.DataFrame:
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
            return pd.DataFrame(columns=["run_id", "artifact_uri"])
        conditions = ([f"tags.`{key}` = '{value}'" for key, value in tags.items()]
                      + ["attributes.status = 'FINISHED'"])
        mlflow.set_tracking_uri(tracking_uri)
        return mlflow.search_runs(experiment_ids, filter_string=" and ".join(conditions),
                                  output_format="pandas")
    except TrackingError:
        raise
    except Exception as error:  # MLflow raises many types; one line for the user
        raise TrackingError(f"cannot read tracking store {tracking_uri}: "
                            f"{str(error).strip().splitlines()[0]}") from None


def _search_sqlite(path: Path, tags: Mapping[str, str], experiment: str | None) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=["run_id", "artifact_uri"])
    joins = "".join(f" JOIN tags t{i} ON t{i}.run_uuid = r.run_uuid AND t{i}.key = ? AND t{i}.value = ?"
                    for i in range(len(tags)))
    where = "e.name = ?" if experiment is not None else "e.lifecycle_stage = 'active'"
    selected = ("SELECT r.run_uuid FROM runs r "
                f"JOIN experiments e ON e.experiment_id = r.experiment_id{joins} "
                f"WHERE r.status = 'FINISHED' AND r.lifecycle_stage = 'active' AND {where}")
    arguments = [v for item in tags.items() for v in item] + ([experiment] if experiment is not None else [])
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            if experiment is not None and connection.execute(
                    "SELECT 1 FROM experiments WHERE name = ?", (experiment,)).fetchone() is None:
                raise TrackingError(f"sqlite:///{path}: no experiment named {experiment!r}")
            runs = pd.read_sql_query("SELECT run_uuid AS run_id, artifact_uri FROM runs "
                                     f"WHERE run_uuid IN ({selected}) "
                                     "ORDER BY start_time DESC, run_uuid", connection, params=arguments)
            long = {table: pd.read_sql_query(f"SELECT run_uuid, key, {value} AS value FROM {table} "
                                             f"WHERE run_uuid IN ({selected})", connection, params=arguments)
                    for table, value in (("tags", "value"), ("params", "value"),
                                         ("latest_metrics", "CASE WHEN is_nan THEN NULL ELSE value END"))}
    except TrackingError:
        raise
    except (sqlite3.Error, pd.errors.DatabaseError) as error:
        raise TrackingError(f"sqlite:///{path}: not a readable MLflow store: {error}") from None
    for table, prefix in (("tags", "tags."), ("params", "params."), ("latest_metrics", "metrics.")):
        wide = long[table].pivot(index="run_uuid", columns="key", values="value").add_prefix(prefix)
        if prefix == "metrics.":
            wide = wide.astype(float)
        runs = runs.join(wide, on="run_id")
    return runs


def leaderboard_runs(tracking_uri: str, task: str, profile: str,
                     experiment: str | None = None) -> pd.DataFrame:
    """The leaderboard runs of ``task`` under ``profile`` (module docstring)."""
    from benchmark.config import resolve_config, variant_digest

    runs = search_finished_runs(tracking_uri, {TASK: task, PROFILE: profile}, experiment)
    if runs.empty:
        return runs

    @lru_cache(maxsize=None)
    def default_variant(aug: str, detector: str) -> str:
        return variant_digest(resolve_config(profile, task, aug, detector))

    is_default = [variant == default_variant(aug, detector)
                  for aug, detector, variant in zip(runs[AUG], runs[DETECTOR], runs[VARIANT])]
    top_level = runs[PARENT_RUN].isna()
    return runs[pd.Series(is_default, index=runs.index) & top_level].reset_index(drop=True)


def on_one_test_set(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` (newest first) split into those scored on their fold's test set and the others.

    Per-image results pair only on the same images. A fold's test set is the ``test_digest`` most of its
    runs were scored on (on a tie, the newest run's); a run scored on other images (another copy of a data
    set, a phantom rendered otherwise) is set apart: never paired, averaged or ranked with the rest."""
    kept = pd.Series(False, index=runs.index)
    digests = runs[TEST_DIGEST].fillna("")
    for _, fold in digests.groupby(runs[FOLD].fillna(""), sort=False):
        counts = fold.groupby(fold, sort=False).size()  # in order of first appearance: newest first
        kept[fold.index] = fold.eq(counts.idxmax())
    return runs[kept].reset_index(drop=True), runs[~kept].reset_index(drop=True)


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
    path = local_artifact(run_id, artifact_uri, PREDICTIONS, tracking_uri)
    if path is not None and path.exists():
        return path
    import mlflow

    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PREDICTIONS,
                                                        tracking_uri=tracking_uri))
    except Exception as error:
        raise TrackingError(f"run {run_id}: cannot read {PREDICTIONS}: {first_line(error)}") from None


def read_instances(runs: pd.DataFrame, columns: list[str], tracking_uri: str,
                   threads: int = 8) -> pd.DataFrame:
    """``columns`` of every run's ``predictions.csv`` in one frame, with ``run`` = the run's position in
    ``runs``; string columns come back categorical. Files are read
    (:func:`benchmark.record.predictions.read_predictions`) on ``threads`` threads, which keeps a store of
    thousands of runs at a few seconds."""
    import pyarrow as pa

    def read(position: int) -> pa.Table:
        run = runs.iloc[position]
        path = predictions_path(run["run_id"], run["artifact_uri"], tracking_uri)
        try:
            table = read_predictions(path, columns)
        except (pa.ArrowInvalid, KeyError) as error:
            raise TrackingError(f"{path}: unreadable predictions table: "
                                f"{str(error).splitlines()[0]}") from None
        return table.append_column("run", pa.array(np.full(table.num_rows, position, np.int32)))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        tables = list(pool.map(read, range(len(runs))))
    if not tables:
        return pd.DataFrame(columns=[*columns, "run"])
    table = pa.concat_tables(tables, promote_options="permissive")
    for name in columns:
        field_type = table.schema.field(name).type
        if pa.types.is_string(field_type) or pa.types.is_large_string(field_type):
            table = table.set_column(table.schema.get_field_index(name), name,
                                     table[name].dictionary_encode())
    return table.to_pandas()


def per_image_values(instances: pd.DataFrame, runs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Each run's score per test image from its :func:`read_instances` rows: ``run_id``, ``fold``,
    ``image_id`` and ``value``, the mean of :data:`~benchmark.record.predictions.PER_IMAGE_SCORE` over the
    image's rows (an image's MRE over its landmarks, or its Dice); what the paired tests compare."""
    per_image = (instances.groupby(["run", IMAGE_ID], observed=True, sort=False)[PER_IMAGE_SCORE[kind]].mean()
                 .rename("value").reset_index())
    positions = per_image["run"].to_numpy()
    for column in ("run_id", FOLD):
        per_image[column] = runs[column].astype(str).to_numpy()[positions]
    return per_image.drop(columns="run")
