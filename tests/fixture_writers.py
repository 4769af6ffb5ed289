"""Writers of tiny data sets in exactly the real on-disk formats the readers of ``tasks/formats`` accept.

Each writer fills an (empty or new) folder and returns a :class:`Fixture` with what it wrote, so tests
can compare a reader's output with the truth. Images are small (tens of pixels) and vary in size where
the real data sets do, so every test that reads them takes milliseconds. All randomness comes from
``rng`` (default ``np.random.default_rng(0)``): a fixture is the same on every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.draw
import skimage.io

from tasks.formats.isbi2015 import ISBI_ANNOTATION_FOLDERS, ISBI_IMAGE_FOLDERS, ISBI_LANDMARK_NAMES
from tasks.formats.payer_hand import HAND_NUM_LANDMARKS

ISBI_FIRST_IDS = {"train": 1, "test1": 151, "test2": 301}


@dataclass
class Fixture:
    """What a writer put on disk. Positions are (x, y) in pixels of the image file; sizes are (W, H)."""

    root: Path
    paths: dict[str, Path] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)
    junior: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    spacing_mm: dict[str, float] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)
    folds: list[tuple[list[str], list[str]]] = field(default_factory=list)
    low_data: list[dict[int, list[str]]] = field(default_factory=list)
    rows_without_image: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """The labelled ids in sorted order."""
        return sorted(self.paths)


def write_isbi2015(
    root: Path,
    n_train: int = 4,
    n_test1: int = 2,
    n_test2: int = 2,
    size: tuple[int, int] = (97, 120),
    rng: np.random.Generator | None = None,
) -> Fixture:
    """The ISBI 2015 layout: ``RawImage/{TrainingData,Test1Data,Test2Data}/NNN.bmp`` (8-bit grey, all of
    ``size`` = (W, H)) and ``AnnotationsByMD/{400_senior,400_junior}/NNN.txt`` (19 lines ``x,y`` of whole
    pixels, then 8 lines of one number each, as the real files' classification labels).

    Ids are numbered as in the challenge: training from 001, test 1 from 151, test 2 from 301. The
    junior doctor's points are the senior's moved by up to 2 pixels (kept inside the image).
    ``Fixture.landmarks`` holds the senior points, ``Fixture.junior`` the junior ones.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    width, height = size
    fixture = Fixture(root=Path(root))
    counts = {"train": n_train, "test1": n_test1, "test2": n_test2}
    for split, folder in ISBI_IMAGE_FOLDERS.items():
        for number in range(ISBI_FIRST_IDS[split], ISBI_FIRST_IDS[split] + counts[split]):
            image_id = f"{number:03d}"
            path = fixture.root / "RawImage" / folder / f"{image_id}.bmp"
            _write_image(path, rng.integers(0, 256, (height, width), dtype=np.uint8))
            count = len(ISBI_LANDMARK_NAMES)
            senior = np.stack([rng.integers(0, width, count), rng.integers(0, height, count)], axis=1)
            junior = np.clip(senior + rng.integers(-2, 3, senior.shape), 0, [width - 1, height - 1])
            for observer, points in (("senior", senior), ("junior", junior)):
                lines = [f"{x},{y}" for x, y in points] + [str(rng.integers(1, 4)) for _ in range(8)]
                annotations = fixture.root / "AnnotationsByMD" / ISBI_ANNOTATION_FOLDERS[observer]
                _write_text(annotations / f"{image_id}.txt", lines)
            fixture.paths[image_id] = path
            fixture.sizes[image_id] = (width, height)
            fixture.landmarks[image_id] = senior.astype(np.float64)
            fixture.junior[image_id] = junior.astype(np.float64)
    train = [f"{i:03d}" for i in range(1, 1 + n_train)]
    for split in ("test1", "test2"):
        first = ISBI_FIRST_IDS[split]
        fixture.folds.append((train, [f"{i:03d}" for i in range(first, first + counts[split])]))
    return fixture


def write_payer_hand(
    root: Path,
    n: int = 9,
    size: tuple[int, int] = (60, 80),
    rows_without_image: int = 1,
    header: bool = False,
    image_folder: str = "images",
    ext: str = ".jpg",
    low_data: tuple[int, ...] = (3,),
    rng: np.random.Generator | None = None,
) -> Fixture:
    """Payer's hand layout: ``<image_folder>/<id><ext>`` (8-bit grey, sizes around ``size`` = (W, H),
    some wider and some narrower than tall relative to each other), ``setup/all.csv`` rows
    ``id,x0,y0,...,x36,y36`` (3 decimals, no header unless ``header``), 3 folds
    ``setup/cv/set{1,2,3}/{train,test}.txt`` and for each m in ``low_data``
    ``setup/cv_rand/<m>/{1,2}/set{1,2,3}/train.txt`` with m training ids of that set.

    Ids are ``3001, 3002, ...``; ``rows_without_image`` more rows (ids ``3901, ...``) have no image
    file, and appear in the cv split files too. ``image_folder=""`` puts the images in ``root``.
    ``Fixture.folds`` and ``Fixture.low_data`` list only ids with an image (what a reader must return).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    fixture = Fixture(root=Path(root))
    ids = [str(3001 + i) for i in range(n)]
    fixture.rows_without_image = [str(3901 + i) for i in range(rows_without_image)]
    rows = (
        ["id," + ",".join(f"{axis}{k}" for k in range(HAND_NUM_LANDMARKS) for axis in "xy")] if header else []
    )
    for i, image_id in enumerate(ids + fixture.rows_without_image):
        width, height = _varied_size(size, i)
        points = np.round(rng.uniform([0, 0], [width - 1, height - 1], (HAND_NUM_LANDMARKS, 2)), 3)
        rows.append(image_id + "," + ",".join(f"{v:.3f}" for v in points.ravel()))
        if image_id in fixture.rows_without_image:
            continue
        path = fixture.root / image_folder / f"{image_id}{ext}"
        _write_image(path, rng.integers(0, 256, (height, width), dtype=np.uint8))
        fixture.paths[image_id] = path
        fixture.sizes[image_id] = (width, height)
        fixture.landmarks[image_id] = points
    setup = fixture.root / "setup"
    _write_text(setup / "all.csv", rows)
    every = ids + fixture.rows_without_image
    for k in range(1, 4):
        test = every[k - 1 :: 3]
        train = [i for i in every if i not in test]
        _write_text(setup / "cv" / f"set{k}" / "train.txt", train)
        _write_text(setup / "cv" / f"set{k}" / "test.txt", test)
        available_train = [i for i in train if i in fixture.paths]
        fixture.folds.append((available_train, [i for i in test if i in fixture.paths]))
        subsets: dict[int, list[str]] = {}
        for m in low_data:
            for repetition in ("1", "2"):
                subset = list(rng.permutation(available_train)[:m])
                _write_text(setup / "cv_rand" / str(m) / repetition / f"set{k}" / "train.txt", subset)
                subsets.setdefault(m, subset)
        fixture.low_data.append(subsets)
    return fixture


def write_landmark_folder(
    root: Path,
    n: int = 6,
    num_landmarks: int = 5,
    size: tuple[int, int] = (40, 50),
    spacing_column: bool = True,
    dataset_spacing_mm: float | None = None,
    folds: int = 0,
    ext: str = ".png",
    rng: np.random.Generator | None = None,
) -> Fixture:
    """The plain landmark folder: ``images/case<i><ext>`` and ``landmarks.csv`` with the header
    ``image,x0,y0,...`` (rows name the image file with its extension; positions with 3 decimals).

    With ``spacing_column`` the table's last column ``spacing_mm`` gives each image its own spacing
    (0.1, 0.11, ...); ``dataset_spacing_mm`` writes ``dataset.json``. ``folds > 0`` writes
    ``splits.json`` with that many folds (fold k tests every ``folds``-th image from the k-th).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    fixture = Fixture(root=Path(root))
    header = ["image"] + [f"{axis}{k}" for k in range(num_landmarks) for axis in "xy"]
    rows = [",".join(header + (["spacing_mm"] if spacing_column else []))]
    for i in range(n):
        image_id = f"case{i + 1:02d}"
        width, height = _varied_size(size, i)
        path = fixture.root / "images" / f"{image_id}{ext}"
        _write_image(path, rng.integers(0, 256, (height, width), dtype=np.uint8))
        points = np.round(rng.uniform([0, 0], [width - 1, height - 1], (num_landmarks, 2)), 3)
        spacing = round(0.1 + 0.01 * i, 4)
        fields = (
            [path.name] + [f"{v:.3f}" for v in points.ravel()] + ([f"{spacing}"] if spacing_column else [])
        )
        rows.append(",".join(fields))
        fixture.paths[image_id] = path
        fixture.sizes[image_id] = (width, height)
        fixture.landmarks[image_id] = points
        if spacing_column:
            fixture.spacing_mm[image_id] = spacing
        elif dataset_spacing_mm is not None:
            fixture.spacing_mm[image_id] = dataset_spacing_mm
    _write_text(fixture.root / "landmarks.csv", rows)
    if dataset_spacing_mm is not None:
        _write_text(fixture.root / "dataset.json", [json.dumps({"pixel_spacing_mm": dataset_spacing_mm})])
    _write_splits(fixture, folds, ext)
    return fixture


def write_segmentation_folder(
    root: Path,
    n: int = 6,
    size: tuple[int, int] = (40, 50),
    n_unlabelled: int = 2,
    spacing_mm: float | None = None,
    folds: int = 0,
    ext: str = ".png",
    mask_ext: str = ".png",
    rng: np.random.Generator | None = None,
) -> Fixture:
    """The plain segmentation folder: ``images/scan<i><ext>``, ``masks/scan<i><mask_ext>`` (8-bit, an
    ellipse of value 255 in even and 1 in odd cases, 0 elsewhere), ``unlabelled/extra<i><ext>`` when
    ``n_unlabelled > 0``, ``dataset.json`` when ``spacing_mm`` is given, ``splits.json`` when ``folds > 0``.

    ``Fixture.masks`` holds the written masks as {0, 1}.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    fixture = Fixture(root=Path(root))
    for i in range(n):
        image_id = f"scan{i + 1:02d}"
        width, height = _varied_size(size, i)
        path = fixture.root / "images" / f"{image_id}{ext}"
        _write_image(path, rng.integers(0, 256, (height, width), dtype=np.uint8))
        mask = np.zeros((height, width), dtype=np.uint8)
        rows, cols = skimage.draw.ellipse(
            rng.uniform(0.3, 0.7) * height,
            rng.uniform(0.3, 0.7) * width,
            height / 5,
            width / 4,
            shape=mask.shape,
        )
        mask[rows, cols] = 1
        _write_image(fixture.root / "masks" / f"{image_id}{mask_ext}", mask * (255 if i % 2 == 0 else 1))
        fixture.paths[image_id] = path
        fixture.sizes[image_id] = (width, height)
        fixture.masks[image_id] = mask
        if spacing_mm is not None:
            fixture.spacing_mm[image_id] = spacing_mm
    for i in range(n_unlabelled):
        width, height = _varied_size(size, i + 1)
        pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
        _write_image(fixture.root / "unlabelled" / f"extra{i + 1:02d}{ext}", pixels)
        fixture.unlabelled.append(f"extra{i + 1:02d}")
    if spacing_mm is not None:
        _write_text(fixture.root / "dataset.json", [json.dumps({"pixel_spacing_mm": spacing_mm})])
    _write_splits(fixture, folds, ext)
    return fixture


def _varied_size(size: tuple[int, int], i: int) -> tuple[int, int]:
    """(W, H) near ``size``: widths and heights change independently, so aspect ratios differ."""
    return size[0] + 7 * (i % 3), size[1] - 5 * (i % 2)


def _write_splits(fixture: Fixture, folds: int, ext: str) -> None:
    """``splits.json`` with ``folds`` folds (fold k tests ids k-1, k-1+folds, ...); names carry ``ext``."""
    if folds <= 0:
        return
    ids = fixture.ids
    content = []
    for k in range(folds):
        test = ids[k::folds]
        train = [i for i in ids if i not in test]
        fixture.folds.append((train, test))
        content.append({"train": [f"{i}{ext}" for i in train], "test": [f"{i}{ext}" for i in test]})
    _write_text(fixture.root / "splits.json", [json.dumps({"folds": content}, indent=1)])


def _write_image(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    skimage.io.imsave(path, pixels, check_contrast=False)


def _write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
