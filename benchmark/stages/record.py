"""Opening an experiment's MLflow run, and stage ``record``: what the other stages produced, written to it.

:func:`open_run` starts the run (or reopens one to ``--resume``; see :func:`resumable_run`) with its
tags (:func:`benchmark.record.tags.run_tags`) and params, where a :class:`RunPlacement` puts it, and
ends it FINISHED, FAILED or KILLED (:func:`benchmark.tracking.tracked_run`). :func:`record` logs the
test metrics and the artifacts (:mod:`benchmark.record.artifacts`) of a whole run; :func:`record_validation`
the validation result of a run that stops after training (a sweep trial).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pandas as pd
import yaml

from benchmark import tracking
from benchmark.config import flatten
from benchmark.errors import ConfigError
from benchmark.figures import overlay_grid, sample_grid, training_curves
from benchmark.record import artifacts, tags
from benchmark.record.metrics import (
    BEST_EPOCH, BEST_VAL_SCORE, EPOCHS_RUN, INFERENCE_IMAGES_PER_S, STOPPED_EARLY, TRAIN_SECONDS, VALIDATION_PREFIX,
)
from benchmark.record.predictions import IMAGE_ID, write_predictions
from benchmark.training.checkpoint import check_resumable, checkpoint_dir, removed_on_success

if TYPE_CHECKING:
    from benchmark.stages.evaluate import Scores
    from benchmark.stages.prepare import Experiment
    from benchmark.stages.synthesize import Synthesis
    from benchmark.stages.train import Trained


@dataclass
class RunResult:
    run_id: str
    task: str
    aug: str
    detector: str
    profile: str
    seed: int
    metrics: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "task": self.task, "aug": self.aug, "detector": self.detector,
                "profile": self.profile, "seed": self.seed, "metrics": self.metrics}


@dataclass(frozen=True)
class RunPlacement:
    """Where a run goes: under ``parent_run_id`` (a sweep's parent run), named ``name`` (default
    ``task/aug/detector/seed<N>``), with ``tags`` besides its own (an ablation's cell, a sweep's trial)."""

    parent_run_id: str | None = None
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackedRun:
    """The open MLflow run of an experiment, with its checkpoint folder; ``resumed`` when it continues an
    interrupted run from that folder's checkpoint."""

    run_id: str
    checkpoint_dir: Path
    resumed: bool

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)

    def log_artifacts(self, folder: Path) -> None:
        import mlflow

        mlflow.log_artifacts(str(folder))


@contextlib.contextmanager
def open_run(experiment: Experiment, placement: RunPlacement = RunPlacement(), resume: str | None = None,
             stop_exceptions: tuple[type[BaseException], ...] = ()) -> Iterator[TrackedRun]:
    """The experiment's run, open while the block runs, with its params logged. ``resume`` (a run id, or
    ``"latest"``) reopens an interrupted run of the same configuration instead; ``stop_exceptions`` end
    the run KILLED rather than FAILED (a pruned sweep trial). The checkpoints are removed when the block
    ends without an exception."""
    import mlflow

    config, data = experiment.config, experiment.data
    tracking_uri = tracking.resolved_uri(config["tracking"]["uri"])
    experiment_id = tracking.open_experiment(tracking_uri, config["tracking"]["experiment"] or config["task"])
    run_tags = {**tags.run_tags(config, data, tracking.git_commit()), **placement.tags}
    resume_id = None if resume is None else resumable_run(experiment_id, run_tags, resume)
    if resume_id is not None:
        check_resumable(resume_id, tracking_uri)
    with tracking.tracked_run(experiment_id, placement.name or experiment.name, run_tags, run_id=resume_id,
                              parent_run_id=placement.parent_run_id, stop_exceptions=stop_exceptions) as run, \
            removed_on_success(checkpoint_dir(run.info.run_id, tracking_uri)) as checkpoints:
        mlflow.log_params(tracking.loggable_params({**flatten(config), **data.protocol.as_params()}))
        mlflow.log_params({"data.n_train": len(data.train), "data.n_val": len(data.val), "data.n_test": len(data.test),
                           **{f"data.skipped.{k}": v for k, v in data.skipped.items()}})
        yield TrackedRun(run.info.run_id, checkpoints, resume_id is not None)


def resumable_run(experiment_id: str, run_tags: dict[str, str], resume: str) -> str:
    """The id of the run to continue: ``resume`` itself, or for ``"latest"`` the newest unfinished
    (RUNNING after a kill, FAILED or KILLED) run of the experiment with this run's identity tags. The
    run must exist, be unfinished and have the same configuration (:data:`benchmark.record.tags.IDENTITY`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    if resume == "latest":
        query = " and ".join(f"tags.{k} = '{run_tags[k]}'" for k in tags.IDENTITY)
        candidates = [r for r in client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"])
                      if r.info.status != "FINISHED"]
        if not candidates:
            raise ConfigError(f"--resume: no unfinished run of {run_tags[tags.TASK]}/{run_tags[tags.AUG]}/"
                              f"{run_tags[tags.DETECTOR]}/seed{run_tags[tags.SEED]} with this configuration in "
                              f"experiment {experiment_id}")
        return candidates[0].info.run_id
    try:
        run = client.get_run(resume)
    except Exception:
        raise ConfigError(f"--resume: no run with id {resume!r} in the tracking store") from None
    if run.info.status == "FINISHED":
        raise ConfigError(f"--resume: run {resume} already finished")
    different = [k for k in tags.IDENTITY if run.data.tags.get(k) != run_tags[k]]
    if different:
        raise ConfigError(f"--resume: run {resume} has another configuration ({', '.join(different)} differ); "
                          "resume with the command that started it")
    return resume


def training_summary(trained: Trained) -> dict[str, float]:
    """The best epoch, the epochs run and whether early stopping ended training (none without epochs)."""
    if not trained.epochs:
        return {}
    return {BEST_EPOCH: trained.history.best_epoch, EPOCHS_RUN: len(trained.epochs),
            STOPPED_EARLY: float(trained.history.stopped_early)}


def record(experiment: Experiment, run: TrackedRun, synthesis: Synthesis, trained: Trained,
           scores: Scores) -> RunResult:
    """Log the test metrics, the timing and the artifacts; the result carries the generation metrics too."""
    metrics = {**scores.evaluation.metrics, **trained.augmentation_metrics, **scores.variants}
    timing = {TRAIN_SECONDS: trained.seconds, INFERENCE_IMAGES_PER_S: scores.images_per_s, **training_summary(trained)}
    run.log_metrics({**metrics, **timing})
    with tempfile.TemporaryDirectory() as folder:
        write_artifacts(Path(folder), experiment, synthesis, trained, scores, timing)
        run.log_artifacts(Path(folder))
    return run_result(experiment, run, {**metrics, **timing, **synthesis.metrics})


def write_artifacts(folder: Path, experiment: Experiment, synthesis: Synthesis, trained: Trained, scores: Scores,
                    timing: dict[str, float]) -> None:
    data = experiment.data
    (folder / artifacts.CONFIG).write_text(yaml.safe_dump(experiment.config, sort_keys=False))
    (folder / artifacts.SPLITS).write_text(json.dumps(data.split_summary(), indent=1))
    summary = {**scores.evaluation.summary(data.protocol), "timing": timing}
    (folder / artifacts.SUMMARY).write_text(json.dumps(summary, indent=2))
    write_predictions(scores.evaluation.table, folder)
    overlay_grid(data.test, scores.prediction, folder / artifacts.OVERLAYS)
    if trained.epochs:
        training_curves(trained.epochs, folder / artifacts.CURVES)
    if synthesis.synthetic is not None:
        quality = pd.DataFrame({IMAGE_ID: synthesis.synthetic.images.ids, **synthesis.synthetic.quality})
        quality.to_csv(folder / artifacts.SYNTHETIC_QUALITY, index=False)
        sample_grid(synthesis.synthetic, folder / artifacts.SYNTHETIC_SAMPLES)


def record_validation(experiment: Experiment, run: TrackedRun, trained: Trained) -> RunResult:
    """Log and return the result of a run that never sees the test split (a sweep trial): the best
    validation score (lower is better), the best epoch's ``val_*`` metrics, the training summary."""
    if not trained.epochs:
        raise ConfigError("this detector does not train with a validation score, so it cannot be swept")
    best = trained.epochs[trained.history.best_epoch]
    metrics = {BEST_VAL_SCORE: trained.history.best_score, **training_summary(trained), TRAIN_SECONDS: trained.seconds,
               **{k: v for k, v in best.items() if k.startswith(VALIDATION_PREFIX)}}
    run.log_metrics(metrics)
    return run_result(experiment, run, metrics)


def run_result(experiment: Experiment, run: TrackedRun, metrics: dict[str, float]) -> RunResult:
    config = experiment.config
    return RunResult(run.run_id, config["task"], config["aug"], config["detector"], config["profile"],
                     experiment.seed, metrics)
