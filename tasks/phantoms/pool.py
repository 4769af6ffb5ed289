"""Turn a phantom renderer into a task's :class:`LabelledPool`: seeding, ids, folds, cache.

Seeding: labelled sample ``i`` is drawn from ``np.random.default_rng([data_seed, 0, i])`` and unlabelled
sample ``j`` from ``[data_seed, 1, j]``, so a pool is a pure function of ``data_seed`` and a larger pool
extends a smaller one. Folds: ``num_folds`` contiguous blocks of one fixed permutation of the labelled
pool (drawn from ``[data_seed, 2]``); fold ``k`` (1-based, named ``fold{k}``) tests on block k and
trains on the rest. Rendered arrays are cached under ``<cache root>/phantoms`` keyed by generator name,
version, working size, pool sizes and data seed; the cache root is ``cache_root``, else the suite's
default (``$BENCHMARK_CACHE_DIR`` read at call time, see :mod:`benchmark.data.cache`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from benchmark.data.cache import ArrayCache, cache_key
from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError
from benchmark.task import Fold, LabelledPool

Renderer = Callable[[np.random.Generator, tuple[int, int]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PhantomSpec:
    """How to turn one phantom generator into a data set.

    ``render(rng, (H, W))`` returns ``(image, label)``: landmarks (K, 2) or a mask (H, W).
    ``spacing(labels, (H, W))`` gives the (N, 2) mm per working pixel of N samples from their labels;
    ``original_size((H, W))`` the (W0, H0) of the modelled native image. Bump ``version`` whenever the
    renderer's output changes, so stale cache entries are not reused.
    """

    name: str
    version: int
    render: Renderer
    label: Literal["landmarks", "mask"]
    source: str
    mm_rule: str
    spacing: Callable[[np.ndarray, tuple[int, int]], np.ndarray]
    original_size: Callable[[tuple[int, int]], tuple[int, int]]
    landmark_names: list[str] = field(default_factory=list)


def render_samples(spec: PhantomSpec, image_size: tuple[int, int], data_seed: int, stream: int, count: int):
    """Render ``count`` samples of one stream (0 labelled, 1 unlabelled): stacked images and labels."""
    images, labels = [], []
    for i in range(count):
        image, label = spec.render(np.random.default_rng([data_seed, stream, i]), image_size)
        images.append(image)
        labels.append(label)
    shape = (count, *image_size)
    label_shape = (count, *image_size) if spec.label == "mask" else (count, len(spec.landmark_names), 2)
    label_dtype = np.uint8 if spec.label == "mask" else np.float32
    if count == 0:
        return np.zeros(shape, np.float32), np.zeros(label_shape, label_dtype)
    return np.stack(images).astype(np.float32), np.stack(labels).astype(label_dtype)


def make_folds(ids: list[str], num_folds: int, data_seed: int) -> list[Fold]:
    """``num_folds`` contiguous blocks of a fixed permutation; ids inside a split keep pool order."""
    if num_folds < 2 or num_folds > len(ids):
        raise ConfigError(f"num_folds must be between 2 and the pool size {len(ids)}, got {num_folds}")
    blocks = np.array_split(np.random.default_rng([data_seed, 2]).permutation(len(ids)), num_folds)
    folds = []
    for k, block in enumerate(blocks):
        test = set(block.tolist())
        folds.append(Fold(
            train=[ids[i] for i in range(len(ids)) if i not in test],
            test=[ids[i] for i in sorted(test)],
            name=f"fold{k + 1}",
        ))
    return folds


def _arrays(spec: PhantomSpec, settings: DataSettings, image_size: tuple[int, int], cache: ArrayCache):
    key = cache_key({
        "generator": spec.name, "version": spec.version, "image_size": list(image_size),
        "n_labelled": settings.n_labelled, "n_unlabelled": settings.n_unlabelled,
        "data_seed": settings.data_seed,
    })
    arrays = cache.load(key)
    if arrays is None:
        images, labels = render_samples(spec, image_size, settings.data_seed, 0, settings.n_labelled)
        u_images, u_labels = render_samples(spec, image_size, settings.data_seed, 1, settings.n_unlabelled)
        arrays = {
            "images": images, "labels": labels, "u_images": u_images,
            "spacing": spec.spacing(labels, image_size), "u_spacing": spec.spacing(u_labels, image_size),
        }
        cache.save(key, arrays)
    return arrays


def phantom_pool(
    spec: PhantomSpec, settings: DataSettings, *, cache_root: Path | str | None = None
) -> LabelledPool:
    """The labelled pool (with folds) and unlabelled pool of a phantom data set, rendered or cached."""
    image_size = (int(settings.image_size[0]), int(settings.image_size[1]))
    n, m = settings.n_labelled, settings.n_unlabelled
    ids = [f"{spec.name}-{i:04d}" for i in range(n)]
    folds = make_folds(ids, settings.num_folds, settings.data_seed)
    arrays = _arrays(spec, settings, image_size, ArrayCache(cache_root, namespace="phantoms"))
    original = spec.original_size(image_size)
    labelled = ImageSet(
        ids=ids,
        images=arrays["images"],
        spacing=arrays["spacing"],
        original_size=np.tile(original, (n, 1)),
        landmarks=arrays["labels"] if spec.label == "landmarks" else None,
        masks=arrays["labels"] if spec.label == "mask" else None,
    )
    unlabelled = None
    if m > 0:
        unlabelled = ImageSet(
            ids=[f"{spec.name}-u{j:04d}" for j in range(m)],
            images=arrays["u_images"],
            spacing=arrays["u_spacing"],
            original_size=np.tile(original, (m, 1)),
        )
    return LabelledPool(
        images=labelled,
        folds=folds,
        source=spec.source,
        ground_truth="phantom",
        mm_rule=spec.mm_rule,
        unlabelled=unlabelled,
        landmark_names=list(spec.landmark_names),
    )
