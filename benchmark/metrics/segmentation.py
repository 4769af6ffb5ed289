"""Per-image segmentation metrics for binary masks: Dice, precision, recall and HD95 in millimetres.

With P the predicted and T the target foreground (non-zero pixels) of one image:

* ``dice = 2 |P & T| / (|P| + |T|)``, ``precision = |P & T| / |P|``, ``recall = |P & T| / |T|``.
  Empty-set rule, the same for all three: if P and T are both empty the image scores 1 (perfect
  agreement); if only the denominator's set is empty (no prediction for precision, no target for
  recall) it scores 0 (the other set is non-empty, so the image is wrong).
* ``hd95_mm`` is the symmetric 95th-percentile Hausdorff distance between the *boundaries* (as MONAI's
  ``compute_hausdorff_distance(percentile=95)``): ``max(P95(d(bP, bT)), P95(d(bT, bP)))`` where
  ``d(bA, bB)`` are the distances from every boundary pixel of A to the nearest boundary pixel of B,
  measured between pixel centres in mm with ``scipy.ndimage.distance_transform_edt(sampling=(sy, sx))``,
  and P95 is ``np.percentile(..., 95)`` (linear interpolation). The boundary of a mask is its foreground
  pixels with a 4-neighbour in the background or outside the image. Empty sets: both empty -> 0 mm;
  exactly one empty -> NaN (undefined), which :func:`segmentation_summary` leaves out of the mean and
  counts as ``hd95_undefined``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_FOUR_NEIGHBOURS = ndimage.generate_binary_structure(2, 1)


def _as_masks(masks: np.ndarray, name: str) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W), got {masks.shape}")
    if np.any((masks != 0) & (masks != 1)):
        raise ValueError(f"{name} must be binary (0/1); threshold probabilities first")
    return masks.astype(bool)


def _ratio(numerator: int, denominator: int, both_empty: bool) -> float:
    if denominator == 0:
        return 1.0 if both_empty else 0.0
    return numerator / denominator


def boundary(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels of a 2-D boolean mask with a 4-neighbour in the background or off the image."""
    return mask & ~ndimage.binary_erosion(mask, structure=_FOUR_NEIGHBOURS, border_value=0)


def hd95_mm(pred: np.ndarray, target: np.ndarray, spacing_xy: tuple[float, float]) -> float:
    """Symmetric 95th-percentile boundary Hausdorff distance of two 2-D boolean masks, in mm.

    0 if both are empty, NaN if exactly one is (see the module docstring for the definition).
    """
    if not pred.any() and not target.any():
        return 0.0
    if not pred.any() or not target.any():
        return float("nan")
    sampling = (float(spacing_xy[1]), float(spacing_xy[0]))
    edge_pred, edge_target = boundary(pred), boundary(target)
    to_target = ndimage.distance_transform_edt(~edge_target, sampling=sampling)
    to_pred = ndimage.distance_transform_edt(~edge_pred, sampling=sampling)
    return float(max(np.percentile(to_target[edge_pred], 95), np.percentile(to_pred[edge_target], 95)))


def segmentation_per_image(
    pred: np.ndarray, target: np.ndarray, spacing: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-image ``dice``, ``precision``, ``recall`` and ``hd95_mm`` of (N, H, W) binary masks.

    ``spacing`` is (N, 2) mm per pixel along (x, y). Returns (N,) float arrays (``hd95_mm`` may hold NaN).
    """
    pred, target = _as_masks(pred, "pred"), _as_masks(target, "target")
    spacing = np.asarray(spacing, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
    if spacing.shape != (pred.shape[0], 2):
        raise ValueError(f"spacing must be (N={pred.shape[0]}, 2), got {spacing.shape}")
    columns: dict[str, list[float]] = {"dice": [], "precision": [], "recall": [], "hd95_mm": []}
    for p, t, s in zip(pred, target, spacing, strict=True):
        overlap, n_pred, n_target = int((p & t).sum()), int(p.sum()), int(t.sum())
        both_empty = n_pred == 0 and n_target == 0
        columns["dice"].append(_ratio(2 * overlap, n_pred + n_target, both_empty))
        columns["precision"].append(_ratio(overlap, n_pred, both_empty))
        columns["recall"].append(_ratio(overlap, n_target, both_empty))
        columns["hd95_mm"].append(hd95_mm(p, t, (s[0], s[1])))
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def segmentation_summary(pred: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> dict[str, float]:
    """Means over images of :func:`segmentation_per_image`: ``dice`` (and ``dice_sd``, ``ddof=0``),
    ``precision``, ``recall``, ``hd95_mm`` (mean over the images where it is defined; NaN if none is)
    and ``hd95_undefined``, the number of images left out of that mean."""
    per_image = segmentation_per_image(pred, target, spacing)
    if per_image["dice"].size == 0:
        raise ValueError("no images to summarise")
    hd95 = per_image["hd95_mm"]
    defined = hd95[~np.isnan(hd95)]
    return {
        "dice": float(per_image["dice"].mean()),
        "dice_sd": float(per_image["dice"].std()),
        "precision": float(per_image["precision"].mean()),
        "recall": float(per_image["recall"].mean()),
        "hd95_mm": float(defined.mean()) if defined.size else float("nan"),
        "hd95_undefined": float(hd95.size - defined.size),
    }
