"""``heatmap``: a U-Net heatmap regressor with a timm encoder (landmarks), or the same network with a
mask head (segmentation).

Landmarks: one output channel per landmark at ``1 / output_stride`` of the working size, trained
against Gaussian targets of std ``sigma`` working pixels centred on the landmark (positions on the
output grid: ``x_out = (x + 0.5) / s - 0.5``). Two losses are offered:

* ``softmax-ce`` (default): each channel is a distribution over the image plane,
  ``p = softmax(logits)`` over H x W, and the loss is the cross-entropy ``-sum(q * log p)`` against the
  Gaussian target normalised to sum 1. It converges in far fewer steps than MSE on the CPU budgets of
  the ``default`` profile because every pixel's gradient is normalised per landmark;
* ``mse``: the classic mean squared error against Gaussian heatmaps of peak 1.

Decoding: arg-max of each channel with sub-pixel refinement (:func:`benchmark.heatmaps.decode_heatmaps`),
mapped back to working pixels. Segmentation: one logit channel; loss = binary
cross-entropy + soft Dice on the logits upsampled bilinearly from ``1 / output_stride`` to the working
size, prediction = ``sigmoid > 0.5``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from baselines.detectors.dense import DenseDetector
from baselines.detectors.losses import HEATMAP_LOSSES
from baselines.networks.timm_unet import TimmUNet, check_encoder
from benchmark.checks import is_number
from benchmark.errors import ConfigError
from benchmark.registry import DETECTORS


@dataclass(frozen=True)
class HeatmapSettings:
    encoder: str = "resnet18"
    decoder_channels: list[int] = field(default_factory=lambda: [128, 64, 32, 32, 16])
    sigma: float = 2.0
    loss: str = "softmax-ce"
    output_stride: int = 2


class HeatmapDetector(DenseDetector):
    name = "heatmap"

    def __init__(self, settings: HeatmapSettings):
        if settings.loss not in HEATMAP_LOSSES:
            raise ConfigError(f"heatmap: loss must be one of {', '.join(HEATMAP_LOSSES)}, "
                              f"got {settings.loss!r}")
        check_encoder(settings.encoder, settings.decoder_channels, settings.output_stride, "heatmap")
        if not is_number(settings.sigma) or not 0 < settings.sigma < math.inf:
            raise ConfigError(f"heatmap: sigma must be a finite number > 0 (working pixels), "
                              f"got {settings.sigma!r}")
        super().__init__(settings)

    def build_network(self, out_channels: int) -> TimmUNet:
        return TimmUNet(self.settings.encoder, out_channels, list(self.settings.decoder_channels),
                        output_stride=self.settings.output_stride)


def search_space(trial) -> dict:
    """Sweep suggestions: the heatmap target's std (working pixels) and the loss; the encoder and decoder
    widths stay the profile's (they set the cost, not only the result)."""
    return {"sigma": trial.suggest_float("heatmap.sigma", 1.0, 4.0),
            "loss": trial.suggest_categorical("heatmap.loss", list(HEATMAP_LOSSES))}


DETECTORS.register("heatmap", "U-Net heatmap regression with a timm encoder (random init); mask head for "
                              "segmentation",
                   settings=HeatmapSettings, search_space=search_space)(HeatmapDetector)
