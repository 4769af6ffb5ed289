"""Settings every data reader takes: where the data is, the working size, pool sizes, ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.checks import is_integer
from benchmark.errors import ConfigError

SDR_INEQUALITIES = ("<", "<=")
# The image files every real-data reader accepts (extension in any case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GROUND_TRUTHS = ("senior", "junior", "mean")


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

    def __post_init__(self) -> None:
        for name, low in (("n_labelled", 1), ("n_unlabelled", 0), ("data_seed", 0), ("num_folds", 2)):
            value = getattr(self, name)
            if not is_integer(value) or value < low:
                raise ConfigError(f"data.{name} must be an integer >= {low}, got {value!r}")
        if self.sdr_inequality not in SDR_INEQUALITIES:
            raise ConfigError(f"data.sdr_inequality must be one of {', '.join(SDR_INEQUALITIES)}, "
                              f"got {self.sdr_inequality!r}")
        if self.ground_truth not in GROUND_TRUTHS:
            raise ConfigError(f"data.ground_truth must be one of {', '.join(GROUND_TRUTHS)} (data sets with "
                              f"one annotation ignore it), got {self.ground_truth!r}")
