"""Two-channel encoding/decoding and the ``vae`` / ``gan`` generators on tiny synthetic sets."""

import numpy as np
import pytest
import torch

from baselines.augmentations.gan import diff_augment, weight_average
from baselines.augmentations.labels.peaks import detect_peaks
from baselines.augmentations.two_channel import TwoChannelSettings, decode_two_channel, encode_two_channel
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS

SIZE = 32
SHAPE = np.array([[8.0, 8.0], [23.0, 9.0], [16.0, 17.0], [9.0, 24.0], [22.0, 23.0]])


def landmark_set(n: int = 24, seed: int = 0) -> ImageSet:
    """Bright dots at jittered landmark positions on a dark, slightly noisy background."""
    rng = np.random.default_rng(seed)
    landmarks = SHAPE[None] + rng.normal(0, 0.8, (n, len(SHAPE), 2)) + rng.normal(0, 1.0, (n, 1, 2))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images = 0.1 + 0.02 * rng.random((n, SIZE, SIZE))
    for i in range(n):
        for x, y in landmarks[i]:
            images[i] = np.maximum(images[i], np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2.0))
    return ImageSet(ids=[f"r{i}" for i in range(n)], images=images, spacing=np.full((n, 2), 0.5),
                    original_size=np.full((n, 2), 64), landmarks=landmarks)


def mask_set(n: int = 8, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    centres = 16 + rng.uniform(-4, 4, (n, 2))
    masks = np.stack([((xx - cx) ** 2 + (yy - cy) ** 2 < 49).astype(np.uint8) for cx, cy in centres])
    return ImageSet(ids=[f"m{i}" for i in range(n)], images=0.2 + 0.6 * masks, spacing=np.full((n, 2), 1.0),
                    original_size=np.full((n, 2), SIZE), masks=masks)


def add_blob(samples: np.ndarray, x: float, y: float) -> np.ndarray:
    """Put an extra landmark-like blob into the label channel of every sample."""
    yy, xx = np.mgrid[:samples.shape[2], :samples.shape[3]]
    blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2.0)
    out = samples.copy()
    out[:, 1] = 2 * np.maximum((samples[:, 1] + 1) / 2, blob) - 1
    return out


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_factories_reject_bad_settings(name):
    with pytest.raises(ConfigError, match="unknown"):
        AUGMENTATIONS.create(name, not_a_setting=1)
    with pytest.raises(ConfigError, match="divisible"):
        AUGMENTATIONS.create(name, image_size=[36, 30])
    augmentation = AUGMENTATIONS.create(name, composition="synthetic", n_synthetic=5)
    assert augmentation.composition.composition == "synthetic" and augmentation.composition.n_synthetic == 5


def test_round_trip_recovers_landmarks():
    train = landmark_set()
    samples = encode_two_channel(train, (SIZE, SIZE), heatmap_sigma=1.0)
    assert samples.shape == (len(train), 2, SIZE, SIZE) and samples.min() >= -1 and samples.max() <= 1
    synthetic = decode_two_channel(samples, train)
    assert all(synthetic.quality["accepted"]), synthetic.quality["reason"]
    # a log-parabola through three samples of a Gaussian finds its centre exactly
    assert np.abs(synthetic.images.landmarks - train.landmarks).max() < 0.05
    assert np.abs(synthetic.images.images - train.images).max() < 1e-5
    assert synthetic.metrics["acceptance_rate"] == 1.0
    assert np.allclose(synthetic.quality["nearest_train_ssim"], 1.0, atol=1e-4)
    assert synthetic.quality["n_peaks"] == [len(SHAPE)] * len(train)


def test_round_trip_at_half_size_maps_coordinates_back():
    train = landmark_set()
    samples = encode_two_channel(train, (16, 16), heatmap_sigma=0.7)
    peaks, _ = detect_peaks((samples[0, 1] + 1) / 2, 10, threshold=0.3)
    expected = (train.landmarks[0] + 0.5) * 16 / SIZE - 0.5
    assert len(peaks) == len(SHAPE)
    assert np.linalg.norm(peaks[:, None] - expected[None], axis=-1).min(axis=0).max() < 0.05
    synthetic = decode_two_channel(samples, train)
    accepted = np.asarray(synthetic.quality["accepted"])
    assert accepted.mean() > 0.8, synthetic.quality["reason"]
    assert np.abs(synthetic.images.landmarks[accepted] - train.landmarks[accepted]).max() < 0.05
    assert synthetic.images.image_size == (SIZE, SIZE)
    assert (synthetic.images.spacing == 0.5).all() and (synthetic.images.original_size == 64).all()


def test_extra_blob_is_rejected_only_with_the_quality_filter():
    train = landmark_set()
    samples = add_blob(encode_two_channel(train, (SIZE, SIZE), heatmap_sigma=1.0)[:4], x=28.0, y=16.0)
    filtered = decode_two_channel(samples, train, TwoChannelSettings(quality_filter=True))
    assert not any(filtered.quality["accepted"])
    assert all("peaks" in reason for reason in filtered.quality["reason"])
    mean_shape = train.landmarks.mean(axis=0)
    assert np.allclose(filtered.images.landmarks, mean_shape[None], atol=1e-4)
    unfiltered = decode_two_channel(samples, train, TwoChannelSettings(quality_filter=False))
    assert all(unfiltered.quality["accepted"]), unfiltered.quality["reason"]
    assert np.abs(unfiltered.images.landmarks - train.landmarks[:4]).max() < 1.0


def test_segmentation_masks_are_binary_and_empty_ones_rejected():
    train = mask_set()
    samples = encode_two_channel(train, (16, 16), heatmap_sigma=1.0)
    samples[-1, 1] = -1.0
    synthetic = decode_two_channel(samples, train)
    masks = synthetic.images.masks
    assert masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    iou = (masks[:-1] & train.masks[:-1]).sum((1, 2)) / (masks[:-1] | train.masks[:-1]).sum((1, 2))
    assert iou.min() > 0.85
    assert synthetic.quality["accepted"] == [True] * (len(train) - 1) + [False]
    assert "empty" in synthetic.quality["reason"][-1] and not masks[-1].any()



def test_generated_masks_must_look_like_training_masks():
    """A non-empty mask is not enough: noise above the threshold, a second blob or a speck are rejected
    (and kept, with the verdict in ``reason``, without the quality filter)."""
    train = mask_set()
    labels = np.full((4, SIZE, SIZE), -1.0, dtype=np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]

    def disc(cx: int, cy: int, r2: int) -> np.ndarray:
        return (xx - cx) ** 2 + (yy - cy) ** 2 < r2

    labels[0][disc(16, 16, 49)] = 1.0                                            # like the training discs
    labels[1][np.random.default_rng(0).random((SIZE, SIZE)) < 0.1] = 1.0       # salt noise
    labels[2][disc(10, 10, 49) | disc(24, 24, 16)] = 1.0                       # a second component
    labels[3][disc(16, 16, 2)] = 1.0                                             # a speck of the right count
    samples = np.stack([np.zeros_like(labels), labels], 1)
    filtered = decode_two_channel(samples, train)
    assert filtered.quality["accepted"] == [True, False, False, False]
    reasons = filtered.quality["reason"]
    assert reasons[1].startswith("fragmented mask (") and "training 1-1" in reasons[1]
    assert reasons[2] == "fragmented mask (2 components, training 1-1)"
    assert reasons[3].startswith("mask area (") and "outside the training range" in reasons[3]
    assert filtered.quality["n_components"][0] == 1 and filtered.quality["n_components"][2] == 2
    unfiltered = decode_two_channel(samples, train, TwoChannelSettings(quality_filter=False))
    assert all(unfiltered.quality["accepted"])
    assert unfiltered.quality["reason"][2].startswith("unfiltered: fragmented")


TINY = {"image_size": [16, 16], "channels": 4, "train_steps": 4, "batch_size": 8, "n_samples": 6}


@pytest.mark.parametrize("name,extra", [("vae", {"latent_dim": 8}), ("gan", {"z_dim": 8})])
def test_generators_end_to_end_and_repeatable(name, extra):
    train = landmark_set()
    augmentation = AUGMENTATIONS.create(name, **TINY, **extra)
    first, again, other = (augmentation.synthesize(train, seed) for seed in (0, 0, 1))
    assert len(first.images) == 6 and first.images.image_size == (SIZE, SIZE)
    lengths = {len(column) for column in first.quality.values()}
    assert lengths == {6}
    assert set(first.quality) >= {"accepted", "reason", "nearest_train_ssim", "n_peaks", "mahalanobis"}
    ssim = np.asarray(first.quality["nearest_train_ssim"])
    for array in (first.images.images, first.images.landmarks, ssim):
        assert np.isfinite(array).all()
    assert {"acceptance_rate", "nearest_train_ssim_mean", "n_generated", "generator_train_seconds",
            "sampling_images_per_s"} <= set(first.metrics)
    assert np.array_equal(first.images.images, again.images.images)
    assert np.array_equal(first.images.landmarks, again.images.landmarks)
    assert first.quality == again.quality
    assert not np.array_equal(first.images.images, other.images.images)


def test_gan_on_masks():
    train = mask_set()
    synthetic = AUGMENTATIONS.create("gan", **TINY, z_dim=8).synthesize(train, 0)
    assert synthetic.images.masks.shape == (6, SIZE, SIZE) and synthetic.images.landmarks is None
    assert len(synthetic.quality["accepted"]) == 6 and "n_peaks" not in synthetic.quality


def test_vae_posterior_sampling_stays_on_the_training_samples_where_the_prior_does_not():
    """Fitted to one image (repeated) with a sharp decoder, the aggregate posterior decodes to that image
    with readable labels; the prior, which no posterior was pulled towards, decodes to something else."""
    train = landmark_set(n=1)
    train = ImageSet(ids=[f"r{i}" for i in range(8)], images=np.repeat(train.images, 8, 0),
                     spacing=np.repeat(train.spacing, 8, 0),
                     original_size=np.repeat(train.original_size, 8, 0),
                     landmarks=np.repeat(train.landmarks, 8, 0))
    settings = {"channels": 8, "latent_dim": 8, "beta": 0.001, "train_steps": 300, "batch_size": 8,
                "lr": 3e-3, "n_samples": 4}
    posterior = AUGMENTATIONS.create("vae", **settings, latent_sampling="posterior").synthesize(train, 0)
    prior = AUGMENTATIONS.create("vae", **settings, latent_sampling="prior").synthesize(train, 0)
    assert min(posterior.quality["nearest_train_ssim"]) > 0.9
    assert all(posterior.quality["accepted"]), posterior.quality["reason"]
    assert np.abs(posterior.images.landmarks - train.landmarks[:4]).max() < 1.0
    assert np.mean(prior.quality["nearest_train_ssim"]) < min(posterior.quality["nearest_train_ssim"])
    with pytest.raises(ConfigError, match="latent_sampling must be one of prior, posterior"):
        AUGMENTATIONS.create("vae", latent_sampling="aggregate")


def test_diff_augment_moves_image_and_label_together_and_only_shifts_intensity_of_the_image():
    x = -torch.ones(4, 2, 16, 16)
    x[:, :, 7:9, 7:9] = 1.0  # one bright square in both channels
    out = diff_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    label = out[:, 1]
    # label values are only moved or cut, never scaled
    assert set(torch.unique(label).tolist()) <= {-1.0, 0.0, 1.0}
    for i in range(4):  # wherever the label is bright, the image carries the same (moved) square
        bright = label[i] == 1.0
        if bright.any():
            image = out[i, 0]
            assert image[bright].std() < 1e-5 and image[bright].mean() > image[~bright].mean()
    assert not torch.equal(out, x)


def test_generator_average_follows_the_ema_formula_and_keeps_the_batchnorm_statistics():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = weight_average(model.parameters(), decay=0.9)
    average.step(model.parameters())  # the first step takes the weights as they are
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()(torch.randn(8, 3))  # moves the running statistics
    statistics = model[1].running_mean.clone()
    average.step(model.parameters())
    current = [p.detach().clone() for p in model.parameters()]
    average.copy_to(model.parameters())
    for mean, old, new in zip(model.parameters(), before, current):
        assert torch.allclose(mean, 0.9 * old + 0.1 * new)
    assert torch.equal(model[1].running_mean, statistics)


def test_gan_samples_come_from_the_averaged_generator_only_when_asked():
    train = landmark_set(n=8)
    with_average = AUGMENTATIONS.create("gan", **TINY, z_dim=8, ema_decay=0.5)
    without = AUGMENTATIONS.create("gan", **TINY, z_dim=8)
    assert without.settings.ema_decay == 0.0
    with pytest.raises(ConfigError, match="ema_decay"):
        AUGMENTATIONS.create("gan", ema_decay=1.0)
    a, b = with_average.synthesize(train, 0), without.synthesize(train, 0)
    assert not np.allclose(a.images.images, b.images.images)
