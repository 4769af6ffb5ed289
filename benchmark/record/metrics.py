"""Metric names, and the spec of each metric a table shows: label, direction, digits, headline.

A metric carries its direction and label once (lm-evaluation-harness's ``MetricSpec``); the leaderboard,
ablation tables, the sweep's validation score and the CLI's result line read them from here.

* Landmark tasks: ``mre_mm`` (primary) and ``sdr_<r>mm`` for each success radius ``r`` of the protocol.
* Segmentation tasks: ``dice`` (primary), ``precision``, ``recall``, ``hd95_mm``.
* Generators: ``acceptance_rate``, ``nearest_train_ssim_mean``, ``n_generated`` (:func:`sample_metrics`),
  ``generator_train_seconds``, ``sampling_images_per_s`` (:func:`timing_metrics`).

**Validation score** (early stopping, model selection, sweeps; lower is better): the task's primary
metric on the validation split, logged each epoch as ``val_<primary>``; a higher-is-better primary
(Dice) scores as ``1 - value``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is shown and ranked: its column ``label``, whether a higher value is better, the
    ``digits`` of a table cell, and whether the CLI's result line shows it (``headline``)."""

    name: str
    label: str
    higher_is_better: bool
    digits: int = 2
    headline: bool = False


MRE_MM, DICE, PRECISION, RECALL, HD95_MM = "mre_mm", "dice", "precision", "recall", "hd95_mm"
ACCEPTANCE_RATE, N_GENERATED = "acceptance_rate", "n_generated"
NEAREST_TRAIN_SSIM_MEAN = "nearest_train_ssim_mean"
GENERATOR_TRAIN_SECONDS, SAMPLING_IMAGES_PER_S = "generator_train_seconds", "sampling_images_per_s"
GENERATOR_SECONDS, GENERATOR_CACHE_HIT = "generator_seconds", "generator_cache_hit"
N_SYNTHETIC_USED, N_TRAIN_TOTAL = "n_synthetic_used", "n_train_total"
TRAIN_SECONDS, INFERENCE_IMAGES_PER_S = "train_seconds", "inference_images_per_s"
BEST_EPOCH, EPOCHS_RUN, STOPPED_EARLY = "best_epoch", "epochs_run", "stopped_early"
BEST_VAL_SCORE = "best_val_score"
VALIDATION_PREFIX = "val_"

HEADLINE_SDR_RADII_MM = (2.0, 4.0)
_SDR = re.compile(r"sdr_([\d.]+)mm")


def sdr_spec(radius_mm: float) -> MetricSpec:
    """The success detection rate within ``radius_mm``, in percent."""
    return MetricSpec(f"sdr_{radius_mm:g}mm", f"SDR {radius_mm:g} mm (%)", True, 1,
                      headline=radius_mm in HEADLINE_SDR_RADII_MM)


KIND_METRICS: dict[str, tuple[MetricSpec, ...]] = {
    "landmarks": (MetricSpec(MRE_MM, "MRE (mm)", False, 2, headline=True),
                  *map(sdr_spec, HEADLINE_SDR_RADII_MM)),
    "segmentation": (MetricSpec(DICE, "Dice", True, 3, headline=True),
                     MetricSpec(PRECISION, "precision", True, 3),
                     MetricSpec(RECALL, "recall", True, 3),
                     MetricSpec(HD95_MM, "HD95 (mm)", False, 2, headline=True)),
}
GENERATOR_METRICS = (MetricSpec(ACCEPTANCE_RATE, "acceptance", True, 2),
                     MetricSpec(GENERATOR_TRAIN_SECONDS, "generator train (s)", False, 0),
                     MetricSpec(SAMPLING_IMAGES_PER_S, "samples / s", True, 1))
_BY_NAME = {spec.name: spec for spec in (*KIND_METRICS["landmarks"], *KIND_METRICS["segmentation"],
                                         *GENERATOR_METRICS)}


def sample_metrics(accepted: Sequence[bool], nearest_ssim: Sequence[float]) -> dict[str, float]:
    """A generator's evidence on its ``n`` samples: the accepted fraction, the mean SSIM of each sample to
    its nearest training image (memorisation), and ``n`` (all 0 without samples)."""
    n = len(accepted)
    return {ACCEPTANCE_RATE: float(np.mean(accepted)) if n else 0.0,
            NEAREST_TRAIN_SSIM_MEAN: float(np.mean(nearest_ssim)) if n else 0.0, N_GENERATED: float(n)}


def timing_metrics(train_seconds: float, n_sampled: int, sampling_seconds: float) -> dict[str, float]:
    """A generator's training seconds and its sampling throughput in images per second."""
    return {GENERATOR_TRAIN_SECONDS: train_seconds,
            SAMPLING_IMAGES_PER_S: n_sampled / max(sampling_seconds, 1e-9)}


def metric_spec(name: str) -> MetricSpec | None:
    """The spec of ``name`` (any ``sdr_<r>mm``), or None for a metric no table ranks."""
    matched = _SDR.fullmatch(name)
    return sdr_spec(float(matched.group(1))) if matched else _BY_NAME.get(name)


def sdr_radii(names: list[str]) -> list[float]:
    """The success radii of the ``sdr_<r>mm`` metrics among ``names``, ascending."""
    return sorted({float(m.group(1)) for name in names if (m := _SDR.fullmatch(name))})


def primary(kind: str) -> MetricSpec:
    """The metric a ``kind`` task is ranked and validated by."""
    return KIND_METRICS[kind][0]


def headline_names() -> set[str]:
    """The metrics of every kind of task the CLI's result line shows."""
    return {spec.name for specs in KIND_METRICS.values() for spec in specs if spec.headline}


def kind_of(metric_names: list[str]) -> str | None:
    """The kind of task whose primary metric is among ``metric_names``, or None."""
    return next((kind for kind in KIND_METRICS if primary(kind).name in metric_names), None)


def validation_name(kind: str) -> str:
    """The per-epoch validation metric of a ``kind`` task (module docstring)."""
    return VALIDATION_PREFIX + primary(kind).name


def score_from(kind: str, value: float) -> float:
    """The validation score (lower is better) of the primary metric's validation ``value``."""
    return 1.0 - value if primary(kind).higher_is_better else value


def score_of(epoch_metrics: dict[str, float]) -> float:
    """The validation score of an epoch's logged metrics (``val_mre_mm``, or ``1 - val_dice``)."""
    kind = next((kind for kind in KIND_METRICS if validation_name(kind) in epoch_metrics), "segmentation")
    return score_from(kind, epoch_metrics[validation_name(kind)])
