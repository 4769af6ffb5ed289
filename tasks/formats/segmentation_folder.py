"""The plain folder format for any segmentation data set::

    images/<name>.<ext>       one image per case (.png .jpg .jpeg .bmp .tif .tiff)
    masks/<name>.<ext>        its mask, same name (the extension may differ), same size; > 0 is foreground
    unlabelled/<name>.<ext>   optional images without masks, for methods that use an unlabelled pool
    dataset.json              optional  {"pixel_spacing_mm": 0.1}
    splits.json               optional  {"folds": [{"train": [names], "test": [names]}, ...]}

Every image needs a mask and every mask an image, and no mask may be empty (an image without a label
belongs in ``unlabelled/``); masks should be stored lossless (PNG, BMP, TIFF),
since any grey value above 0 counts as foreground. Spacing (mm per original pixel) is that of
``dataset.json``, or 0.1 mm without it (the recorded ``mm_rule`` says which). Folds follow the landmark
folder's rules (:func:`tasks.formats.landmark_folder.read_folds`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.task import LabelledPool
from tasks.formats.images import index_images, load_images, read_grey, resize_image, resize_mask
from tasks.formats.landmark_folder import read_folds, read_pixel_spacing

DEFAULT_SPACING_MM = 0.1


def read_segmentation_folder(settings: DataSettings) -> LabelledPool:
    """Every image of ``images/`` with its mask at ``settings.image_size``, and ``unlabelled/`` if present."""
    if settings.data_root is None:
        raise ConfigError("the segmentation folder reader needs --data-root DIR")
    root = Path(settings.data_root)
    images_found = index_images(root / "images")
    masks_found = index_images(root / "masks")
    if not images_found:
        raise DataError(root / "images", "holds no images")
    for image_id, path in images_found.items():
        if image_id not in masks_found:
            raise DataError(path, f"image has no mask {image_id}.<ext> in {root / 'masks'}")
    for image_id, path in masks_found.items():
        if image_id not in images_found:
            raise DataError(path, f"mask has no image {image_id}.<ext> in {root / 'images'}")

    spacing_mm = read_pixel_spacing(root)
    mm_rule = (
        f"pixel spacing {DEFAULT_SPACING_MM:g} mm (default: no dataset.json)"
        if spacing_mm is None
        else f"pixel spacing {spacing_mm:g} mm (dataset.json)"
    )
    spacing_mm = DEFAULT_SPACING_MM if spacing_mm is None else spacing_mm
    ids = list(images_found)
    n = len(ids)
    images = np.zeros((n, *settings.image_size), dtype=np.float32)
    masks = np.zeros((n, *settings.image_size), dtype=np.uint8)
    shapes: list[tuple[int, int]] = []
    for k, image_id in enumerate(ids):
        image = read_grey(images_found[image_id])
        mask = read_grey(masks_found[image_id]) > 0
        if mask.shape != image.shape:
            raise DataError(
                masks_found[image_id],
                f"mask is {mask.shape[1]} x {mask.shape[0]} pixels but its image "
                f"{images_found[image_id].name} is {image.shape[1]} x {image.shape[0]}",
            )
        images[k] = resize_image(image, settings.image_size)
        if not mask.any():
            raise DataError(masks_found[image_id], "mask is empty (no foreground pixel); an image without "
                            f"a label belongs in {root / 'unlabelled'}")
        masks[k] = resize_mask(mask, settings.image_size)
        shapes.append((image.shape[0], image.shape[1]))
    return LabelledPool(
        images=_image_set(ids, images, shapes, spacing_mm, settings.image_size, masks),
        folds=read_folds(root, ids, settings.num_folds),
        source="segmentation-folder",
        ground_truth="masks",
        mm_rule=mm_rule,
        unlabelled=_read_unlabelled(root / "unlabelled", spacing_mm, settings.image_size),
    )


def _read_unlabelled(folder: Path, spacing_mm: float, working_shape: tuple[int, int]) -> ImageSet | None:
    if not folder.exists():
        return None
    found = index_images(folder)
    if not found:
        raise DataError(folder, "holds no images (remove the folder if there is no unlabelled pool)")
    images, shapes = load_images(list(found.values()), working_shape)
    return _image_set(list(found), images, shapes, spacing_mm, working_shape)


def _image_set(
    ids: list[str],
    images: np.ndarray,
    shapes: list[tuple[int, int]],
    spacing_mm: float,
    working_shape: tuple[int, int],
    masks: np.ndarray | None = None,
) -> ImageSet:
    """An ImageSet whose spacing is ``spacing_mm`` per original pixel, i.e. ``spacing_mm * (W0/W, H0/H)``."""
    original_size = np.array([(w, h) for h, w in shapes], dtype=np.int64).reshape(-1, 2)
    spacing = spacing_mm * original_size / np.array([working_shape[1], working_shape[0]])
    return ImageSet(ids=ids, images=images, spacing=spacing, original_size=original_size, masks=masks)
