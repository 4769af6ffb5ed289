"""The reference row: train on the real training set only."""

from __future__ import annotations

from benchmark.augmentation import Augmentation
from benchmark.registry import AUGMENTATIONS


@AUGMENTATIONS.register("none", "no augmentation: the real training set as it is")
def create() -> Augmentation:
    return Augmentation()
