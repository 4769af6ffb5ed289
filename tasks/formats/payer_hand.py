"""Reader of the hand X-rays in the layout of Payer et al.'s heatmap-regression experiments::

    images/<id>.<ext>                       (or <id>.<ext> in the root folder itself)
    setup/all.csv                           id,x0,y0,...,x36,y36   (pixels, 37 landmarks, no header)
    setup/cv/set{1,2,3}/{train,test}.txt    one id per line: the three cross-validation folds
    setup/cv_rand/<n>/<r>/set{1,2,3}/train.txt   optional low-data training subsets of n images

Positions are pixels of the image with pixel centres at whole numbers. A header line in ``all.csv``
(all coordinate fields non-numeric) is tolerated. A row whose image is missing is skipped, counted in
``LabelledPool.skipped["rows_without_image"]`` and logged; its id is then also dropped from the split
files (counted in ``skipped["split_entries_without_image"]``). Low-data subsets use repetition ``1``.

Millimetres come from the protocol's wrist rule (landmarks 1 and 5 are 50 mm apart), which needs a
uniform resize: each image is padded with zeros on the right or bottom to the working aspect ratio
before resizing, and ``original_size`` stores the *padded* size, so that
:meth:`~benchmark.data.imageset.ImageSet.to_original_pixels` maps working pixels exactly back to
pixels of the file (padding right and bottom moves no pixel).
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.task import Fold, LabelledPool
from tasks.formats.images import (
    aspect_padded_shape,
    check_inside,
    index_images,
    load_images,
    parse_points,
    read_lines,
    to_working_pixels,
)

logger = logging.getLogger(__name__)

HAND_NUM_LANDMARKS = 37
LOW_DATA_REPETITION = "1"

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


def read_payer_hand(settings: DataSettings) -> LabelledPool:
    """Every hand image with a row in ``setup/all.csv``, at ``settings.image_size``, with Payer's folds."""
    if settings.data_root is None:
        raise ConfigError("the hand X-ray reader needs --data-root DIR")
    root = Path(settings.data_root)
    table = root / "setup" / "all.csv"
    rows = _read_table(table)
    found = index_images(root)
    if (root / "images").is_dir():
        found.update(index_images(root / "images"))
    ids = [i for i in rows if i in found]
    missing = [i for i in rows if i not in found]
    if not ids:
        raise DataError(table, f"none of its {len(rows)} ids has an image in {root / 'images'} or {root}")
    if missing:
        logger.warning("%s: skipped %d rows without an image, e.g. %s", table, len(missing), missing[:5])

    paths = [found[i] for i in ids]
    images, shapes = load_images(paths, settings.image_size, keep_aspect=True)
    padded = [aspect_padded_shape(shape, settings.image_size) for shape in shapes]
    working = np.empty((len(ids), HAND_NUM_LANDMARKS, 2))
    for n, (image_id, path, shape, padded_shape) in enumerate(zip(ids, paths, shapes, padded)):
        points, line = rows[image_id]
        check_inside(points, shape, table, line, path)
        working[n] = to_working_pixels(points, padded_shape, settings.image_size)

    skipped = {"rows_without_image": len(missing), "split_entries_without_image": 0}
    folds = _read_folds(root / "setup", set(rows), set(ids), skipped)
    if skipped["split_entries_without_image"]:
        logger.warning("dropped %d split entries without an image", skipped["split_entries_without_image"])
    a, b = WRIST_LANDMARKS
    return LabelledPool(
        images=ImageSet(
            ids=ids,
            images=images,
            spacing=wrist_rule_spacing(working),
            original_size=np.array([(w, h) for h, w in padded], dtype=np.int64),
            landmarks=working,
        ),
        folds=folds,
        source="payer-hand",
        ground_truth="setup/all.csv",
        mm_rule=f"wrist width: landmarks {a} and {b} are {WRIST_WIDTH_MM:g} mm apart (Payer's hand protocol)",
        skipped=skipped,
    )


def _read_table(path: Path) -> dict[str, tuple[np.ndarray, int]]:
    """``all.csv`` as id -> ((37, 2) original-pixel landmarks, 1-based line), in file order."""
    lines = read_lines(path)
    rows: dict[str, tuple[np.ndarray, int]] = {}
    expected = 1 + 2 * HAND_NUM_LANDMARKS
    for line, fields in enumerate(csv.reader(lines), start=1):
        if not fields or not "".join(fields).strip():
            continue
        if line == 1 and not any(_is_number(f) for f in fields[1:]):
            continue
        if len(fields) != expected:
            what = f"id and x,y of {HAND_NUM_LANDMARKS} landmarks"
            raise DataError(path, f"expected {expected} fields ({what}), got {len(fields)}", line)
        image_id = fields[0].strip()
        if image_id in rows:
            raise DataError(path, f"id {image_id!r} also on line {rows[image_id][1]}", line)
        points = parse_points(fields[1:], path, line)
        a, b = WRIST_LANDMARKS
        if np.array_equal(points[a], points[b]):
            raise DataError(path, f"wrist landmarks {a} and {b} coincide: the 50 mm rule is undefined", line)
        rows[image_id] = (points, line)
    if not rows:
        raise DataError(path, "holds no rows")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_folds(setup: Path, labelled: set[str], available: set[str], skipped: dict[str, int]) -> list[Fold]:
    """Folds ``setup/cv/set<k>`` in order of k, with ``cv_rand`` subsets as ``low_data_train``."""
    cv = setup / "cv"
    if not cv.is_dir():
        raise DataError(cv, "missing: Payer's layout needs the folds setup/cv/set{1,2,3}/{train,test}.txt")
    sets = sorted(
        (p for p in cv.iterdir() if p.is_dir() and re.fullmatch(r"set\d+", p.name)), key=_set_number
    )
    if not sets:
        raise DataError(cv, "holds no set<k>/ folders with train.txt and test.txt")
    folds = []
    for folder in sets:
        train = _read_ids(folder / "train.txt", labelled, available, skipped)
        test = _read_ids(folder / "test.txt", labelled, available, skipped)
        fold = Fold(train=list(train), test=list(test), name=folder.name)
        for image_id, line in test.items():
            if image_id in train:
                raise DataError(folder / "test.txt", f"id {image_id!r} is also in train.txt", line)
        for size, path in _low_data_files(setup / "cv_rand", folder.name):
            subset = _read_ids(path, labelled, available, skipped)
            for image_id, line in subset.items():
                if image_id not in train:
                    raise DataError(
                        path, f"id {image_id!r} is not in the training split {folder / 'train.txt'}", line
                    )
            fold.low_data_train[size] = list(subset)
        folds.append(fold)
    return folds


def _set_number(folder: Path) -> int:
    return int(folder.name[3:])


def _low_data_files(cv_rand: Path, set_name: str) -> list[tuple[int, Path]]:
    """(n, ``cv_rand/<n>/1/<set_name>/train.txt``) for every n that has one, by n."""
    if not cv_rand.is_dir():
        return []
    found = []
    for folder in cv_rand.iterdir():
        path = folder / LOW_DATA_REPETITION / set_name / "train.txt"
        if folder.name.isdigit() and path.is_file():
            found.append((int(folder.name), path))
    return sorted(found)


def _read_ids(path: Path, labelled: set[str], available: set[str], skipped: dict[str, int]) -> dict[str, int]:
    """The ids of a split file that have an image -> their 1-based lines, in file order.

    An id without a row in ``all.csv`` or listed twice is a DataError; an id whose image is missing is
    dropped and counted in ``skipped["split_entries_without_image"]``.
    """
    ids: dict[str, int] = {}
    seen: set[str] = set()
    for line, text in enumerate(read_lines(path), start=1):
        image_id = text.strip()
        if not image_id:
            continue
        if image_id not in labelled:
            raise DataError(path, f"id {image_id!r} has no row in setup/all.csv", line)
        if image_id in seen:
            raise DataError(path, f"id {image_id!r} is listed twice", line)
        seen.add(image_id)
        if image_id not in available:
            skipped["split_entries_without_image"] += 1
            continue
        ids[image_id] = line
    return ids
