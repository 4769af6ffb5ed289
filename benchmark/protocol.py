"""The evaluation protocol recorded with every run: what counts as ground truth and how errors are scored."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Protocol:
    """Everything two papers must agree on before their numbers can be compared.

    ``sdr_inequality``: a landmark counts as detected within radius r if ``error < r`` or
    ``error <= r``; papers differ, so it is a setting. ``ground_truth`` names the annotation used
    (``senior``, ``junior``, ``mean`` for ISBI 2015; ``phantom`` for embedded data). ``mm_rule`` says
    how pixels become millimetres (a fixed pixel spacing, or the hand protocol's wrist-width rule).
    """

    kind: Literal["landmarks", "segmentation"]
    ground_truth: str
    mm_rule: str
    sdr_radii_mm: tuple[float, ...] = ()
    sdr_inequality: Literal["<", "<="] = "<="

    def as_params(self) -> dict[str, str]:
        return {f"protocol.{k}": str(v) for k, v in asdict(self).items()}


CEPH_SDR_RADII_MM = (2.0, 2.5, 3.0, 4.0)
HAND_SDR_RADII_MM = (2.0, 4.0, 10.0)

WRIST_WIDTH_MM = 50.0
WRIST_LANDMARKS = (1, 5)


def wrist_rule_spacing(landmarks: np.ndarray, where: str = "landmarks") -> np.ndarray:
    """Payer's hand protocol: the distance between landmarks 1 and 5 (0-based) of the ground truth is 50 mm.

    ``landmarks`` is (N, K, 2) in working pixels; returns (N, 2) isotropic mm per working pixel. The
    rule is applied after resizing, so a non-uniform resize must not be used with it (readers keep the
    aspect ratio or resize uniformly for hand data).
    """
    a, b = WRIST_LANDMARKS
    width_px = np.linalg.norm(np.asarray(landmarks)[:, a] - np.asarray(landmarks)[:, b], axis=-1)
    if np.any(width_px <= 0):
        raise ValueError(f"{where}: wrist landmarks {a} and {b} coincide, the 50 mm rule is undefined")
    per_px = WRIST_WIDTH_MM / width_px
    return np.stack([per_px, per_px], axis=1)
