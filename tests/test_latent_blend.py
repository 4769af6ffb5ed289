"""``latent-blend`` (Lim et al. 2024): settings, partner choice, blending, DDIM and end-to-end synthesis
on tiny 16x32 sets."""

import numpy as np
import optuna
import pytest
import torch

from baselines.augmentations.latent_blend import (
    LatentBlendAugmentation,
    anatomy_masks,
    blend,
    dilate,
    round_robin_pairs,
    search_space,
    ssim_partners,
)
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS

H, W = 16, 32
TINY = {"ae_block_out_channels": [8, 8], "unet_block_out_channels": [8, 16], "latent_channels": 2,
        "ae_steps": 2, "ddpm_steps": 2, "num_train_timesteps": 50, "denoise_steps": 3, "top_k": 3,
        "ae_batch_size": 4, "ddpm_batch_size": 4, "sample_batch_size": 4}


def scene(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images with a bright bar at a random height and position, their bar masks and the bar centres."""
    yy, xx = np.mgrid[:H, :W]
    cx, cy = rng.uniform(8, 24, n), rng.uniform(5, 11, n)
    masks = np.stack([(np.abs(xx - x) <= 4) & (np.abs(yy - y) <= 1.5) for x, y in zip(cx, cy)])
    masks = masks.astype(np.uint8)
    images = 0.2 + 0.5 * masks + 0.1 * rng.random((n, H, W))
    return images, masks, np.stack([cx, cy], 1)


def mask_set(n: int = 6, seed: int = 0) -> ImageSet:
    images, masks, _ = scene(np.random.default_rng(seed), n)
    return ImageSet(ids=[f"m{i}" for i in range(n)], images=images, spacing=0.5 + 0.1 * np.arange(2 * n),
                    original_size=np.tile([[64, 32]], (n, 1)) + np.arange(n)[:, None], masks=masks)


def landmark_set(n: int = 6, seed: int = 0) -> ImageSet:
    images, _, centres = scene(np.random.default_rng(seed), n)
    landmarks = np.stack([centres - [4, 0], centres + [4, 0]], axis=1)
    return ImageSet(ids=[f"l{i}" for i in range(n)], images=images, spacing=np.ones((n, 2)),
                    original_size=np.full((n, 2), 32), landmarks=landmarks)


def pool(n: int = 8, seed: int = 1) -> ImageSet:
    images, _, _ = scene(np.random.default_rng(seed), n)
    return ImageSet(ids=[f"u{i}" for i in range(n)], images=images, spacing=np.ones((n, 2)),
                    original_size=np.full((n, 2), 32))


def test_registry_creates_it_from_settings():
    assert "latent-blend" in AUGMENTATIONS.names()
    augmentation = AUGMENTATIONS.create("latent-blend", composition="synthetic", n_synthetic=5, top_k=5,
                                        convention="labelled-outside", ae_block_out_channels=[8, 16, 16])
    assert isinstance(augmentation, LatentBlendAugmentation) and augmentation.name == "latent-blend"
    assert augmentation.composition.composition == "synthetic" and augmentation.composition.n_synthetic == 5
    assert augmentation.settings.top_k == 5 and augmentation.settings.convention == "labelled-outside"
    assert augmentation.settings.ae_block_out_channels == (8, 16, 16)
    assert augmentation.settings.downsampling == 4
    with pytest.raises(ConfigError, match="unknown latent-blend augmentation setting"):
        AUGMENTATIONS.create("latent-blend", not_a_setting=1)


@pytest.mark.parametrize("params,name", [
    ({"top_k": 0}, "top_k"), ({"strength": 0.0}, "strength"), ({"strength": 1.5}, "strength"),
    ({"strength": -0.1}, "strength"), ({"convention": "sideways"}, "convention"),
    ({"dilation": -1}, "dilation"),
    ({"landmark_radius": 0}, "landmark_radius"), ({"image_size": [24, 32]}, "image_size"),
    ({"ae_crop": 30}, "ae_crop"), ({"ae_loss": "huber"}, "ae_loss"), ({"n_samples": 0}, "n_samples"),
])
def test_bad_settings_raise_config_errors_naming_the_setting(params, name):
    with pytest.raises(ConfigError, match=name):
        AUGMENTATIONS.create("latent-blend", **params)


def test_strength_one_is_allowed():
    assert AUGMENTATIONS.create("latent-blend", strength=1.0).settings.strength == 1.0


def test_working_size_not_divisible_is_a_config_error():
    train = mask_set()
    augmentation = AUGMENTATIONS.create("latent-blend", **{**TINY, "ae_block_out_channels": [8, 8, 8]})
    with pytest.raises(ConfigError, match="image_size"):  # 12 rows are not a multiple of 4 (AE) * 2 (U-Net)
        augmentation.synthesize(ImageSet(ids=train.ids, images=train.images[:, :12], spacing=train.spacing,
                                         original_size=train.original_size, masks=train.masks[:, :12]), 0)


def test_top_k_picks_the_highest_ssim_partners_best_first():
    rng = np.random.default_rng(0)
    labelled, _, _ = scene(rng, 2)
    noise_levels = np.array([0.3, 0.02, 0.5, 0.1, 0.2, 0.05])  # the best partner is the least noisy copy
    noise = noise_levels[:, None, None] * rng.standard_normal((6, H, W))
    candidates = np.clip(labelled[0][None] + noise, 0, 1)
    for downsample in (1, 2):
        order, ssim = ssim_partners(labelled[:1], candidates, 3, downsample)
        assert order.tolist() == [[1, 5, 3]]
        assert ssim.shape == (1, 3) and ssim[0, 0] > ssim[0, 1] > ssim[0, 2]
    own, _ = ssim_partners(labelled[:1], np.concatenate([candidates, labelled[:1]]), 1, 1)
    assert own.tolist() == [[6]]  # an identical image is the best partner ...
    both = np.concatenate([labelled[:1], candidates])
    order, _ = ssim_partners(both, both, 2, 1, exclude_self=True)
    assert order[0].tolist() == [2, 6]  # ... unless it is the image itself: then the two least noisy copies
    assert all(i not in row for i, row in enumerate(order))


def test_pairs_are_taken_round_robin():
    assert round_robin_pairs(3, 2, 5) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]


def test_a_sweep_that_varies_top_k_also_varies_the_samples_per_image():
    # one sample per labelled image is every image with its best partner, whatever top_k: a sweep of
    # top_k alone would train the same set again
    assert {rank for _, rank in round_robin_pairs(4, 50, 4)} == {0}
    suggested = search_space(optuna.trial.FixedTrial({"latent-blend.top_k": 5, "latent-blend.strength": 0.2,
                                                      "latent-blend.dilation": 1,
                                                      "latent-blend.synthetic_ratio": 1.0,
                                                      "latent-blend.samples_ratio": 3.0}))
    assert suggested["top_k"] == 5 and suggested["samples_ratio"] == 3.0
    assert len(round_robin_pairs(3, 2, 100)) == 6


@pytest.mark.parametrize("convention,inside,outside", [("labelled-inside", 1.0, -2.0),
                                                        ("labelled-outside", -2.0, 1.0)])
def test_blend_convention_decides_which_latent_fills_the_dilated_mask(convention, inside, outside):
    mask = np.zeros((1, 6, 8), np.float32)
    mask[0, 2, 3] = 1
    dilated = torch.from_numpy(dilate(mask, 1))
    z_labelled, z_partner = torch.ones(1, 3, 6, 8), torch.full((1, 3, 6, 8), -2.0)
    z = blend(z_labelled, z_partner, dilated, convention)
    region = np.zeros((6, 8), bool)
    region[1:4, 2:5] = True
    assert z.shape == (1, 3, 6, 8)
    assert (z[0][:, region] == inside).all() and (z[0][:, ~region] == outside).all()


def test_dilation_grows_the_mask_by_the_given_number_of_cells():
    mask = np.zeros((2, 12, 12), np.float32)
    mask[0, 5, 7] = 1
    mask[1, 0, 0] = 1
    grown = dilate(mask, 2)
    expected = np.zeros((12, 12), np.float32)
    expected[3:8, 5:10] = 1
    assert np.array_equal(grown[0], expected)
    assert grown[1].sum() == 9 and grown[1, :3, :3].all()  # clipped at the border
    assert np.array_equal(dilate(mask, 0), mask)


def test_anatomy_map_is_the_label_map_pooled_onto_the_latent_grid():
    masks = np.zeros((1, H, W), np.uint8)
    masks[0, 9, 21] = 1
    images = ImageSet(ids=["a"], images=np.zeros((1, H, W)), spacing=np.ones((1, 2)), original_size=[[W, H]],
                      masks=masks)
    grid = anatomy_masks(images, (H // 4, W // 4), landmark_radius=1.0)
    assert grid.shape == (1, 4, 8) and grid.sum() == 1 and grid[0, 2, 5] == 1
    points = ImageSet(ids=["a"], images=np.zeros((1, H, W)), spacing=np.ones((1, 2)), original_size=[[W, H]],
                      landmarks=[[[5.0, 5.0], [26.0, 10.0]]])
    discs = anatomy_masks(points, (H // 2, W // 2), landmark_radius=2.0)[0]
    yy, xx = np.mgrid[:H, :W]
    pixels = ((xx - 5) ** 2 + (yy - 5) ** 2 <= 4) | ((xx - 26) ** 2 + (yy - 10) ** 2 <= 4)
    assert pixels.sum() == 26  # two discs of 13 pixels
    assert np.array_equal(discs, pixels.reshape(H // 2, 2, W // 2, 2).any(axis=(1, 3)))
    assert discs[2, 2] == 1 and discs[5, 13] == 1 and discs[:, 5:11].sum() == 0


def test_synthesize_pairs_each_image_with_its_labelled_images_mask():
    train, unlabelled = mask_set(), pool()
    result = AUGMENTATIONS.create("latent-blend", **TINY, n_samples=9).synthesize(train, 0, unlabelled)
    images = result.images
    assert len(images) == 9 and images.images.shape == (9, H, W) and images.masks.shape == (9, H, W)
    assert images.landmarks is None and images.images.min() >= 0 and images.images.max() <= 1
    assert result.quality["labelled_id"] == ["m0", "m1", "m2", "m3", "m4", "m5", "m0", "m1", "m2"]
    assert result.quality["partner_rank"] == [0] * 6 + [1] * 3
    source = [train.ids.index(i) for i in result.quality["labelled_id"]]
    assert np.array_equal(images.masks, train.masks[source])
    assert np.array_equal(images.spacing, train.spacing[source])
    assert np.array_equal(images.original_size, train.original_size[source])
    assert set(result.quality["partner_id"]) <= set(unlabelled.ids)
    assert {len(column) for column in result.quality.values()} == {9}
    assert all(result.quality["accepted"]) and set(result.quality["reason"]) == {"accepted"}
    for column in ("partner_ssim", "nearest_train_ssim"):
        assert np.isfinite(result.quality[column]).all()
    # the first-rank partners are each labelled image's best-SSIM candidate
    best, _ = ssim_partners(train.images, unlabelled.images, 1, 2)
    assert result.quality["partner_id"][:6] == [unlabelled.ids[j] for j in best[:, 0]]
    assert {"acceptance_rate", "nearest_train_ssim_mean", "n_generated", "generator_train_seconds",
            "sampling_images_per_s", "latent_scale", "ae_final_loss",
            "ddpm_final_loss"} <= set(result.metrics)
    assert result.metrics["n_generated"] == 9 and result.metrics["acceptance_rate"] == 1.0
    assert result.metrics["latent_scale"] > 0 and images.ids[0] == "latent-blend-0-00000"


def test_synthesize_keeps_the_labelled_landmarks():
    train = landmark_set()
    result = AUGMENTATIONS.create("latent-blend", **TINY).synthesize(train, 0, pool())
    assert len(result.images) == len(train)  # samples_ratio 1
    source = [train.ids.index(i) for i in result.quality["labelled_id"]]
    assert source == list(range(len(train)))
    assert np.array_equal(result.images.landmarks, train.landmarks) and result.images.masks is None


def test_same_seed_same_set_other_seed_other_set():
    train, unlabelled = mask_set(), pool()
    augmentation = AUGMENTATIONS.create("latent-blend", **TINY)
    first, again, other = (augmentation.synthesize(train, seed, unlabelled) for seed in (0, 0, 1))
    assert np.array_equal(first.images.images, again.images.images)
    assert first.quality == again.quality and first.metrics["latent_scale"] == again.metrics["latent_scale"]
    assert not np.array_equal(first.images.images, other.images.images)


def test_without_an_unlabelled_pool_partners_are_other_labelled_images():
    train = mask_set()
    result = AUGMENTATIONS.create("latent-blend", **TINY, n_samples=12).synthesize(train, 0, None)
    assert len(result.images) == 12
    assert set(result.quality["partner_id"]) <= set(train.ids)
    assert all(a != u for a, u in zip(result.quality["labelled_id"], result.quality["partner_id"]))
    assert np.isfinite(result.images.images).all()
