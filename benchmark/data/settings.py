"""Settings every data reader takes: where the data is, the working size, pool sizes, ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataSettings:
    """``data_root=None`` selects the embedded phantom data set of the task.

    ``image_size`` is the working (H, W) every image is resized to. ``n_labelled`` and
    ``n_unlabelled`` size the phantom pools (real data sets have the size they have).
    ``ground_truth`` picks the annotation where a data set has several (ISBI 2015: senior, junior,
    mean). ``data_seed`` makes phantom pools deterministic; it is independent of the run seed so that
    every run of a task sees the same data.
    """

    image_size: tuple[int, int]
    data_root: Path | None = None
    n_labelled: int = 300
    n_unlabelled: int = 200
    ground_truth: str = "senior"
    sdr_inequality: str = "<="
    data_seed: int = 0
    num_folds: int = 3
