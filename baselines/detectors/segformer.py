"""``segformer``: SegFormer (Xie et al., 2021), the downstream segmenter of Lim et al. (2024), built from a
``transformers.SegformerConfig`` with random weights and one grey input channel (never downloaded).

Network: the Mix Transformer encoder (four stages at strides 4, 8, 16, 32 with overlapping patch
embeddings and sequence-reduced attention) and the all-MLP decode head, which fuses the four stages
at stride 4. The output therefore lies on a grid of ``1 / 4`` of the working size. ``size`` picks the
published encoder (heads ``[1, 2, 5, 8]``, reduction ratios ``[8, 4, 2, 1]``, MLP ratio 4 everywhere):

====  ======================  ============  ===================
size  hidden_sizes            depths        decoder_hidden_size
====  ======================  ============  ===================
b0    32, 64, 160, 256        2, 2, 2, 2    256
b1    64, 128, 320, 512       2, 2, 2, 2    256
b2    64, 128, 320, 512       3, 4, 6, 3    768
====  ======================  ============  ===================

``hidden_sizes``, ``depths``, ``num_attention_heads`` and ``decoder_hidden_size`` override the
chosen size (for tiny test models). Inputs in [0, 1] are mapped to [-1, 1] and zero-padded at the
bottom and right to a multiple of 32 (so every stage's grid is exact); the output is cropped back to
``ceil(H / 4) x ceil(W / 4)``.

Segmentation (``canal``): one logit channel; loss = binary cross-entropy + soft Dice on the logits
upsampled bilinearly by 4 (cropped to the working size), prediction = ``sigmoid > 0.5`` -- the loss and
head of the ``heatmap`` detector. Landmarks (``hand``, ``ceph``): one channel per landmark with the
``heatmap`` detector's Gaussian targets of std ``sigma`` working pixels, losses (``softmax-ce``
default, ``mse``) and sub-pixel decoding, on the stride-4 grid with the same pixel-centre convention
``x_out = (x + 0.5) / 4 - 0.5``; decoded positions are clipped to the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.detectors.dense import DenseDetector
from baselines.detectors.losses import HEATMAP_LOSSES
from benchmark.checks import is_integer, is_number
from benchmark.errors import ConfigError
from benchmark.registry import DETECTORS

OUTPUT_STRIDE = 4
PAD_MULTIPLE = 32

# The published MiT encoders (Xie et al. 2021, Table 6 / the official configs).
SIZES: dict[str, dict[str, list[int] | int]] = {
    "b0": {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "b1": {"hidden_sizes": [64, 128, 320, 512], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "b2": {"hidden_sizes": [64, 128, 320, 512], "depths": [3, 4, 6, 3], "decoder_hidden_size": 768},
}
PUBLISHED_HEADS = [1, 2, 5, 8]
SR_RATIOS = [8, 4, 2, 1]
MLP_RATIOS = [4, 4, 4, 4]


@dataclass(frozen=True)
class SegformerSettings:
    """``size`` picks a published encoder; the four list/int fields below it override it when set.
    ``drop_path_rate`` (stochastic depth, linearly increasing over the blocks) and ``classifier_dropout``
    (before the decode head's 1x1 classifier) are SegFormer's own regularisers, 0.1 each as published."""

    size: str = "b0"
    hidden_sizes: list[int] | None = None
    depths: list[int] | None = None
    num_attention_heads: list[int] | None = None
    decoder_hidden_size: int | None = None
    drop_path_rate: float = 0.1
    classifier_dropout: float = 0.1
    sigma: float = 2.0
    loss: str = "softmax-ce"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(f"segformer setting size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if self.loss not in HEATMAP_LOSSES:
            raise ConfigError(f"segformer setting loss must be one of {', '.join(HEATMAP_LOSSES)}, "
                              f"got {self.loss!r}")
        if not is_number(self.sigma) or self.sigma <= 0:
            raise ConfigError(f"segformer setting sigma must be a positive number, got {self.sigma!r}")
        for name in ("drop_path_rate", "classifier_dropout"):
            value = getattr(self, name)
            if not is_number(value) or not 0 <= value < 1:
                raise ConfigError(f"segformer setting {name} must be in [0, 1), got {value!r}")
        for name in ("hidden_sizes", "depths", "num_attention_heads"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (list, tuple)) and len(value) == 4
                                          and all(_is_positive_int(v) for v in value)):
                raise ConfigError(f"segformer setting {name} must be 4 positive integers (one per stage), "
                                  f"got {value!r}")
        if self.decoder_hidden_size is not None and not _is_positive_int(self.decoder_hidden_size):
            raise ConfigError(f"segformer setting decoder_hidden_size must be a positive integer, "
                              f"got {self.decoder_hidden_size!r}")
        arch = self.architecture()
        for width, heads in zip(arch["hidden_sizes"], arch["num_attention_heads"]):
            if width % heads:
                raise ConfigError(f"segformer setting num_attention_heads {arch['num_attention_heads']} must "
                                  f"divide hidden_sizes {arch['hidden_sizes']} stage by stage")

    def architecture(self) -> dict[str, Any]:
        """The resolved encoder/decoder shape: the size's published values with overrides applied."""
        base = SIZES[self.size]
        return {
            "hidden_sizes": list(self.hidden_sizes or base["hidden_sizes"]),
            "depths": list(self.depths or base["depths"]),
            "num_attention_heads": list(self.num_attention_heads or PUBLISHED_HEADS),
            "decoder_hidden_size": int(self.decoder_hidden_size or base["decoder_hidden_size"]),
        }


def _is_positive_int(value: Any) -> bool:
    return is_integer(value) and value > 0


class SegformerNet(nn.Module):
    """``SegformerForSemanticSegmentation`` on grey images: (B, 1, H, W) in [0, 1] -> logits
    (B, out_channels, ceil(H / 4), ceil(W / 4))."""

    output_stride = OUTPUT_STRIDE

    def __init__(self, settings: SegformerSettings, out_channels: int):
        super().__init__()
        from transformers import SegformerConfig, SegformerForSemanticSegmentation  # heavy: import on use

        config = SegformerConfig(
            num_channels=1, num_labels=out_channels, num_encoder_blocks=4, sr_ratios=SR_RATIOS,
            mlp_ratios=MLP_RATIOS, drop_path_rate=settings.drop_path_rate,
            classifier_dropout_prob=settings.classifier_dropout, **settings.architecture(),
        )
        self.segformer = SegformerForSemanticSegmentation(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        padded = F.pad(images, (0, (-width) % PAD_MULTIPLE, 0, (-height) % PAD_MULTIPLE))
        logits = self.segformer(pixel_values=2 * padded - 1).logits
        return logits[..., : -(-height // OUTPUT_STRIDE), : -(-width // OUTPUT_STRIDE)]


class SegformerDetector(DenseDetector):
    name = "segformer"

    def build_network(self, out_channels: int) -> SegformerNet:
        return SegformerNet(self.settings, out_channels)

    def full_resolution(self, logits: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Logits on the stride-4 grid -> the working size: bilinear upsampling by exactly 4 (so output
        pixel ``j`` sits at working ``x = 4 (j + 0.5) - 0.5``), cropped to ``size`` (H, W)."""
        upsampled = F.interpolate(logits, scale_factor=OUTPUT_STRIDE, mode="bilinear", align_corners=False)
        return upsampled[..., : size[0], : size[1]]


def search_space(trial) -> dict[str, Any]:
    """Detector settings for an Optuna sweep, independent of the learning rate (the ``train`` section
    is swept separately), named ``segformer.<setting>`` in the trial: the encoder size, the heatmap
    target's std and loss (used by landmark tasks only) and the two regularisers. Returns the detector's
    parameter block::

        detector = DETECTORS.create("segformer", **search_space(trial))
    """
    return {
        "size": trial.suggest_categorical("segformer.size", list(SIZES)),
        "sigma": trial.suggest_float("segformer.sigma", 1.0, 4.0),
        "loss": trial.suggest_categorical("segformer.loss", list(HEATMAP_LOSSES)),
        "drop_path_rate": trial.suggest_float("segformer.drop_path_rate", 0.0, 0.3),
        "classifier_dropout": trial.suggest_float("segformer.classifier_dropout", 0.0, 0.3),
    }


DETECTORS.register("segformer", "SegFormer (MiT encoder + all-MLP decoder, transformers, random init) at "
                                "stride 4; mask or landmark heatmaps",
                   settings=SegformerSettings, search_space=search_space)(SegformerDetector)

