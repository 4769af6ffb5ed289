"""A U-Net whose encoder is any timm backbone (random init, ``pretrained=False``).

Encoder: ``timm.create_model(name, features_only=True, in_chans=1)`` gives feature maps at strides
2, 4, 8, 16, 32 (for ResNets). Decoder: from the deepest map up, each stage upsamples by 2
(bilinear), concatenates the encoder map of that stride and applies two 3x3 conv-BN-ReLU blocks; a
last block refines the stride-2 maps (or, with ``output_stride=1``, upsamples to full resolution first)
and a 1x1 head gives ``out_channels`` maps at ``1 / output_stride`` of the input size. Inputs
of any size are zero-padded to a multiple of the total stride and the output is cropped back.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import ConfigError


def check_encoder(encoder: str, decoder_channels: Sequence[int], output_stride: int, what: str) -> None:
    """Before any network is built: ``encoder`` is a timm model, ``decoder_channels`` has one positive
    width per encoder stage, ``output_stride`` is 1 or 2. The stage count comes from the encoder built on
    the meta device (no memory, no weights)."""
    if not isinstance(encoder, str) or not timm.is_model(encoder):
        close = difflib.get_close_matches(str(encoder), timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; timm.list_models() lists the names"
        raise ConfigError(f"{what}: encoder {encoder!r} is not a timm model{hint}")
    if output_stride not in (1, 2):
        raise ConfigError(f"{what}: output_stride must be 1 or 2, got {output_stride!r}")
    with torch.device("meta"):
        features = timm.create_model(encoder, pretrained=False, features_only=True, in_chans=1)
    stages = len(features.feature_info)
    widths = list(decoder_channels) if isinstance(decoder_channels, (list, tuple)) else None
    if widths is None or len(widths) != stages or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ConfigError(f"{what}: encoder {encoder} has {stages} stages, so decoder_channels needs "
                          f"{stages} positive integers, got {decoder_channels!r}")


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class TimmUNet(nn.Module):
    def __init__(self, encoder: str, out_channels: int, decoder_channels: list[int], in_channels: int = 1,
                 output_stride: int = 1):
        super().__init__()
        if output_stride not in (1, 2):
            raise ValueError(f"output_stride must be 1 or 2, got {output_stride}")
        self.output_stride = output_stride
        self.encoder = timm.create_model(encoder, pretrained=False, features_only=True, in_chans=in_channels)
        skip_channels = self.encoder.feature_info.channels()
        self.stride = self.encoder.feature_info.reduction()[-1]
        if len(decoder_channels) != len(skip_channels):
            raise ValueError(f"encoder {encoder} has {len(skip_channels)} stages; "
                             f"decoder_channels needs {len(skip_channels)} entries, got {decoder_channels}")
        stages, channels = [], skip_channels[-1]
        for skip, out in zip(reversed(skip_channels[:-1]), decoder_channels[:-1]):
            stages.append(conv_block(channels + skip, out))
            channels = out
        self.stages = nn.ModuleList(stages)
        self.final = conv_block(channels, decoder_channels[-1])
        self.head = nn.Conv2d(decoder_channels[-1], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % self.stride, (-width) % self.stride
        x = F.pad(x, (0, pad_w, 0, pad_h))
        features = self.encoder(x)
        y = features[-1]
        for stage, skip in zip(self.stages, reversed(features[:-1])):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = stage(torch.cat([y, skip], dim=1))
        if self.output_stride == 1:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        s = self.output_stride
        return self.head(self.final(y))[..., : -(-height // s), : -(-width // s)]
