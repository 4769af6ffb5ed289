"""Scoring predictions on the test split under a task's protocol, per image (the rows of
``predictions.csv``, :mod:`benchmark.record.predictions`) and in summary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.data.imageset import ImageSet
from benchmark.detector import Prediction
from benchmark.metrics.landmarks import landmark_summary, per_landmark_mre, radial_errors_mm
from benchmark.metrics.segmentation import segmentation_per_image, segmentation_summary
from benchmark.protocol import Protocol
from benchmark.record.predictions import landmark_rows, segmentation_rows


@dataclass
class Evaluation:
    metrics: dict[str, float]
    per_landmark_mre_mm: dict[str, float]
    table: pd.DataFrame

    def summary(self, protocol: Protocol) -> dict:
        return {"metrics": self.metrics, "per_landmark_mre_mm": self.per_landmark_mre_mm,
                "protocol": protocol.as_params()}


def evaluate(test: ImageSet, prediction: Prediction, protocol: Protocol,
             landmark_names: list[str]) -> Evaluation:
    if protocol.kind == "landmarks":
        return _evaluate_landmarks(test, prediction, protocol, landmark_names)
    return _evaluate_segmentation(test, prediction)


def _evaluate_landmarks(test: ImageSet, prediction: Prediction, protocol: Protocol,
                        names: list[str]) -> Evaluation:
    errors = radial_errors_mm(prediction.landmarks, test.landmarks, test.spacing)
    metrics = landmark_summary(errors, protocol.sdr_radii_mm, protocol.sdr_inequality)
    per_landmark = dict(zip(names, map(float, per_landmark_mre(errors))))
    table = landmark_rows(test.ids, names, test.to_original_pixels(prediction.landmarks),
                          test.to_original_pixels(test.landmarks), errors, prediction.extras)
    if "uncertainty_mm" in prediction.extras:
        metrics.update(uncertainty_summary(prediction.extras["uncertainty_mm"], errors))
    return Evaluation(metrics, per_landmark, table)


def uncertainty_summary(uncertainty_mm: np.ndarray, errors_mm: np.ndarray) -> dict[str, float]:
    """How well a detector's own spread (N, K) ranks its errors (N, K): the mean spread and Spearman's rho
    between spread and error over all landmark instances (NaN when either is constant)."""
    from scipy.stats import spearmanr

    spread, error = uncertainty_mm.ravel(), errors_mm.ravel()
    constant = np.ptp(spread) == 0 or np.ptp(error) == 0
    rho = float("nan") if constant else float(spearmanr(spread, error).statistic)
    return {"uncertainty_mm_mean": float(spread.mean()), "uncertainty_error_spearman": rho}


def _evaluate_segmentation(test: ImageSet, prediction: Prediction) -> Evaluation:
    metrics = segmentation_summary(prediction.masks, test.masks, test.spacing)
    table = segmentation_rows(test.ids, segmentation_per_image(prediction.masks, test.masks, test.spacing))
    return Evaluation(metrics, {}, table)
