"""Plausibility of a generated segmentation mask, judged against the training masks.

A thresholded label channel is never "unreadable" the way a heatmap can be: noise above the threshold
still makes a non-empty mask. So a generated mask is accepted only when two statistics fall inside the
range the training masks span:

* the number of foreground components (8-connected): a canal mask is one curve per side; salt noise
  above the threshold gives dozens of specks -> ``"fragmented mask (n components, training a-b)"``;
* the foreground fraction ``f``, within ``[f_min / t, t f_max]`` of the training fractions (tolerance
  ``t``, default 2: a canal half as thick as the thinnest, or twice the largest, training canal is
  still taken) -> ``"mask area (...) outside the training range"``.

An empty mask is ``"empty mask"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import label

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def count_components(mask: np.ndarray) -> int:
    """Number of 8-connected foreground components of a (H, W) binary mask."""
    return int(label(np.asarray(mask, dtype=bool), structure=EIGHT_CONNECTED)[1])


@dataclass
class MaskVerdict:
    accepted: bool
    reason: str
    n_components: int
    fraction: float


class MaskPlausibility:
    """Component-count and area checks of the module docstring, fitted on (N, H, W) training masks."""

    def __init__(self, area_tolerance: float = 2.0) -> None:
        if area_tolerance < 1:
            raise ValueError(f"area_tolerance must be >= 1, got {area_tolerance}")
        self.area_tolerance = area_tolerance

    def fit(self, masks: np.ndarray) -> MaskPlausibility:
        masks = np.asarray(masks, dtype=bool)
        components = [count_components(m) for m in masks]
        fractions = masks.reshape(len(masks), -1).mean(axis=1)
        self.components = (min(components), max(components))
        self.area = (float(fractions.min()) / self.area_tolerance,
                     float(fractions.max()) * self.area_tolerance)
        return self

    def check(self, mask: np.ndarray) -> MaskVerdict:
        """The verdict on one (H, W) binary mask at the training masks' size."""
        fraction = float(np.asarray(mask, dtype=bool).mean())
        n = count_components(mask)
        (low, high), (smallest, largest) = self.components, self.area
        if n == 0:
            reason = "empty mask"
        elif not low <= n <= high:
            reason = (f"{'fragmented' if n > high else 'incomplete'} mask "
                      f"({n} components, training {low}-{high})")
        elif not smallest <= fraction <= largest:
            reason = (f"mask area ({100 * fraction:.2f} %) outside the training range "
                      f"[{100 * smallest:.2f}, {100 * largest:.2f}] %")
        else:
            reason = "accepted"
        return MaskVerdict(reason == "accepted", reason, n, fraction)
