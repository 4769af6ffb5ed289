"""A statistical shape model (SSM): Procrustes alignment + PCA, and its plausibility test for a shape.

Alignment. A shape ``X`` (K, 2) is brought to the model frame by removing translation and scale
(centroid at 0, centroid size ``||X - mean(X)||_F = 1``) and the rotation (no reflection) that best maps
it onto the mean shape: with the points as complex numbers ``z_k`` and the mean shape's as ``w_k``, the
phase of ``sum_k conj(z_k) w_k`` (orthogonal Procrustes in closed form). Generalised Procrustes analysis
(GPA) on the training shapes alternates aligning every shape to the current mean and re-estimating the
mean (normalised to unit size), starting from the first shape, until the mean stops moving.

PCA. With the aligned training shapes as vectors ``x_n`` in R^2K, mean ``m`` and sample covariance
``C = sum_n (x_n - m)(x_n - m)^T / (N - 1)`` with eigenpairs ``(lambda_i, phi_i)``, the model keeps the
first ``d`` modes explaining ``variance_kept`` of the total variance. Shapes to be checked come from
detected peaks, with a localisation noise of ``noise_std`` pixels per coordinate, i.e. isotropic noise of
variance ``sigma^2 = (noise_std / mean training centroid size)^2`` in the model frame, which is added to
every mode variance (as in probabilistic PCA). For an aligned shape ``x``:

* ``b = Phi^T (x - m)``, the Mahalanobis distance ``D^2 = sum_i b_i^2 / (lambda_i + sigma^2)``;
* the residual ``r = x - m - Phi b`` outside the subspace, per landmark ``||r_k||^2``, each relative to
  the landmark's mean cross-validated residual ``v_k`` (below); the statistic is the largest one,
  ``max_k ||r_k||^2 / v_k``. A pooled ``||r||^2`` would dilute one misplaced landmark (a swapped pair, a
  finger moved off its carpal base) over all 2K - 4 - d directions of noise; the maximum does not.

Thresholds. Under a Gaussian shape model ``D^2`` of a new shape would be chi^2 with ``d`` degrees of
freedom if mean and covariance were known. They are estimated from ``N`` shapes, and the exact law of a
new observation's distance to the sample mean under the sample covariance is Hotelling's
``D^2 (N - d) N / (d (N - 1)(N + 1)) ~ F(d, N - d)`` (its prediction-region form), which tends to chi^2_d
for ``N -> inf`` and, unlike it, does not reject most real shapes when ``N`` is small and ``d`` close to
``N``. A shape is rejected when ``D^2`` exceeds that law's ``quantile`` (default 0.999: about one real
shape in a thousand is lost, while a stretched thumb or a swapped fingertip lies far out). (The added
noise variance and the modes' being the top sample directions only make the test more lenient.) The
residual has no such closed form (it collects the discarded, small-variance, non-Gaussian directions and
the noise), so it is calibrated empirically: ``folds``-fold cross-validation refits the PCA (same ``d``)
without each fold and records the residuals of the held-out shapes, each seen ``noise_copies`` times
with fresh Gaussian noise of ``noise_std`` pixels. ``v_k`` is the mean of landmark k's residuals, and the
limit of the statistic is ``residual_margin`` times its ``residual_percentile`` (99.5) over these
held-out shapes. Held out, because in-sample residuals are optimistic (a shape pulls the subspace
towards itself); the margin covers real shapes beyond the top percentile of a finite sample. (The GPA is
not redone per fold; a fold moves the Procrustes mean little.)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.stats import f as f_distribution


def _complex(points: np.ndarray) -> np.ndarray:
    """(..., K, 2) (x, y) -> (..., K) complex ``x + i y``: a similarity transform of the plane is then
    ``z -> a z + b`` with ``a = s e^{i theta}``."""
    return points[..., 0] + 1j * points[..., 1]


def _real(z: np.ndarray) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=-1)


def similarity_transform(source: np.ndarray, target: np.ndarray,
                         scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity ``y = A x + t`` (``A = s R``, ``R`` a rotation, no reflection) mapping
    ``source`` (K, 2) onto ``target`` (K, 2): ``(A (2, 2), t (2,))``.

    In complex notation with centred points ``z_k`` (source) and ``w_k`` (target) the minimiser of
    ``sum_k |a z_k - w_k|^2`` is ``a = sum_k conj(z_k) w_k / sum_k |z_k|^2`` (the 2-D case of Umeyama
    1991, which needs no SVD); with ``scale=False`` only its phase is kept (``s = 1``).
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    z, w = _complex(source - mu_s), _complex(target - mu_t)
    c = np.sum(np.conj(z) * w)
    a = c / max(np.sum(np.abs(z) ** 2), 1e-300) if scale else (c / abs(c) if abs(c) > 0 else 1.0)
    matrix = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return matrix, mu_t - matrix @ mu_s


def _normalise(shapes: np.ndarray) -> np.ndarray:
    """Centroid at 0 and centroid size 1, for (..., K, 2) shapes."""
    centred = shapes - shapes.mean(axis=-2, keepdims=True)
    return centred / np.maximum(np.linalg.norm(centred, axis=(-2, -1), keepdims=True), 1e-300)


def _rotate_onto(shapes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate normalised (..., K, 2) shapes onto a normalised reference (K, 2) (orthogonal Procrustes:
    the phase of ``sum_k conj(z_k) w_k``)."""
    z = _complex(shapes)
    c = np.sum(np.conj(z) * _complex(reference), axis=-1, keepdims=True)
    phase = np.where(np.abs(c) > 0, c / np.maximum(np.abs(c), 1e-300), 1.0)
    return _real(z * phase)


def generalised_procrustes(shapes: np.ndarray, tol: float = 1e-10,
                           max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """GPA of (N, K, 2) shapes: ``(aligned (N, K, 2), mean (K, 2))``, all of unit centroid size."""
    shapes = _normalise(np.asarray(shapes, dtype=np.float64))
    mean = shapes[0]
    for _ in range(max_iter):
        new_mean = _rotate_onto(_normalise(_rotate_onto(shapes, mean).mean(axis=0)), mean)
        moved = np.linalg.norm(new_mean - mean)
        mean = new_mean
        if moved < tol:
            break
    return _rotate_onto(shapes, mean), mean


class ShapeModel:
    """Procrustes-aligned PCA shape model with a plausibility test (see the module docstring)."""

    def __init__(self, variance_kept: float = 0.98, quantile: float = 0.999, noise_std: float = 1.0,
                 residual_percentile: float = 99.5, residual_margin: float = 1.5, folds: int = 10,
                 noise_copies: int = 4, seed: int = 0) -> None:
        self.variance_kept = variance_kept
        self.quantile = quantile
        self.noise_std = noise_std
        self.residual_percentile = residual_percentile
        self.residual_margin = residual_margin
        self.folds = folds
        self.noise_copies = noise_copies
        self.seed = seed

    def fit(self, shapes: np.ndarray) -> ShapeModel:
        """Fit on training shapes (N, K, 2) in pixels, N >= 3."""
        shapes = np.asarray(shapes, dtype=np.float64)
        aligned, self.mean_shape = generalised_procrustes(shapes)
        vectors = aligned.reshape(len(aligned), -1)
        n = self.num_training = len(vectors)
        size = np.mean(np.linalg.norm(shapes - shapes.mean(axis=1, keepdims=True), axis=(1, 2)))
        self.noise_variance = (self.noise_std / size) ** 2
        self.mean = vectors.mean(axis=0)
        scatter = (vectors - self.mean).T @ (vectors - self.mean)
        modes, variances = self._pca(scatter, n)
        self.modes, self.variances = modes, variances + self.noise_variance
        self.mahalanobis_limit = self._mahalanobis_limit()
        # Cross-validated residuals: the PCA refitted without each fold (same number of modes), the held-out
        # shapes seen with peak noise; per-landmark squared residuals.
        rng = np.random.default_rng(self.seed)
        noisy = shapes[None] + rng.normal(0.0, self.noise_std, (self.noise_copies, *shapes.shape))
        noisy_vectors = self.align(noisy).reshape(self.noise_copies, n, -1)
        folds = np.arange(n) % min(self.folds, n)
        residuals = []
        for fold in np.unique(folds):
            kept = vectors[folds != fold]
            mean = kept.mean(axis=0)
            modes = self._pca((kept - mean).T @ (kept - mean), len(kept), self.num_modes)[0]
            r = noisy_vectors[:, folds == fold] - mean
            residuals.append(self._landmark_residuals(r, modes).reshape(-1, vectors.shape[1] // 2))
        residuals = np.concatenate(residuals)
        self.residual_scale = np.maximum(residuals.mean(axis=0), 1e-300)
        self.cv_residuals = (residuals / self.residual_scale).max(axis=1)
        percentile = float(np.percentile(self.cv_residuals, self.residual_percentile))
        self.residual_limit = self.residual_margin * percentile
        return self

    def _pca(self, scatter: np.ndarray, n: int, num_modes: int | None = None):
        """``(modes (2K, d), variances (d,))`` from the scatter matrix of ``n`` shapes; ``d`` from
        ``variance_kept`` unless given."""
        # LAPACK's relatively robust representations (syevr) rather than numpy's divide and conquer: the
        # same eigenpairs, with far less multithreaded BLAS, which stalls on a busy machine.
        eigenvalues, eigenvectors = scipy.linalg.eigh(scatter / max(n - 1, 1), driver="evr")
        variances, vectors = np.maximum(eigenvalues[::-1], 0.0), eigenvectors[:, ::-1]
        if num_modes is None:
            explained = np.cumsum(variances) / variances.sum()
            num_modes = int(np.searchsorted(explained, self.variance_kept - 1e-12) + 1)
        return vectors[:, :num_modes], variances[:num_modes]

    def _mahalanobis_limit(self) -> float:
        """The ``quantile`` of ``D^2`` for a new shape (Hotelling prediction region, module docstring)."""
        n, d = self.num_training, len(self.variances)
        if n - d < 1:
            return np.inf
        return float(d * (n - 1) * (n + 1) / (n * (n - d)) * f_distribution.ppf(self.quantile, d, n - d))

    @property
    def num_modes(self) -> int:
        return len(self.variances)

    def align(self, shape: np.ndarray) -> np.ndarray:
        """The shape (K, 2) (or a stack (..., K, 2)) in the model frame: unit centroid size, rotated onto
        the mean shape."""
        return _rotate_onto(_normalise(np.asarray(shape, dtype=np.float64)), self.mean_shape)

    def parameters(self, shape: np.ndarray) -> np.ndarray:
        """Mode coefficients ``b`` (d,) of a shape."""
        return self.modes.T @ (self.align(shape).ravel() - self.mean)

    def mahalanobis(self, shape: np.ndarray) -> float:
        """``D^2 = sum_i b_i^2 / lambda_i`` in the PCA subspace."""
        return float(np.sum(self.parameters(shape) ** 2 / self.variances))

    @staticmethod
    def _landmark_residuals(r: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """Per-landmark squared norm of the part of ``r`` (..., 2K) outside the span of ``modes``:
        (..., K)."""
        outside = r - (r @ modes) @ modes.T
        return np.sum(outside.reshape(*outside.shape[:-1], -1, 2) ** 2, axis=-1)

    def residual(self, shape: np.ndarray) -> float:
        """``max_k ||r_k||^2 / v_k``: the largest per-landmark residual outside the subspace, each relative
        to that landmark's mean cross-validated residual ``v_k`` (so about 1 for a typical landmark)."""
        r = self.align(shape).ravel() - self.mean
        return float(np.max(self._landmark_residuals(r, self.modes) / self.residual_scale))

    def plausible(self, shape: np.ndarray) -> tuple[bool, str]:
        """``(accepted, reason)``; a shape with missing (NaN) landmarks is implausible."""
        shape = np.asarray(shape, dtype=np.float64)
        if not np.isfinite(shape).all():
            return False, "missing landmarks"
        d2 = self.mahalanobis(shape)
        if d2 > self.mahalanobis_limit:
            return False, f"implausible shape (mahalanobis {d2:.1f} > {self.mahalanobis_limit:.1f})"
        r = self.residual(shape)
        if r > self.residual_limit:
            return False, f"implausible shape (residual {r:.2f} > {self.residual_limit:.2f})"
        return True, "accepted"
