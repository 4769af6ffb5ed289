"""Detector throughput: the suite's training step against a plain loop on the same network.

Suite: :func:`benchmark.training.loop.train_steps`, the code ``benchmark run`` executes per step
(batch assembly from the in-memory training set, the augmentation's ``transform`` — ``none`` here, the
data pipeline is measured on its own — the detector's ``training_loss`` with its per-step target
rendering, AdamW, the learning-rate schedule). Reference: what a user would write around the bare
library model — one batch of tensors prepared once on the device, ``loss = f(model(x), target)``,
backward, AdamW step — with the same loss mathematics, so the ratio of the two is the suite's overhead.
Both start from the same initial weights and run under the same autocast; the suite's network also gets
``train.channels_last`` and ``train.compile`` when the profile sets them, the reference never does.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from baselines.detectors.losses import segmentation_loss, spatial_cross_entropy, to_output_grid
from benchmark.augmentation import Augmentation
from benchmark.detector import Detector, FitContext
from benchmark.heatmaps import gaussian_heatmaps
from benchmark.perf.figures import ModelFigures
from benchmark.perf.timing import rate
from benchmark.task import TaskData
from benchmark.training.batch import batch_from
from benchmark.training.device import autocast
from benchmark.training.loop import optimiser_and_schedule, prepare_model, train_steps
from benchmark.training.settings import TrainSettings

Step = Callable[[], None]


def suite_step(detector: Detector, data: TaskData, settings: TrainSettings, device: torch.device) -> Step:
    optimizer, scheduler = optimiser_and_schedule(detector.model, settings)
    rng, generator, none = np.random.default_rng(0), torch.Generator().manual_seed(0), Augmentation()
    n = len(data.train)

    def step() -> None:
        index = rng.choice(n, settings.batch_size, replace=n < settings.batch_size)[None]
        train_steps(detector, data.train, index, none, optimizer, scheduler, generator, device, settings.amp)
    return step


def plain_step(model: torch.nn.Module, loss_of: Callable[[torch.nn.Module], torch.Tensor], lr: float,
               device: torch.device, amp: str) -> Step:
    """The reference loop's step around ``loss_of(model)``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    def step() -> None:
        with autocast(device, amp):
            loss = loss_of(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def dense_loss(detector: Detector, images: torch.Tensor, landmarks: torch.Tensor | None,
               masks: torch.Tensor | None) -> Callable[[torch.nn.Module], torch.Tensor]:
    """Softmax-CE against Gaussian targets rendered once (landmarks), or BCE + Dice on the logits at the
    mask's size."""
    stride = detector.model.output_stride
    if landmarks is None:
        return lambda model: segmentation_loss(detector.full_resolution(model(images).float(), masks.shape[-2:]), masks)
    with torch.no_grad():
        size = detector.model(images[:1]).shape[-2:]
    target = gaussian_heatmaps(to_output_grid(landmarks, stride), size, detector.settings.sigma / stride)
    return lambda model: spatial_cross_entropy(model(images).float(), target)


def saltpepper_loss(detector, images: torch.Tensor, landmarks: torch.Tensor) -> Callable[[torch.nn.Module], torch.Tensor]:
    """Eps-MSE + spatial CE of the blurred ``x0`` estimate, few-hot targets and condition built once."""
    from baselines.detectors.saltpepper import blur_std, few_hot_weights, gaussian_blur

    s = detector.settings
    size = (images.shape[-2] // s.output_stride, images.shape[-1] // s.output_stride)
    weights = few_hot_weights(to_output_grid(landmarks, s.output_stride), size, s.target)
    x0 = weights / weights.flatten(2).amax(-1)[..., None, None]
    cond = F.pixel_unshuffle(2 * images - 1, s.output_stride)
    abar = detector.alphas_cumprod.to(images.device)

    def loss_of(model: torch.nn.Module) -> torch.Tensor:
        t = torch.randint(s.num_train_timesteps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        eps = model(torch.cat([xt, cond], 1), t).sample.float()
        x0_hat = (xt - (1 - a).sqrt() * eps) / a.sqrt()
        blurred = gaussian_blur(x0_hat, blur_std(t, s.num_train_timesteps, s.blur_min_std, s.blur_max_std), s.blur_kernel)
        return s.mse_weight * F.mse_loss(eps, noise) + s.ce_weight * spatial_cross_entropy(blurred / s.ce_temperature, weights)
    return loss_of


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
    if name == "saltpepper":
        loss_of = saltpepper_loss(detector, batch.images, batch.landmarks)
    else:
        loss_of = dense_loss(detector, batch.images, batch.landmarks, batch.masks)
    bs = len(batch)
    reference = rate(plain_step(reference_model, loss_of, settings.lr, device, settings.amp), bs, calls, warmup, device)
    train = rate(suite_step(detector, data, settings, device), bs, calls, warmup, device)
    detector.model.eval()
    test = data.test.subset(np.arange(min(inference_images, len(data.test))))
    inference = rate(lambda: detector.predict(test), len(test), 1, 1, device, repeats=1)
    return ModelFigures(name, "detector", bs, train, reference, inference)
