"""Classic on-the-fly augmentation: one random affine plus intensity changes per image, applied to whole
batches on their device and consistently to images, landmarks and masks.

Geometry. Each augmented image gets the forward map, in working pixels (x, y) with pixel centres at
integers (the convention of :mod:`benchmark.data.imageset`):

    p' = c + t + s * D^-1 R(a) D (p - c)

with ``c = ((W - 1) / 2, (H - 1) / 2)`` the image centre, ``a`` the angle, ``s`` an isotropic scale,
``t`` a shift in pixels and ``D = diag(sx, sy)`` the pixel spacing, so the rotation is a physical one
even for anisotropic pixels. Landmarks move by this map. Images (bilinear, zeros outside) and masks
(nearest) are pulled through its inverse with ``F.affine_grid``/``F.grid_sample`` and
``align_corners=False``: then normalised coordinates span the pixel *edges*, ``u = (2 x + 1) / W - 1``,
which is exactly the pixel-centre convention above (and the resize rule of ``ImageSet``). The sampling
matrix is ``theta = N M^-1 N^-1`` with ``N`` that pixel-to-normalised map, so an image feature and its
transformed landmark land on the same spot. ``spacing`` is left unchanged (mm per pixel of the grid).

A draw that would move any landmark of an image outside ``[0, W - 1] x [0, H - 1]`` is redrawn for that
image, up to ``max_tries`` times; after that the image keeps identity geometry (its intensity is still
augmented). Redraws and fallbacks are counted in :meth:`ClassicAugmentation.metrics`; no landmark is
ever dropped.

Intensity, in this order, on [0, 1] images: ``x^gamma``; contrast ``k x + (1 - k) m`` about the image
mean ``m``; brightness ``+ b``; Gaussian noise of std ``noise_std``; clamp to [0, 1].

Randomness. Every parameter is drawn from the given (CPU) generator; the noise comes from a generator on
the batch's device seeded from it. The same seed and batch give the same output on the same device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from benchmark.augmentation import Augmentation
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS
from benchmark.training.batch import Batch


@dataclass(frozen=True)
class ClassicParams:
    """Ranges are uniform: angle in [-rotation_deg, rotation_deg] degrees, scale in ``scale``, shift in
    [-translation_frac, translation_frac] * (W, H) pixels, gamma in ``gamma``, contrast factor in
    ``contrast``, brightness offset in [-brightness, brightness]. ``p`` is the probability that an image
    is augmented at all; ``max_tries`` the number of redraws for an image whose landmarks would leave it."""

    rotation_deg: float = 15.0
    scale: tuple[float, float] = (0.9, 1.1)
    translation_frac: float = 0.05
    gamma: tuple[float, float] = (0.7, 1.4)
    contrast: tuple[float, float] = (0.8, 1.2)
    brightness: float = 0.1
    noise_std: float = 0.02
    p: float = 0.9
    max_tries: int = 10

    def __post_init__(self) -> None:
        for name in ("scale", "gamma", "contrast"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or not 0 < value[0] <= value[1]:
                raise ConfigError(f"classic: {name} must be (low, high) with 0 < low <= high, got {value}")
            object.__setattr__(self, name, value)
        for name in ("rotation_deg", "translation_frac", "brightness", "noise_std"):
            if float(getattr(self, name)) < 0:
                raise ConfigError(f"classic: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.p <= 1:
            raise ConfigError(f"classic: p must be in [0, 1], got {self.p}")
        if int(self.max_tries) != self.max_tries or self.max_tries < 0:
            raise ConfigError(f"classic: max_tries must be an integer >= 0, got {self.max_tries}")
        object.__setattr__(self, "max_tries", int(self.max_tries))


def affine_matrices(
    angle_rad: torch.Tensor,
    scale: torch.Tensor,
    shift: torch.Tensor,
    size: tuple[int, int],
    spacing: torch.Tensor,
) -> torch.Tensor:
    """Forward maps ``p' = c + t + s D^-1 R(a) D (p - c)`` as (B, 3, 3) homogeneous pixel matrices.

    ``angle_rad`` and ``scale`` are (B,), ``shift`` (B, 2) pixels (x, y), ``size`` (H, W), ``spacing``
    (B, 2) mm per pixel (sx, sy). ``D^-1 R D = [[cos, -sin sy/sx], [sin sx/sy, cos]]``.
    """
    height, width = size
    cos, sin = torch.cos(angle_rad), torch.sin(angle_rad)
    ratio = spacing[:, 1] / spacing[:, 0]
    linear = scale[:, None, None] * torch.stack(
        [torch.stack([cos, -sin * ratio], -1), torch.stack([sin / ratio, cos], -1)], -2
    )
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=linear.dtype, device=linear.device)
    offset = centre + shift - linear @ centre
    matrices = torch.eye(3, dtype=linear.dtype, device=linear.device).repeat(len(angle_rad), 1, 1)
    matrices[:, :2, :2] = linear
    matrices[:, :2, 2] = offset
    return matrices


def apply_affine(matrices: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Map (B, K, 2) points with (B, 3, 3) homogeneous matrices: ``p' = A p + b``."""
    return points @ matrices[:, :2, :2].transpose(1, 2) + matrices[:, None, :2, 2]


def _pixel_to_normalised(size: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """``N`` with ``u = (2 x + 1) / W - 1`` and ``v = (2 y + 1) / H - 1`` (align_corners=False)."""
    height, width = size
    return torch.tensor(
        [[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]], dtype=dtype
    )


def warp(batch: Batch, matrices: torch.Tensor) -> Batch:
    """Apply forward pixel maps (B, 3, 3) to a batch: images bilinear, masks nearest (both with zeros
    outside, ``align_corners=False``), landmarks exactly (in float64 on the CPU, then back). Images whose
    map is exactly the identity are passed through untouched."""
    size = (int(batch.images.shape[-2]), int(batch.images.shape[-1]))
    matrices = matrices.detach().cpu().double()
    normalise = _pixel_to_normalised(size, torch.float64)
    theta = (normalise @ torch.linalg.inv(matrices) @ torch.linalg.inv(normalise))[:, :2]
    moved = ~(matrices == torch.eye(3, dtype=torch.float64)).all(dim=(1, 2))

    def resample(pixels: torch.Tensor | None, mode: str) -> torch.Tensor | None:
        if pixels is None:
            return None
        grid = F.affine_grid(theta.to(pixels.device, pixels.dtype), list(pixels.shape), align_corners=False)
        out = F.grid_sample(pixels, grid, mode=mode, padding_mode="zeros", align_corners=False)
        return torch.where(moved.to(pixels.device).view(-1, 1, 1, 1), out, pixels)

    landmarks = batch.landmarks
    if landmarks is not None:
        moved_points = apply_affine(matrices, landmarks.detach().cpu().double())
        landmarks = moved_points.to(landmarks.device, landmarks.dtype)
    return replace(batch, images=resample(batch.images, "bilinear"), masks=resample(batch.masks, "nearest"),
                   landmarks=landmarks)


def _inside(points: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B,) True where all (B, K, 2) points lie in ``[0, W - 1] x [0, H - 1]``."""
    height, width = size
    x, y = points[..., 0], points[..., 1]
    return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).all(dim=-1)


class ClassicAugmentation(Augmentation):
    name = "classic"

    def __init__(self, params: ClassicParams = ClassicParams()):
        self.params = params
        self._images = 0
        self._redraws = 0
        self._fallbacks = 0

    def _uniform(self, n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)

    def _random_matrices(self, spacing: torch.Tensor, size: tuple[int, int],
                         generator: torch.Generator) -> torch.Tensor:
        n, q = len(spacing), self.params
        angle = torch.deg2rad(self._uniform(n, -q.rotation_deg, q.rotation_deg, generator))
        scale = self._uniform(n, *q.scale, generator)
        frac = self._uniform(2 * n, -q.translation_frac, q.translation_frac, generator).reshape(n, 2)
        shift = frac * torch.tensor([size[1], size[0]], dtype=torch.float64)
        return affine_matrices(angle, scale, shift, size, spacing)

    def _geometry(self, batch: Batch, applied: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, 3, 3) float64 forward maps: identity where not applied or after ``max_tries`` redraws."""
        size = (int(batch.images.shape[-2]), int(batch.images.shape[-1]))
        spacing = batch.spacing.detach().cpu().double()
        landmarks = None if batch.landmarks is None else batch.landmarks.detach().cpu().double()
        matrices = torch.eye(3, dtype=torch.float64).repeat(len(batch), 1, 1)
        pending = applied.clone()
        for attempt in range(self.params.max_tries + 1):
            index = pending.nonzero().squeeze(1)
            if index.numel() == 0:
                break
            if attempt > 0:
                self._redraws += index.numel()
            matrices[index] = self._random_matrices(spacing[index], size, generator)
            if landmarks is None:
                pending[:] = False
            else:
                pending[index] = ~_inside(apply_affine(matrices[index], landmarks[index]), size)
        self._fallbacks += int(pending.sum())
        matrices[pending] = torch.eye(3, dtype=torch.float64)
        return matrices

    def _intensity(self, images: torch.Tensor, applied: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        n, q = images.shape[0], self.params

        def per_image(values: torch.Tensor) -> torch.Tensor:
            return values.to(images.device, images.dtype).view(n, 1, 1, 1)

        gamma = per_image(self._uniform(n, *q.gamma, generator))
        contrast = per_image(self._uniform(n, *q.contrast, generator))
        brightness = per_image(self._uniform(n, -q.brightness, q.brightness, generator))
        noise_seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
        out = images.clamp(0, 1) ** gamma
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = out * contrast + (1 - contrast) * mean + brightness
        if q.noise_std > 0:
            noise_generator = torch.Generator(device=images.device).manual_seed(noise_seed)
            out = out + q.noise_std * torch.randn(images.shape, generator=noise_generator,
                                                  device=images.device, dtype=images.dtype)
        return torch.where(applied.to(images.device).view(n, 1, 1, 1), out.clamp(0, 1), images)

    def transform(self, batch: Batch, generator: torch.Generator) -> Batch:
        applied = torch.rand(len(batch), generator=generator) < self.params.p
        self._images += len(batch)
        warped = warp(batch, self._geometry(batch, applied, generator))
        return replace(warped, images=self._intensity(warped.images, applied, generator))

    def metrics(self) -> dict[str, float]:
        """``aug_images`` seen, ``aug_redraws`` (extra geometry draws because a landmark would have left
        the image) and ``aug_identity_fallbacks`` (images kept at identity geometry after ``max_tries``)."""
        return {
            "aug_images": float(self._images),
            "aug_redraws": float(self._redraws),
            "aug_identity_fallbacks": float(self._fallbacks),
        }


def search_space(trial) -> dict:
    """Sweep suggestions: the geometric and intensity magnitudes and the probability of augmenting."""
    return {"rotation_deg": trial.suggest_float("classic.rotation_deg", 0.0, 30.0),
            "translation_frac": trial.suggest_float("classic.translation_frac", 0.0, 0.15),
            "brightness": trial.suggest_float("classic.brightness", 0.0, 0.2),
            "noise_std": trial.suggest_float("classic.noise_std", 0.0, 0.05),
            "p": trial.suggest_float("classic.p", 0.5, 1.0)}


AUGMENTATIONS.register(
    "classic",
    "random affine (rotation, scale, translation) + intensity (gamma, contrast, brightness, noise), "
    "applied to whole batches, consistent for images, landmarks and masks",
    settings=ClassicParams,
    search_space=search_space,
)(ClassicAugmentation)
