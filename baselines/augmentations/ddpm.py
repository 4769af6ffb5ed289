"""``ddpm``: DDPM-2ch (Hadzic et al. 2024). A pixel-space DDPM learns the joint distribution of 2-channel
samples ``[image, label channel]`` (:mod:`baselines.augmentations.two_channel`: the heatmap of all K
landmarks in one channel, ``h(p) = max_k exp(-|p - l_k|^2 / (2 sigma^2))``, or the mask); labels are read
back from the generated channel by peaks -> MRF identities -> shape-model check (landmarks) or by
thresholding (masks).

The network is a diffusers ``UNet2DModel`` (:func:`~baselines.augmentations.diffusion.build_unet`)
trained with the eps-prediction loss under the linear schedule of Ho et al. (2020), ``T`` =
``num_train_timesteps`` = 1000 by default; samples come from the full ancestral schedule
(``sampler: ddpm``, ``T`` network calls) or DDIM with ``ddim_steps`` (``sampler: ddim``, the default on
a CPU budget).

``quality_filter=False`` is the ablation without the MRF/shape-model filter: the reader may then take up
to K extra peaks (the MRF picks K of them) and every sample whose K landmarks could all be assigned is
accepted; the ``reason`` column keeps the filter's verdict. Rejected samples stay in the returned set but
are never trained on, because composition only uses accepted ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import torch

from baselines.augmentations.diffusion import build_unet, linear_scheduler, sample_ddpm, train_ddpm
from baselines.augmentations.two_channel import TwoChannelGenerator, TwoChannelSettings
from benchmark.augmentation import composition_search_space
from benchmark.config import build
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class DDPMSettings(TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings` plus the U-Net (one level per
    entry of ``block_out_channels``, self-attention in the ``attention_levels`` coarsest), its training
    and the sampler."""

    method: ClassVar[str] = "ddpm"

    samples_ratio: float = 0.2
    num_train_timesteps: int = 1000
    sampler: Literal["ddim", "ddpm"] = "ddim"
    ddim_steps: int = 20
    train_steps: int = 100
    batch_size: int = 8
    lr: float = 1e-3
    block_out_channels: tuple[int, ...] = field(default=(16, 32, 32, 64))
    layers_per_block: int = 1
    attention_levels: int = 1
    sample_batch_size: int = 32
    amp: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        super().__post_init__()
        if self.sampler not in ("ddim", "ddpm"):
            raise ConfigError(f"ddpm: sampler must be 'ddim' or 'ddpm', got {self.sampler!r}")
        for name in ("num_train_timesteps", "ddim_steps", "train_steps", "batch_size", "sample_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"ddpm: {name} must be >= 1, got {getattr(self, name)}")

    def size_multiple(self, size: tuple[int, int]) -> int:
        """One halving per U-Net level but the last."""
        return 2 ** (len(self.block_out_channels) - 1)


class DDPMAugmentation(TwoChannelGenerator):
    name = "ddpm"
    settings: DDPMSettings

    def fit(self, data: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        s = self.settings
        self.shape = tuple(data.shape[1:])
        self.model = build_unet(self.shape[1:], 2, 2, s.block_out_channels, s.layers_per_block, s.attention_levels)
        self.scheduler = linear_scheduler(s.num_train_timesteps)
        report = train_ddpm(self.model, data, self.scheduler, s.train_steps, s.batch_size, s.lr,
                            torch.Generator().manual_seed(seed), device, s.amp)
        return {"generator_final_loss": float(np.mean(report.losses[-max(1, len(report.losses) // 10):]))}

    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        s = self.settings
        return sample_ddpm(self.model, self.scheduler, n, self.shape, s.sampler, s.ddim_steps, s.sample_batch_size,
                           seed + 1, device, s.amp)


@AUGMENTATIONS.register("ddpm", "DDPM-2ch: a DDPM on [image, heatmap of all landmarks | mask], labels read back "
                                "by peaks + MRF + shape model (Hadzic et al. 2024)",
                       search_space=composition_search_space("ddpm"))
def create(**params) -> DDPMAugmentation:
    return DDPMAugmentation(build(DDPMSettings, params, "ddpm"))
