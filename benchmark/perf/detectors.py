"""Detector throughput: the suite's training step against a plain loop on the same network.

Suite: :func:`benchmark.training.loop.train_steps`, the code ``benchmark run`` executes per step
(batch assembly from the in-memory training set, the augmentation's ``transform`` — ``none`` here, the
data pipeline is measured on its own — the detector's ``training_loss`` with its per-step target
rendering, AdamW, the learning-rate schedule). Reference: what a user would write around the bare
library model — one batch of tensors prepared once on the device, the detector's loss on it
(``Detector.network_loss``, targets prepared once), backward, AdamW step
(:func:`benchmark.perf.contract.plain_step`) — so the ratio of the two is the suite's overhead. Both start
from the same initial weights and run under the same autocast; the suite's network also gets
``train.channels_last`` and ``train.compile`` when the profile sets them, the reference never does.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from benchmark.augmentation import Augmentation
from benchmark.detector import Detector, FitContext
from benchmark.perf.contract import Step, plain_step
from benchmark.perf.figures import ModelFigures
from benchmark.perf.timing import rate
from benchmark.task import TaskData
from benchmark.training.batch import batch_from
from benchmark.training.loop import optimiser_and_schedule, prepare_model, train_steps
from benchmark.training.settings import TrainSettings


def suite_step(detector: Detector, data: TaskData, settings: TrainSettings, device: torch.device) -> Step:
    optimizer, scheduler = optimiser_and_schedule(detector.model, settings)
    rng, generator, none = np.random.default_rng(0), torch.Generator().manual_seed(0), Augmentation()
    n = len(data.train)

    def step() -> None:
        index = rng.choice(n, settings.batch_size, replace=n < settings.batch_size)[None]
        train_steps(detector, data.train, index, none, optimizer, scheduler, generator, device, settings.amp)
    return step


def detector_figures(name: str, detector: Detector, data: TaskData, settings: TrainSettings,
                     device: torch.device, calls: int, warmup: int, inference_images: int) -> ModelFigures:
    """Train (suite and reference) and inference images per second of one detector."""
    torch.manual_seed(0)
    context = FitContext(settings=settings, augmentation=Augmentation(), seed=0, device=device,
                         progress=False)
    detector.setup(data.train, context)
    reference_model = copy.deepcopy(detector.model).to(device).train()
    prepare_model(detector.model, settings, device).train()
    batch = batch_from(data.train, np.arange(min(settings.batch_size, len(data.train)))).to(device)
    bs = len(batch)
    reference_step = plain_step(reference_model, detector.network_loss(batch), settings.lr, device,
                                settings.amp)
    reference = rate(reference_step, bs, calls, warmup, device)
    train = rate(suite_step(detector, data, settings, device), bs, calls, warmup, device)
    detector.model.eval()
    test = data.test.subset(np.arange(min(inference_images, len(data.test))))
    inference = rate(lambda: detector.predict(test), len(test), 1, 1, device, repeats=1)
    return ModelFigures(name, "detector", bs, train, reference, inference)
