"""The plain folder format for any landmark data set::

    images/<name>.<ext>       one image per case (.png .jpg .jpeg .bmp .tif .tiff)
    landmarks.csv             header  image,x0,y0,...,x{K-1},y{K-1}[,spacing_mm]
                              one row per image: its file name (or name without extension), then the
                              K positions in pixels of that image (pixel centres at whole numbers)
    dataset.json              optional  {"pixel_spacing_mm": 0.1}
    splits.json               optional  {"folds": [{"train": [names], "test": [names]}, ...]}

Pixel spacing (mm per original pixel, isotropic) comes from the ``spacing_mm`` column (per image) or,
without that column, from ``dataset.json``; without either the folder is rejected. Every image needs
exactly one row and every row an image. Without ``splits.json`` the images are split into
``settings.num_folds`` cross-validation folds over a fixed permutation (``np.random.default_rng(0)``
of the sorted names). The rules for ``dataset.json`` and ``splits.json`` (:func:`read_pixel_spacing`,
:func:`read_folds`) are shared with the segmentation folder format.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.task import Fold, LabelledPool
from tasks.formats.images import (
    IMAGE_EXTENSIONS,
    check_inside,
    index_images,
    load_images,
    parse_points,
    read_lines,
    to_working_pixels,
)

SPACING_COLUMN = "spacing_mm"


def read_landmark_folder(settings: DataSettings) -> LabelledPool:
    """Every image of ``images/`` at ``settings.image_size`` with its row of ``landmarks.csv``."""
    if settings.data_root is None:
        raise ConfigError("the landmark folder reader needs --data-root DIR")
    root = Path(settings.data_root)
    table = root / "landmarks.csv"
    rows, per_image_spacing = _read_table(table)
    found = index_images(root / "images")
    if not found:
        raise DataError(root / "images", "holds no images")
    for image_id, (_, line) in rows.items():
        if image_id not in found:
            raise DataError(table, f"image {image_id!r} is not in {root / 'images'}", line)
    for image_id, path in found.items():
        if image_id not in rows:
            raise DataError(path, f"image has no row in {table}")
    if per_image_spacing is None:
        spacing_mm = read_pixel_spacing(root)
        if spacing_mm is None:
            raise DataError(
                root,
                f"no pixel spacing: add a column {SPACING_COLUMN} to landmarks.csv or write dataset.json "
                'with {"pixel_spacing_mm": <mm per pixel>}',
            )
        mm_rule = f"pixel spacing {spacing_mm:g} mm (dataset.json)"
        per_image_spacing = {image_id: spacing_mm for image_id in rows}
    else:
        mm_rule = f"pixel spacing per image (landmarks.csv column {SPACING_COLUMN})"

    ids = list(found)
    images, shapes = load_images([found[i] for i in ids], settings.image_size)
    height, width = settings.image_size
    landmarks = []
    for image_id, shape in zip(ids, shapes):
        points, line = rows[image_id]
        check_inside(points, shape, table, line, found[image_id])
        landmarks.append(to_working_pixels(points, shape, settings.image_size))
    original_size = np.array([(w, h) for h, w in shapes], dtype=np.int64)
    spacing = (
        np.array([per_image_spacing[i] for i in ids])[:, None] * original_size / np.array([width, height])
    )
    return LabelledPool(
        images=ImageSet(
            ids=ids, images=images, spacing=spacing, original_size=original_size, landmarks=landmarks
        ),
        folds=read_folds(root, ids, settings.num_folds),
        source="landmark-folder",
        ground_truth="landmarks.csv",
        mm_rule=mm_rule,
    )


def name_to_id(name: str) -> str:
    """The id of an image named in a table or split file: the name without an image extension."""
    path = Path(name.strip())
    return path.stem if path.suffix.lower() in IMAGE_EXTENSIONS else path.name


def _read_table(path: Path) -> tuple[dict[str, tuple[np.ndarray, int]], dict[str, float] | None]:
    """id -> ((K, 2) pixels, 1-based line), and id -> spacing if the table has a spacing column."""
    records = list(csv.reader(read_lines(path)))
    if not records:
        raise DataError(path, "empty file: expected the header image,x0,y0,...", 1)
    header = [name.strip() for name in records[0]]
    coordinates = [n for n in header[1:] if n != SPACING_COLUMN]
    expected = [f"{axis}{k}" for k in range(len(coordinates) // 2) for axis in "xy"]
    if (
        header[:1] != ["image"]
        or not coordinates
        or coordinates != expected
        or header.count(SPACING_COLUMN) > 1
    ):
        raise DataError(
            path,
            f"header must be image,x0,y0,...,x{{K-1}},y{{K-1}}[,{SPACING_COLUMN}], got {','.join(header)}",
            1,
        )
    columns = [i for i, name in enumerate(header) if name in expected]
    spacing_column = header.index(SPACING_COLUMN) if SPACING_COLUMN in header else None
    rows: dict[str, tuple[np.ndarray, int]] = {}
    spacing: dict[str, float] = {}
    for line, fields in enumerate(records[1:], start=2):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) != len(header):
            raise DataError(path, f"expected {len(header)} fields as in the header, got {len(fields)}", line)
        name = name_to_id(fields[0])
        if name in rows:
            raise DataError(path, f"image {name!r} also on line {rows[name][1]}", line)
        rows[name] = (parse_points([fields[i] for i in columns], path, line), line)
        if spacing_column is not None:
            spacing[name] = _positive(fields[spacing_column], path, SPACING_COLUMN, line)
    if not rows:
        raise DataError(path, "holds a header but no rows")
    return rows, spacing if spacing_column is not None else None


def _positive(raw: object, path: Path, what: str, line: int | None = None) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value) or value <= 0:
        raise DataError(path, f"{what} must be a positive number, got {raw!r}", line)
    return value


def _read_json(path: Path) -> object:
    try:
        return json.loads("\n".join(read_lines(path)))
    except json.JSONDecodeError as error:
        raise DataError(path, f"invalid JSON: {error.msg}", error.lineno) from None


def read_pixel_spacing(root: Path) -> float | None:
    """``pixel_spacing_mm`` of ``root/dataset.json`` (mm per original pixel), or None without the file."""
    path = root / "dataset.json"
    if not path.exists():
        return None
    content = _read_json(path)
    if not isinstance(content, dict) or "pixel_spacing_mm" not in content:
        raise DataError(path, 'expected {"pixel_spacing_mm": <mm per pixel>}')
    return _positive(content["pixel_spacing_mm"], path, "pixel_spacing_mm")


def read_folds(root: Path, ids: list[str], num_folds: int) -> list[Fold]:
    """The folds of ``root/splits.json`` or, without it, ``num_folds``-fold cross-validation of ``ids``.

    Every named image must be one of ``ids`` (names may carry an image extension), once per list (a test
    image listed twice would be scored twice), and a fold's train and test lists must be non-empty and
    disjoint. Cross-validation permutes the sorted ids with
    ``np.random.default_rng(0)`` and cuts the permutation into ``num_folds`` near-equal test sets.
    """
    path = root / "splits.json"
    if path.exists():
        return _read_splits(path, set(ids))
    if num_folds < 2:
        raise ConfigError(f"num_folds must be at least 2 for cross-validation, got {num_folds}")
    if len(ids) < num_folds:
        raise DataError(root, f"{len(ids)} images are too few for {num_folds}-fold cross-validation")
    ordered = sorted(ids)
    permutation = np.random.default_rng(0).permutation(len(ordered))
    folds = []
    for k, test_index in enumerate(np.array_split(permutation, num_folds), start=1):
        test = {ordered[i] for i in test_index}
        folds.append(Fold(train=[i for i in ordered if i not in test], test=sorted(test), name=f"fold{k}"))
    return folds


def _read_splits(path: Path, known: set[str]) -> list[Fold]:
    content = _read_json(path)
    folds_json = content.get("folds") if isinstance(content, dict) else None
    if not isinstance(folds_json, list) or not folds_json:
        raise DataError(path, 'expected {"folds": [{"train": [names], "test": [names]}, ...]}')
    folds = []
    for k, entry in enumerate(folds_json, start=1):
        lists = {}
        for part in ("train", "test"):
            names = entry.get(part) if isinstance(entry, dict) else None
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise DataError(path, f"fold {k}: {part!r} must be a non-empty list of image names")
            lists[part] = [name_to_id(n) for n in names]
            unknown = [n for n in lists[part] if n not in known]
            if unknown:
                raise DataError(path, f"fold {k}: {part} names unknown images {unknown[:5]}")
            repeated = sorted({n for n in lists[part] if lists[part].count(n) > 1})
            if repeated:
                raise DataError(path, f"fold {k}: {part} lists images more than once {repeated[:5]}")
        overlap = set(lists["train"]) & set(lists["test"])
        if overlap:
            raise DataError(path, f"fold {k}: images in both train and test: {sorted(overlap)[:5]}")
        folds.append(Fold(train=lists["train"], test=lists["test"], name=f"fold{k}"))
    return folds
