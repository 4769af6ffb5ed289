"""The augmentation contract. Every strategy may do one or both of two things:

* **synthesize** a labelled synthetic set once, fitted on the training split of the current fold only
  (generators: VAE, GAN, DDPM-2ch, latent blending) and, where a method uses one, the task's unlabelled
  pool (never test images), returned with per-sample quality evidence;
* **transform** each training batch on the fly (classic geometric + intensity augmentation), applying
  one draw consistently to images, landmarks and masks.

The runner calls :meth:`Augmentation.synthesize` before training and :meth:`Augmentation.transform` on
every training batch; validation and test batches are never transformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from benchmark.data.imageset import ImageSet
from benchmark.training.batch import Batch


@dataclass(frozen=True)
class CompositionSettings:
    """How a generated set joins the real one (see :func:`benchmark.synthetic.compose`)."""

    composition: Literal["real", "synthetic", "real+synthetic"] = "real+synthetic"
    n_synthetic: int | None = None
    synthetic_ratio: float = 1.0


def composition_search_space(name: str):
    """The sweep suggestions every generator shares, for the one named ``name``: how many synthetic
    images join the real ones (``synthetic_ratio`` x the real set) and how many are generated per
    training image (``samples_ratio``), each trial parameter named ``<name>.<setting>``."""

    def search_space(trial) -> dict:
        return {"synthetic_ratio": trial.suggest_float(f"{name}.synthetic_ratio", 0.25, 4.0, log=True),
                "samples_ratio": trial.suggest_float(f"{name}.samples_ratio", 0.2, 4.0, log=True)}

    return search_space


@dataclass
class SyntheticSet:
    """Generated, labelled images plus evidence: ``quality`` holds per-sample columns (accepted, reason,
    nearest-training SSIM, ...); ``metrics`` the generator's summary numbers for tracking."""

    images: ImageSet
    quality: dict[str, list] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Augmentation:
    """Base class and the ``none`` strategy. Generators set :attr:`composition` from their settings."""

    name: str = "none"
    composition: CompositionSettings | None = None

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None) -> SyntheticSet | None:
        return None

    def transform(self, batch: Batch, generator: torch.Generator) -> Batch:
        return batch

    def metrics(self) -> dict[str, float]:
        """Counters accumulated while transforming (logged once at the end of training)."""
        return {}
