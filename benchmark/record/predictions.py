"""``predictions.csv``: one row per scored instance of the test split, written by the evaluation and read
by the leaderboard.

* Landmark tasks: one row per (image, landmark): ``image_id``, ``landmark`` (0-based index), ``name``,
  ``x_pred``, ``y_pred``, ``x_true``, ``y_true`` (original pixels), ``error_mm`` (radial error), then any
  per-landmark value the detector adds (``uncertainty_mm``).
* Segmentation tasks: one row per image: ``image_id`` and the per-image metrics (``dice``,
  ``precision``, ``recall``, ``hd95_mm``).

Image ids are text on both sides, so ``"001"`` stays ``"001"`` and runs pair on the same image.
:data:`PER_IMAGE_SCORE` is the column the leaderboard's paired test compares (averaged per image).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from benchmark.record.artifacts import PREDICTIONS
from benchmark.record.metrics import DICE

if TYPE_CHECKING:
    import pyarrow

IMAGE_ID, LANDMARK, NAME, ERROR_MM = "image_id", "landmark", "name", "error_mm"
PER_IMAGE_SCORE = {"landmarks": ERROR_MM, "segmentation": DICE}


def landmark_rows(ids: list[str], names: list[str], predicted: np.ndarray, true: np.ndarray,
                  errors_mm: np.ndarray, extras: dict[str, np.ndarray]) -> pd.DataFrame:
    """The rows of a landmark task: ``predicted`` and ``true`` (N, K, 2) in original pixels (x, y),
    ``errors_mm`` (N, K), and each of ``extras`` of that shape as a further column."""
    n, k = errors_mm.shape
    table = pd.DataFrame({
        IMAGE_ID: np.repeat(ids, k), LANDMARK: np.tile(np.arange(k), n), NAME: np.tile(names, n),
        "x_pred": predicted[..., 0].ravel(), "y_pred": predicted[..., 1].ravel(),
        "x_true": true[..., 0].ravel(), "y_true": true[..., 1].ravel(),
        ERROR_MM: errors_mm.ravel(),
    })
    for key, values in extras.items():
        if values.shape == errors_mm.shape:
            table[key] = values.ravel()
    return table


def segmentation_rows(ids: list[str], per_image: dict[str, list[float]]) -> pd.DataFrame:
    """The rows of a segmentation task: ``per_image`` maps each metric to its value per image."""
    return pd.DataFrame({IMAGE_ID: ids, **per_image})


def per_image_columns(kind: str) -> list[str]:
    """What the leaderboard reads of a run of a ``kind`` task."""
    return [IMAGE_ID, LANDMARK, ERROR_MM] if kind == "landmarks" else [IMAGE_ID, PER_IMAGE_SCORE[kind]]


def write_predictions(table: pd.DataFrame, folder: Path) -> Path:
    path = folder / PREDICTIONS
    table.to_csv(path, index=False)
    return path


def read_predictions(path: Path, columns: list[str]) -> pyarrow.Table:
    """``columns`` of one ``predictions.csv``, parsed by pyarrow (which releases the GIL, so many files
    read in parallel threads), image ids as text. Raises ``pyarrow.ArrowInvalid`` or ``KeyError`` for a
    file that is not such a table.

    The file is parsed on the calling thread (``use_threads=False``): the callers already read many files
    on their own threads, and pyarrow's threaded reader, called from several threads at once, blocks each
    of them on tasks of its shared CPU pool (two threads on a two-core machine), which was seen to hang."""
    import pyarrow as pa
    from pyarrow import csv

    types = {IMAGE_ID: pa.string()} if IMAGE_ID in columns else None
    return csv.read_csv(path, read_options=csv.ReadOptions(use_threads=False),
                        convert_options=csv.ConvertOptions(include_columns=columns, column_types=types))
