"""The training and inference shared by detectors whose network maps an image to dense outputs on a
grid of ``1 / s`` of the working size (``s = network.output_stride``): one channel per landmark
(heatmaps) or one mask-logit channel.

Landmarks: Gaussian targets of std ``sigma`` working pixels (``sigma / s`` on the output grid) at
``x_out = (x + 0.5) / s - 0.5``, the ``loss`` of :mod:`baselines.detectors.losses`, sub-pixel decoding
of :func:`benchmark.heatmaps.decode_heatmaps` mapped back with ``x = (x_out + 0.5) s - 0.5`` and clipped
to the image. Masks: binary cross-entropy + soft Dice on the logits brought to the working size by
:meth:`DenseDetector.full_resolution`; prediction ``sigmoid > 0.5`` (logit > 0).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from baselines.detectors.losses import (
    from_output_grid,
    heatmap_loss,
    heatmap_probabilities,
    segmentation_loss,
    to_output_grid,
)
from benchmark.data.imageset import ImageSet
from benchmark.detector import Detector, FitContext, Prediction, train_in_context
from benchmark.heatmaps import decode_heatmaps, gaussian_heatmaps
from benchmark.training.batch import Batch, batch_from
from benchmark.training.device import autocast
from benchmark.training.loop import History
from benchmark.validation import validation_score


class DenseDetector(Detector):
    """Subclasses set ``name`` and implement :meth:`build_network`; ``settings`` must carry ``sigma`` and
    ``loss``."""

    kinds = frozenset({"landmarks", "segmentation"})

    def __init__(self, settings) -> None:
        self.settings = settings
        self.model: torch.nn.Module | None = None
        self.segmentation = False
        self.device = torch.device("cpu")
        self.eval_batch_size = 32
        self.amp = "auto"

    @abstractmethod
    def build_network(self, out_channels: int) -> torch.nn.Module:
        """A randomly initialised network with an ``output_stride`` attribute."""

    def full_resolution(self, logits: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Mask logits at the working size: bilinear upsampling of the stride-``s`` logits."""
        if logits.shape[-2:] == tuple(size):
            return logits
        return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)

    # --- the Trainable protocol of benchmark.training.loop ---------------------------------------
    def training_loss(self, batch: Batch) -> torch.Tensor:
        return self.network_loss(batch)(self.model)

    def validate(self, val: ImageSet) -> tuple[float, dict[str, float]]:
        return validation_score(val, self.predict(val))

    # --- the Detector contract ----------------------------------------------------------------
    def network_loss(self, batch: Batch) -> Callable[[torch.nn.Module], torch.Tensor]:
        """The module docstring's loss on ``batch`` as a function of a network: the landmarks' Gaussian
        targets are rendered at the first call, on the grid of the output, and reused after it."""
        images, masks = batch.images, batch.masks
        if batch.landmarks is None:
            size = masks.shape[-2:]
            return lambda model: segmentation_loss(self.full_resolution(model(images).float(), size), masks)
        stride = self.model.output_stride
        grid_landmarks = to_output_grid(batch.landmarks, stride)
        targets: list[torch.Tensor] = []

        def loss_of(model: torch.nn.Module) -> torch.Tensor:
            output = model(images).float()
            if not targets:
                targets.append(gaussian_heatmaps(grid_landmarks.to(output.dtype), output.shape[-2:],
                                                 self.settings.sigma / stride))
            return heatmap_loss(output, targets[0], self.settings.loss)
        return loss_of

    def setup(self, train: ImageSet, context: FitContext) -> None:
        self.segmentation = train.landmarks is None
        self.model = self.build_network(1 if self.segmentation else train.num_landmarks)
        self.device, self.eval_batch_size = context.device, context.settings.eval_batch_size
        self.amp = context.settings.amp

    def fit(self, train: ImageSet, val: ImageSet, context: FitContext) -> History:
        self.setup(train, context)
        return train_in_context(self, train, val, context)

    @torch.inference_mode()
    def predict(self, images: ImageSet) -> Prediction:
        if self.model is None:
            raise RuntimeError(f"{self.name}: predict() before fit()")
        self.model.eval()
        height, width = images.image_size
        outputs = []
        for start in range(0, len(images), self.eval_batch_size):
            batch = batch_from(images, np.arange(start, min(start + self.eval_batch_size, len(images))))
            with autocast(self.device, self.amp):
                output = self.model(batch.images.to(self.device)).float()
            if self.segmentation:
                mask = self.full_resolution(output, (height, width))[:, 0] > 0
                outputs.append(mask.to(torch.uint8).cpu())
            else:
                heatmaps = heatmap_probabilities(output, self.settings.loss)
                points = from_output_grid(decode_heatmaps(heatmaps), self.model.output_stride)
                points[..., 0].clamp_(0, width - 1)
                points[..., 1].clamp_(0, height - 1)
                outputs.append(points.cpu())
        stacked = torch.cat(outputs).numpy()
        return Prediction(masks=stacked) if self.segmentation else Prediction(landmarks=stacked)
