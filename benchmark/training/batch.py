"""A training batch as torch tensors, and the conversion from an :class:`ImageSet`."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from benchmark.data.imageset import ImageSet


@dataclass
class Batch:
    """``images`` (B, 1, H, W) float in [0, 1]; ``landmarks`` (B, K, 2) (x, y) working pixels;
    ``masks`` (B, 1, H, W) float in {0, 1}; ``spacing`` (B, 2) mm per pixel along (x, y)."""

    images: torch.Tensor
    spacing: torch.Tensor
    landmarks: torch.Tensor | None = None
    masks: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return replace(self, images=move(self.images), spacing=move(self.spacing),
                       landmarks=move(self.landmarks), masks=move(self.masks))

    def __len__(self) -> int:
        return int(self.images.shape[0])


def batch_from(images: ImageSet, index: np.ndarray | None = None) -> Batch:
    subset = images if index is None else images.subset(index)
    return Batch(
        images=torch.from_numpy(subset.images).unsqueeze(1),
        spacing=torch.from_numpy(subset.spacing).float(),
        landmarks=None if subset.landmarks is None else torch.from_numpy(subset.landmarks),
        masks=None if subset.masks is None else torch.from_numpy(subset.masks).unsqueeze(1).float(),
    )
