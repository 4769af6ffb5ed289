"""Small vectorised drawing primitives shared by the X-ray-like phantoms.

Conventions (as in :mod:`benchmark.data.imageset`): a canvas is a float32 (H, W) array; a point is
``(x, y)`` in pixels, and the centre of pixel ``canvas[i, j]`` is at ``(x=j, y=i)``.

Intensity model: an X-ray detector integrates attenuation along the beam, so a structure contributes
its *path length*. For a rod of radius ``r`` seen at distance ``d`` from its axis the chord is
``2 sqrt(r^2 - d^2)``; the primitives add (or take the maximum of) that chord normalised to 1 at the
axis. A hollow bone (cortex around marrow) subtracts the chord of its inner cylinder, which gives the
bright edges of real bones. Shapes are drawn only inside their bounding box, which keeps a whole
phantom at a few milliseconds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from tasks.phantoms import libm

Op = Literal["add", "max"]
Window = tuple[tuple[slice, slice], np.ndarray, np.ndarray]


def rotate(points: np.ndarray, angle: float, about=(0.0, 0.0)) -> np.ndarray:
    """Rotate (..., 2) points by ``angle`` radians about ``about`` (counter-clockwise for y pointing up)."""
    c, s = np.cos(angle), np.sin(angle)
    p = np.asarray(points, dtype=np.float64) - about
    return np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], axis=-1) + about


def window(shape: tuple[int, int], lo, hi) -> Window | None:
    """The pixels whose centres lie in the box ``lo..hi`` (x, y), clipped to the canvas.

    Returns the canvas slices and broadcastable pixel-centre coordinates ``xs`` (1, w) and ``ys``
    (h, 1), or None when the box misses the canvas.
    """
    x0, y0 = max(int(np.floor(lo[0])), 0), max(int(np.floor(lo[1])), 0)
    x1, y1 = min(int(np.ceil(hi[0])) + 1, shape[1]), min(int(np.ceil(hi[1])) + 1, shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    return (slice(y0, y1), slice(x0, x1)), xs, ys


def segment_distance(xs: np.ndarray, ys: np.ndarray, p0, p1) -> tuple[np.ndarray, np.ndarray]:
    """Distance of pixel centres to the segment p0-p1, and the position t in [0, 1] of the nearest point.

    ``p0``, ``p1`` are (2,) or (..., 2) arrays of segments, broadcast against ``xs`` and ``ys``.
    """
    p0, p1 = np.asarray(p0, dtype=np.float32), np.asarray(p1, dtype=np.float32)
    dx, dy = p1[..., 0] - p0[..., 0], p1[..., 1] - p0[..., 1]
    rx, ry = xs - p0[..., 0], ys - p0[..., 1]
    t = np.clip((rx * dx + ry * dy) / np.maximum(dx * dx + dy * dy, np.float32(1e-12)), 0.0, 1.0)
    return np.hypot(rx - t * dx, ry - t * dy), t


def chord(q: np.ndarray, hollow: float = 0.0, marrow: float = 0.7) -> np.ndarray:
    """Normalised path length through a round body at normalised squared radius ``q = (d / r)^2``.

    ``sqrt(1 - q)`` inside, 0 outside. ``hollow`` > 0 is the inner radius of a marrow cavity (as a
    fraction of r) whose density is lower by the fraction ``marrow``; its chord is subtracted.
    """
    value = np.sqrt(np.clip(1.0 - q, 0.0, None))
    if hollow > 0:
        value = value - marrow * hollow * np.sqrt(np.clip(1.0 - q / (hollow * hollow), 0.0, None))
    return value.astype(np.float32)


def _combine(canvas: np.ndarray, region: tuple[slice, slice], value: np.ndarray, op: Op) -> None:
    if op == "add":
        canvas[region] += value
    else:
        np.maximum(canvas[region], value, out=canvas[region])


def rod(canvas: np.ndarray, p0, p1, r0: float, r1: float, *, weight: float = 1.0, hollow: float = 0.0,
        op: Op = "add") -> None:
    """Draw a tapered capsule (radius r0 at p0 to r1 at p1, rounded ends) as an X-ray rod, in place."""
    reach = max(r0, r1) + 1.0
    box = window(canvas.shape, np.minimum(p0, p1) - reach, np.maximum(p0, p1) + reach)
    if box is None:
        return
    region, xs, ys = box
    d, t = segment_distance(xs, ys, p0, p1)
    radius = np.float32(r0) + np.float32(r1 - r0) * t
    _combine(canvas, region, weight * chord((d / radius) ** 2, hollow), op)


def ellipsoid(canvas: np.ndarray, centre, axes, angle: float = 0.0, *, weight: float = 1.0,
              hollow: float = 0.0, op: Op = "add") -> None:
    """Draw an ellipsoid with semi-axes ``axes`` = (a, b), a along ``angle`` (radians from +x), in place."""
    reach = max(axes) + 1.0
    box = window(canvas.shape, np.asarray(centre) - reach, np.asarray(centre) + reach)
    if box is None:
        return
    region, xs, ys = box
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    rx, ry = xs - np.float32(centre[0]), ys - np.float32(centre[1])
    u, v = rx * c + ry * s, ry * c - rx * s
    _combine(canvas, region, weight * chord((u / axes[0]) ** 2 + (v / axes[1]) ** 2, hollow), op)


def polyline_distance(shape: tuple[int, int], points: np.ndarray, reach: float, chunk: int = 8) -> np.ndarray:
    """Distance of every pixel centre to a polyline (M, 2); ``inf`` farther than ``reach``.

    Segments are handled ``chunk`` at a time on the bounding box of each run of segments.
    """
    distance = np.full(shape, np.inf, dtype=np.float32)
    points = np.asarray(points, dtype=np.float32)
    for start in range(0, len(points) - 1, chunk):
        run = points[start : start + chunk + 1]
        box = window(shape, run.min(axis=0) - reach, run.max(axis=0) + reach)
        if box is not None:
            region, xs, ys = box
            d, _ = segment_distance(xs[..., None], ys[..., None], run[:-1], run[1:])
            np.minimum(distance[region], d.min(axis=-1), out=distance[region])
    return distance


def tube(canvas: np.ndarray, points: np.ndarray, radius: float, *, weight: float = 1.0, hollow: float = 0.0,
         op: Op = "add") -> None:
    """Draw a rod of constant ``radius`` along a polyline (M, 2), in place."""
    points = np.asarray(points)
    box = window(canvas.shape, points.min(axis=0) - radius - 1.0, points.max(axis=0) + radius + 1.0)
    if box is None:
        return
    region = box[0]
    distance = polyline_distance(canvas.shape, points, radius + 1.0)[region]
    _combine(canvas, region, weight * chord((distance / radius) ** 2, hollow), op)


def coverage(distance: np.ndarray, half_width: float) -> np.ndarray:
    """Anti-aliased fraction of each pixel inside a band of ``half_width`` around a curve (distance map)."""
    return np.clip(half_width + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def fill_polygon(shape: tuple[int, int], vertices: np.ndarray) -> np.ndarray:
    """1 on pixels whose centres lie inside the polygon (M, 2) of (x, y) vertices, else 0 (float32).

    Even-odd scanline fill: on each pixel row, a pixel is inside when an odd number of polygon edges
    cross the row to the left of its centre. Vertices may lie outside the canvas.
    """
    v = np.asarray(vertices, dtype=np.float64)
    p, q = v, np.roll(v, -1, axis=0)
    rows = np.arange(shape[0], dtype=np.float64)[:, None]
    crosses = (p[:, 1] <= rows) != (q[:, 1] <= rows)
    dy = np.where(q[:, 1] == p[:, 1], 1.0, q[:, 1] - p[:, 1])
    x = p[:, 0] + (rows - p[:, 1]) * (q[:, 0] - p[:, 0]) / dy
    first = np.clip(np.floor(x) + 1, 0, shape[1]).astype(np.int64)
    toggles = np.zeros((shape[0], shape[1] + 1), dtype=np.int32)
    row_index = np.broadcast_to(np.arange(shape[0])[:, None], x.shape)
    np.add.at(toggles, (row_index[crosses], first[crosses]), 1)
    return (np.cumsum(toggles[:, :-1], axis=1) % 2).astype(np.float32)


def catmull_rom(points: np.ndarray, step: float = 3.0) -> np.ndarray:
    """A smooth curve through every control point (M, 2): uniform Catmull-Rom, pieces about ``step`` long.

    The control points lie exactly on the returned polyline, so landmarks defined as control points
    lie on the drawn contour. ``step`` is in the points' units (pixels when drawing).
    """
    p = np.asarray(points, dtype=np.float64)
    padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    a, b, c, d = padded[:-3], padded[1:-2], padded[2:-1], padded[3:]
    samples = np.maximum(1, np.ceil(np.linalg.norm(c - b, axis=1) / step)).astype(np.int64)
    span = np.repeat(np.arange(len(samples)), samples)
    first = np.repeat(np.cumsum(samples) - samples, samples)
    t = ((np.arange(samples.sum()) - first) / samples[span])[:, None]
    a, b, c, d = a[span], b[span], c[span], d[span]
    t3 = libm.power(t, 3)
    curve = 0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (3 * b - a - 3 * c + d) * t3)
    return np.concatenate([curve, p[-1:]])


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """A low-frequency random field of unit-ish amplitude: Gaussian bumps on a (cells x cells) grid.

    ``field = Ry @ G @ Rx.T`` with G a standard normal grid and R the normalised Gaussian weights of
    each pixel row (column) to the grid rows (columns), a separable smooth interpolation.
    """
    grid = rng.standard_normal((cells, cells))

    def weights(n: int) -> np.ndarray:
        pos = (np.arange(n) + 0.5) * cells / n - 0.5
        w = libm.exp(-0.5 * ((pos[:, None] - np.arange(cells)[None, :]) / 0.7) ** 2)
        return w / np.sqrt((w**2).sum(axis=1, keepdims=True))

    return (weights(shape[0]) @ grid @ weights(shape[1]).T).astype(np.float32)


def texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Band-limited clutter of unit std: white noise blurred with a Gaussian of std ``sigma`` px.

    Multiplied into bone and tissue maps it mimics trabecular and soft-tissue structure (anatomical
    noise), the main clutter of real radiographs.
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / max(float(field.std()), 1e-6)


def linear_ramp(shape: tuple[int, int], angle: float) -> np.ndarray:
    """A linear gradient from -1 to 1 across the canvas along direction ``angle`` (radians from +x)."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    proj = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
    lo, hi = proj.min(), proj.max()
    return (2.0 * (proj - lo) / max(hi - lo, 1e-6) - 1.0).astype(np.float32)


def expose(image: np.ndarray, rng: np.random.Generator, *, blur: float, gamma: float,
           noise: float) -> np.ndarray:
    """Detector simulation: Gaussian blur (std ``blur`` px), clip to [0, 1], gamma, additive noise, clip."""
    out = ndimage.gaussian_filter(image, blur) if blur > 0 else image
    out = libm.power(np.clip(out, 0.0, 1.0), gamma)
    out = out + noise * rng.standard_normal(out.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
