"""Landmark metrics in millimetres: radial errors, MRE, SDR and outlier counts.

Conventions follow :mod:`benchmark.data.imageset`: positions are (x, y) working pixels and ``spacing``
is mm per working pixel along (x, y), so anisotropic pixels are measured exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def radial_errors_mm(pred: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Radial error of every landmark instance.

    ``e[n, k] = hypot((pred[n, k, 0] - target[n, k, 0]) * sx[n], (pred[n, k, 1] - target[n, k, 1]) * sy[n])``

    ``pred`` and ``target`` are (N, K, 2) (x, y) pixels, ``spacing`` is (N, 2) mm per pixel (sx, sy);
    returns (N, K) errors in mm.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"pred {pred.shape} and target {target.shape} must both be (N, K, 2)")
    if spacing.shape != (pred.shape[0], 2):
        raise ValueError(f"spacing must be (N={pred.shape[0]}, 2), got {spacing.shape}")
    delta_mm = (pred - target) * spacing[:, None, :]
    return np.hypot(delta_mm[..., 0], delta_mm[..., 1])


def landmark_summary(
    errors_mm: np.ndarray,
    radii_mm: tuple[float, ...],
    inequality: Literal["<", "<="] = "<=",
) -> dict[str, float]:
    """Summary of (N, K) radial errors over all ``N * K`` landmark instances.

    * ``mre_mm`` = mean(e), ``mre_sd_mm`` = population SD (``ddof=0``), ``mre_median_mm`` = median(e);
    * ``sdr_{r}mm`` = 100 * #{e < r} / (N K) or 100 * #{e <= r} / (N K), in percent, as ``inequality``
      says (the protocol's setting);
    * ``outliers_{r}mm`` = #{e >= r}, the count Payer et al. report for the hand data, always with
      ``>=`` whatever ``inequality`` is (so with ``<`` it is exactly the complement of the SDR count).

    ``r`` is written with ``f"{r:g}"``: ``sdr_2mm``, ``sdr_2.5mm``. Non-finite errors are an error, not
    dropped.
    """
    errors = np.asarray(errors_mm, dtype=np.float64).ravel()
    if errors.size == 0:
        raise ValueError("no landmark errors to summarise")
    if not np.all(np.isfinite(errors)):
        raise ValueError(f"{int(np.sum(~np.isfinite(errors)))} landmark errors are not finite")
    if inequality not in ("<", "<="):
        raise ValueError(f"inequality must be '<' or '<=', got {inequality!r}")
    summary = {
        "mre_mm": float(errors.mean()),
        "mre_sd_mm": float(errors.std()),
        "mre_median_mm": float(np.median(errors)),
    }
    for r in radii_mm:
        detected = errors < r if inequality == "<" else errors <= r
        summary[f"sdr_{r:g}mm"] = float(100.0 * detected.mean())
    for r in radii_mm:
        summary[f"outliers_{r:g}mm"] = float(np.sum(errors >= r))
    return summary


def per_landmark_mre(errors_mm: np.ndarray) -> np.ndarray:
    """Mean radial error of each landmark over the images: ``mre[k] = mean_n e[n, k]``, shape (K,)."""
    errors = np.asarray(errors_mm, dtype=np.float64)
    if errors.ndim != 2:
        raise ValueError(f"errors must be (N, K), got {errors.shape}")
    return errors.mean(axis=0)
