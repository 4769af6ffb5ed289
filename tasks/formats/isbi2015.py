"""Reader of the ISBI 2015 cephalometric challenge data (Wang et al. 2016), as distributed::

    RawImage/TrainingData/001.bmp ... 150.bmp      1935 x 2400 pixels, 8-bit, 0.1 mm per pixel
    RawImage/Test1Data/151.bmp ... 300.bmp
    RawImage/Test2Data/301.bmp ... 400.bmp
    AnnotationsByMD/400_senior/001.txt ... 400.txt
    AnnotationsByMD/400_junior/001.txt ... 400.txt

An annotation file holds one ``x,y`` line per landmark, in :data:`ISBI_LANDMARK_NAMES` order, in
pixels of its image (pixel centres at whole numbers); lines after the 19th are ignored. The images of
each folder are taken as found (any count, any of the usual image extensions), so smaller sets with
the same layout read too. Fold 1 trains on ``TrainingData`` and tests on ``Test1Data``, fold 2 tests on
``Test2Data``, as in the challenge.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.task import Fold, LabelledPool
from tasks.formats.images import (
    check_inside,
    index_images,
    load_images,
    parse_points,
    read_lines,
    to_working_pixels,
)

ISBI_LANDMARK_NAMES = [
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower_incisal_incision", "upper_incisal_incision", "upper_lip", "lower_lip", "subnasale",
    "soft_tissue_pogonion", "posterior_nasal_spine", "anterior_nasal_spine", "articulare",
]
ISBI_PIXEL_SPACING_MM = 0.1
ISBI_IMAGE_FOLDERS = {"train": "TrainingData", "test1": "Test1Data", "test2": "Test2Data"}
ISBI_ANNOTATION_FOLDERS = {"senior": "400_senior", "junior": "400_junior"}


def read_isbi2015(settings: DataSettings) -> LabelledPool:
    """Every ISBI 2015 image at ``settings.image_size`` with the ``settings.ground_truth`` landmarks.

    ``ground_truth`` is ``senior``, ``junior`` or ``mean`` (the average of both doctors, in original
    pixels). Spacing is 0.1 mm per original pixel, i.e. ``0.1 * (W0 / W, H0 / H)`` mm per working pixel.
    """
    if settings.data_root is None:
        raise ConfigError("the ISBI 2015 reader needs --data-root DIR")
    root = Path(settings.data_root)
    split_ids: dict[str, list[str]] = {}
    paths: list[Path] = []
    for split, folder_name in ISBI_IMAGE_FOLDERS.items():
        folder = root / "RawImage" / folder_name
        found = index_images(folder)
        if not found:
            raise DataError(folder, "holds no images")
        split_ids[split] = list(found)
        paths.extend(found.values())
    ids = [i for split in ISBI_IMAGE_FOLDERS for i in split_ids[split]]
    duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicated:
        raise DataError(root / "RawImage", f"image ids occur in more than one folder: {duplicated[:5]}")

    observers = ["senior", "junior"] if settings.ground_truth == "mean" else [settings.ground_truth]
    annotations = {o: [_annotation_path(root, o, i) for i in ids] for o in observers}
    per_observer = {o: np.stack([_read_annotation(p) for p in annotations[o]]) for o in observers}
    images, shapes = load_images(paths, settings.image_size)
    for observer in observers:
        for points, annotation, image, shape in zip(
            per_observer[observer], annotations[observer], paths, shapes
        ):
            for k, point in enumerate(points):
                check_inside(point[None], shape, annotation, k + 1, image, first=k)
    original = np.mean([per_observer[o] for o in observers], axis=0)
    working = np.stack([to_working_pixels(p, s, settings.image_size) for p, s in zip(original, shapes)])
    height, width = settings.image_size
    original_size = np.array([(w, h) for h, w in shapes], dtype=np.int64)
    spacing = ISBI_PIXEL_SPACING_MM * original_size / np.array([width, height])
    return LabelledPool(
        images=ImageSet(
            ids=ids, images=images, spacing=spacing, original_size=original_size, landmarks=working
        ),
        folds=[
            Fold(train=split_ids["train"], test=split_ids["test1"], name="test1"),
            Fold(train=split_ids["train"], test=split_ids["test2"], name="test2"),
        ],
        source="isbi2015",
        ground_truth=settings.ground_truth,
        mm_rule="pixel spacing 0.1 mm (ISBI 2015)",
        landmark_names=list(ISBI_LANDMARK_NAMES),
    )


def _annotation_path(root: Path, observer: str, image_id: str) -> Path:
    path = root / "AnnotationsByMD" / ISBI_ANNOTATION_FOLDERS[observer] / f"{image_id}.txt"
    if not path.is_file():
        raise DataError(path, f"missing annotation of image {image_id} ({observer} doctor)")
    return path


def _read_annotation(path: Path) -> np.ndarray:
    """(19, 2) original-pixel landmarks from the first 19 lines ``x,y`` of an annotation file."""
    lines = read_lines(path)
    count = len(ISBI_LANDMARK_NAMES)
    if len(lines) < count:
        raise DataError(path, f"expected {count} lines 'x,y' (one per landmark), the file has {len(lines)}")
    points = np.empty((count, 2))
    for k, text in enumerate(lines[:count]):
        fields = text.split(",")
        if len(fields) != 2:
            raise DataError(
                path, f"expected 'x,y' for landmark {k} ({ISBI_LANDMARK_NAMES[k]}), got {text!r}", k + 1
            )
        points[k] = parse_points(fields, path, k + 1, first=k)[0]
    return points
