"""The sample grid keeps the quality filter's reasons whole."""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmark.augmentation import SyntheticSet
from benchmark.data.imageset import ImageSet
from benchmark.figures import sample_grid, sample_title

REASON = "fragmented mask (5 components, training 2-2)"


def test_sample_title_wraps_a_long_reason_without_cutting_it():
    title = sample_title(False, REASON)
    assert all(len(line) <= 26 for line in title.splitlines())
    assert " ".join(title.split()) == REASON
    assert sample_title(True, REASON) == "accepted"


def _wide_set(reason: str) -> SyntheticSet:
    images = np.random.default_rng(0).random((2, 16, 48)).astype(np.float32)
    masks = np.zeros_like(images, dtype=bool)
    masks[:, 6:9, 10:40] = True
    image_set = ImageSet(ids=["a", "b"], images=images, spacing=np.ones((2, 2)),
                         original_size=np.tile([16, 48], (2, 1)), masks=masks)
    return SyntheticSet(images=image_set, quality={"accepted": [True, False], "reason": ["", reason]})


def test_sample_grid_grows_to_hold_wrapped_titles(tmp_path):
    short = Image.open(sample_grid(_wide_set("low SSIM"), tmp_path / "short.png")).size
    long = Image.open(sample_grid(_wide_set(REASON), tmp_path / "long.png")).size
    assert long[0] == short[0]
    assert long[1] > short[1]
