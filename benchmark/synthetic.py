"""Labelled synthetic sets: composition with the real set, memorisation evidence, and the generation cache.

* **Composition** (``composition`` setting of every generator): ``real`` (the synthetic set is made and
  scored but not trained on), ``synthetic`` (train on accepted synthetic images only) or
  ``real+synthetic``. ``n_synthetic`` caps the number of accepted synthetic images used; without it,
  ``synthetic_ratio * n_real`` are used (all accepted ones if fewer).
* **Memorisation**: the nearest-training-image SSIM of a generated image is the largest SSIM
  (scikit-image, data range 1) against the ``candidates`` training images closest in L2 on 4x
  downsampled pixels; a generator that copies its training set scores close to 1.
* **Cache**: a generated set is stored under the SHA-256 of (generator name, generator settings,
  training split digest, unlabelled pool digest, seed, cache version) with an atomic write, so a sweep
  over detector settings or a second run never retrains the generator. The generator is the strategy's
  :attr:`~benchmark.augmentation.Augmentation.synthesizer`: ``ddpm`` and ``classic+ddpm`` with equal
  ``ddpm`` settings share one set (a transform never changes what is generated).
"""

from __future__ import annotations

from dataclasses import asdict, fields

import numpy as np
import torch
from skimage.metrics import structural_similarity

from benchmark.augmentation import Augmentation, CompositionSettings, SyntheticSet
from benchmark.data.cache import ArrayCache, cache_key
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError

# Raised whenever a generator's output or the reading of its labels changes for the same settings, so
# stale cached sets are not reused: 3 = DDIM sampling with the noise re-derived from the clipped x0
# estimate; 4 = generated masks checked against the training masks (components, area); 5 = merged
# heatmap peaks shared by two landmarks; 6 = one diffusion module (latent blending's partial DDIM follows
# diffusers' img2img timesteps).
CACHE_VERSION = 6


def compose(real: ImageSet, synthetic: SyntheticSet | None, settings: CompositionSettings,
            rng: np.random.Generator) -> tuple[ImageSet, int]:
    """The training set of a run and the number of synthetic images in it (accepted ones only)."""
    if synthetic is None or settings.composition == "real":
        return real, 0
    accepted = np.flatnonzero(np.asarray(
        synthetic.quality.get("accepted", [True] * len(synthetic.images)), bool))
    wanted = (settings.n_synthetic if settings.n_synthetic is not None
              else int(round(settings.synthetic_ratio * len(real))))
    chosen = np.sort(rng.permutation(accepted)[: min(wanted, len(accepted))])
    if settings.composition == "synthetic":
        if len(chosen) == 0:
            raise ConfigError(f"composition 'synthetic' trains on synthetic images only, but none of the "
                              f"{len(synthetic.images)} generated samples passed the quality filter; use "
                              "composition real+synthetic or a larger generator budget")
        return synthetic.images.subset(chosen), len(chosen)
    return ImageSet.concatenate([real, synthetic.images.subset(chosen)]), len(chosen)


def nearest_training_ssim(generated: np.ndarray, training: np.ndarray, candidates: int = 5) -> np.ndarray:
    """(N,) max SSIM of each generated image against its L2-nearest training images (module docstring)."""
    small = lambda x: x[:, ::4, ::4].reshape(len(x), -1)  # noqa: E731
    g, t = small(generated), small(training)
    distances = (g**2).sum(1)[:, None] - 2 * g @ t.T + (t**2).sum(1)[None, :]
    nearest = np.argsort(distances, axis=1)[:, :candidates]
    return np.array([
        max(structural_similarity(generated[i], training[j], data_range=1.0) for j in nearest[i])
        for i in range(len(generated))
    ])


def generation_settings(augmentation: Augmentation) -> tuple[str, dict]:
    """The name and settings of what ``augmentation`` generates with: its synthesizer's, without the
    composition settings, which only choose what joins the real set."""
    source = augmentation.synthesizer
    settings = asdict(source.settings) if hasattr(source, "settings") else {}
    composition = {f.name for f in fields(CompositionSettings)}
    return source.name, {k: v for k, v in settings.items() if k not in composition}


def synthesis_key(augmentation: Augmentation, train: ImageSet, seed: int,
                  unlabelled: ImageSet | None = None) -> str:
    """The cache key of the set ``augmentation`` generates (module docstring)."""
    method, generation = generation_settings(augmentation)
    return cache_key({"method": method, "settings": generation, "train": train.digest(),
                      "unlabelled": unlabelled.digest() if unlabelled is not None else None,
                      "seed": seed, "version": CACHE_VERSION})


def save_synthetic(cache: ArrayCache, key: str, synthetic: SyntheticSet) -> None:
    images = synthetic.images
    arrays = {"ids": np.array(images.ids), "images": images.images, "spacing": images.spacing,
              "original_size": images.original_size}
    if images.landmarks is not None:
        arrays["landmarks"] = images.landmarks
    if images.masks is not None:
        arrays["masks"] = images.masks
    arrays.update({f"quality.{k}": np.asarray(v) for k, v in synthetic.quality.items()})
    arrays.update({f"metric.{k}": np.asarray(v, dtype=np.float64) for k, v in synthetic.metrics.items()})
    cache.save(key, arrays)


def load_synthetic(cache: ArrayCache, key: str) -> SyntheticSet | None:
    arrays = cache.load(key)
    if arrays is None or not {"ids", "images", "spacing", "original_size"} <= set(arrays):
        return None
    images = ImageSet(ids=[str(i) for i in arrays["ids"]], images=arrays["images"], spacing=arrays["spacing"],
                      original_size=arrays["original_size"], landmarks=arrays.get("landmarks"),
                      masks=arrays.get("masks"))
    quality = {k.removeprefix("quality."): v.tolist() for k, v in arrays.items() if k.startswith("quality.")}
    metrics = {k.removeprefix("metric."): float(v) for k, v in arrays.items() if k.startswith("metric.")}
    return SyntheticSet(images=images, quality=quality, metrics=metrics)


def synthesize_cached(augmentation: Augmentation, train: ImageSet, seed: int, use_cache: bool = True,
                      unlabelled: ImageSet | None = None,
                      device: torch.device | None = None) -> tuple[SyntheticSet | None, bool]:
    """Run (or load) the augmentation's generator on ``device``; returns the set and whether it was a
    cache hit (the device is not part of the key: a set is the same wherever it was made)."""
    if not augmentation.generates:
        return None, False
    cache = ArrayCache(namespace="synthetic")
    key = synthesis_key(augmentation, train, seed, unlabelled)
    if use_cache and (hit := load_synthetic(cache, key)) is not None:
        return hit, True
    synthetic = augmentation.synthesize(train, seed, unlabelled, device)
    if synthetic is not None:
        save_synthetic(cache, key, synthetic)
    return synthetic, False
