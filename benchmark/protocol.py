"""The evaluation protocol recorded with every run: what counts as ground truth and how errors are scored."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


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
