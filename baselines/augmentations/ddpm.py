"""``ddpm``: DDPM-2ch (Hadzic et al. 2024). A pixel-space DDPM learns the joint distribution of 2-channel
samples ``[image, label channel]`` (:mod:`baselines.augmentations.two_channel`: the heatmap of all K
landmarks in one channel, ``h(p) = max_k exp(-|p - l_k|^2 / (2 sigma^2))``, or the mask); labels are read
back from the generated channel by peaks -> MRF identities -> shape-model check (landmarks) or by
thresholding (masks).

The network is a diffusers ``UNet2DModel`` trained and sampled by :mod:`baselines.diffusion` (schedule,
prediction type, min-SNR weighting, EMA, DDIM or ancestral sampling). ``label_weight`` is the loss weight
of the label channel against 1 for the image: the heatmap is zero almost everywhere, so with equal weights
its few peak pixels hardly move the loss.

``quality_filter=False`` is the ablation without the MRF/shape-model filter: the reader may then take up
to K extra peaks (the MRF picks K of them) and every sample whose K landmarks could all be assigned is
accepted; the ``reason`` column keeps the filter's verdict. Rejected samples stay in the returned set but
are never trained on, because composition only uses accepted ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Collection

import numpy as np
import torch

from baselines.augmentations.two_channel import TwoChannelGenerator, TwoChannelSettings
from baselines.diffusion import (
    DiffusionGeneratorSettings,
    DiffusionRecipe,
    denoise_from,
    reference_loss,
    sample,
    scheduler_for,
    train_diffusion,
)
from benchmark.augmentation import composition_search_space
from benchmark.errors import ConfigError
from benchmark.perf.contract import Step, plain_step
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class DDPMSettings(DiffusionGeneratorSettings, TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings`, the diffusion fields of
    :class:`~baselines.diffusion.DiffusionGeneratorSettings`, and ``label_weight``, the loss weight of the
    label channel against 1 for the image."""

    method: ClassVar[str] = "ddpm"

    grid_scale: float = 0.75
    heatmap_sigma: float = 1.5
    train_steps: int = 2500
    max_grad_norm: float | None = 1.0
    label_weight: float = 10.0

    def __post_init__(self) -> None:
        self.check_diffusion(self.method)
        super().__post_init__()
        if not self.label_weight > 0:
            raise ConfigError(f"ddpm: label_weight must be > 0, got {self.label_weight}")


class DDPMAugmentation(TwoChannelGenerator):
    name = "ddpm"
    settings: DDPMSettings

    def network(self, size: tuple[int, int]) -> torch.nn.Module:
        """The randomly initialised U-Net on (2, h, w) samples of ``size`` (h, w)."""
        return self.settings.unet(size, 2, 2)

    def training_recipe(self) -> DiffusionRecipe:
        """The diffusion recipe with the label channel weighted ``label_weight`` against 1 for the image."""
        return self.settings.recipe((1.0, self.settings.label_weight))

    def fit(self, data: torch.Tensor, seed: int, device: torch.device, checkpoints: Collection[int] = (),
            on_checkpoint: Callable[[int], None] | None = None) -> dict[str, float]:
        """Train the U-Net on ``data``; after each step in ``checkpoints`` the generator can :meth:`sample`
        as it would at the end, inside ``on_checkpoint(step)`` (see
        :func:`~baselines.diffusion.train_diffusion`)."""
        s = self.settings
        self.shape = tuple(data.shape[1:])
        self.model = self.network(self.shape[1:])
        self.scheduler = scheduler_for(s.recipe())
        report = train_diffusion(self.model, data, self.training_recipe(),
                                 torch.Generator().manual_seed(seed), device, s.amp, desc="ddpm training",
                                 checkpoints=checkpoints, on_checkpoint=on_checkpoint)
        return {"generator_final_loss": float(np.mean(report.losses[-max(1, len(report.losses) // 10):]))}

    def networks(self) -> list[torch.nn.Module]:
        return [self.model]

    def reference_step(self, data: torch.Tensor, device: torch.device) -> Step:
        s = self.settings
        network = self.network(tuple(data.shape[-2:])).to(device)
        return plain_step(network, reference_loss(data, self.training_recipe()), s.lr, device, s.amp)

    def perf_note(self) -> str:
        return self.settings.sampler_note()

    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        s = self.settings
        return sample(self.model, self.scheduler, n, self.shape, s.sampler, s.ddim_steps, s.sample_batch_size,
                      seed + 1, device, s.amp)

    def denoise(self, data: torch.Tensor, strength: float, steps: int, seed: int,
                device: torch.device) -> np.ndarray:
        """Training samples noised to ``strength * T`` and denoised by DDIM in ``steps`` calls (``steps`` 1:
        one x0 estimate), for the staged read-back of :mod:`benchmark.readback`."""
        noise = torch.randn(data.shape, generator=torch.Generator().manual_seed(seed))
        return denoise_from(self.model, self.scheduler, data, strength, steps, noise, device,
                            self.settings.amp).float().cpu().numpy()


def search_space(trial) -> dict:
    """The shared composition suggestions plus the label channel's width and loss weight."""
    return {**composition_search_space("ddpm")(trial),
            "heatmap_sigma": trial.suggest_float("ddpm.heatmap_sigma", 1.0, 3.0),
            "label_weight": trial.suggest_float("ddpm.label_weight", 1.0, 30.0, log=True)}


AUGMENTATIONS.register("ddpm", "DDPM-2ch: a DDPM on [image, heatmap of all landmarks | mask], labels read "
                               "back by peaks + MRF + shape model (Hadzic et al. 2024)",
                       settings=DDPMSettings, search_space=search_space)(DDPMAugmentation)
