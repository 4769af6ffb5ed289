"""Stage ``evaluate``: the trained detector predicts the test split, timed, and is scored under the task's
protocol (:func:`benchmark.evaluation.evaluate`), once per prediction variant as well."""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmark.data.imageset import ImageSet
from benchmark.detector import Prediction
from benchmark.evaluation import Evaluation
from benchmark.evaluation import evaluate as score
from benchmark.record.metrics import INFERENCE_IMAGES_PER_S
from benchmark.stages.prepare import Experiment
from benchmark.stages.train import Trained


@dataclass
class Scores:
    """The test ``prediction``, its ``evaluation``, the inference speed, and ``variants``: the metrics of the
    detector's other prediction variants, each named ``<variant>.<metric>``."""

    prediction: Prediction
    evaluation: Evaluation
    images_per_s: float
    variants: dict[str, float]


def evaluate(experiment: Experiment, trained: Trained) -> Scores:
    data = experiment.data
    prediction, images_per_s = timed_prediction(trained.detector.predict, data.test)
    evaluation = score(data.test, prediction, data.protocol, data.landmark_names)
    variants: dict[str, float] = {}
    for name, predict in trained.detector.prediction_variants().items():
        variant, speed = timed_prediction(predict, data.test)
        variants[f"{name}.{INFERENCE_IMAGES_PER_S}"] = speed
        scored = score(data.test, variant, data.protocol, data.landmark_names).metrics
        variants.update({f"{name}.{key}": value for key, value in scored.items()})
    return Scores(prediction, evaluation, images_per_s, variants)


def timed_prediction(predict, images: ImageSet) -> tuple[Prediction, float]:
    """``predict(images)`` and its speed in images per second."""
    started = time.perf_counter()
    prediction = predict(images)
    return prediction, len(images) / max(time.perf_counter() - started, 1e-9)
