import math

import pytest
import torch

from baselines.augmentations.classic import ClassicAugmentation, ClassicParams, affine_matrices, warp
from benchmark.errors import ConfigError
from benchmark.heatmaps import gaussian_heatmaps
from benchmark.registry import AUGMENTATIONS
from benchmark.training.batch import Batch

NO_INTENSITY = {"gamma": (1.0, 1.0), "contrast": (1.0, 1.0), "brightness": 0.0, "noise_std": 0.0}


def _assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape and torch.allclose(actual, expected, atol=1e-5), (actual, expected)


def _matrix(angle_deg=0.0, scale=1.0, shift=(0.0, 0.0), size=(8, 8), spacing=(1.0, 1.0)) -> torch.Tensor:
    return affine_matrices(torch.tensor([math.radians(angle_deg)], dtype=torch.float64),
                           torch.tensor([scale], dtype=torch.float64),
                           torch.tensor([shift], dtype=torch.float64), size,
                           torch.tensor([spacing], dtype=torch.float64))


def _random_batch(n=3, size=(8, 10), k=2, seed=0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    landmarks = torch.rand(n, k, 2, generator=generator) * torch.tensor([width - 5.0, height - 5.0]) + 2.5
    return Batch(images=torch.rand(n, 1, height, width, generator=generator), spacing=torch.ones(n, 2),
                 landmarks=landmarks,
                 masks=(torch.rand(n, 1, height, width, generator=generator) > 0.5).float())


def test_integer_translation_shifts_image_mask_and_landmarks_alike():
    batch = _random_batch(n=1)
    out = warp(batch, _matrix(shift=(2.0, 1.0), size=(8, 10)))
    _assert_close(out.images[..., 1:, 2:], batch.images[..., :-1, :-2])
    assert out.images[..., 0, :].abs().max() < 1e-6 and out.images[..., :, :2].abs().max() < 1e-6
    assert torch.equal(out.masks[..., 1:, 2:], batch.masks[..., :-1, :-2])
    _assert_close(out.landmarks, batch.landmarks + torch.tensor([2.0, 1.0]))


def test_quarter_turn_about_the_centre_permutes_pixels_as_it_moves_landmarks():
    image = torch.rand(1, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    batch = Batch(images=image, spacing=torch.ones(1, 2), landmarks=torch.tensor([[[1.0, 0.0]]]),
                  masks=(image > 0.5).float())
    out = warp(batch, _matrix(angle_deg=90.0, size=(6, 6)))
    _assert_close(out.images, torch.rot90(image, k=-1, dims=(-2, -1)))
    assert torch.equal(out.masks, torch.rot90(batch.masks, k=-1, dims=(-2, -1)))
    _assert_close(out.landmarks, torch.tensor([[[5.0, 1.0]]]))
    assert out.images[0, 0, 1, 5] == pytest.approx(float(image[0, 0, 0, 1]), abs=1e-6)


def test_rotation_is_physical_for_anisotropic_pixels():
    spacing = torch.tensor([0.5, 2.0], dtype=torch.float64)
    linear = _matrix(angle_deg=90.0, spacing=(0.5, 2.0))[0, :2, :2]
    # 4 px along x = 2 mm; a quarter turn makes it 2 mm along y = 1 px.
    _assert_close(linear @ torch.tensor([4.0, 0.0], dtype=torch.float64),
                               torch.tensor([0.0, 1.0], dtype=torch.float64))
    vector = torch.tensor([3.0, -1.5], dtype=torch.float64)
    rotated = _matrix(angle_deg=33.0, scale=1.2, spacing=(0.5, 2.0))[0, :2, :2] @ vector
    length_mm = float(torch.linalg.norm(vector * spacing))
    assert float(torch.linalg.norm(rotated * spacing)) == pytest.approx(1.2 * length_mm)


def _centroids(weights: torch.Tensor) -> torch.Tensor:
    """(B, H, W) non-negative weights -> (B, 2) weighted mean (x, y) of the pixel centres."""
    yy, xx = torch.meshgrid(torch.arange(weights.shape[1]), torch.arange(weights.shape[2]), indexing="ij")
    total = weights.sum((1, 2))
    return torch.stack([(weights * xx).sum((1, 2)) / total, (weights * yy).sum((1, 2)) / total], dim=-1)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 0.8)])
def test_a_bright_dot_lands_where_the_transformed_landmark_says(spacing):
    # Dots well inside, so that no draw cuts them off; a blob's centroid is its centre to ~0.02 px.
    height, width, n = 64, 80, 16
    box = torch.tensor([[24.0, 16.0], [56.0, 48.0]])  # (x, y) corners, 16 px inside the image
    landmarks = box[0] + torch.rand(n, 1, 2, generator=torch.Generator().manual_seed(5)) * (box[1] - box[0])
    images = gaussian_heatmaps(landmarks, (height, width), sigma=2.0)
    masks = (gaussian_heatmaps(landmarks, (height, width), sigma=1.0) > 1e-4).float()
    batch = Batch(images=images, spacing=torch.tensor(spacing).repeat(n, 1), landmarks=landmarks, masks=masks)
    augmentation = ClassicAugmentation(ClassicParams(rotation_deg=40, scale=(0.8, 1.25), translation_frac=0.1,
                                                     p=1.0, **NO_INTENSITY))
    out = augmentation.transform(batch, torch.Generator().manual_seed(0))
    assert (out.landmarks - landmarks).norm(dim=-1).mean() > 3.0
    assert (_centroids(out.images[:, 0]) - out.landmarks[:, 0]).abs().max() < 0.05
    assert set(out.masks.unique().tolist()) == {0.0, 1.0}
    assert (_centroids(out.masks[:, 0]) - out.landmarks[:, 0]).abs().max() < 0.5


def test_landmarks_never_leave_the_image_and_redraws_are_counted():
    height, width = 32, 40
    generator = torch.Generator().manual_seed(2)
    edge = torch.tensor([[1.0, 1.0], [width - 2.0, 1.0], [1.0, height - 2.0], [width - 2.0, height - 2.0]])
    landmarks = torch.cat([edge.expand(24, 4, 2), torch.rand(24, 3, 2, generator=generator) * 30], dim=1)
    batch = Batch(images=torch.rand(24, 1, height, width, generator=generator), spacing=torch.ones(24, 2),
                  landmarks=landmarks)
    augmentation = ClassicAugmentation(ClassicParams(scale=(0.9, 1.02), p=1.0))
    for seed in range(5):
        out = augmentation.transform(batch, torch.Generator().manual_seed(seed))
        x, y = out.landmarks[..., 0], out.landmarks[..., 1]
        assert x.min() >= 0 and x.max() <= width - 1 and y.min() >= 0 and y.max() <= height - 1
        assert out.landmarks.shape == landmarks.shape
    counters = augmentation.metrics()
    assert counters["aug_images"] == 5 * 24
    assert counters["aug_redraws"] > 0
    assert counters["aug_identity_fallbacks"] < 5 * 24


def test_identity_fallback_when_every_draw_pushes_a_corner_out():
    height, width = 16, 20
    right, bottom = width - 1.0, height - 1.0
    corners = torch.tensor([[[0.0, 0.0], [right, 0.0], [0.0, bottom], [right, bottom]]])
    images = torch.rand(3, 1, height, width, generator=torch.Generator().manual_seed(0))
    batch = Batch(images=images, spacing=torch.ones(3, 2),
                  landmarks=corners.repeat(3, 1, 1), masks=torch.ones(3, 1, height, width))
    augmentation = ClassicAugmentation(ClassicParams(rotation_deg=0, scale=(1.0, 1.0), translation_frac=0.3,
                                                     p=1.0, max_tries=4, **NO_INTENSITY))
    out = augmentation.transform(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.landmarks, batch.landmarks)
    assert torch.equal(out.images, batch.images) and torch.equal(out.masks, batch.masks)
    assert augmentation.metrics() == {"aug_images": 3.0, "aug_redraws": 12.0, "aug_identity_fallbacks": 3.0}


def test_same_seed_same_output_and_another_seed_another():
    batch = _random_batch(n=4, size=(24, 24), k=3)

    def run(seed: int) -> Batch:
        return ClassicAugmentation().transform(batch, torch.Generator().manual_seed(seed))

    first, again, other = run(11), run(11), run(12)
    for name in ("images", "masks", "landmarks"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert not torch.equal(first.images, other.images)
    assert not torch.equal(first.landmarks, other.landmarks)


def test_intensity_stays_in_the_unit_interval():
    batch = _random_batch(n=6, size=(16, 16))
    params = ClassicParams(contrast=(0.5, 3.0), brightness=0.5, noise_std=0.3, p=1.0)
    augmentation = ClassicAugmentation(params)
    out = augmentation.transform(batch, torch.Generator().manual_seed(0))
    assert out.images.min() == 0.0 and out.images.max() == 1.0
    assert not torch.allclose(out.images, batch.images)


def test_probability_zero_leaves_the_batch_untouched():
    batch = _random_batch(n=5)
    augmentation = ClassicAugmentation(ClassicParams(p=0.0))
    out = augmentation.transform(batch, torch.Generator().manual_seed(0))
    for name in ("images", "masks", "landmarks"):
        assert torch.equal(getattr(out, name), getattr(batch, name))
    assert augmentation.metrics()["aug_redraws"] == 0


def test_batches_without_landmarks_or_masks():
    images = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    batch = Batch(images=images, spacing=torch.ones(2, 2))
    out = ClassicAugmentation(ClassicParams(p=1.0)).transform(batch, torch.Generator().manual_seed(0))
    assert out.images.shape == batch.images.shape and out.landmarks is None and out.masks is None


def test_factories_take_keyword_overrides_and_reject_bad_ones():
    assert AUGMENTATIONS.create("classic", rotation_deg=0.0, scale=[1.0, 1.2]).params.scale == (1.0, 1.2)
    with pytest.raises(ConfigError, match="rotation"):
        AUGMENTATIONS.create("classic", rotation=5)
    with pytest.raises(ConfigError, match="scale"):
        AUGMENTATIONS.create("classic", scale=(1.2, 0.9))
    with pytest.raises(ConfigError, match="p must"):
        AUGMENTATIONS.create("classic", p=1.5)
    batch = _random_batch()
    assert AUGMENTATIONS.create("none").transform(batch, torch.Generator()) is batch
