"""``shape-ddpm`` (labels first): the label sampler, the deformation maths, and that every synthetic label is
exactly the one the image was generated from."""

import numpy as np
import optuna
import pytest
import torch

import baselines.augmentations.shape_ddpm as shape_module
from baselines.augmentations.labels.peaks import render_landmark_heatmap
from baselines.augmentations.shape_ddpm import ShapeDDPMAugmentation, displace_points, pull_masks
from baselines.augmentations.two_channel import rescale_points
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS
from benchmark.synthetic import synthesis_key
from tests.blob_sets import blobs

TINY = dict(
    block_out_channels=[8, 16],
    attention_levels=0,
    num_train_timesteps=20,
    ddim_steps=3,
    train_steps=3,
    batch_size=4,
    sample_batch_size=8,
    n_samples=6,
    image_size=[16, 16],
)


def capture_conditions(monkeypatch) -> list[torch.Tensor]:
    """Replace the image sampler by one that records its condition and returns it as the image."""
    seen: list[torch.Tensor] = []

    def fake_sample(model, scheduler, n, shape, *args, condition=None, **kwargs):
        seen.append(condition.clone())
        return condition.numpy().copy()

    monkeypatch.setattr(shape_module, "sample", fake_sample)
    return seen


def test_settings_are_validated():
    assert isinstance(AUGMENTATIONS.create("shape-ddpm", **TINY), ShapeDDPMAugmentation)
    with pytest.raises(ConfigError, match="deformation_px"):
        AUGMENTATIONS.create("shape-ddpm", deformation_px=-1)
    with pytest.raises(ConfigError, match="prediction_type"):
        AUGMENTATIONS.create("shape-ddpm", prediction_type="x0")


def test_a_constant_field_shifts_points_and_masks():
    field = np.zeros((2, 8, 8), np.float32)
    field[0], field[1] = 1.0, 2.0  # x + 1, y + 2
    points = np.array([[1.5, 2.0], [4.0, 3.25]])
    np.testing.assert_allclose(displace_points(points, field), points + [1.0, 2.0])
    mask = np.zeros((1, 8, 8), np.uint8)
    mask[0, 2, 3] = 1
    moved = pull_masks(mask, field[None])
    assert moved[0, 4, 4] == 1 and moved.sum() == 1


def test_landmark_labels_are_the_rendered_condition(monkeypatch):
    train = blobs(8, seed=0, size=(32, 32))
    seen = capture_conditions(monkeypatch)
    result = AUGMENTATIONS.create("shape-ddpm", **TINY, heatmap_sigma=1.0).synthesize(train, seed=0)
    assert result.quality["accepted"] == [True] * 6 and result.metrics["acceptance_rate"] == 1.0
    points = rescale_points(result.images.landmarks, (32, 32), (16, 16))
    rendered = np.stack([render_landmark_heatmap(p, (16, 16), 1.0) for p in points])
    np.testing.assert_allclose(2 * rendered - 1, seen[0][:, 0].numpy(), atol=1e-5)
    assert {"nearest_train_ssim", "source", "label_tries"} <= set(result.quality)
    assert result.metrics["generator_train_seconds"] > 0


def test_without_deformation_labels_are_training_labels(monkeypatch):
    train = blobs(8, seed=1, size=(32, 32))
    capture_conditions(monkeypatch)
    result = AUGMENTATIONS.create("shape-ddpm", **TINY, deformation_px=0.0).synthesize(train, seed=0)
    sources = [train.ids.index(i) for i in result.quality["source"]]
    np.testing.assert_allclose(result.images.landmarks, train.landmarks[sources], atol=1e-4)
    deformed = AUGMENTATIONS.create("shape-ddpm", **TINY, deformation_px=1.5).synthesize(train, seed=0)
    assert not np.allclose(deformed.images.landmarks, train.landmarks[sources])


def test_mask_labels_are_deformed_training_masks(monkeypatch):
    train = blobs(8, seed=2, masks=True, size=(32, 32))
    seen = capture_conditions(monkeypatch)
    result = AUGMENTATIONS.create(
        "shape-ddpm", **{**TINY, "image_size": None}, deformation_px=0.0
    ).synthesize(train, seed=0)
    sources = [train.ids.index(i) for i in result.quality["source"]]
    np.testing.assert_array_equal(result.images.masks, train.masks[sources])
    np.testing.assert_array_equal(seen[0][:, 0].numpy() > 0, train.masks[sources] == 1)


def test_trained_end_to_end_and_the_cache_key_follows_the_recipe():
    train = blobs(6, seed=3, size=(32, 32))
    result = AUGMENTATIONS.create("shape-ddpm", **TINY).synthesize(train, seed=0)
    assert result.images.images.shape == (6, 32, 32) and np.isfinite(result.images.images).all()
    assert 0 <= result.images.images.min() and result.images.images.max() <= 1
    base = synthesis_key(AUGMENTATIONS.create("shape-ddpm", **TINY), train, 0)
    assert base != synthesis_key(
        AUGMENTATIONS.create("shape-ddpm", **TINY, prediction_type="epsilon"), train, 0
    )
    assert base != synthesis_key(AUGMENTATIONS.create("shape-ddpm", **TINY, deformation_px=3.0), train, 0)
    assert base == synthesis_key(AUGMENTATIONS.create("shape-ddpm", **TINY, synthetic_ratio=2.0), train, 0)


@pytest.mark.parametrize("name", ["shape-ddpm", "ddpm"])
def test_search_space_suggests_valid_settings(name):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        suggested = AUGMENTATIONS.entry(name).search_space(study.ask())
        settings = AUGMENTATIONS.create(name, **TINY, **suggested).settings
        assert all(getattr(settings, key) == value for key, value in suggested.items())
