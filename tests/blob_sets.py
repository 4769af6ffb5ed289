"""Tiny learnable image sets for detector tests: one bright blob per landmark, or a bright bar as the mask."""

import numpy as np

from benchmark.data.imageset import ImageSet


def blobs(n: int, seed: int, masks: bool = False, size: tuple[int, int] = (30, 34)) -> ImageSet:
    """``n`` images of ``size`` (H, W) with two landmarks each (or one bar mask), spacing 1 mm."""
    height, width = size
    rng = np.random.default_rng(seed)
    landmarks = rng.uniform(4, min(height, width) - 5, size=(n, 2, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    images = np.zeros((n, height, width), np.float32)
    for i in range(n):
        for x, y in landmarks[i]:
            images[i] += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 6.0)
    common = {"ids": [f"b{i}" for i in range(n)], "spacing": np.ones((n, 2)),
              "original_size": np.full((n, 2), 32)}
    if masks:
        bars = np.zeros((n, height, width), np.uint8)
        for i, row in enumerate(rng.integers(6, height - 10, size=n)):
            bars[i, row:row + 4, 3:-3] = 1
        return ImageSet(images=0.2 + 0.6 * bars + 0.05 * rng.random((n, height, width)), masks=bars, **common)
    return ImageSet(images=np.clip(images, 0, 1), landmarks=landmarks, **common)
