"""The detector contract: fit on a labelled training set (real, or real + synthetic), predict test images.

Landmark detectors predict (N, K, 2) positions in working pixels; segmentation detectors predict
(N, H, W) binary masks. A detector that can do both (the heatmap U-Net with a mask head) declares it
in :attr:`Detector.kinds`; the runner checks the task's kind against it before anything runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from benchmark.augmentation import Augmentation
from benchmark.data.imageset import ImageSet
from benchmark.task import TaskShape
from benchmark.training.batch import Batch
from benchmark.training.loop import History, fit
from benchmark.training.settings import TrainSettings


@dataclass
class Prediction:
    landmarks: np.ndarray | None = None
    masks: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class FitContext:
    """Everything a detector's ``fit`` may use besides the data."""

    settings: TrainSettings
    augmentation: Augmentation
    seed: int
    device: torch.device
    checkpoint_dir: Path | None = None
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    resume: bool = False
    progress: bool = True


def train_in_context(trainable, train: ImageSet, val: ImageSet, context: FitContext) -> History:
    """Run :func:`benchmark.training.loop.fit` on ``trainable`` with everything ``context`` carries."""
    return fit(trainable, train, val, context.settings, augmentation=context.augmentation, seed=context.seed,
               device=context.device, checkpoint_dir=context.checkpoint_dir, on_epoch=context.on_epoch,
               resume=context.resume, progress=context.progress)


class Detector(ABC):
    """``trains``: whether :meth:`fit` runs the training loop with a per-epoch validation score (what a
    sweep tunes and prunes on); a reference predictor such as ``mean-shape`` does not."""

    name: str = ""
    kinds: frozenset[str] = frozenset()
    trains: bool = True

    def check(self, shape: TaskShape) -> None:
        """Raise a ConfigError if this detector cannot work on a task of ``shape`` (its working size, and
        once the data are loaded its set sizes); called before any run exists."""

    def setup(self, train: ImageSet, context: FitContext) -> None:
        """Build the untrained network for ``train`` (its landmark count, size) so that :meth:`fit`, or
        ``benchmark perf`` step by step, can train it; detectors that train override this."""
        raise TypeError(f"{self.name} has no network to set up")

    def network_loss(self, batch: Batch) -> Callable[[torch.nn.Module], torch.Tensor]:
        """The training loss on ``batch`` as a function of a network of this detector's architecture, with
        what does not depend on the network (targets, conditions) prepared once: ``training_loss(batch)``
        is ``network_loss(batch)(self.model)``, and ``benchmark perf``'s reference loop calls it on a copy
        of the network (:mod:`benchmark.perf.contract`); detectors that train override this."""
        raise TypeError(f"{self.name} has no network to train")

    @abstractmethod
    def fit(self, train: ImageSet, val: ImageSet, context: FitContext) -> History | None:
        """Learn from ``train``; select the model on ``val`` (never the test split)."""

    @abstractmethod
    def predict(self, images: ImageSet) -> Prediction:
        """Predict landmarks or masks for every image, at the working size."""

    def prediction_variants(self) -> dict[str, Callable[[ImageSet], Prediction]]:
        """Further ways to predict with the same trained model, reported beside :meth:`predict` (another
        inference mode, say), by name; the runner logs each one's metrics as ``<name>.<metric>``."""
        return {}
