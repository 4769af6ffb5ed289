"""Gaussian landmark heatmaps and their sub-pixel decoding (torch, batched, on any device).

Pixel convention of :mod:`benchmark.data.imageset`: landmark ``(x, y)`` with ``x`` the column and ``y``
the row; the centre of pixel ``[i, j]`` is at ``(x=j, y=i)``.
"""

from __future__ import annotations

import torch


def gaussian_heatmaps(landmarks: torch.Tensor, size: tuple[int, int], sigma: float) -> torch.Tensor:
    """Render one unnormalised Gaussian per landmark.

    ``h[b, k, i, j] = exp(-((j - x[b, k])^2 + (i - y[b, k])^2) / (2 sigma^2))``: the peak is 1 at the
    (sub-pixel) landmark, so it reaches 1 on the grid only when the landmark sits on a pixel centre.
    ``landmarks`` is (B, K, 2) (x, y) pixels, ``size`` is (H, W); returns (B, K, H, W) in the landmarks'
    dtype and device.
    """
    height, width = size
    columns = torch.arange(width, device=landmarks.device, dtype=landmarks.dtype)
    rows = torch.arange(height, device=landmarks.device, dtype=landmarks.dtype)
    gx = torch.exp(-((columns - landmarks[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((rows - landmarks[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, H)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)


def _parabola_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex of the parabola through (-1, left), (0, centre), (1, right): ``(left - right) / (2 (left -
    2 centre + right))``, 0 where the curvature is not negative. It lies in [-0.5, 0.5] when ``centre``
    is the largest of the three."""
    curvature = left - 2 * centre + right
    safe = torch.where(curvature < 0, curvature, torch.ones_like(curvature))
    return torch.where(curvature < 0, (left - right) / (2 * safe), torch.zeros_like(curvature))


def decode_heatmaps(heatmaps: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Sub-pixel (x, y) of the maximum of every heatmap: (B, K, H, W) -> (B, K, 2).

    Argmax (the first one on ties), then per axis a parabola fit to ``log(max(h, eps))`` at the argmax
    and its two neighbours along that axis (the Taylor refinement of DARK, Zhang et al. 2020, without
    the blur). For a Gaussian the log is exactly quadratic, so a rendered Gaussian is recovered exactly
    up to float rounding; for any heatmap the shift is at most half a pixel. Along an axis where the
    argmax lies on the image border there is no neighbour on one side, and that coordinate stays the
    argmax pixel. The fit runs in float32 (also for half-precision heatmaps); returns float32.
    """
    batch, num_landmarks, height, width = heatmaps.shape
    flat = heatmaps.reshape(batch, num_landmarks, height * width)
    index = flat.argmax(dim=-1)
    row, column = index // width, index % width
    log_h = heatmaps.float().clamp_min(eps).log().reshape(batch * num_landmarks, height, width)
    r, c = row.reshape(-1), column.reshape(-1)
    n = torch.arange(r.numel(), device=heatmaps.device)

    def value(dr: int, dc: int) -> torch.Tensor:
        return log_h[n, (r + dr).clamp(0, height - 1), (c + dc).clamp(0, width - 1)]

    centre = value(0, 0)
    dx = _parabola_offset(value(0, -1), centre, value(0, 1))
    dy = _parabola_offset(value(-1, 0), centre, value(1, 0))
    dx = torch.where((c > 0) & (c < width - 1), dx, torch.zeros_like(dx))
    dy = torch.where((r > 0) & (r < height - 1), dy, torch.zeros_like(dy))
    x = c.to(log_h.dtype) + dx
    y = r.to(log_h.dtype) + dy
    return torch.stack([x, y], dim=-1).reshape(batch, num_landmarks, 2)
