"""``mean-shape``: the floor every real detector must beat.

Landmarks: every test image gets the training set's mean landmark positions (in working pixels).
Segmentation: every test image gets the pixel-wise majority of the training masks
(``mean(masks) >= 0.5``), the segmentation analogue of the mean shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.detector import Detector, FitContext, Prediction
from benchmark.registry import DETECTORS


@dataclass(frozen=True)
class MeanShapeSettings:
    """The mean shape has nothing to tune."""


class MeanShapeDetector(Detector):
    name = "mean-shape"
    kinds = frozenset({"landmarks", "segmentation"})
    trains = False

    def __init__(self, settings: MeanShapeSettings = MeanShapeSettings()) -> None:
        self.mean_landmarks: np.ndarray | None = None
        self.mean_mask: np.ndarray | None = None

    def fit(self, train: ImageSet, val: ImageSet, context: FitContext) -> None:
        if train.landmarks is not None:
            self.mean_landmarks = train.landmarks.mean(axis=0)
        else:
            self.mean_mask = (train.masks.mean(axis=0) >= 0.5).astype(np.uint8)

    def predict(self, images: ImageSet) -> Prediction:
        n = len(images)
        if self.mean_landmarks is not None:
            return Prediction(landmarks=np.repeat(self.mean_landmarks[None], n, axis=0))
        return Prediction(masks=np.repeat(self.mean_mask[None], n, axis=0))


DETECTORS.register("mean-shape", "predicts the training mean shape (or majority mask): the floor to beat",
                   settings=MeanShapeSettings)(MeanShapeDetector)
