"""Two-channel samples ``[image, label channel]`` for generators that learn images and labels jointly
(VAE, GAN, DDPM-2ch): the settings they share, the shared ``synthesize`` (encode -> fit -> sample ->
decode), and the reading of labels back from generated samples.

Encoding (:func:`encode_two_channel`). Images and labels are resized from the task's working size
(H, W) to the generator's size (h, w) (``image_size``; ``None``: the working size) (bilinear,
anti-aliased, ``align_corners=False``: pixel centres map as ``x -> (x + 0.5) w / W - 0.5``). The label
channel is, for landmark tasks, the heatmap of all landmarks
(:func:`baselines.augmentations.labels.peaks.render_landmark_heatmap`, peak 1, std ``heatmap_sigma`` generator
pixels) and, for segmentation tasks, the resized mask. Both channels are mapped from [0, 1] to [-1, 1]
(``2 v - 1``).

Decoding (:func:`decode_two_channel`). Channels are clipped to [-1, 1] and mapped back to [0, 1]; the
image is resized back to (H, W). Landmarks are read from the label channel at (h, w) by
:class:`~baselines.augmentations.labels.reader.HeatmapLabelReader` (peaks, MRF identities, shape model),
fitted on the training landmarks mapped to (h, w), and mapped back with ``x -> (x + 0.5) W / w - 0.5``. Masks:
the label channel is resized to (H, W) and thresholded at 0.5.

Resolution matters for landmarks: two landmarks closer than about two heatmap stds merge into one
peak, which the reader lets them share only when the pair comes that close in training
(:func:`fit_reader`). Sharing moves a landmark by up to half the pair's distance, in grid pixels, so a
coarser grid (``grid_scale``) is cheaper per step but reads dense landmark clusters less exactly.

``benchmark perf`` (:func:`perf_model`): every ``train`` call fits a fresh generator of the same class
(``train_steps`` and ``batch_size`` replaced) on the encoded training set; the reference step and the
sampling call are the generator's own.

Quality. With ``quality_filter`` a sample is accepted only when the reader accepts it (landmarks) or the mask
is plausible (:class:`~baselines.augmentations.labels.mask_check.MaskPlausibility`: as many components and
about as much foreground as the training masks; a non-empty mask alone is no evidence, since noise above the
threshold makes one). Without it, every sample whose labels can be read is accepted: extra peaks are tolerated
(the MRF leaves them unused), the shape model's and the mask check's verdicts are recorded in ``reason`` but
not enforced, and any mask is kept. Rejected samples stay in the set, for the accepted / rejected sample grid,
with the training mean shape or an empty mask as their labels (an image set holds no NaN);
:func:`benchmark.synthetic.compose` never trains on them.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from baselines.augmentations.labels.mask_check import MaskPlausibility
from baselines.augmentations.labels.peaks import render_landmark_heatmap
from baselines.augmentations.labels.reader import HeatmapLabelReader
from baselines.augmentations.labels.shape_model import ShapeModel
from benchmark.augmentation import Augmentation, GeneratorSettings, SyntheticSet
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.perf.contract import PerfModel, Step
from benchmark.record.metrics import sample_metrics, timing_metrics
from benchmark.synthetic import nearest_training_ssim
from benchmark.task import LabelKind, TaskShape
from benchmark.training.device import pick_device


@dataclass(frozen=True)
class TwoChannelSettings(GeneratorSettings):
    """What every two-channel generator shares: composition and sample count (as every
    :class:`~benchmark.augmentation.GeneratorSettings`), the generator grid ``image_size`` (``None``: the
    working size times ``grid_scale`` for landmark heatmaps and ``mask_grid_scale`` for masks, see
    :meth:`grid`), the heatmap std, and the label
    reader (``peak_threshold`` relative to the heatmap maximum, ``peak_noise_std`` pixels,
    ``extra_peak_tolerance`` peaks beyond K, ``merge_tolerance`` peaks short of K that landmarks may make up
    by sharing peaks, ``shape_quantile`` the Hotelling quantile above which a shape is implausible,
    ``merge_distance`` generator pixels: how close two landmarks must come in some training shape to be
    allowed to share one peak; ``None``: ``2 heatmap_sigma + peak_noise_std``, see :func:`fit_reader`)."""

    method: ClassVar[str] = "two-channel generator"

    image_size: tuple[int, int] | None = None
    grid_scale: float = 1.0
    mask_grid_scale: float = 1.0
    heatmap_sigma: float = 1.0
    quality_filter: bool = True
    peak_threshold: float = 0.3
    peak_noise_std: float = 1.0
    extra_peak_tolerance: int = 0
    merge_tolerance: int = 3
    shape_quantile: float = 0.999
    merge_distance: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        what = self.method
        if self.image_size is not None:
            size = tuple(int(v) for v in self.image_size)
            if len(size) != 2 or min(size) < 8:
                raise ConfigError(f"{what}: image_size must be [h, w] with both >= 8, or null, "
                                  f"got {self.image_size}")
            object.__setattr__(self, "image_size", size)
            self.check_size(size)
        for name in ("grid_scale", "mask_grid_scale"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{what}: {name} must be in (0, 1], got {getattr(self, name)}")
        if self.heatmap_sigma <= 0:
            raise ConfigError(f"{what}: heatmap_sigma must be > 0, got {self.heatmap_sigma}")
        if not 0 < self.peak_threshold < 1 or not 0 < self.shape_quantile < 1 \
                or self.extra_peak_tolerance < 0 or self.merge_tolerance < 0:
            raise ConfigError(f"{what}: peak_threshold and shape_quantile must be in (0, 1), "
                              "extra_peak_tolerance and merge_tolerance >= 0")
        if not self.peak_noise_std > 0:
            raise ConfigError(f"{what}: peak_noise_std must be > 0 pixels, got {self.peak_noise_std}")
        if self.merge_distance is not None and not self.merge_distance > 0:
            raise ConfigError(f"{what}: merge_distance must be > 0 pixels or null, got {self.merge_distance}")

    def size_multiple(self, size: tuple[int, int]) -> int:
        """Both sides of the generator grid must be multiples of this: ``2^stages(size)``."""
        return 2 ** stages(size)

    def grid(self, working_size: tuple[int, int], kind: LabelKind) -> tuple[int, int]:
        """The generator grid (h, w) for labels of ``kind`` (a task's label kind: ``landmarks`` or
        ``segmentation``), checked against :meth:`size_multiple`: ``image_size`` when set, else the working
        size itself at scale 1, else each side times the scale rounded to the nearest multiple of
        :meth:`size_multiple` (at least one multiple), so that one setting serves tasks of any working size.
        The scale is ``grid_scale`` for heatmaps, whose std stays in grid pixels, and ``mask_grid_scale`` for
        masks: a structure a few pixels wide, resized down and back and thresholded at 0.5, breaks (the
        canal phantoms' test masks keep their two components in 100 / 68 / 17 % of images at scale
        1 / 0.75 / 0.5). A coarser grid costs about scale^2 per step."""
        if self.image_size is not None:
            return tuple(self.image_size)
        scale = self.mask_grid_scale if kind == "segmentation" else self.grid_scale
        size = (int(working_size[0]), int(working_size[1]))
        if scale != 1:
            scaled = [side * scale for side in size]
            multiple = self.size_multiple((round(scaled[0]), round(scaled[1])))
            size = tuple(max(1, int(side / multiple + 0.5)) * multiple for side in scaled)
        self.check_size(size)
        return size

    def check_size(self, size: tuple[int, int]) -> None:
        multiple = self.size_multiple(size)
        if any(v % multiple for v in size):
            raise ConfigError(f"{self.method}: generator size {tuple(size)} must be divisible by {multiple}; "
                              f"set augmentations.{self.method}.image_size")


class TwoChannelGenerator(Augmentation, ABC):
    """``synthesize`` for generators of two-channel samples: encode the training split, :meth:`fit` the
    generator, :meth:`sample` ``n`` samples, decode their labels. Subclasses implement the two steps."""

    settings: TwoChannelSettings

    def __init__(self, settings: TwoChannelSettings):
        self.settings = settings
        self.composition = settings

    @abstractmethod
    def fit(self, data: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        """Train on (N, 2, h, w) samples in [-1, 1] (on the CPU); return final-loss metrics."""

    @abstractmethod
    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        """(n, 2, h, w) float32 samples in [-1, 1] from the fitted generator."""

    @abstractmethod
    def networks(self) -> list[torch.nn.Module]:
        """The networks :meth:`fit` trains (built before its first step)."""

    @abstractmethod
    def reference_step(self, data: torch.Tensor, device: torch.device) -> Step:
        """``benchmark perf``'s reference step: fresh networks of this generator's architecture trained by its
        loss on random batches of ``data`` (N, 2, h, w), already on ``device``, and nothing else."""

    def perf_sample(self, data: torch.Tensor, n: int, device: torch.device) -> int:
        """Sample ``n`` images for ``benchmark perf`` from the fitted generator; returns ``n``."""
        self.sample(n, 0, device)
        return n

    def perf_note(self) -> str:
        """The note of the generator's ``benchmark perf`` row."""
        return ""

    def perf_models(self, train: ImageSet, device: torch.device) -> list[PerfModel]:
        return [perf_model(self, train, self.perf_note())]

    def check(self, shape: TaskShape) -> None:
        self.settings.grid(shape.working_size, shape.kind)

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet:
        s = self.settings
        device = device or pick_device("auto")
        _, losses, train_seconds = fit_on_training_split(self.fit, s, train, seed, device)
        n = s.n_to_generate(len(train))
        started = time.perf_counter()
        samples = self.sample(n, seed, device)
        sampling_seconds = time.perf_counter() - started
        synthetic = decode_two_channel(samples, train, s, id_prefix=f"{self.name}-{seed}-")
        synthetic.metrics.update({**losses, **timing_metrics(train_seconds, n, sampling_seconds)})
        return synthetic


def perf_model(generator: Augmentation, train: ImageSet, note: str = "") -> PerfModel:
    """The ``benchmark perf`` row of ``generator``, trained by ``fit(data, seed, device)`` on the two-channel
    samples of ``train`` (module docstring), with its ``networks``, ``reference_step`` and ``perf_sample``;
    its settings carry ``train_steps`` and ``batch_size``."""
    s = generator.settings
    data = torch.from_numpy(encode_two_channel(train, generator_grid(s, train), s.heatmap_sigma))
    latest = [generator]

    def train_for(steps: int, batch_size: int, device: torch.device) -> dict[str, float]:
        latest[0] = type(generator)(dataclasses.replace(s, train_steps=steps, batch_size=batch_size))
        return latest[0].fit(data, 0, device)

    return PerfModel(generator.name, s.batch_size, s.train_steps, train_for, lambda: latest[0].networks(),
                     lambda device: generator.reference_step(data.to(device), device),
                     lambda n, device: latest[0].perf_sample(data, n, device), note)


def stages(size: tuple[int, int]) -> int:
    """Number of 2x down/up-sampling stages of a generator at ``size``: the shorter side is halved until
    it is below 8 pixels (e.g. 64 -> 4 stages, bottleneck 4 px)."""
    levels, side = 0, min(size)
    while side >= 8:
        side //= 2
        levels += 1
    return levels


def batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """Yield ``steps`` index batches, walking through fresh random permutations of ``range(n)``."""
    order, position = torch.randperm(n, generator=generator), 0
    for _ in range(steps):
        if position + batch_size > n:
            order, position = torch.randperm(n, generator=generator), 0
        yield order[position:position + min(batch_size, n)]
        position += batch_size


def resize(arrays: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (N, H, W) float arrays to (N, h, w): bilinear, anti-aliased when shrinking, pixel-centre
    convention of :mod:`benchmark.data.imageset`."""
    arrays = np.asarray(arrays, dtype=np.float32)
    if arrays.shape[1:] == tuple(size):
        return arrays.copy()
    resized = F.interpolate(torch.from_numpy(arrays)[:, None], size=tuple(size), mode="bilinear",
                            align_corners=False, antialias=True)
    return resized[:, 0].numpy()


def rescale_points(points: np.ndarray, source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """(..., 2) (x, y) pixels on a (H, W) grid ``source`` -> the same points on grid ``target``."""
    scale = np.array([target[1] / source[1], target[0] / source[0]])
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5


def fit_on_training_split(
    fit: Callable[[torch.Tensor, int, torch.device], dict[str, float]],
    settings: TwoChannelSettings, train: ImageSet, seed: int, device: torch.device,
) -> tuple[tuple[int, int], dict[str, float], float]:
    """Encode ``train`` as two-channel samples on the generator grid and ``fit`` on them with torch's global
    generator seeded by ``seed`` and restored afterwards; returns the grid, the fit's loss metrics and its
    wall-clock seconds."""
    size = generator_grid(settings, train)
    data = torch.from_numpy(encode_two_channel(train, size, settings.heatmap_sigma))
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        losses = fit(data, seed, device)
    return size, losses, time.perf_counter() - started


def generator_grid(settings: TwoChannelSettings, train: ImageSet) -> tuple[int, int]:
    """The generator grid of :meth:`TwoChannelSettings.grid` for the labels ``train`` carries."""
    return settings.grid(train.image_size, "landmarks" if train.masks is None else "segmentation")


def encode_two_channel(train: ImageSet, size: tuple[int, int], heatmap_sigma: float) -> np.ndarray:
    """(N, 2, h, w) float32 samples in [-1, 1]: the resized image and its label channel."""
    size = (int(size[0]), int(size[1]))
    images = resize(train.images, size)
    if train.landmarks is not None:
        points = rescale_points(train.landmarks, train.image_size, size)
        labels = np.stack([render_landmark_heatmap(p, size, heatmap_sigma) for p in points])
    elif train.masks is not None:
        labels = resize(train.masks.astype(np.float32), size)
    else:
        raise ValueError("a two-channel generator needs landmarks or masks in the training set")
    samples = np.stack([images, labels], axis=1)
    return (2 * np.clip(samples, 0, 1) - 1).astype(np.float32)


def fit_reader(train: ImageSet, size: tuple[int, int], settings: TwoChannelSettings) -> HeatmapLabelReader:
    """The label reader for heatmaps at the generator's size (h, w), fitted on the training landmarks.
    Without ``quality_filter`` up to K extra peaks are tolerated.

    Merging. Two equal Gaussians of std ``sigma`` summed give one maximum when their centres are less than
    ``2 sigma`` apart (the Sparrow limit); the suite renders the pixel-wise maximum, which keeps two
    maxima, but the dip between them is shallow and a generated heatmap, whose peaks are only
    approximately Gaussian, often fills it. So pairs that come within ``2 sigma`` plus the localisation
    noise ``peak_noise_std`` in some training shape may share a peak (``merge_distance`` overrides this);
    both then sit on the shared peak, at most about half that distance from where they belong."""
    s = settings
    extra = s.extra_peak_tolerance if s.quality_filter else max(s.extra_peak_tolerance, train.num_landmarks)
    merge_distance = s.merge_distance
    if merge_distance is None:
        merge_distance = 2 * s.heatmap_sigma + s.peak_noise_std
    reader = HeatmapLabelReader(threshold=s.peak_threshold, extra_peak_tolerance=extra,
                                merge_tolerance=s.merge_tolerance, peak_noise_std=s.peak_noise_std,
                                merge_distance=merge_distance,
                                shape_model=ShapeModel(quantile=s.shape_quantile, noise_std=s.peak_noise_std))
    return reader.fit(rescale_points(train.landmarks, train.image_size, size), size)


def _read_landmarks(labels: np.ndarray, train: ImageSet,
                    settings: TwoChannelSettings) -> tuple[np.ndarray, dict[str, list]]:
    size = labels.shape[1:]
    reader = fit_reader(train, size, settings)
    k = train.num_landmarks
    mean_shape = train.landmarks.astype(np.float64).mean(axis=0)  # the label of a rejected sample
    landmarks = np.repeat(mean_shape[None], len(labels), axis=0)
    quality: dict[str, list] = {"accepted": [], "reason": [], "n_peaks": [], "mahalanobis": []}
    for i, label in enumerate(labels):
        reading = reader.read(label)
        readable = reading.landmarks is not None and bool(np.isfinite(reading.landmarks).all())
        accepted = reading.accepted if settings.quality_filter else readable
        if accepted:
            landmarks[i] = rescale_points(reading.landmarks, size, train.image_size)
        reason = reading.reason
        extra = reading.n_peaks > k + settings.extra_peak_tolerance
        if accepted and (extra or not reading.accepted):  # what the filter would have rejected
            reason = f"unfiltered: {f'extra peaks ({reading.n_peaks} > {k})' if extra else reading.reason}"
        quality["accepted"].append(bool(accepted))
        quality["reason"].append(reason)
        quality["n_peaks"].append(int(reading.n_peaks))
        quality["mahalanobis"].append(float(reading.mahalanobis))
    return landmarks.astype(np.float32), quality


def _read_masks(labels: np.ndarray, train: ImageSet,
                settings: TwoChannelSettings) -> tuple[np.ndarray, dict[str, list]]:
    masks = (resize(labels, train.image_size) > 0.5).astype(np.uint8)
    check = MaskPlausibility().fit(train.masks)
    verdicts = [check.check(mask) for mask in masks]
    keep = [v.accepted or not settings.quality_filter for v in verdicts]
    reasons = [v.reason if v.accepted or settings.quality_filter else f"unfiltered: {v.reason}"
               for v in verdicts]
    return masks, {"accepted": keep, "reason": reasons, "mask_fraction": [v.fraction for v in verdicts],
                   "n_components": [v.n_components for v in verdicts]}


def generated_image_set(images: np.ndarray, train: ImageSet, landmarks: np.ndarray | None,
                        masks: np.ndarray | None, id_prefix: str) -> ImageSet:
    """Generated (M, H, W) images and their labels as an image set of the training set's working size,
    with the training set's median spacing and first original size (a generated image has no source)."""
    n = len(images)
    return ImageSet(
        ids=[f"{id_prefix}{i:05d}" for i in range(n)], images=images,
        spacing=np.repeat(np.median(train.spacing, axis=0)[None], n, axis=0),
        original_size=np.repeat(train.original_size[:1], n, axis=0), landmarks=landmarks, masks=masks,
    )


def decode_two_channel(samples: np.ndarray, train: ImageSet, settings: TwoChannelSettings | None = None,
                       id_prefix: str = "synthetic-") -> SyntheticSet:
    """Generated (M, 2, h, w) samples in [-1, 1] -> a labelled :class:`SyntheticSet` at the training
    set's working size, with quality columns ``accepted``, ``reason``, ``nearest_train_ssim`` (and
    ``n_peaks``, ``mahalanobis`` for landmarks, NaN where the shape model did not run; ``mask_fraction`` and
    ``n_components`` for masks) and metrics ``acceptance_rate``, ``nearest_train_ssim_mean``, ``n_generated``.
    The reader is configured by ``settings`` (defaults of :class:`TwoChannelSettings` when ``None``). """
    settings = settings if settings is not None else TwoChannelSettings()
    samples = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32)), -1, 1)
    if samples.ndim != 4 or samples.shape[1] != 2:
        raise ValueError(f"samples must be (M, 2, h, w), got {samples.shape}")
    unit = (samples + 1) / 2
    images = np.clip(resize(unit[:, 0], train.image_size), 0, 1)
    landmarks = masks = None
    if train.landmarks is not None:
        landmarks, quality = _read_landmarks(unit[:, 1], train, settings)
    else:
        masks, quality = _read_masks(unit[:, 1], train, settings)
    ssim = nearest_training_ssim(images, train.images) if len(samples) else np.zeros(0)
    quality["nearest_train_ssim"] = [float(v) for v in ssim]
    synthetic = generated_image_set(images, train, landmarks, masks, id_prefix)
    return SyntheticSet(images=synthetic, quality=quality, metrics=sample_metrics(quality["accepted"], ssim))
