"""``shape-ddpm``: labels first, then the image. A plausible label is drawn, rendered as a label channel,
and a DDPM *conditioned on that channel* generates the image, so every synthetic label is exact by
construction (the labels-first design that GenSeg, Nature Communications 2025, and AICG, 2025, report to
beat joint image+label generation; the suite measures it against DDPM-2ch under one protocol).

1. **Label.** A training label (chosen uniformly) under a random smooth deformation, at the generator's
   grid (h, w): the displacement field ``d`` is a ``deformation_grid x deformation_grid`` lattice of
   ``N(0, deformation_px^2)`` offsets per axis, upsampled bicubically to (h, w) (``align_corners=True``).
   Landmarks move forward, ``p' = p + d(p)``, and the deformed shape must pass the training shape model
   (:class:`~baselines.augmentations.labels.shape_model.ShapeModel`, Hotelling quantile ``shape_quantile``)
   and stay inside the image, else the draw is repeated (up to ``max_label_tries``, then the undeformed
   shape). Masks are pulled back, ``m'(p) = m(p - d(p))`` (nearest), the inverse map to first order for a
   smooth ``d``.
2. **Label channel.** The heatmap of all landmarks (std ``heatmap_sigma`` generator pixels, peak 1) or
   the mask, mapped to [-1, 1] as in :mod:`baselines.augmentations.two_channel`.
3. **Image.** A diffusers U-Net with ``in_channels = 2`` sees ``[x_t, label channel]`` and denoises the
   image channel only (:mod:`baselines.diffusion`: conditioning by concatenation), trained on the
   (image, label channel) pairs of the training split and sampled with the label channels of step 2.

Quality evidence: every sample is accepted (its label is the one it was generated from); the
nearest-training SSIM tells copies from new images, ``label_tries`` how many label draws it took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from baselines.augmentations.labels.peaks import render_landmark_heatmap
from baselines.augmentations.labels.shape_model import ShapeModel
from baselines.augmentations.two_channel import (
    TwoChannelSettings,
    fit_on_training_split,
    generated_image_set,
    perf_model,
    rescale_points,
    resize,
)
from baselines.diffusion import (
    DiffusionGeneratorSettings,
    reference_loss,
    sample,
    scheduler_for,
    train_diffusion,
)
from benchmark.augmentation import Augmentation, SyntheticSet, composition_search_space
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.perf.contract import PerfModel, Step, plain_step
from benchmark.record.metrics import sample_metrics, timing_metrics
from benchmark.registry import AUGMENTATIONS
from benchmark.synthetic import nearest_training_ssim
from benchmark.task import TaskShape
from benchmark.training.device import pick_device


@dataclass(frozen=True)
class ShapeDDPMSettings(DiffusionGeneratorSettings, TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings` (composition, grid, sample count,
    heatmap std, shape quantile), the diffusion fields of
    :class:`~baselines.diffusion.DiffusionGeneratorSettings`, and the label deformation."""

    method: ClassVar[str] = "shape-ddpm"

    heatmap_sigma: float = 1.5
    train_steps: int = 1500
    deformation_px: float = 2.0
    deformation_grid: int = 4
    max_label_tries: int = 20

    def __post_init__(self) -> None:
        self.check_diffusion(self.method)
        super().__post_init__()
        if self.deformation_px < 0 or self.deformation_grid < 2 or self.max_label_tries < 1:
            raise ConfigError(
                f"{self.method}: deformation_px must be >= 0, deformation_grid >= 2, max_label_tries >= 1"
            )


def smooth_displacements(
    n: int, size: tuple[int, int], grid: int, std: float, rng: np.random.Generator
) -> np.ndarray:
    """(n, 2, h, w) displacement fields (x, y) in pixels: a ``grid x grid`` lattice of N(0, std^2) offsets
    upsampled bicubically (module docstring)."""
    lattice = torch.from_numpy(rng.normal(0.0, std, (n, 2, grid, grid)).astype(np.float32))
    return F.interpolate(lattice, size=tuple(size), mode="bicubic", align_corners=True).numpy()


def displace_points(points: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``p + d(p)`` for (K, 2) (x, y) points and one (2, h, w) field, ``d`` read bilinearly."""
    h, w = field.shape[1:]
    x = np.clip(points[:, 0], 0, w - 1)
    y = np.clip(points[:, 1], 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    d = (
        field[:, y0, x0] * (1 - fx) * (1 - fy)
        + field[:, y0, x1] * fx * (1 - fy)
        + field[:, y1, x0] * (1 - fx) * fy
        + field[:, y1, x1] * fx * fy
    )
    return points + d.T


def pull_masks(masks: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """``m'(p) = m(p - d(p))`` (nearest) for (n, h, w) masks and (n, 2, h, w) fields."""
    h, w = masks.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    source_x = xx[None] - fields[:, 0]
    source_y = yy[None] - fields[:, 1]
    grid = np.stack([(2 * source_x + 1) / w - 1, (2 * source_y + 1) / h - 1], axis=-1)
    pulled = F.grid_sample(
        torch.from_numpy(masks.astype(np.float32))[:, None],
        torch.from_numpy(grid),
        mode="nearest",
        padding_mode="zeros",
        align_corners=False,
    )
    return pulled[:, 0].numpy().astype(np.uint8)


class ShapeDDPMAugmentation(Augmentation):
    name = "shape-ddpm"

    def __init__(self, settings: ShapeDDPMSettings):
        self.settings = settings
        self.composition = settings

    def network(self, size: tuple[int, int]) -> torch.nn.Module:
        """The randomly initialised U-Net that sees ``[x_t, label channel]`` of ``size`` (h, w) and denoises
        the image channel."""
        return self.settings.unet(size, 2, 1)

    def fit(self, pairs: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        """Step 3's training: the image DDPM on (N, 2, h, w) ``pairs`` in [-1, 1] (image, label channel),
        conditioned on the label channel, kept as ``self.model``; returns the final-loss metric."""
        s = self.settings
        self.model = self.network(tuple(pairs.shape[-2:]))
        report = train_diffusion(
            self.model,
            pairs[:, :1],
            s.recipe(),
            torch.Generator().manual_seed(seed),
            device,
            s.amp,
            condition=pairs[:, 1:],
            desc="shape-ddpm training",
        )
        return {"generator_final_loss": float(np.mean(report.losses[-max(1, len(report.losses) // 10) :]))}

    def networks(self) -> list[torch.nn.Module]:
        return [self.model]

    def reference_step(self, pairs: torch.Tensor, device: torch.device) -> Step:
        """``benchmark perf``'s reference step: the conditional diffusion loss of :meth:`fit` on random
        batches of ``pairs`` (already on ``device``) for a fresh U-Net, under AdamW, nothing else."""
        s = self.settings
        loss = reference_loss(pairs[:, :1], s.recipe(), condition=pairs[:, 1:])
        return plain_step(self.network(tuple(pairs.shape[-2:])).to(device), loss, s.lr, device, s.amp)

    def perf_sample(self, pairs: torch.Tensor, n: int, device: torch.device) -> int:
        """``n`` images from the fitted model, conditioned on the label channels of ``pairs`` in turn."""
        self.sample_images(pairs[torch.arange(n) % len(pairs), 1:], 0, device)
        return n

    def perf_models(self, train: ImageSet, device: torch.device) -> list[PerfModel]:
        return [perf_model(self, train, self.settings.sampler_note())]

    def sample_images(self, condition: torch.Tensor, seed: int, device: torch.device) -> np.ndarray:
        """(n, 1, h, w) images in [-1, 1] from the fitted model, one per row of the (n, 1, h, w) label
        ``condition`` in [-1, 1]."""
        s = self.settings
        return sample(self.model, scheduler_for(s.recipe()), len(condition), (1, *condition.shape[-2:]),
                      s.sampler, s.ddim_steps, s.sample_batch_size, seed, device, s.amp, condition=condition)

    def sample_landmarks(
        self, shapes: np.ndarray, size: tuple[int, int], n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[int], list[int]]:
        """``n`` deformed training shapes (n, K, 2) at ``size``, their source indices and the draws each
        took."""
        s = self.settings
        model = ShapeModel(quantile=s.shape_quantile, noise_std=s.peak_noise_std).fit(shapes)
        h, w = size
        out, sources, tries = [], [], []
        for _ in range(n):
            i = int(rng.integers(len(shapes)))
            chosen, used = shapes[i], s.max_label_tries
            for attempt in range(1, s.max_label_tries + 1):
                field = smooth_displacements(1, size, s.deformation_grid, s.deformation_px, rng)[0]
                moved = displace_points(shapes[i], field)
                inside = (moved >= 0).all() and (moved[:, 0] <= w - 1).all() and (moved[:, 1] <= h - 1).all()
                if inside and model.plausible(moved)[0]:
                    chosen, used = moved, attempt
                    break
            out.append(chosen)
            sources.append(i)
            tries.append(used)
        return np.stack(out), sources, tries

    def sample_masks(
        self, masks: np.ndarray, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[int]]:
        s = self.settings
        sources = rng.integers(len(masks), size=n)
        fields = smooth_displacements(n, masks.shape[1:], s.deformation_grid, s.deformation_px, rng)
        return pull_masks(masks[sources], fields), [int(i) for i in sources]

    def check(self, shape: TaskShape) -> None:
        self.settings.grid(shape.working_size, shape.kind)

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet:
        s = self.settings
        device = device or pick_device("auto")
        size, losses, train_seconds = fit_on_training_split(self.fit, s, train, seed, device)

        n = s.n_to_generate(len(train))
        rng = np.random.default_rng(seed + 1)
        started = time.perf_counter()
        if train.landmarks is not None:
            points, sources, tries = self.sample_landmarks(
                rescale_points(train.landmarks, train.image_size, size), size, n, rng
            )
            channel = np.stack([render_landmark_heatmap(p, size, s.heatmap_sigma) for p in points])
            landmarks = rescale_points(points, size, train.image_size).astype(np.float32)
            masks = None
        else:
            small = (resize(train.masks.astype(np.float32), size) > 0.5).astype(np.uint8)
            small_masks, sources = self.sample_masks(small, n, rng)
            tries = [1] * n
            channel = small_masks.astype(np.float32)
            masks = (resize(channel, train.image_size) > 0.5).astype(np.uint8)
            landmarks = None
        condition = torch.from_numpy((2 * channel - 1).astype(np.float32))[:, None]
        generated = self.sample_images(condition, seed + 2, device)
        sampling_seconds = time.perf_counter() - started
        images = np.clip(resize((generated[:, 0] + 1) / 2, train.image_size), 0, 1)
        ssim = nearest_training_ssim(images, train.images)
        synthetic = generated_image_set(images, train, landmarks, masks, f"{self.name}-{seed}-")
        quality = {
            "accepted": [True] * n,
            "reason": ["label first"] * n,
            "source": [train.ids[i] for i in sources],
            "label_tries": tries,
            "nearest_train_ssim": [float(v) for v in ssim],
        }
        metrics = {**sample_metrics(quality["accepted"], ssim), **losses,
                   **timing_metrics(train_seconds, n, sampling_seconds)}
        return SyntheticSet(images=synthetic, quality=quality, metrics=metrics)


def search_space(trial) -> dict:
    """The shared composition suggestions plus the label deformation and the heatmap width."""
    return {
        **composition_search_space("shape-ddpm")(trial),
        "deformation_px": trial.suggest_float("shape-ddpm.deformation_px", 0.5, 6.0),
        "heatmap_sigma": trial.suggest_float("shape-ddpm.heatmap_sigma", 1.0, 3.0),
    }


AUGMENTATIONS.register(
    "shape-ddpm",
    "labels first: a deformed training label, rendered, and the image from a DDPM "
    "conditioned on it (labels exact by construction)",
    settings=ShapeDDPMSettings,
    search_space=search_space,
)(ShapeDDPMAugmentation)
