"""Stage ``train``: the detector fitted on the composed training set and selected on the validation split,
every epoch's metrics logged to the run, a checkpoint kept beside it (so an interrupted run resumes)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from benchmark.detector import Detector, FitContext
from benchmark.stages.open_run import TrackedRun
from benchmark.stages.prepare import Experiment
from benchmark.stages.synthesize import Synthesis
from benchmark.training.device import seed_everything
from benchmark.training.loop import History


@dataclass
class Trained:
    """The fitted ``detector``, its training ``history`` (None for a detector that does not train), the
    wall-clock ``seconds`` of fitting, and the augmentation's counters from transforming its batches."""

    detector: Detector
    history: History | None
    seconds: float
    augmentation_metrics: dict[str, float]

    @property
    def epochs(self) -> list[dict[str, float]]:
        """Each epoch's logged metrics (none for a detector that does not train)."""
        return self.history.epoch_metrics if self.history is not None else []


def train(experiment: Experiment, synthesis: Synthesis, run: TrackedRun, progress: bool = True,
          on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Trained:
    """Fit the detector; ``on_epoch(epoch, metrics)`` is called after each epoch is logged (a sweep prunes
    from it)."""
    seed_everything(experiment.seed, experiment.device)

    def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
        run.log_metrics(metrics, step=epoch)
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    context = FitContext(settings=experiment.settings, augmentation=experiment.augmentation,
                         seed=experiment.seed, device=experiment.device, checkpoint_dir=run.checkpoint_dir,
                         progress=progress, on_epoch=log_epoch, resume=run.resumed)
    started = time.perf_counter()
    history = experiment.detector.fit(synthesis.training, experiment.data.val, context)
    seconds = time.perf_counter() - started
    return Trained(experiment.detector, history, seconds, experiment.augmentation.metrics())
