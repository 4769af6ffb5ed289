"""Data pipeline throughput, images per second, each stage on its own:

* ``phantom generation``: rendering the embedded phantoms (once per data seed and size; cached after);
* ``loading``: reading a plain landmark folder (PNG images + ``landmarks.csv``) through the task's
  real-data loader, resizing to the working size included (once per run);
* ``batch assembly``: indexing the in-memory training set into a :class:`~benchmark.training.batch.Batch`
  (every step);
* ``batch assembly + classic augmentation``: the ``classic`` strategy's ``transform`` on such batches
  (every step of a ``classic`` run).

The last is what the training loop waits for on every step of a ``classic`` run; its rate is compared
with the training rates of the detectors.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import torch
from skimage.io import imsave

from benchmark.augmentation import create_augmentation
from benchmark.data.settings import DataSettings
from benchmark.perf.timing import rate, seconds
from benchmark.task import TaskData
from benchmark.training.batch import batch_from


def write_landmark_folder(root: Path, images: np.ndarray, landmarks: np.ndarray, spacing_mm: float) -> None:
    """The plain landmark folder format of :mod:`tasks.formats.landmark_folder`."""
    (root / "images").mkdir(parents=True)
    with open(root / "landmarks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        k = landmarks.shape[1]
        writer.writerow(["image", *[f"{axis}{i}" for i in range(k) for axis in "xy"], "spacing_mm"])
        for i, (image, points) in enumerate(zip(images, landmarks, strict=True)):
            imsave(root / "images" / f"case{i:04d}.png", (np.clip(image, 0, 1) * 255).astype(np.uint8),
                   check_contrast=False)
            writer.writerow([f"case{i:04d}.png", *points.reshape(-1).round(3).tolist(), spacing_mm])


def pipeline_rates(data: TaskData, settings: DataSettings, batch_size: int, calls: int,
                   n_images: int) -> dict[str, float]:
    """Images per second of the stages of the module docstring (landmark tasks; phantoms of ``hand``)."""
    from tasks.formats.landmark_folder import read_landmark_folder
    from tasks.phantoms.hand import HAND_SPEC
    from tasks.phantoms.pool import render_samples

    rates = {"phantom generation": n_images / seconds(
        lambda: render_samples(HAND_SPEC, settings.image_size, 1234, 0, n_images))}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "hand"
        subset = data.train.subset(np.arange(min(n_images, len(data.train))))
        write_landmark_folder(root, subset.images, subset.landmarks, 0.1)
        load = DataSettings(image_size=settings.image_size, data_root=root)
        rates["loading"] = len(subset) / seconds(lambda: read_landmark_folder(load))
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    n = len(data.train)

    def index() -> np.ndarray:
        return rng.choice(n, batch_size, replace=n < batch_size)

    classic = create_augmentation("classic")
    rates["batch assembly"] = rate(lambda: batch_from(data.train, index()), batch_size, calls, 1)
    rates["batch assembly + classic augmentation"] = rate(
        lambda: classic.transform(batch_from(data.train, index()), generator), batch_size, calls, 1)
    return rates
