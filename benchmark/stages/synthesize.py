"""Stage ``synthesize``: the augmentation's generator, if it has one, makes its labelled synthetic set from
the training split (and the unlabelled pool), or loads it from the cache
(:func:`benchmark.synthetic.synthesize_cached`); the set is composed with the real one into what the
detector trains on (:func:`benchmark.synthetic.compose`), and the generation metrics go to the run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from benchmark.augmentation import SyntheticSet
from benchmark.data.imageset import ImageSet
from benchmark.record.metrics import (
    ACCEPTANCE_RATE,
    GENERATOR_CACHE_HIT,
    GENERATOR_SECONDS,
    N_SYNTHETIC_USED,
    N_TRAIN_TOTAL,
)
from benchmark.stages.open_run import TrackedRun
from benchmark.stages.prepare import Experiment
from benchmark.synthetic import compose, synthesize_cached

log = logging.getLogger(__name__)


@dataclass
class Synthesis:
    """The ``training`` set (the real split, alone without a generator), the ``synthetic`` set, if any, and
    the generation ``metrics`` (empty without a generator)."""

    training: ImageSet
    synthetic: SyntheticSet | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def synthesize(experiment: Experiment, run: TrackedRun, use_cache: bool = True) -> Synthesis:
    augmentation, data, seed = experiment.augmentation, experiment.data, experiment.seed
    started = time.perf_counter()
    synthetic, cache_hit = synthesize_cached(augmentation, data.train, seed, use_cache=use_cache,
                                              unlabelled=data.unlabelled, device=experiment.device)
    if synthetic is None:
        return Synthesis(data.train)
    rng = np.random.default_rng(seed)
    training, n_synthetic = compose(data.train, synthetic, augmentation.composition, rng)
    seconds = time.perf_counter() - started
    metrics = {**synthetic.metrics, GENERATOR_SECONDS: seconds, GENERATOR_CACHE_HIT: float(cache_hit),
               N_SYNTHETIC_USED: n_synthetic, N_TRAIN_TOTAL: len(training)}
    run.log_metrics(metrics)
    log.info("%s: %s %d synthetic samples in %.1f s, acceptance %.0f %%, training on %d real + %d synthetic",
             experiment.config["aug"], "loaded cached" if cache_hit else "generated", len(synthetic.images),
             seconds, 100 * synthetic.metrics.get(ACCEPTANCE_RATE, 1.0), len(data.train), n_synthetic)
    return Synthesis(training, synthetic, metrics)
