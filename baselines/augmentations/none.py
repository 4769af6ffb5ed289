"""The reference row: train on the real training set only."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.augmentation import Augmentation
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class NoneSettings:
    """The real training set as it is has nothing to tune."""


def real_only(settings: NoneSettings) -> Augmentation:
    return Augmentation()


AUGMENTATIONS.register("none", "no augmentation: the real training set as it is",
                       settings=NoneSettings)(real_only)
