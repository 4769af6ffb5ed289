"""Stage ``record``: what the other stages produced, written to the run (:mod:`benchmark.record` names it).

:func:`record` logs the test metrics, the timing and the artifacts of a whole run;
:func:`record_validation` the validation result of a run that stops after training (a sweep trial).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from benchmark.errors import ConfigError
from benchmark.figures import overlay_grid, sample_grid, training_curves
from benchmark.record import artifacts
from benchmark.record.metrics import (
    BEST_EPOCH,
    BEST_VAL_SCORE,
    EPOCHS_RUN,
    INFERENCE_IMAGES_PER_S,
    STOPPED_EARLY,
    TRAIN_SECONDS,
    VALIDATION_PREFIX,
)
from benchmark.record.predictions import IMAGE_ID, write_predictions

if TYPE_CHECKING:
    from benchmark.stages.evaluate import Scores
    from benchmark.stages.open_run import TrackedRun
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


def record(experiment: Experiment, run: TrackedRun, synthesis: Synthesis, trained: Trained,
           scores: Scores) -> RunResult:
    """Log the test metrics, the timing and the artifacts; the result carries the generation metrics too."""
    metrics = {**scores.evaluation.metrics, **trained.augmentation_metrics, **scores.variants}
    timing = {TRAIN_SECONDS: trained.seconds, INFERENCE_IMAGES_PER_S: scores.images_per_s,
              **training_summary(trained)}
    run.log_metrics({**metrics, **timing})
    with tempfile.TemporaryDirectory() as folder:
        write_artifacts(Path(folder), experiment, synthesis, trained, scores, timing)
        run.log_artifacts(Path(folder))
    return run_result(experiment, run, {**metrics, **timing, **synthesis.metrics})


def record_validation(experiment: Experiment, run: TrackedRun, trained: Trained) -> RunResult:
    """Log and return the result of a run that never sees the test split (a sweep trial): the best
    validation score (lower is better), the training summary and the best epoch's ``val_*`` metrics."""
    if not trained.epochs:
        raise ConfigError("this detector does not train with a validation score, so it cannot be swept")
    best = trained.epochs[trained.history.best_epoch]
    validation = {k: v for k, v in best.items() if k.startswith(VALIDATION_PREFIX)}
    metrics = {BEST_VAL_SCORE: trained.history.best_score, **training_summary(trained),
               TRAIN_SECONDS: trained.seconds, **validation}
    run.log_metrics(metrics)
    return run_result(experiment, run, metrics)


def training_summary(trained: Trained) -> dict[str, float]:
    """The best epoch, the epochs run and whether early stopping ended training (none without epochs)."""
    if not trained.epochs:
        return {}
    return {BEST_EPOCH: trained.history.best_epoch, EPOCHS_RUN: len(trained.epochs),
            STOPPED_EARLY: float(trained.history.stopped_early)}


def write_artifacts(folder: Path, experiment: Experiment, synthesis: Synthesis, trained: Trained,
                    scores: Scores, timing: dict[str, float]) -> None:
    """The files of :mod:`benchmark.record.artifacts`, in ``folder``."""
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


def run_result(experiment: Experiment, run: TrackedRun, metrics: dict[str, float]) -> RunResult:
    config = experiment.config
    return RunResult(run.run_id, config["task"], config["aug"], config["detector"], config["profile"],
                     experiment.seed, metrics)
