"""DDPM-2ch: settings validation, the sampler, and label read-back on tiny images."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import baselines.augmentations.ddpm as ddpm_module
from baselines.augmentations.ddpm import DDPMAugmentation, DDPMSettings
from baselines.augmentations.labels.mask_check import MaskPlausibility
from baselines.augmentations.two_channel import (
    decode_two_channel,
    encode_two_channel,
    generator_grid,
    rescale_points,
)
from baselines.diffusion import DiffusionRecipe, make_scheduler, sample, train_diffusion
from baselines.networks.diffusion_unet import build_unet
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS

TINY = dict(block_out_channels=[8, 16], layers_per_block=1, num_train_timesteps=20, ddim_steps=3,
            train_steps=2, batch_size=4, sample_batch_size=8, n_samples=6)
SQUARE = np.array([[8.0, 8.0], [23.0, 8.0], [23.0, 23.0], [8.0, 23.0]])


def dot_set(n: int = 12, seed: int = 0) -> ImageSet:
    """Bright dots on dark 32x32 images at 4 jittered landmarks of a square."""
    rng = np.random.default_rng(seed)
    landmarks = SQUARE[None] + rng.normal(0, 1.0, (n, 4, 2))
    yy, xx = np.mgrid[:32, :32]
    images = np.stack([sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 4.0) for x, y in shape)
                       for shape in landmarks])
    return ImageSet(ids=[f"dots{i}" for i in range(n)], images=np.clip(images, 0, 1),
                    spacing=np.full((n, 2), 0.5), original_size=np.full((n, 2), 64), landmarks=landmarks)


def disc_set(n: int = 8) -> ImageSet:
    yy, xx = np.mgrid[:32, :32]
    masks = np.stack([((xx - 16) ** 2 + (yy - 16) ** 2 < (6 + i % 3) ** 2)
                      for i in range(n)]).astype(np.uint8)
    return ImageSet(ids=[f"disc{i}" for i in range(n)], images=0.2 + 0.6 * masks, spacing=np.ones((n, 2)),
                    original_size=np.full((n, 2), 32), masks=masks)


def check_columns(result, n: int) -> None:
    lengths = {name: len(column) for name, column in result.quality.items()}
    assert set(lengths.values()) == {n}, lengths
    assert len(result.images) == n and result.images.ids[0] == "ddpm-0-00000"
    images = result.images.images
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    assert 0 <= result.metrics["acceptance_rate"] <= 1
    assert result.metrics["acceptance_rate"] == pytest.approx(np.mean(result.quality["accepted"]))
    assert result.metrics["n_generated"] == n


def test_factory_validates_settings():
    assert isinstance(AUGMENTATIONS.create("ddpm", **TINY), DDPMAugmentation)
    with pytest.raises(ConfigError, match="unknown ddpm augmentation setting.*bogus"):
        AUGMENTATIONS.create("ddpm", bogus=1)
    with pytest.raises(ConfigError, match="sampler"):
        AUGMENTATIONS.create("ddpm", sampler="euler")
    with pytest.raises(ConfigError, match="divisible"):
        AUGMENTATIONS.create("ddpm", image_size=[18, 18], block_out_channels=[8, 16, 32])


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_unet((16, 16), 2, 2, (8, 16), 1)


def test_sampler_shapes_and_determinism():
    model, scheduler = tiny_model(), make_scheduler(20)
    first = sample(model, scheduler, 5, (2, 16, 16), "ddim", 3, 4, 7, torch.device("cpu"), progress=False)
    again = sample(model, scheduler, 5, (2, 16, 16), "ddim", 3, 4, 7, torch.device("cpu"), progress=False)
    other = sample(model, scheduler, 5, (2, 16, 16), "ddim", 3, 4, 8, torch.device("cpu"), progress=False)
    assert first.shape == (5, 2, 16, 16) and first.dtype == np.float32
    assert np.abs(first).max() <= 1
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    ancestral = sample(model, scheduler, 2, (2, 16, 16), "ddpm", 3, 4, 7, torch.device("cpu"), progress=False)
    np.testing.assert_array_equal(
        ancestral,
        sample(model, scheduler, 2, (2, 16, 16), "ddpm", 3, 4, 7, torch.device("cpu"), progress=False))


@pytest.mark.parametrize("sampler, expected_calls", [("ddim", 4), ("ddpm", 20)])
def test_network_calls_per_sampler(sampler, expected_calls):
    model, calls = tiny_model(), []
    model.register_forward_hook(lambda *args: calls.append(1))
    sample(model, make_scheduler(20), 3, (2, 16, 16), sampler, 4, 8, 0, torch.device("cpu"), progress=False)
    assert len(calls) == expected_calls


def test_training_reduces_loss_on_a_constant_image():
    model, data = tiny_model(), torch.full((4, 2, 16, 16), 0.5)
    report = train_diffusion(model, data, DiffusionRecipe(30, 4, lr=3e-3, num_train_timesteps=20),
                             torch.Generator().manual_seed(0), torch.device("cpu"), progress=False)
    assert len(report.losses) == 30 and np.mean(report.losses[-5:]) < np.mean(report.losses[:5])


def test_synthesize_landmarks_end_to_end():
    train = dot_set()
    result = AUGMENTATIONS.create("ddpm", **TINY).synthesize(train, seed=0)
    check_columns(result, 6)
    assert result.images.landmarks.shape == (6, 4, 2) and np.isfinite(result.images.landmarks).all()
    assert {"n_peaks", "mahalanobis", "nearest_train_ssim"} <= set(result.quality)
    np.testing.assert_allclose(result.images.spacing, 0.5)
    assert result.metrics["generator_train_seconds"] > 0 and result.metrics["sampling_images_per_s"] > 0


def perfect_sampler(train: ImageSet, size: tuple[int, int], sigma: float, extra_peak: bool = False):
    """A stand-in for the sampler that returns the training pairs themselves (optionally with one extra blob
    in the first heatmap), as a perfectly trained DDPM would."""
    pairs = encode_two_channel(train, size, sigma)
    if extra_peak:
        pairs[0, 1, 1, size[1] // 2] = 1.0

    def sample(model, scheduler, n, shape, *args, **kwargs):
        return pairs[:n].copy()

    return sample


@pytest.mark.parametrize("quality_filter", [True, False])
def test_labels_read_back_from_perfect_samples(monkeypatch, quality_filter):
    train = dot_set()
    monkeypatch.setattr(ddpm_module, "sample", perfect_sampler(train, (16, 16), 1.0, extra_peak=True))
    settings = {**TINY, "image_size": [16, 16], "heatmap_sigma": 1.0, "quality_filter": quality_filter}
    result = AUGMENTATIONS.create("ddpm", **settings).synthesize(train, seed=0)
    check_columns(result, 6)
    accepted = np.asarray(result.quality["accepted"])
    expected = "extra peaks" if quality_filter else "unfiltered: extra peaks"
    assert result.quality["reason"][0].startswith(expected)
    assert accepted[0] == (not quality_filter)
    assert accepted[1:].all(), result.quality["reason"]
    error = np.abs(result.images.landmarks[1:] - train.landmarks[1:6]).max()
    assert error < 1.0, error


def test_rescale_points_round_trip():
    points = np.array([[0.0, 0.0], [31.0, 15.0]])
    np.testing.assert_allclose(rescale_points(points, (32, 32), (16, 16)), [[-0.25, -0.25], [15.25, 7.25]])
    there_and_back = rescale_points(rescale_points(points, (32, 48), (16, 16)), (16, 16), (32, 48))
    np.testing.assert_allclose(there_and_back, points, atol=1e-12)


def test_synthesize_segmentation_gives_binary_masks(monkeypatch):
    train = disc_set()
    result = AUGMENTATIONS.create("ddpm", **TINY).synthesize(train, seed=0)
    check_columns(result, 6)
    assert result.images.landmarks is None and result.images.masks.shape == (6, 32, 32)
    assert set(np.unique(result.images.masks)) <= {0, 1}
    check = MaskPlausibility().fit(train.masks)
    assert result.quality["accepted"] == [check.check(m).accepted for m in result.images.masks]

    pairs = np.stack([train.images * 2 - 1, train.masks * 2.0 - 1], 1)
    pairs[0, 1] = -1.0
    monkeypatch.setattr(ddpm_module, "sample", lambda model, scheduler, n, *args, **kwargs: pairs[:n].copy())
    perfect = AUGMENTATIONS.create("ddpm", **TINY).synthesize(train, seed=0)
    assert perfect.quality["accepted"] == [False] + [True] * 5
    assert perfect.quality["reason"][0] == "empty mask"
    np.testing.assert_array_equal(perfect.images.masks[1:], train.masks[1:6])


def test_ddim_reproduces_the_one_image_a_model_was_trained_on():
    """A DDPM fitted to a single image must sample that image with the fast sampler too; with the raw
    network output beside a clipped x0 estimate, DDIM samples collapsed to grey (std 0.24)."""
    yy, xx = np.mgrid[0:32, 0:32]
    disc = np.where((xx - 16) ** 2 + (yy - 12) ** 2 < 60, 1.0, -1.0).astype(np.float32)
    data = torch.from_numpy(np.stack([disc, -disc])[None].repeat(16, 0))
    torch.manual_seed(0)
    model, scheduler = build_unet((32, 32), 2, 2, (16, 32, 32, 64), 1, 1), make_scheduler(1000)
    train_diffusion(model, data, DiffusionRecipe(400, 8, lr=1e-3), torch.Generator().manual_seed(0),
                    torch.device("cpu"), progress=False)
    samples = sample(model, scheduler, 4, (2, 32, 32), "ddim", 20, 4, 1, torch.device("cpu"), progress=False)
    target = data[:4].numpy()
    assert samples.std() > 0.45  # not the grey mean (it was 0.24)
    assert np.corrcoef(samples.ravel(), target.ravel())[0, 1] > 0.5  # the disc is there (0.67 here)


def test_landmarks_closer_than_the_heatmap_resolves_may_share_a_peak():
    """A fifth landmark 2.5 px from a corner of the square (sigma 1): a generated heatmap that renders the
    pair as one blob is read with both on it, since the pair lies within 2 sigma + 1 px in training; a reader
    that only lets pairs within ``merge_distance`` 1 px share a peak rejects it, and so does one that lets no
    peak be short (``merge_tolerance`` 0)."""
    train = dot_set()
    rng = np.random.default_rng(1)
    offset = np.array([2.5, 0.0]) + rng.normal(0, 0.1, (len(train), 2))
    landmarks = np.concatenate([train.landmarks, train.landmarks[:, :1] + offset[:, None]], axis=1)
    train = replace(train, landmarks=landmarks)
    merged = replace(train, landmarks=np.concatenate([landmarks[:, :4], landmarks[:, :1]], axis=1))
    samples = encode_two_channel(merged, (32, 32), 1.0)
    shared = decode_two_channel(samples, train, DDPMSettings(heatmap_sigma=1.0))
    assert all(shared.quality["accepted"]), shared.quality["reason"]
    error = np.linalg.norm(shared.images.landmarks - landmarks, axis=-1)
    assert error[:, :4].max() < 0.5 and error[:, 4].max() < 3.0
    strict = decode_two_channel(samples, train, DDPMSettings(heatmap_sigma=1.0, merge_distance=1.0))
    assert not any(strict.quality["accepted"])
    assert all(r.startswith("missing landmarks") for r in strict.quality["reason"])
    no_sharing = decode_two_channel(samples, train, DDPMSettings(heatmap_sigma=1.0, merge_tolerance=0))
    assert all(r.startswith("too few peaks") for r in no_sharing.quality["reason"])


def test_grid_scale_rounds_each_side_to_a_multiple_the_network_needs():
    settings = DDPMSettings(grid_scale=0.75, patch_size=2, block_out_channels=[16, 32, 32, 64])  # multiple 16
    assert settings.grid((128, 128), "landmarks") == (96, 96)
    assert settings.grid((160, 128), "landmarks") == (128, 96)  # 120 lies half-way: rounds up
    assert settings.grid((96, 192), "landmarks") == (80, 144)
    # 4 levels: never below 8
    assert DDPMSettings(grid_scale=0.1, patch_size=1).grid((32, 32), "landmarks") == (8, 8)
    assert DDPMSettings(grid_scale=1.0).grid((64, 48), "landmarks") == (64, 48)
    assert DDPMSettings(image_size=[32, 32], grid_scale=0.5).grid((128, 128), "landmarks") == (32, 32)
    with pytest.raises(ConfigError, match="grid_scale"):
        DDPMSettings(grid_scale=1.5)
    with pytest.raises(ConfigError, match="divisible by 16"):
        DDPMSettings(grid_scale=1.0).grid((60, 60), "landmarks")


def test_masks_have_their_own_grid_scale():
    settings = DDPMSettings(grid_scale=0.75, patch_size=2, block_out_channels=[16, 32, 32, 64])
    assert settings.grid((96, 192), "segmentation") == (96, 192)
    assert replace(settings, mask_grid_scale=0.5).grid((96, 192), "segmentation") == (48, 96)
    assert replace(settings, mask_grid_scale=0.5).grid((128, 128), "landmarks") == (96, 96)
    assert generator_grid(settings, disc_set()) == (32, 32)
    assert generator_grid(replace(settings, block_out_channels=[8, 16]), dot_set()) == (24, 24)
    with pytest.raises(ConfigError, match="mask_grid_scale"):
        DDPMSettings(mask_grid_scale=0.0)
