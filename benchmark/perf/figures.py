"""One measured row of ``benchmark perf``."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class ModelFigures:
    """Training images per second through the suite's own step (``train``) and through the plain
    reference loop on the same network (``reference``), and inference or sampling images per second.
    ``train_vs_reference`` = train / reference: 1.0 means no overhead, 0.9 is 10 % slower."""

    model: str
    kind: str
    batch_size: int
    train: float
    reference: float
    inference: float
    note: str = ""

    @property
    def train_vs_reference(self) -> float:
        return self.train / self.reference if self.reference else float("nan")

    def as_json(self) -> dict:
        return {**asdict(self), "train_vs_reference": self.train_vs_reference}
