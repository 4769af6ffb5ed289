"""``saltpepper``: landmark detection as conditional diffusion over few-hot heatmaps (Wyatt & Voiculescu
2024, "Salt & Pepper Heatmaps"). Landmarks only.

What the paper (its abstract, TL;DR and figure captions) fixes is marked *paper* below, what the same
author's later public code uses *code*, and everything else is our choice, each one a setting.

**Sample.** One channel per landmark (*paper*: N-channel heatmaps), on the output grid of
``1 / output_stride`` of the working size (positions ``x_out = (x + 0.5) / s - 0.5``, mapped back with
``x = (x_out + 0.5) s - 0.5``). The clean sample ``x_0`` is *few-hot* (*paper*): 0 everywhere but at the
landmark. A landmark between pixel centres cannot be one-hot without rounding, so by default
(``target: bilinear``) its unit mass is split over the (at most) four surrounding pixels with bilinear
weights ``w_ij = (1 - |x - j|)(1 - |y - i|)``; these sum to 1 and their weighted mean is exactly the
landmark, so nothing is lost to rounding. ``x_0 = w / max(w)`` (the hottest pixel is 1, up to 4 pixels
are hot); ``target: nearest`` is the one-hot of the rounded pixel. Values stay in [0, 1] (not [-1, 1])
so that the mostly-zero sample is close to the ``N(0, I)`` prior everywhere but at its few hot pixels.

**Noise.** The forward process is the ordinary Gaussian DDPM (*paper*: Fig. 2 starts from
``x_T ~ N(0, I)``), ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with the linear schedule
``beta`` = ``beta_start`` .. ``beta_end`` over ``T = num_train_timesteps`` steps (*code*: T = 100,
1e-4 .. 2e-2). "Salt and pepper" is not a second noise process: it names what the generated few-hot
heatmaps look like (Fig. 3b: a few scattered hot pixels on a dark plane), which the blur below turns
into a probability region. With T = 100 this schedule leaves ``sqrt(abar_T) = 0.60`` of the signal, so
``N(0, I)`` differs from ``q(x_T | x_0)`` at the hot pixels (mean 0.6 instead of 0) and in scale
(std 0.8 instead of 1); we sample from ``N(0, I)`` as the paper does.

**Network.** A time-conditioned diffusers ``UNet2DModel`` (positional time embedding; *paper*: a
time-encoded U-Net with the image as context) on the output grid. The image is the condition: mapped
to [-1, 1] and folded to the output grid by pixel-unshuffle (``output_stride^2`` channels, no
information lost) and concatenated to ``x_t``; in = K + s^2 channels, out = K. ``prediction: epsilon``
(*code*) predicts the noise, ``v_prediction`` the velocity, ``sample`` ``x_0``; ``x0_hat`` follows from
the output by :func:`baselines.diffusion.predicted_x0` (for eps,
``x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)``, the paper's single-step estimate).

**Blur.** A Gaussian blur with a ``blur_kernel`` x ``blur_kernel`` kernel (*code*: 5), normalised to
sum 1, whose std grows over the reverse process (*paper*), i.e. as ``t`` falls from ``T - 1`` to 0:
``sigma(t) = blur_min_std + (blur_max_std - blur_min_std) (1 - t / (T - 1))`` (*code*: up to 10; linear is
our choice). Our reading: early in the reverse process ``x0_hat`` is the posterior mean, already a
smooth probability map; late in it ``x0_hat`` is a sharp, few-hot, salt-and-pepper sample, and the
growing blur turns its scattered hot pixels into a region. The blur is applied to ``x0_hat`` (i) in the
cross-entropy term of the loss, with ``sigma(t)`` of the training timestep, and (ii) before the
coordinates are read out, with ``sigma`` of the readout step (``T - 1`` single-step, 0 multi-step).
``blur_in_sampler: true`` also blurs ``x0_hat`` inside every reverse step (off by default: the network
never saw blurred samples).

**Loss** (*paper*: supervised term + spatially normalised cross-entropy)::

    L = mse_weight * ||out - target||^2
        + ce_weight * mean_{b,k} -sum_p q(p) log softmax_p(blur(x0_hat) / ce_temperature)

``target`` is ``eps``, ``v`` or ``x_0`` (``prediction``: ``epsilon``, ``v_prediction``, ``sample``;
:func:`baselines.diffusion.training_target`); the softmax runs over the H x W plane of each
channel; ``q`` is the few-hot target normalised to sum 1 (the bilinear weights ``w``). Timesteps are
uniform in {0, .., T - 1}; training noise and timesteps come from torch's global generator (seeded by
the runner and saved in checkpoints, so a resumed run equals an uninterrupted one on the CPU).

**Inference** (*paper*: single-step versus multi-step). ``inference: single``: one network call at
``t = T - 1`` on ``x_T ~ N(0, I)``, readout of ``x0_hat``. ``inference: multi``: ``steps`` reverse steps
on evenly spaced timesteps from ``T - 1`` to 0 with the generalised DDIM update (Song et al. 2021),
``x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma_s^2) eps_hat + sigma_s z``,
``sigma_s = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)``; ``eta = 1`` with
``steps = T`` is the ancestral DDPM sampler, ``eta = 0`` deterministic DDIM. ``clip_sample`` clips
``x0_hat`` to [0, 1] inside the update; the readout uses the last ``x0_hat`` unclipped.

**Coordinates** (*code*): the value-weighted mean of the ``top_k`` hottest pixels of the blurred
readout (weights ``max(v, 0)``; the hottest pixel alone when all are <= 0). ``n_samples`` samples per
image (independent ``x_T`` and sampler noise) give one position each; the prediction is their
``aggregate`` (mean or median) and the per-landmark spread, the root mean squared distance of the
samples to their mean, goes to ``Prediction.extras`` as ``uncertainty_px`` (working pixels) and
``uncertainty_mm`` (N, K). All inference noise comes from a CPU generator seeded with the run seed at
each ``predict`` call, so predictions are repeatable and do not disturb the training RNG. Validation
(model selection each epoch) uses the configured inference with ``val_n_samples`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from baselines.detectors.losses import from_output_grid, spatial_cross_entropy, to_output_grid
from baselines.diffusion import (
    add_noise,
    ddim_update,
    make_scheduler,
    predicted_eps,
    predicted_x0,
    training_target,
)
from baselines.networks.diffusion_unet import build_unet
from benchmark.data.imageset import ImageSet
from benchmark.detector import Detector, FitContext, Prediction, train_in_context
from benchmark.errors import ConfigError
from benchmark.registry import DETECTORS
from benchmark.task import TaskShape
from benchmark.training.batch import Batch, batch_from
from benchmark.training.device import autocast
from benchmark.training.loop import History
from benchmark.validation import validation_score

WHAT = "saltpepper"


@dataclass(frozen=True)
class SaltPepperSettings:
    """Every knob of the detector (see the module docstring for the method)."""

    # network
    block_out_channels: tuple[int, ...] = field(default=(16, 32, 32, 64))
    layers_per_block: int = 1
    attention_levels: int = 1
    output_stride: int = 2
    # diffusion
    num_train_timesteps: int = 100
    beta_start: float = 1e-4
    beta_end: float = 2e-2
    prediction: str = "epsilon"
    target: str = "bilinear"
    # loss
    mse_weight: float = 1.0
    ce_weight: float = 1.0
    ce_temperature: float = 1.0
    # blur
    blur_kernel: int = 5
    blur_min_std: float = 0.0
    blur_max_std: float = 10.0
    blur_in_sampler: bool = False
    # inference
    inference: str = "multi"
    steps: int = 10
    eta: float = 1.0
    clip_sample: bool = True
    n_samples: int = 4
    val_n_samples: int = 1
    top_k: int = 10
    aggregate: str = "mean"

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        channels = self.block_out_channels
        if not channels or min(channels) < 1:
            raise ConfigError(f"{WHAT}: block_out_channels must be a non-empty list of positive widths, "
                              f"got {channels}")
        groups = min(8, min(channels))
        if any(c % groups for c in channels):
            raise ConfigError(f"{WHAT}: block_out_channels {channels} must all be divisible by {groups} "
                              "(group norm)")
        if not 0 <= self.attention_levels <= len(channels):
            raise ConfigError(f"{WHAT}: attention_levels must be in [0, {len(channels)}], "
                              f"got {self.attention_levels}")
        if self.output_stride not in (1, 2, 4, 8):
            raise ConfigError(f"{WHAT}: output_stride must be 1, 2, 4 or 8, got {self.output_stride}")
        counts = ("layers_per_block", "num_train_timesteps", "steps", "n_samples", "val_n_samples", "top_k")
        for name in counts:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{WHAT}: {name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.num_train_timesteps < 2:
            raise ConfigError(f"{WHAT}: num_train_timesteps must be >= 2, got {self.num_train_timesteps}")
        if self.steps > self.num_train_timesteps:
            raise ConfigError(f"{WHAT}: steps ({self.steps}) cannot exceed num_train_timesteps "
                              f"({self.num_train_timesteps})")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ConfigError(f"{WHAT}: need 0 < beta_start <= beta_end < 1, "
                              f"got {self.beta_start}, {self.beta_end}")
        choices = {"prediction": ("epsilon", "v_prediction", "sample"), "target": ("bilinear", "nearest"),
                   "inference": ("single", "multi"), "aggregate": ("mean", "median")}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ConfigError(f"{WHAT}: {name} must be one of {', '.join(valid)}, "
                                  f"got {getattr(self, name)!r}")
        if self.mse_weight < 0 or self.ce_weight < 0 or self.mse_weight + self.ce_weight == 0:
            raise ConfigError(f"{WHAT}: mse_weight and ce_weight must be >= 0 and not both 0")
        if self.ce_temperature <= 0:
            raise ConfigError(f"{WHAT}: ce_temperature must be > 0, got {self.ce_temperature}")
        if not isinstance(self.blur_kernel, int) or self.blur_kernel < 1 or self.blur_kernel % 2 == 0:
            raise ConfigError(f"{WHAT}: blur_kernel must be an odd integer >= 1, got {self.blur_kernel!r}")
        if not 0 <= self.blur_min_std <= self.blur_max_std:
            raise ConfigError(f"{WHAT}: need 0 <= blur_min_std <= blur_max_std, got {self.blur_min_std}, "
                              f"{self.blur_max_std}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"{WHAT}: eta must be in [0, 1], got {self.eta}")


# --- pieces (pure functions, tested one by one) ---------------------------------------------------------

def few_hot_weights(landmarks: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Unit mass per landmark on an (H, W) grid: (B, K, 2) (x, y) -> (B, K, H, W), each channel summing to 1.

    ``bilinear``: ``w_ij = max(0, 1 - |x - j|) * max(0, 1 - |y - i|)``, the (at most) four pixels around the
    landmark, whose weighted mean position is the landmark itself; ``nearest``: 1 at the rounded pixel.
    Positions are first clamped into ``[0, W - 1] x [0, H - 1]``."""
    height, width = size
    x = landmarks[..., 0].clamp(0, width - 1)
    y = landmarks[..., 1].clamp(0, height - 1)
    if mode == "nearest":
        x, y = x.round(), y.round()
    columns = torch.arange(width, device=landmarks.device, dtype=landmarks.dtype)
    rows = torch.arange(height, device=landmarks.device, dtype=landmarks.dtype)
    wx = (1 - (columns - x.unsqueeze(-1)).abs()).clamp_min(0)  # (B, K, W)
    wy = (1 - (rows - y.unsqueeze(-1)).abs()).clamp_min(0)  # (B, K, H)
    return wy.unsqueeze(-1) * wx.unsqueeze(-2)


def few_hot_heatmaps(landmarks: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """The clean diffusion sample ``x_0``: :func:`few_hot_weights` scaled so each channel's hottest pixel
    is 1."""
    weights = few_hot_weights(landmarks, size, mode)
    return weights / weights.flatten(2).amax(-1)[..., None, None]


def blur_std(t: torch.Tensor, num_train_timesteps: int, min_std: float, max_std: float) -> torch.Tensor:
    """``sigma(t) = min + (max - min) (1 - t / (T - 1))``: ``min`` at the first reverse step ``t = T - 1``,
    ``max`` at the last, ``t = 0``."""
    progress = 1 - t.float() / (num_train_timesteps - 1)
    return min_std + (max_std - min_std) * progress


def gaussian_blur(x: torch.Tensor, std: torch.Tensor | float, kernel_size: int) -> torch.Tensor:
    """Blur every channel of (B, C, H, W) with a separable ``kernel_size`` Gaussian of std ``std`` (a number
    or one per batch item), normalised to sum 1 and zero-padded; std 0 (or kernel 1) is the identity."""
    batch, channels, height, width = x.shape
    std = torch.as_tensor(std, dtype=torch.float32, device=x.device).reshape(-1).expand(batch)
    if kernel_size == 1 or bool((std <= 0).all()):
        return x
    offsets = torch.arange(kernel_size, device=x.device, dtype=torch.float32) - kernel_size // 2
    safe = std.clamp_min(1e-6)[:, None]
    kernel = torch.exp(-offsets**2 / (2 * safe**2))
    kernel = torch.where(std[:, None] > 0, kernel, (offsets == 0).float())
    kernel = (kernel / kernel.sum(-1, keepdim=True)).to(x.dtype)  # (B, k)
    kernel = kernel.repeat_interleave(channels, dim=0)  # (B * C, k)
    flat = x.reshape(1, batch * channels, height, width)
    pad = kernel_size // 2
    flat = F.conv2d(flat, kernel[:, None, None, :], padding=(0, pad), groups=batch * channels)
    flat = F.conv2d(flat, kernel[:, None, :, None], padding=(pad, 0), groups=batch * channels)
    return flat.reshape(batch, channels, height, width)


def topk_coordinates(heatmaps: torch.Tensor, k: int) -> torch.Tensor:
    """(x, y) per channel as the value-weighted mean of the ``k`` hottest pixels: (B, K, H, W) -> (B, K, 2).

    Weights are ``max(v, 0)``; where all ``k`` are <= 0 the hottest pixel alone is used."""
    batch, channels, height, width = heatmaps.shape
    values, index = heatmaps.float().flatten(2).topk(min(k, height * width), dim=-1)
    weights = values.clamp_min(0)
    first = torch.zeros_like(weights)
    first[..., 0] = 1
    weights = torch.where(weights.sum(-1, keepdim=True) > 0, weights, first)
    weights = weights / weights.sum(-1, keepdim=True)
    x = (weights * (index % width).float()).sum(-1)
    y = (weights * (index // width).float()).sum(-1)
    return torch.stack([x, y], dim=-1)


def reverse_timesteps(num_train_timesteps: int, steps: int) -> list[int]:
    """``steps`` distinct timesteps evenly spaced from ``T - 1`` down to 0 (just ``[T - 1]`` for one step)."""
    if steps == 1:
        return [num_train_timesteps - 1]
    grid = np.linspace(num_train_timesteps - 1, 0, steps).round().astype(int)
    return [int(t) for t in dict.fromkeys(grid.tolist())]


# --- the detector -------------------------------------------------------------------------------------

class SaltPepperDetector(Detector):
    name = "saltpepper"
    kinds = frozenset({"landmarks"})

    def __init__(self, settings: SaltPepperSettings):
        self.settings = settings
        self.model: torch.nn.Module | None = None
        self.device = torch.device("cpu")
        self.eval_batch_size = 32
        self.amp = "auto"
        self.seed = 0
        self.num_landmarks = 0
        s = settings
        self.alphas_cumprod = make_scheduler(s.num_train_timesteps, "linear", beta_start=s.beta_start,
                                             beta_end=s.beta_end).alphas_cumprod

    # --- shared pieces ---------------------------------------------------------------------------
    def condition(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) in [0, 1] -> (B, s^2, H / s, W / s) in [-1, 1] by pixel-unshuffle."""
        return F.pixel_unshuffle(2 * images - 1, self.settings.output_stride)

    def denoise(self, model: torch.nn.Module, xt: torch.Tensor, cond: torch.Tensor,
                t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One call of ``model``: (raw output, eps_hat, x0_hat), all float32."""
        with autocast(self.device, self.amp):
            out = model(torch.cat([xt, cond], dim=1), t).sample
        out = out.float()
        a = self.alphas_cumprod.to(xt.device)[t]
        x0 = predicted_x0(out, xt, a, self.settings.prediction)
        eps = out if self.settings.prediction == "epsilon" else predicted_eps(x0, xt, a)
        return out, eps, x0

    def blur(self, heatmaps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s = self.settings
        std = blur_std(t, s.num_train_timesteps, s.blur_min_std, s.blur_max_std)
        return gaussian_blur(heatmaps, std, s.blur_kernel)

    # --- the Trainable protocol -------------------------------------------------------------------
    def training_loss(self, batch: Batch) -> torch.Tensor:
        return self.network_loss(batch)(self.model)

    def validate(self, val: ImageSet) -> tuple[float, dict[str, float]]:
        return validation_score(val, self.predict(val, n_samples=self.settings.val_n_samples))

    # --- the Detector contract --------------------------------------------------------------------
    def network_loss(self, batch: Batch) -> Callable[[torch.nn.Module], torch.Tensor]:
        """The module docstring's loss on ``batch`` as a function of a network: the few-hot targets and the
        image condition are built once; every call draws its timesteps and noise from torch's global
        generator (on the CPU, moved to the batch's device)."""
        s = self.settings
        stride = s.output_stride
        images = batch.images
        size = (images.shape[-2] // stride, images.shape[-1] // stride)
        weights = few_hot_weights(to_output_grid(batch.landmarks.float(), stride), size, s.target)
        x0 = weights / weights.flatten(2).amax(-1)[..., None, None]
        cond = self.condition(images)
        abar = self.alphas_cumprod.to(images.device)

        def loss_of(model: torch.nn.Module) -> torch.Tensor:
            t = torch.randint(s.num_train_timesteps, (len(x0),)).to(images.device)
            noise = torch.randn(x0.shape).to(images.device)
            xt = add_noise(x0, noise, abar[t])
            out, _, x0_hat = self.denoise(model, xt, cond, t)
            loss = out.new_zeros(())
            if s.mse_weight:
                target = training_target(x0, noise, abar[t], s.prediction)
                loss = loss + s.mse_weight * F.mse_loss(out, target)
            if s.ce_weight:
                blurred = self.blur(x0_hat, t)
                loss = loss + s.ce_weight * spatial_cross_entropy(blurred / s.ce_temperature, weights)
            return loss
        return loss_of

    def check(self, shape: TaskShape) -> None:
        s = self.settings
        height, width = shape.working_size
        multiple = s.output_stride * 2 ** (len(s.block_out_channels) - 1)
        if height % multiple or width % multiple:
            raise ConfigError(f"{WHAT}: the working size {height}x{width} must be divisible by {multiple} "
                              f"(output_stride {s.output_stride} x 2^(levels - 1) U-Net halvings); change "
                              "data.image_size, output_stride or block_out_channels")

    def setup(self, train: ImageSet, context: FitContext) -> None:
        if train.landmarks is None:
            raise ConfigError(f"{WHAT} detects landmarks only; the training set has no landmarks")
        self.check(TaskShape("landmarks", train.image_size, len(train)))
        s = self.settings
        height, width = train.image_size
        self.num_landmarks = train.num_landmarks
        self.model = build_unet((height // s.output_stride, width // s.output_stride),
                                self.num_landmarks + s.output_stride**2, self.num_landmarks,
                                s.block_out_channels, s.layers_per_block, s.attention_levels)
        self.device, self.amp = context.device, context.settings.amp
        self.eval_batch_size = context.settings.eval_batch_size
        self.seed = context.seed

    def fit(self, train: ImageSet, val: ImageSet, context: FitContext) -> History:
        self.setup(train, context)
        return train_in_context(self, train, val, context)

    @torch.inference_mode()
    def sample_heatmaps(self, images: torch.Tensor, generator: torch.Generator,
                        inference: str) -> torch.Tensor:
        """Readout heatmaps (B, K, h, w) for (B, 1, H, W) images: the blurred ``x0_hat`` of the last reverse
        step of ``inference`` (``single`` or ``multi``, see the module docstring); one sample per row, noise
        drawn from ``generator`` (CPU)."""
        s = self.settings
        cond = self.condition(images)
        shape = (len(images), self.num_landmarks, *cond.shape[-2:])
        x = torch.randn(shape, generator=generator).to(images.device)
        abar = self.alphas_cumprod.to(images.device)
        timesteps = reverse_timesteps(s.num_train_timesteps, 1 if inference == "single" else s.steps)
        x0 = x
        for i, step in enumerate(timesteps):
            t = torch.full((len(images),), step, device=images.device, dtype=torch.long)
            _, eps, x0 = self.denoise(self.model, x, cond, t)
            if i == len(timesteps) - 1:
                break
            guide = x0.clamp(0, 1) if s.clip_sample else x0
            if s.blur_in_sampler:
                guide = self.blur(guide, t)
            a_t, a_s = abar[step], abar[timesteps[i + 1]]
            if s.clip_sample or s.blur_in_sampler:
                eps = predicted_eps(guide, x, a_t.expand(len(x)))
            z = torch.randn(shape, generator=generator).to(images.device)
            x = ddim_update(guide, eps, a_t, a_s, s.eta, z)
        last = torch.full((len(images),), timesteps[-1], device=images.device, dtype=torch.long)
        return self.blur(x0, last)

    @torch.inference_mode()
    def predict(self, images: ImageSet, n_samples: int | None = None,
                inference: str | None = None) -> Prediction:
        """Positions and per-landmark spread from ``n_samples`` samples (default: the settings') of the
        ``inference`` mode (default: the settings')."""
        s = self.settings
        n_samples = s.n_samples if n_samples is None else n_samples
        inference = s.inference if inference is None else inference
        self.model.eval()
        generator = torch.Generator().manual_seed(self.seed)
        per_batch = max(1, self.eval_batch_size // n_samples) if n_samples <= self.eval_batch_size else 1
        samples = []
        for start in range(0, len(images), per_batch):
            batch = batch_from(images, np.arange(start, min(start + per_batch, len(images))))
            repeated = batch.images.repeat_interleave(n_samples, dim=0).to(self.device)
            heatmaps = self.sample_heatmaps(repeated, generator, inference)
            points = from_output_grid(topk_coordinates(heatmaps, s.top_k), s.output_stride)
            samples.append(points.reshape(len(batch), n_samples, self.num_landmarks, 2).cpu())
        positions = torch.cat(samples).double().numpy()  # (N, S, K, 2)
        centre = positions.mean(axis=1)
        spread_px = np.sqrt(((positions - centre[:, None]) ** 2).sum(-1).mean(axis=1))
        spacing = images.spacing[:, None, None, :]
        spread_mm = np.sqrt((((positions - centre[:, None]) * spacing) ** 2).sum(-1).mean(axis=1))
        landmarks = centre if s.aggregate == "mean" else np.median(positions, axis=1)
        return Prediction(landmarks=landmarks.astype(np.float32),
                          extras={"uncertainty_px": spread_px.astype(np.float32),
                                  "uncertainty_mm": spread_mm.astype(np.float32)})

    def prediction_variants(self) -> dict[str, Callable[[ImageSet], Prediction]]:
        """The other inference mode of the same trained model, so that every run reports single-step and
        multi-step side by side (metrics ``single.*`` or ``multi.*`` beside the configured mode's)."""
        other = "single" if self.settings.inference == "multi" else "multi"
        return {other: partial(self.predict, inference=other)}


def search_space(trial) -> dict[str, Any]:
    """Optuna suggestions for the detector's own settings (``detectors.saltpepper.*``).

    Tuned: the loss balance (``ce_weight``, ``ce_temperature`` on log scales), the blur schedule
    (``blur_max_std``, ``blur_kernel``), the readout (``top_k`` 1 or 10, as in the author's code), the
    parameterisation (``prediction``), the multi-step sampler (``steps``, ``eta``) and the U-Net width.
    Left out: ``inference`` and ``n_samples`` (a question of their own, compared side by side rather than
    tuned), ``output_stride`` and the schedule (they change the cost, not only the result)."""
    width = trial.suggest_categorical("saltpepper.width", [16, 32, 48])
    return {
        "block_out_channels": [width, 2 * width, 2 * width, 4 * width],
        "prediction": trial.suggest_categorical("saltpepper.prediction", ["epsilon", "sample"]),
        "ce_weight": trial.suggest_float("saltpepper.ce_weight", 0.1, 10.0, log=True),
        "ce_temperature": trial.suggest_float("saltpepper.ce_temperature", 0.05, 2.0, log=True),
        "blur_max_std": trial.suggest_float("saltpepper.blur_max_std", 0.0, 10.0),
        "blur_kernel": trial.suggest_categorical("saltpepper.blur_kernel", [3, 5, 7]),
        "top_k": trial.suggest_categorical("saltpepper.top_k", [1, 10]),
        "steps": trial.suggest_int("saltpepper.steps", 2, 20),
        "eta": trial.suggest_float("saltpepper.eta", 0.0, 1.0),
    }


DETECTORS.register(WHAT, "salt & pepper heatmaps: conditional diffusion over few-hot landmark heatmaps "
                         "(Wyatt 2024), single- or multi-step, with sample spread as uncertainty",
                   settings=SaltPepperSettings, search_space=search_space)(SaltPepperDetector)
