"""Peaks of a single-channel heatmap of all landmarks, and the rendering of such a heatmap (numpy).

Pixel convention of :mod:`benchmark.data.imageset`: a point is ``(x, y)`` with ``x`` the column and
``y`` the row; the centre of pixel ``[i, j]`` is at ``(x=j, y=i)``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter


def render_landmark_heatmap(landmarks: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """The heatmap of all landmarks in one channel, as the DDPM-2ch sample carries it.

    ``h[i, j] = max_k exp(-((j - x_k)^2 + (i - y_k)^2) / (2 sigma^2))``: the pixel-wise maximum (not the
    sum) of K Gaussians of peak 1, so that every landmark keeps a local maximum of height about 1 however
    close its neighbours are, and the log of the map is exactly quadratic around a landmark wherever its
    own Gaussian is the largest. ``landmarks`` is (K, 2) (x, y) pixels, ``size`` (H, W); returns (H, W)
    float32.
    """
    height, width = size
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    gx = np.exp(-((np.arange(width)[None, :] - points[:, 0:1]) ** 2) / (2 * sigma**2))  # (K, W)
    gy = np.exp(-((np.arange(height)[None, :] - points[:, 1:2]) ** 2) / (2 * sigma**2))  # (K, H)
    heatmap = np.zeros((height, width), dtype=np.float64)
    for row, column in zip(gy, gx, strict=True):
        np.maximum(heatmap, np.outer(row, column), out=heatmap)
    return heatmap.astype(np.float32)


def _parabola_offset(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through (-1, left), (0, centre), (1, right): ``(left - right) / (2 (left -
    2 centre + right))``; 0 where the curvature is not negative; clamped to [-0.5, 0.5] (a vertex further
    out would belong to the neighbouring pixel, which is not higher, so the fit is not trusted there)."""
    curvature = left - 2 * centre + right
    concave = curvature < 0
    offset = np.where(concave, (left - right) / (2 * np.where(concave, curvature, -1.0)), 0.0)
    return np.clip(offset, -0.5, 0.5)


def detect_peaks(heatmap: np.ndarray, max_peaks: int, threshold: float,
                 min_distance: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of ``heatmap`` (H, W) at least ``threshold`` high: ``(positions (P, 2) (x, y),
    heights (P,))``, highest first, at most ``max_peaks``.

    A pixel is a peak candidate when it equals the maximum of its ``(2 min_distance + 1)^2`` window
    (outside the image counts as lower). Candidates are then taken highest first (row-major order among
    equal heights) and a candidate within Chebyshev distance ``min_distance`` of an already taken peak is
    dropped, so a flat plateau at most ``min_distance + 1`` pixels wide gives one peak. Sub-pixel
    refinement per axis: the vertex of the parabola through ``log h`` at the peak and its two neighbours
    (exact for a Gaussian blob, as in :func:`benchmark.heatmaps.decode_heatmaps`), at most half a pixel;
    a coordinate on the image border stays on the pixel. ``heights`` are the heatmap values at the peak
    pixels.
    """
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1 pixel, got {min_distance}")
    h = np.asarray(heatmap, dtype=np.float64)
    height, width = h.shape
    window = maximum_filter(h, size=2 * min_distance + 1, mode="constant", cval=-np.inf)
    rows, columns = np.nonzero((h == window) & (h >= threshold))
    order = np.argsort(-h[rows, columns], kind="stable")
    taken: list[int] = []
    for n in order:
        if len(taken) == max_peaks:
            break
        if all(max(abs(rows[n] - rows[t]), abs(columns[n] - columns[t])) > min_distance for t in taken):
            taken.append(n)
    r, c = rows[taken], columns[taken]
    log_h = np.log(np.maximum(h, 1e-12))
    rm, rp = np.clip(r - 1, 0, height - 1), np.clip(r + 1, 0, height - 1)
    cm, cp = np.clip(c - 1, 0, width - 1), np.clip(c + 1, 0, width - 1)
    dx = np.where((c > 0) & (c < width - 1), _parabola_offset(log_h[r, cm], log_h[r, c], log_h[r, cp]), 0.0)
    dy = np.where((r > 0) & (r < height - 1), _parabola_offset(log_h[rm, c], log_h[r, c], log_h[rp, c]), 0.0)
    positions = np.stack([c + dx, r + dy], axis=-1).reshape(-1, 2)
    return positions, h[r, c]
