"""The registered plug-ins ``benchmark perf`` measures, in registry order: every detector that trains and
every augmentation that generates (each at its default settings decides); a newly registered one is measured
without a change to perf. What perf asks of them is :mod:`benchmark.perf.contract`."""

from __future__ import annotations

from benchmark.augmentation import create_augmentation
from benchmark.registry import AUGMENTATIONS, DETECTORS


def detector_names() -> list[str]:
    """The registered detectors that train a network."""
    return [name for name in DETECTORS.names() if DETECTORS.create(name).trains]


def generator_names() -> list[str]:
    """The registered augmentations that generate a synthetic set."""
    return [name for name in AUGMENTATIONS.names() if create_augmentation(name).generates]


def model_names() -> list[str]:
    """Every name whose models ``benchmark perf`` measures: :func:`detector_names`, then
    :func:`generator_names`."""
    return [*detector_names(), *generator_names()]
