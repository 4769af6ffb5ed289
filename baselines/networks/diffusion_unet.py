"""The diffusers U-Net of every diffusion model of the suite (``ddpm``, ``shape-ddpm``, latent blending's
latent DDPM, the ``saltpepper`` detector), randomly initialised, and its patched (space-to-depth) form."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from diffusers.models.unets.unet_2d import UNet2DOutput


def build_unet(
    sample_size: tuple[int, int],
    in_channels: int,
    out_channels: int,
    block_out_channels: tuple[int, ...],
    layers_per_block: int,
    attention_levels: int = 1,
) -> UNet2DModel:
    """A randomly initialised diffusers U-Net with one resolution level per entry of ``block_out_channels``
    (each level but the last halves the resolution) and self-attention only in the ``attention_levels``
    lowest-resolution levels, where it is cheap."""
    levels = len(block_out_channels)
    if not 0 <= attention_levels <= levels:
        raise ValueError(f"attention_levels must be in [0, {levels}], got {attention_levels}")
    attention = [level >= levels - attention_levels for level in range(levels)]
    return UNet2DModel(
        sample_size=tuple(int(s) for s in sample_size),
        in_channels=in_channels,
        out_channels=out_channels,
        block_out_channels=tuple(int(c) for c in block_out_channels),
        layers_per_block=layers_per_block,
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)),
        norm_num_groups=min(8, min(block_out_channels)),
    )


class PatchedUNet(torch.nn.Module):
    """A U-Net on the ``patch_size``-times coarser grid of pixel-unshuffled inputs (space-to-depth, as in
    Hoogeboom et al. 2023, "simple diffusion"): (C, H, W) -> (C p^2, H / p, W / p) -> U-Net -> pixel
    shuffle back. No pixel is lost, every level costs about 1 / p^2, and the coarsest level sees p times
    more context."""

    def __init__(self, unet: UNet2DModel, patch_size: int):
        super().__init__()
        self.unet = unet
        self.patch_size = patch_size

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> UNet2DOutput:
        p = self.patch_size
        return UNet2DOutput(sample=F.pixel_shuffle(self.unet(F.pixel_unshuffle(x, p), t).sample, p))
