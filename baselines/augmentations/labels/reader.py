"""Read a generated heatmap of all landmarks back into labelled landmarks, or reject it.

``read`` runs, in order, and stops at the first failed check:

1. peaks: local maxima above ``threshold`` times the heatmap's maximum (a relative threshold, since a
   generated channel has no calibrated scale), sub-pixel refined
   (:func:`~baselines.augmentations.labels.peaks.detect_peaks`); fewer than ``K - merge_tolerance`` peaks ->
   ``"too few peaks"``; more than ``K + extra_peak_tolerance`` -> ``"extra peaks"`` (a sixth finger: a shape
   model cannot see it, since the MRF would simply leave one chain unused);
2. identities: :class:`~baselines.augmentations.labels.mrf.LandmarkMRF` assigns peaks to landmarks; a
   landmark left "missing" -> ``"missing landmarks"``. With fewer than K peaks every peak is offered to the
   MRF twice, so that two landmarks can share one: two landmarks about a pixel apart give one local
   maximum. A shared peak is accepted only for a *mergeable* pair, one that is at most ``merge_distance``
   apart in some training shape (default ``min_distance + 1`` pixels; the two-channel generators pass two
   heatmap stds plus the peak noise), else -> ``"missing landmarks"`` (a missing fingertip must not hide on
   its neighbour's peak); both landmarks then sit on the peak;
3. plausibility: :class:`~baselines.augmentations.labels.shape_model.ShapeModel` -> ``"implausible shape
   (...)"`` (a very long thumb, swapped landmarks), else ``"accepted"``.

Both models assume the same peak localisation noise ``peak_noise_std`` (pixels per coordinate): the MRF
as the floor of its Gaussians' spread, the shape model as noise added to its mode variances and to the
shapes that calibrate its residual limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist

from baselines.augmentations.labels.mrf import LandmarkMRF
from baselines.augmentations.labels.peaks import detect_peaks
from baselines.augmentations.labels.shape_model import ShapeModel


@dataclass
class LabelReading:
    """The outcome of reading one heatmap.

    ``landmarks`` (K, 2) (x, y) pixels once the MRF has run (NaN for missing landmarks; also set for a
    rejected shape, for inspection), ``None`` when the peak count already failed; use them only if
    ``accepted``. ``energy`` is the MRF energy, ``mahalanobis`` and ``residual`` the shape model's
    statistics (NaN where not computed).
    """

    landmarks: np.ndarray | None
    accepted: bool
    reason: str
    n_peaks: int
    energy: float = float("nan")
    mahalanobis: float = float("nan")
    residual: float = float("nan")


class HeatmapLabelReader:
    """Peaks -> MRF identities -> shape-model check, fitted on the real training landmarks.

    ``min_distance`` (pixels, the peak detector's suppression radius) defaults to half the 1st percentile,
    over the training shapes, of the smallest distance between two landmarks of a shape, rounded down, at
    least 1: two landmarks closer than that would be merged into one peak (fitted value:
    ``peak_distance``). ``merge_tolerance`` is how many peaks may be missing for landmarks to share peaks,
    ``merge_distance`` (pixels, default ``peak_distance + 1``) how close a pair must come in training to
    be allowed to share one (fitted: the (K, K) boolean ``mergeable``). ``peak_noise_std`` configures the
    default MRF and shape model; pass ``mrf`` or ``shape_model`` to configure them in full.
    """

    def __init__(self, threshold: float = 0.3, min_distance: int | None = None, extra_peak_tolerance: int = 0,
                 merge_tolerance: int = 3, merge_distance: float | None = None, peak_noise_std: float = 1.0,
                 mrf: LandmarkMRF | None = None, shape_model: ShapeModel | None = None) -> None:
        self.threshold = threshold
        self.min_distance = min_distance
        self.extra_peak_tolerance = extra_peak_tolerance
        self.merge_tolerance = merge_tolerance
        self.merge_distance = merge_distance
        self.mrf = mrf if mrf is not None else LandmarkMRF(min_std=peak_noise_std)
        self.shape_model = shape_model if shape_model is not None else ShapeModel(noise_std=peak_noise_std)

    def fit(self, train_landmarks: np.ndarray, image_size: tuple[int, int]) -> HeatmapLabelReader:
        """Fit on (N, K, 2) training landmarks in the working pixels of heatmaps of size (H, W)."""
        shapes = np.asarray(train_landmarks, dtype=np.float64)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.num_landmarks = shapes.shape[1]
        self.peak_distance = self.min_distance
        if self.peak_distance is None:
            separation = np.percentile([pdist(shape).min() for shape in shapes], 1)
            self.peak_distance = max(1, int(np.floor(0.5 * separation)))
        reach = self.merge_distance if self.merge_distance is not None else self.peak_distance + 1
        closest = np.linalg.norm(shapes[:, :, None] - shapes[:, None, :], axis=-1).min(axis=0)  # (K, K)
        self.mergeable = (closest <= reach) & ~np.eye(self.num_landmarks, dtype=bool)
        self.mrf.fit(shapes)
        self.shape_model.fit(shapes)
        return self

    def read(self, heatmap: np.ndarray) -> LabelReading:
        """Read one (H, W) heatmap of all landmarks."""
        heatmap = np.asarray(heatmap, dtype=np.float64)
        if heatmap.shape != self.image_size:
            raise ValueError(f"heatmap of shape {heatmap.shape}, the reader was fitted for {self.image_size}")
        k = self.num_landmarks
        top = float(heatmap.max())
        if not np.isfinite(top) or top <= 0:
            return LabelReading(None, False, "too few peaks (empty heatmap)", 0)
        peaks, heights = detect_peaks(heatmap, 2 * k + self.extra_peak_tolerance, self.threshold * top,
                                      self.peak_distance)
        n = len(peaks)
        if n < k - self.merge_tolerance:
            return LabelReading(None, False, f"too few peaks ({n} < {k})", n)
        if n > k + self.extra_peak_tolerance:
            return LabelReading(None, False, f"extra peaks ({n} > {k})", n)
        merging = n < k
        if merging:  # each peak twice, and twice the candidates, so that every landmark still sees M peaks
            peaks, heights = np.concatenate([peaks, peaks]), np.concatenate([heights, heights])
        assignment = self.mrf.assign(peaks, heights, 2 * self.mrf.n_candidates if merging else None)
        missing = int((assignment.assigned_peak < 0).sum())
        if merging and not missing:
            missing = self._unmergeable(assignment.assigned_peak % n)
        if missing:
            return LabelReading(assignment.landmarks, False, f"missing landmarks ({missing})", n,
                                assignment.energy)
        accepted, reason = self.shape_model.plausible(assignment.landmarks)
        return LabelReading(assignment.landmarks, accepted, reason, n, assignment.energy,
                            self.shape_model.mahalanobis(assignment.landmarks),
                            self.shape_model.residual(assignment.landmarks))

    def _unmergeable(self, peak_of: np.ndarray) -> int:
        """How many landmarks share a peak with a landmark they are never that close to in training."""
        shared = (peak_of[:, None] == peak_of[None, :]) & ~np.eye(len(peak_of), dtype=bool)
        return int((shared & ~self.mergeable).any(axis=1).sum())
