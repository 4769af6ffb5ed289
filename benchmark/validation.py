"""The per-epoch validation score used for early stopping and model selection (lower is better):
the validation MRE in mm for landmark tasks, ``1 - mean Dice`` for segmentation tasks."""

from __future__ import annotations

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.detector import Prediction
from benchmark.metrics.landmarks import radial_errors_mm
from benchmark.metrics.segmentation import segmentation_summary


def score_of(metrics: dict[str, float]) -> float:
    """The validation score of an epoch's logged metrics: ``val_mre_mm``, or ``1 - val_dice``."""
    if "val_mre_mm" in metrics:
        return metrics["val_mre_mm"]
    return 1.0 - metrics["val_dice"]


def validation_score(val: ImageSet, prediction: Prediction) -> tuple[float, dict[str, float]]:
    if val.landmarks is not None:
        mre = float(np.mean(radial_errors_mm(prediction.landmarks, val.landmarks, val.spacing)))
        return mre, {"val_mre_mm": mre}
    dice = segmentation_summary(prediction.masks, val.masks, val.spacing)["dice"]
    return 1.0 - dice, {"val_dice": dice}
