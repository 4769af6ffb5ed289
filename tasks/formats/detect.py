"""Recognise the layout of a ``--data-root`` folder and read it with the matching reader.

Layouts are tried in this order, by what the folder holds directly:

* ``RawImage/`` and ``AnnotationsByMD/``: ISBI 2015 cephalograms (:mod:`tasks.formats.isbi2015`);
* ``setup/all.csv``: hand X-rays in Payer's layout (:mod:`tasks.formats.payer_hand`);
* ``landmarks.csv``: the plain landmark folder (:mod:`tasks.formats.landmark_folder`);
* ``masks/``: the plain segmentation folder (:mod:`tasks.formats.segmentation_folder`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.task import LabelledPool, PoolReader
from tasks.formats.isbi2015 import read_isbi2015
from tasks.formats.landmark_folder import read_landmark_folder
from tasks.formats.payer_hand import read_payer_hand
from tasks.formats.segmentation_folder import read_segmentation_folder

LAYOUTS: tuple[tuple[str, Callable[[Path], bool], PoolReader], ...] = (
    (
        "RawImage/ + AnnotationsByMD/ (ISBI 2015)",
        lambda root: (root / "RawImage").is_dir() and (root / "AnnotationsByMD").is_dir(),
        read_isbi2015,
    ),
    (
        "setup/all.csv (hand X-rays, Payer's layout)",
        lambda root: (root / "setup" / "all.csv").is_file(),
        read_payer_hand,
    ),
    (
        "images/ + landmarks.csv (landmark folder)",
        lambda root: (root / "landmarks.csv").is_file(),
        read_landmark_folder,
    ),
    (
        "images/ + masks/ (segmentation folder)",
        lambda root: (root / "masks").is_dir(),
        read_segmentation_folder,
    ),
)


def detect_layout(root: Path) -> PoolReader:
    """The reader of the first layout in :data:`LAYOUTS` whose marker ``root`` holds."""
    if not root.is_dir():
        raise DataError(root, "data root is not a folder (check --data-root)")
    for _, matches, reader in LAYOUTS:
        if matches(root):
            return reader
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    listing = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "") if found else "nothing"
    expected = "; ".join(marker for marker, _, _ in LAYOUTS)
    raise DataError(root, f"unrecognised layout: expected one of {expected}; found {listing}")


def read_data_root(settings: DataSettings) -> LabelledPool:
    """Read ``settings.data_root`` with the reader of its layout (see the module docstring)."""
    if settings.data_root is None:
        raise ConfigError("no data folder given: pass --data-root DIR")
    return detect_layout(Path(settings.data_root))(settings)
