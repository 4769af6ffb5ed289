"""Composition of real and synthetic sets, the memorisation score, and the generation cache."""

import numpy as np
import pytest
import torch

from benchmark.augmentation import Augmentation, CompositionSettings, SyntheticSet
from benchmark.data.imageset import ImageSet
from benchmark.synthetic import compose, nearest_training_ssim, synthesize_cached


def image_set(n: int, prefix: str, seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    return ImageSet(ids=[f"{prefix}{i}" for i in range(n)], images=rng.random((n, 16, 16)),
                    spacing=np.ones((n, 2)), original_size=np.full((n, 2), 16),
                    landmarks=rng.uniform(0, 15, (n, 3, 2)))


class MirrorGenerator(Augmentation):
    """Generates mirrored training images; every third one is rejected."""

    name = "mirror-test"

    def __init__(self, composition: CompositionSettings):
        self.composition = composition
        self.calls = 0

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet:
        self.calls += 1
        landmarks = train.landmarks.copy()
        landmarks[..., 0] = 15 - landmarks[..., 0]
        images = ImageSet(ids=[f"syn{i}" for i in range(len(train))], images=train.images[:, :, ::-1],
                          spacing=train.spacing, original_size=train.original_size, landmarks=landmarks)
        accepted = [i % 3 != 2 for i in range(len(train))]
        reasons = ["accepted" if a else "implausible shape" for a in accepted]
        return SyntheticSet(images, quality={"accepted": accepted, "reason": reasons},
                            metrics={"acceptance_rate": float(np.mean(accepted))})


@pytest.mark.parametrize("composition, n_synthetic, expected_total, expected_synthetic", [
    ("real", None, 9, 0), ("synthetic", None, 6, 6), ("real+synthetic", None, 15, 6),
    ("real+synthetic", 2, 11, 2),
])
def test_compose_uses_only_accepted_samples(composition, n_synthetic, expected_total, expected_synthetic):
    real = image_set(9, "r", 0)
    synthetic = MirrorGenerator(CompositionSettings()).synthesize(real, 0)
    settings = CompositionSettings(composition=composition, n_synthetic=n_synthetic)
    training, used = compose(real, synthetic, settings, np.random.default_rng(0))
    assert len(training) == expected_total and used == expected_synthetic
    synthetic_ids = [i for i in training.ids if i.startswith("syn")]
    assert all(int(i[3:]) % 3 != 2 for i in synthetic_ids)


def test_synthetic_ratio_scales_with_the_real_set():
    real = image_set(9, "r", 0)
    synthetic = MirrorGenerator(CompositionSettings()).synthesize(real, 0)
    _, used = compose(real, synthetic, CompositionSettings(synthetic_ratio=0.5), np.random.default_rng(0))
    assert used == 4


def test_nearest_training_ssim_flags_copies():
    train = image_set(6, "r", 1).images
    copies = train[[2, 4]]
    fresh = image_set(2, "n", 2).images
    assert np.allclose(nearest_training_ssim(copies, train), 1.0)
    assert np.all(nearest_training_ssim(fresh, train) < 0.3)


def test_second_synthesis_is_a_cache_hit_with_identical_content():
    real = image_set(6, "r", 3)
    generator = MirrorGenerator(CompositionSettings())
    first, hit_first = synthesize_cached(generator, real, seed=1)
    second, hit_second = synthesize_cached(generator, real, seed=1)
    assert (hit_first, hit_second) == (False, True) and generator.calls == 1
    assert np.array_equal(first.images.images, second.images.images)
    assert np.array_equal(first.images.landmarks, second.images.landmarks)
    assert second.quality == first.quality and second.metrics == first.metrics
    _, hit_other_seed = synthesize_cached(generator, real, seed=2)
    _, hit_no_cache = synthesize_cached(generator, real, seed=1, use_cache=False)
    assert not hit_other_seed and not hit_no_cache and generator.calls == 3


def test_strategies_without_a_generator_skip_the_cache():
    assert synthesize_cached(Augmentation(), image_set(3, "r", 0), seed=0) == (None, False)


def test_generators_train_on_the_device_the_run_was_given(monkeypatch, tmp_path):
    """``--device`` reaches the generator: it never falls back to picking a device of its own."""
    from baselines.augmentations import latent_blend, shape_ddpm, two_channel
    from benchmark.augmentation import create_augmentation
    from benchmark.cli import main
    from benchmark.config import resolve_config
    from benchmark.stages.prepare import load_task_data

    def refuse(*_):
        raise AssertionError("a generator picked its own device")

    for module in (two_channel, shape_ddpm, latent_blend):
        monkeypatch.setattr(module, "pick_device", refuse)
    assert main(["run", "--task", "hand", "--aug", "ddpm", "--profile", "smoke", "--device", "cpu",
                 "--no-cache", "--no-progress", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]) == 0
    for aug, task in (("shape-ddpm", "hand"), ("latent-blend", "canal")):  # the other generators, directly
        config = resolve_config("smoke", task, aug, "heatmap")
        data = load_task_data(config)
        generator = create_augmentation(aug, config["augmentations"])
        assert generator.synthesize(data.train, 0, data.unlabelled, torch.device("cpu")) is not None
