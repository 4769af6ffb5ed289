"""Diffusion maths shared by every diffusion model of the suite (``ddpm``, ``shape-ddpm``, latent
blending's latent DDPM, the ``saltpepper`` detector): schedules, the forward process, prediction types,
loss weighting, EMA, training and sampling. Schedules and reverse steps are diffusers' schedulers; the
U-Net is :mod:`baselines.networks.diffusion_unet`'s.

Symbols (paper -> code). ``T`` = ``num_train_timesteps``; ``beta_t`` the schedule (``beta_schedule``:
``linear`` 1e-4 .. 2e-2 of Ho et al. 2020, ``squaredcos_cap_v2`` the cosine schedule of Nichol & Dhariwal
2021, ``sigmoid``, ``scaled_linear``); ``alpha_t = 1 - beta_t``; ``abar_t = prod_{s <= t} alpha_s``
(``alphas_cumprod``); ``SNR(t) = abar_t / (1 - abar_t)``. Data ``x_0`` are scaled to [-1, 1].

Forward process (:func:`add_noise`)::

    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,   eps ~ N(0, I).

Prediction types (:func:`training_target`, :func:`predicted_x0`): the network output ``f`` is trained to
match ``eps`` (``epsilon``, Ho et al. 2020), ``v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0``
(``v_prediction``, Salimans & Ho 2022) or ``x_0`` itself (``sample``). The clean-sample estimate is
``x0_hat = (x_t - sqrt(1 - abar_t) f) / sqrt(abar_t)``, ``sqrt(abar_t) x_t - sqrt(1 - abar_t) f`` or
``f`` respectively.

Loss (:func:`diffusion_loss`). Per sample, the channel-weighted squared error
``sum_c w_c mean_pixels (f - target)_c^2 / sum_c w_c`` (``channel_weights`` ``w``; equal weights give the
plain MSE; a sparse label channel can be up-weighted), times the min-SNR-gamma weight of Hang et al.
(2023) when ``min_snr_gamma`` is set. That weight is ``min(SNR, gamma)`` on the x0-error, which is
``min(SNR, gamma) / SNR`` for an eps-target, ``min(SNR, gamma) / (SNR + 1)`` for a v-target and
``min(SNR, gamma)`` for an x0-target (:func:`min_snr_weight`). ``t`` is uniform in {0, ..., T - 1}.

EMA (:class:`diffusers.training_utils.EMAModel` with warm-up): after optimiser step ``k`` = 1, 2, ... the
shadow weights move ``theta_ema <- d_k theta_ema + (1 - d_k) theta`` with
``d_k = min(ema_decay, 1 - k^(-2/3))`` (``d_1 = 0``), so a short run is not dominated by its random
initialisation; sampling uses the shadow weights.

Conditioning. A model with a ``condition`` (N, C', H, W) sees ``concat(x_t, condition)`` along channels,
so its ``in_channels`` is ``C + C'`` and it denoises only the ``C`` data channels.

Sampling (:func:`sample`). From ``x_T ~ N(0, I)`` with ``DDPMScheduler`` (ancestral, ``T`` network calls) or
``DDIMScheduler`` (eta 0, ``steps`` calls on evenly spaced timesteps), both built from the training
scheduler's config (same betas, same prediction type); ``x0_hat`` is clipped to [-1, 1] and DDIM
re-derives the noise from the clipped estimate (``use_clipped_model_output``), without which the two terms
of the update disagree for a model that has not converged and samples drift to the data mean.
:func:`denoise_from` is the partial reverse process (SDEdit; diffusers' img2img convention): with
``strength`` s in (0, 1], DDIM is set to ``ceil(steps / s)`` timesteps, the given ``x_0`` is noised to the
largest of them not above ``s T`` and denoised from there (about ``steps`` network calls).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Collection, Literal, get_args

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from baselines.networks.diffusion_unet import PatchedUNet, build_unet
from benchmark.errors import ConfigError
from benchmark.training.device import autocast
from benchmark.training.settings import AmpMode

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid")
SAMPLERS = ("ddim", "ddpm")
LRSchedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class DiffusionRecipe:
    """How a diffusion model is trained: schedule, prediction type, loss weighting, optimiser and EMA
    (module docstring). ``warmup_steps`` ramps the learning rate linearly up to ``lr``, after which it stays
    there (``lr_schedule`` ``constant``) or follows a cosine down to 0 at the last step (``cosine``), see
    :func:`lr_multiplier`; ``max_grad_norm`` rescales the gradient to at most that global L2 norm before
    each step (``None``: no clipping; diffusers' and lucidrains' DDPM trainers clip at 1); ``ema_decay`` 0
    turns EMA off; ``channel_weights`` ``None`` weighs every channel 1."""

    steps: int
    batch_size: int
    lr: float = 1e-3
    warmup_steps: int = 0
    lr_schedule: LRSchedule = "constant"
    max_grad_norm: float | None = None
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"
    min_snr_gamma: float | None = None
    channel_weights: tuple[float, ...] | None = None
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        check_recipe(self, "diffusion")


def check_recipe(settings, what: str) -> None:
    """One-line errors for the diffusion fields a settings object shares with :class:`DiffusionRecipe`."""
    if settings.prediction_type not in PREDICTION_TYPES:
        raise ConfigError(
            f"{what}: prediction_type must be one of {', '.join(PREDICTION_TYPES)}, "
            f"got {settings.prediction_type!r}"
        )
    if settings.beta_schedule not in BETA_SCHEDULES:
        raise ConfigError(
            f"{what}: beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, "
            f"got {settings.beta_schedule!r}"
        )
    if settings.min_snr_gamma is not None and not settings.min_snr_gamma > 0:
        raise ConfigError(f"{what}: min_snr_gamma must be > 0 or null, got {settings.min_snr_gamma}")
    if not 0 <= settings.ema_decay < 1:
        raise ConfigError(f"{what}: ema_decay must be in [0, 1), got {settings.ema_decay}")
    if settings.warmup_steps < 0 or not settings.lr > 0:
        raise ConfigError(f"{what}: warmup_steps must be >= 0 and lr > 0")
    if settings.max_grad_norm is not None and not settings.max_grad_norm > 0:
        raise ConfigError(f"{what}: max_grad_norm must be > 0 or null, got {settings.max_grad_norm}")
    if settings.lr_schedule not in get_args(LRSchedule):
        raise ConfigError(f"{what}: lr_schedule must be one of {', '.join(get_args(LRSchedule))}, "
                          f"got {settings.lr_schedule!r}")
    weights = getattr(settings, "channel_weights", None)
    if weights is not None and (not len(weights) or min(weights) < 0 or not sum(weights) > 0):
        raise ConfigError(f"{what}: channel_weights must be non-negative with a positive sum, got {weights}")


def make_scheduler(
    num_train_timesteps: int = 1000,
    beta_schedule: str = "linear",
    prediction_type: str = "epsilon",
    beta_start: float = 1e-4,
    beta_end: float = 2e-2,
    clip_sample: bool = True,
) -> DDPMScheduler:
    """The training scheduler (betas, ``abar``, prediction type); samplers are built from its config.
    With ``clip_sample`` (data in [-1, 1]; not for unit-variance latents) ``x0_hat`` and the samples are
    clipped to [-1, 1]."""
    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_schedule=beta_schedule,
        beta_start=beta_start,
        beta_end=beta_end,
        prediction_type=prediction_type,
        clip_sample=clip_sample,
    )


def scheduler_for(recipe: DiffusionRecipe, clip_sample: bool = True) -> DDPMScheduler:
    return make_scheduler(
        recipe.num_train_timesteps, recipe.beta_schedule, recipe.prediction_type, clip_sample=clip_sample
    )


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))


def add_noise(x0: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    """``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``; ``abar_t`` holds one value per sample."""
    a = _per_sample(abar_t, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def training_target(
    x0: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """What the network output is trained to match: ``eps``, ``v`` or ``x_0`` (module docstring)."""
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "sample":
        return x0
    if prediction_type == "v_prediction":
        a = _per_sample(abar_t, x0)
        return a.sqrt() * eps - (1 - a).sqrt() * x0
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def predicted_x0(
    output: torch.Tensor, xt: torch.Tensor, abar_t: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """The clean-sample estimate ``x0_hat`` from the network output at ``x_t`` (module docstring)."""
    a = _per_sample(abar_t, xt)
    if prediction_type == "epsilon":
        return (xt - (1 - a).sqrt() * output) / a.sqrt()
    if prediction_type == "sample":
        return output
    if prediction_type == "v_prediction":
        return a.sqrt() * xt - (1 - a).sqrt() * output
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def min_snr_weight(abar_t: torch.Tensor, gamma: float, prediction_type: str) -> torch.Tensor:
    """Per-sample loss weight of min-SNR-gamma for the given target (module docstring)."""
    snr = abar_t / (1 - abar_t)
    clipped = torch.clamp(snr, max=gamma)
    if prediction_type == "epsilon":
        return clipped / snr
    if prediction_type == "v_prediction":
        return clipped / (snr + 1)
    if prediction_type == "sample":
        return clipped
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def diffusion_loss(
    output: torch.Tensor, target: torch.Tensor, abar_t: torch.Tensor, recipe: DiffusionRecipe
) -> torch.Tensor:
    """The scalar training loss: channel-weighted squared error per sample, min-SNR-weighted, averaged."""
    squared = (output.float() - target.float()) ** 2
    per_channel = squared.flatten(2).mean(2)  # (N, C)
    if recipe.channel_weights is None:
        per_sample = per_channel.mean(1)
    else:
        if len(recipe.channel_weights) != per_channel.shape[1]:
            raise ConfigError(
                f"channel_weights has {len(recipe.channel_weights)} entries for "
                f"{per_channel.shape[1]} channels"
            )
        w = torch.tensor(recipe.channel_weights, dtype=per_channel.dtype, device=per_channel.device)
        per_sample = (per_channel * w).sum(1) / w.sum()
    if recipe.min_snr_gamma is not None:
        per_sample = per_sample * min_snr_weight(abar_t.float(), recipe.min_snr_gamma, recipe.prediction_type)
    return per_sample.mean()


def lr_multiplier(step: int, warmup_steps: int, total_steps: int = 0, schedule: str = "constant") -> float:
    """The learning rate of optimiser step ``step`` (0-based) as a fraction of the peak: a linear warm-up
    ``(step + 1) / warmup_steps`` over the first ``warmup_steps`` steps, then 1 (``constant``) or the
    cosine ``(1 + cos(pi p)) / 2`` of the progress ``p = (step - warmup_steps) / (total_steps -
    warmup_steps)`` clipped to [0, 1] (``cosine``, Loshchilov & Hutter 2017, without restarts)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, max(0.0, (step - warmup_steps) / max(1, total_steps - warmup_steps)))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainingReport:
    losses: list[float]
    seconds: float


def _network_input(xt: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    return xt if condition is None else torch.cat([xt, condition], dim=1)


def train_diffusion(
    model: UNet2DModel,
    data: torch.Tensor,
    recipe: DiffusionRecipe,
    generator: torch.Generator,
    device: torch.device,
    amp: str = "auto",
    condition: torch.Tensor | None = None,
    desc: str = "diffusion training",
    progress: bool | None = None,
    checkpoints: Collection[int] = (),
    on_checkpoint: Callable[[int], None] | None = None,
) -> TrainingReport:
    """Fit ``model`` to ``data`` (N, C, H, W) in [-1, 1] for ``recipe.steps`` AdamW steps of
    :func:`diffusion_loss`; ``condition`` (N, C', H, W) is paired with ``data`` row by row. Batches,
    timesteps and noise are drawn from ``generator`` (on the CPU, so a seed gives the same draws on every
    device); bf16 autocast on a GPU when ``amp`` allows it. With EMA the model ends holding the shadow
    weights. ``progress``: a tqdm bar (``None``: only on a terminal). After each optimiser step ``k`` in
    ``checkpoints``, ``on_checkpoint(k)`` is called with the model in eval mode holding the weights it
    would end with (the EMA shadow) at that step; training then goes on exactly as without it."""
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: lr_multiplier(step, recipe.warmup_steps, recipe.steps, recipe.lr_schedule)
    )
    ema = (
        EMAModel(model.parameters(), decay=recipe.ema_decay, use_ema_warmup=True)
        if recipe.ema_decay
        else None
    )
    abar = scheduler_for(recipe).alphas_cumprod
    losses: list[torch.Tensor] = []
    started = time.perf_counter()
    for _ in tqdm(range(recipe.steps), desc=desc, disable=_disabled(progress), leave=False):
        index = torch.randint(len(data), (recipe.batch_size,), generator=generator)
        t = torch.randint(recipe.num_train_timesteps, (recipe.batch_size,), generator=generator)
        x0 = data[index]
        eps = torch.randn(x0.shape, generator=generator)
        xt = add_noise(x0, eps, abar[t])
        cond = None if condition is None else condition[index].to(device)
        with autocast(device, amp):
            output = model(_network_input(xt.to(device), cond), t.to(device)).sample
        target = training_target(x0, eps, abar[t], recipe.prediction_type).to(device)
        loss = diffusion_loss(output, target, abar[t].to(device), recipe)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_grad_norm)
        optimiser.step()
        schedule.step()
        if ema is not None:
            ema.step(model.parameters())
        losses.append(loss.detach())  # read on the host once, after the loop (no sync per step)
        if on_checkpoint is not None and len(losses) in checkpoints:
            _call_with_final_weights(model, ema, lambda: on_checkpoint(len(losses)))
    if ema is not None:
        ema.copy_to(model.parameters())
    return TrainingReport(losses=torch.stack(losses).cpu().tolist() if losses else [],
                          seconds=time.perf_counter() - started)


def _call_with_final_weights(model: torch.nn.Module, ema: EMAModel | None, call: Callable[[], None]) -> None:
    """``call()`` with ``model`` in eval mode and holding the EMA shadow weights, then back to training with
    its own weights."""
    if ema is not None:
        ema.store(model.parameters())
        ema.copy_to(model.parameters())
    model.eval()
    try:
        call()
    finally:
        if ema is not None:
            ema.restore(model.parameters())
        model.train()


def reference_loss(data: torch.Tensor, recipe: DiffusionRecipe,
                   condition: torch.Tensor | None = None) -> Callable[[torch.nn.Module], torch.Tensor]:
    """:func:`train_diffusion`'s loss as a function of the network, for ``benchmark perf``'s reference loop:
    every call draws a batch of ``data`` (already on its device; ``condition`` paired row by row),
    timesteps and noise from torch's global generator on that device, with nothing else around it."""
    abar = scheduler_for(recipe).alphas_cumprod.to(data.device)

    def loss_of(model: torch.nn.Module) -> torch.Tensor:
        index = torch.randint(len(data), (recipe.batch_size,), device=data.device)
        x0 = data[index]
        t = torch.randint(recipe.num_train_timesteps, (recipe.batch_size,), device=data.device)
        eps = torch.randn_like(x0)
        cond = None if condition is None else condition[index]
        output = model(_network_input(add_noise(x0, eps, abar[t]), cond), t).sample
        target = training_target(x0, eps, abar[t], recipe.prediction_type)
        return diffusion_loss(output, target, abar[t], recipe)
    return loss_of


def ddim_update(
    x0: torch.Tensor,
    eps: torch.Tensor,
    abar_t: torch.Tensor,
    abar_s: torch.Tensor,
    eta: float,
    noise: torch.Tensor,
) -> torch.Tensor:
    """The generalised DDIM step (Song et al. 2021) from ``t`` to an earlier ``s``, the update of
    ``DDIMScheduler.step`` for an arbitrary pair of timesteps (a schedule DDIMScheduler cannot express)::

        x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z,
        sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s).
    """
    sigma = eta * ((1 - abar_s) / (1 - abar_t) * (1 - abar_t / abar_s)).clamp_min(0).sqrt()
    return abar_s.sqrt() * x0 + (1 - abar_s - sigma**2).clamp_min(0).sqrt() * eps + sigma * noise


def predicted_eps(x0: torch.Tensor, xt: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    """The noise consistent with ``x_t`` and an estimate ``x0``:
    ``(x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)``."""
    a = _per_sample(abar_t, xt)
    return (xt - a.sqrt() * x0) / (1 - a).sqrt()


def _stepper(scheduler: DDPMScheduler, sampler: str, steps: int) -> DDPMScheduler | DDIMScheduler:
    if sampler == "ddpm":
        stepper = DDPMScheduler.from_config(scheduler.config)
        stepper.set_timesteps(scheduler.config.num_train_timesteps)
    elif sampler == "ddim":
        stepper = DDIMScheduler.from_config(scheduler.config)
        stepper.set_timesteps(steps)
    else:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    return stepper


@torch.no_grad()
def _reverse(
    model: UNet2DModel,
    stepper,
    timesteps: torch.Tensor,
    x: torch.Tensor,
    condition: torch.Tensor | None,
    generator: torch.Generator,
    device: torch.device,
    amp: str,
) -> torch.Tensor:
    ddim = isinstance(stepper, DDIMScheduler)
    for t in timesteps:
        with autocast(device, amp):
            output = model(_network_input(x, condition), t.to(device)).sample.float()
        if ddim:
            x = stepper.step(output, t, x, eta=0.0, use_clipped_model_output=True).prev_sample
        else:
            x = stepper.step(output, t, x, generator=generator).prev_sample
    return x.clamp(-1, 1) if stepper.config.clip_sample else x


def _batches(n: int, batch_size: int, desc: str, progress: bool | None):
    return tqdm(range(0, n, batch_size), desc=desc, disable=_disabled(progress), leave=False)


@torch.no_grad()
def sample(
    model: UNet2DModel,
    scheduler: DDPMScheduler,
    n: int,
    shape: tuple[int, int, int],
    sampler: str,
    steps: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    amp: str = "auto",
    condition: torch.Tensor | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """``n`` samples of ``shape`` (C, H, W) as a float32 (n, C, H, W) array in [-1, 1] (module docstring);
    ``condition`` (n, C', H, W) conditions sample i on row i. All randomness (initial and ancestral noise)
    comes from one CPU generator seeded with ``seed``: a seed gives the same samples for the same model
    and device."""
    model.to(device).eval()
    stepper = _stepper(scheduler, sampler, steps)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in _batches(n, batch_size, f"sampling ({sampler})", progress):
        stop = min(n, start + batch_size)
        x = torch.randn((stop - start, *shape), generator=generator).to(device)
        cond = None if condition is None else condition[start:stop].to(device)
        out.append(
            _reverse(model, stepper, stepper.timesteps, x, cond, generator, device, amp).float().cpu().numpy()
        )
    return np.concatenate(out).astype(np.float32)


def partial_timesteps(scheduler: DDPMScheduler, strength: float, steps: int) -> DDIMScheduler:
    """A DDIM stepper whose ``timesteps`` are the part of a ``ceil(steps / strength)``-step schedule that lies
    at or below ``strength * T`` (module docstring)."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    stepper = DDIMScheduler.from_config(scheduler.config)
    stepper.set_timesteps(max(steps, math.ceil(steps / strength)))
    limit = strength * scheduler.config.num_train_timesteps
    stepper.timesteps = stepper.timesteps[stepper.timesteps <= limit]
    return stepper


@torch.no_grad()
def denoise_from(
    model: UNet2DModel,
    scheduler: DDPMScheduler,
    x0: torch.Tensor,
    strength: float,
    steps: int,
    noise: torch.Tensor,
    device: torch.device,
    amp: str = "auto",
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """The partial reverse process: ``x0`` noised with ``noise`` to the first timestep of
    :func:`partial_timesteps` and denoised by DDIM to a clean sample (module docstring)."""
    model.to(device).eval()
    stepper = partial_timesteps(scheduler, strength, steps)
    if len(stepper.timesteps) == 0:
        return x0.to(device)
    start = stepper.timesteps[:1].repeat(len(x0))
    x = add_noise(x0, noise, scheduler.alphas_cumprod[start]).to(device)
    cond = None if condition is None else condition.to(device)
    return _reverse(model, stepper, stepper.timesteps, x, cond, torch.Generator(), device, amp)


def _disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: ``None`` lets tqdm hide the bar when stderr is not a terminal."""
    return None if progress is None else not progress


@dataclass(frozen=True)
class DiffusionGeneratorSettings:
    """The fields every pixel-space diffusion generator shares: the U-Net (one level per entry of
    ``block_out_channels``, self-attention in the ``attention_levels`` coarsest, on the ``patch_size``
    times coarser grid of :class:`PatchedUNet` when ``patch_size`` > 1), the training recipe
    (:class:`DiffusionRecipe`; ``train_steps`` optimiser steps at ``batch_size``) and the sampler
    (``ddim`` with ``ddim_steps`` network calls, or the full ancestral ``ddpm``)."""

    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    prediction_type: str = "v_prediction"
    min_snr_gamma: float | None = 5.0
    ema_decay: float = 0.999
    lr: float = 2e-3
    warmup_steps: int = 100
    lr_schedule: LRSchedule = "constant"
    max_grad_norm: float | None = None
    train_steps: int = 100
    batch_size: int = 8
    sampler: str = "ddim"
    ddim_steps: int = 20
    block_out_channels: tuple[int, ...] = (16, 32, 32, 64)
    layers_per_block: int = 1
    attention_levels: int = 1
    patch_size: int = 2
    sample_batch_size: int = 32
    amp: AmpMode = "auto"

    def check_diffusion(self, what: str) -> None:
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        if not self.block_out_channels or min(self.block_out_channels) < 1:
            raise ConfigError(f"{what}: block_out_channels must be a non-empty list of positive widths, "
                              f"got {list(self.block_out_channels)}")
        check_recipe(self, what)
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"{what}: sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        for name in (
            "num_train_timesteps",
            "ddim_steps",
            "train_steps",
            "batch_size",
            "sample_batch_size",
            "patch_size",
            "layers_per_block",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{what}: {name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.attention_levels <= len(self.block_out_channels):
            raise ConfigError(
                f"{what}: attention_levels must be in [0, {len(self.block_out_channels)}], "
                f"got {self.attention_levels}"
            )

    def recipe(self, channel_weights: tuple[float, ...] | None = None) -> DiffusionRecipe:
        return DiffusionRecipe(
            steps=self.train_steps,
            batch_size=self.batch_size,
            lr=self.lr,
            warmup_steps=self.warmup_steps,
            lr_schedule=self.lr_schedule,
            max_grad_norm=self.max_grad_norm,
            num_train_timesteps=self.num_train_timesteps,
            beta_schedule=self.beta_schedule,
            prediction_type=self.prediction_type,
            min_snr_gamma=self.min_snr_gamma,
            channel_weights=channel_weights,
            ema_decay=self.ema_decay,
        )

    def sampler_note(self) -> str:
        """How samples are drawn, in words (``benchmark perf``): the DDIM steps; nothing for ``ddpm``."""
        return f"sampler ddim, {self.ddim_steps} steps" if self.sampler == "ddim" else ""

    def size_multiple(self, size: tuple[int, int]) -> int:
        """Both sides of the grid must be multiples of this: the patch times one halving per level but
        the last."""
        return self.patch_size * 2 ** (len(self.block_out_channels) - 1)

    def unet(self, size: tuple[int, int], in_channels: int, out_channels: int) -> torch.nn.Module:
        p = self.patch_size
        unet = build_unet(
            (size[0] // p, size[1] // p),
            in_channels * p * p,
            out_channels * p * p,
            self.block_out_channels,
            self.layers_per_block,
            self.attention_levels,
        )
        return unet if p == 1 else PatchedUNet(unet, p)
