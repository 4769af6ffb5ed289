"""The per-epoch validation score used for early stopping and model selection (lower is better):
the validation MRE in mm for landmark tasks, ``1 - mean Dice`` for segmentation tasks
(:mod:`benchmark.record.metrics` names and scores it)."""

from __future__ import annotations

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.detector import Prediction
from benchmark.metrics.landmarks import radial_errors_mm
from benchmark.metrics.segmentation import segmentation_summary
from benchmark.record.metrics import DICE, score_from, validation_name


def validation_score(val: ImageSet, prediction: Prediction) -> tuple[float, dict[str, float]]:
    """The score of ``prediction`` on ``val``, and the metric it is logged as (``val_mre_mm``,
    ``val_dice``)."""
    if val.landmarks is not None:
        mre = float(np.mean(radial_errors_mm(prediction.landmarks, val.landmarks, val.spacing)))
        return score_from("landmarks", mre), {validation_name("landmarks"): mre}
    dice = segmentation_summary(prediction.masks, val.masks, val.spacing)[DICE]
    return score_from("segmentation", dice), {validation_name("segmentation"): dice}
