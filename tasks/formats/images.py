"""What every real-data reader shares: image files, the working-size resize, and pixel coordinates.

Conventions are those of :mod:`benchmark.data.imageset`: the centre of pixel ``image[i, j]`` is at
``(x=j, y=i)``, so an image of ``W0 x H0`` pixels covers ``[-0.5, W0 - 0.5] x [-0.5, H0 - 0.5]``, and
resizing it to ``W x H`` maps

    x' = (x + 0.5) * W / W0 - 0.5,        y' = (y + 0.5) * H / H0 - 0.5.

:func:`resize_image` (scikit-image, linear interpolation, Gaussian anti-aliasing when shrinking) obeys
the same rule, so a landmark mapped with :func:`to_working_pixels` sits on the same anatomy. Shapes
in this module are numpy's ``(H, W)``; landmark positions are ``(x, y)``. Errors in files are
:class:`~benchmark.errors.DataError` naming the file and, for text, the 1-based line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import skimage.color
import skimage.io
import skimage.transform

from benchmark.data.settings import IMAGE_EXTENSIONS
from benchmark.errors import DataError, first_line

# 64 Mpixel: four times the largest radiograph of the three data sets, far below what a header can claim.
MAX_PIXELS = 2**26


def index_images(folder: Path) -> dict[str, Path]:
    """Every image file directly in ``folder`` by id (file name without extension), sorted by id.

    An image is a file whose extension, in any case, is one of :data:`IMAGE_EXTENSIONS`. Two files
    with the same id (``a.png`` and ``a.jpg``) are ambiguous, and an image name whose symbolic link
    leads nowhere is a mistake: both raise :class:`DataError`.
    """
    if not folder.is_dir():
        raise DataError(folder, "missing folder of images")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_symlink() and not path.exists():
            raise DataError(path, "broken symbolic link (its target is missing, or the links form a loop)")
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            if path.stem in found:
                raise DataError(path, f"two images have the id {path.stem!r}: also {found[path.stem].name}")
            found[path.stem] = path
    return dict(sorted(found.items()))


def read_grey(path: Path) -> np.ndarray:
    """A 2-D float32 grey image in [0, 1].

    Integer images are divided by their type's maximum (8-bit by 255, 16-bit by 65535); float images
    already in [0, 1] are kept, other float images are min-max scaled. RGB is converted with
    :func:`skimage.color.rgb2gray`; an alpha channel is dropped. A file that cannot be decoded (empty,
    truncated, not an image) or is not a single 2-D picture raises ``DataError(path, "cannot read
    image: ...")``; so does one whose header declares more than :data:`MAX_PIXELS` pixels or several
    pages, before anything is decoded (:func:`check_header`).
    """
    check_header(path)
    try:
        array = np.asarray(skimage.io.imread(path))
    except Exception as error:  # decoders raise many types (OSError, ValueError, SyntaxError, ...)
        raise DataError(path, f"cannot read image: {first_line(error)}") from error
    if array.ndim == 3 and array.shape[2] in (2, 4):
        array = array[..., :-1]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or array.size == 0:
        raise DataError(
            path, f"cannot read image: expected a 2-D grey or colour picture, got shape {array.shape}"
        )
    grey = _unit_range(array, path)
    if grey.ndim == 3:
        grey = skimage.color.rgb2gray(grey)
    return grey.astype(np.float32)


def check_header(path: Path) -> None:
    """Refuse, from the header alone, an image of more than :data:`MAX_PIXELS` pixels (a decompression
    bomb: a few kilobytes that decode to gigabytes) or of several pages or frames (a stack, not one
    picture). TIFF headers are read with tifffile, which decodes TIFF here; the rest with Pillow. A file
    neither can parse is left to the decoder, whose error names it."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                pages, shape = len(tiff.pages), tiff.pages[0].shape
            height, width = shape[0], shape[1] if len(shape) > 1 else 1
        else:
            from PIL import Image

            with Image.open(path) as image:
                pages, (width, height) = getattr(image, "n_frames", 1), image.size
    except Exception:  # not parseable: read_grey's decoder reports it
        return
    if width * height > MAX_PIXELS:
        raise DataError(path, f"cannot read image: its header declares {width} x {height} pixels, more than "
                              f"the {MAX_PIXELS} this reader accepts")
    if pages > 1:
        raise DataError(path, f"cannot read image: it holds {pages} pages or frames; expected one picture")


def _unit_range(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float64) / np.iinfo(array.dtype).max
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError(path, "cannot read image: it holds NaN or infinite values")
    low, high = values.min(), values.max()
    if low >= 0.0 and high <= 1.0:
        return values
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a grey image to ``shape`` (H, W): linear, float32 in [0, 1].

    Along an axis that shrinks, scikit-image first smooths with a Gaussian of sigma ``(factor - 1) / 2``.
    """
    resized = skimage.transform.resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a mask (foreground > 0) to ``shape`` (H, W) by nearest neighbour: uint8 in {0, 1}."""
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    resized = skimage.transform.resize(binary, shape, order=0, anti_aliasing=False, preserve_range=True)
    return (resized > 0).astype(np.uint8)


def aspect_padded_shape(shape: tuple[int, int], working_shape: tuple[int, int]) -> tuple[int, int]:
    """The smallest (H, W) at least ``shape`` whose aspect ratio is that of ``working_shape``.

    Only one side grows, to the nearest whole pixel, so the resize of the padded image to
    ``working_shape`` is uniform up to that rounding (relative difference of the two scales below
    ``1 / (2 * min(H, W))``).
    """
    height, width = shape
    target_h, target_w = working_shape
    if width * target_h >= height * target_w:
        return max(height, round(width * target_h / target_w)), width
    return height, max(width, round(height * target_w / target_h))


def pad_to_aspect(image: np.ndarray, working_shape: tuple[int, int]) -> np.ndarray:
    """Pad ``image`` with zeros on the right or bottom to :func:`aspect_padded_shape`.

    Padding right and bottom keeps every pixel where it was, so positions in the unpadded image are
    positions in the padded one.
    """
    height, width = aspect_padded_shape(image.shape, working_shape)
    return np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1])))


def load_images(
    paths: Sequence[Path], working_shape: tuple[int, int], keep_aspect: bool = False
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Read and resize images to ``working_shape`` (H, W): the (N, H, W) stack and each file's (H0, W0).

    With ``keep_aspect`` each image is first padded by :func:`pad_to_aspect` (the returned shapes are
    still those of the files; callers get the padded ones from :func:`aspect_padded_shape`).
    """
    stack = np.zeros((len(paths), *working_shape), dtype=np.float32)
    shapes: list[tuple[int, int]] = []
    for i, path in enumerate(paths):
        image = read_grey(path)
        shapes.append((int(image.shape[0]), int(image.shape[1])))
        stack[i] = resize_image(pad_to_aspect(image, working_shape) if keep_aspect else image, working_shape)
    return stack, shapes


def to_working_pixels(
    points: np.ndarray, original_shape: tuple[int, int], working_shape: tuple[int, int]
) -> np.ndarray:
    """Map (..., 2) (x, y) positions in an image of ``original_shape`` (H0, W0) to ``working_shape`` (H, W).

    ``x' = (x + 0.5) * W / W0 - 0.5`` and ``y' = (y + 0.5) * H / H0 - 0.5``: the inverse of
    :meth:`ImageSet.to_original_pixels <benchmark.data.imageset.ImageSet.to_original_pixels>` when the
    ImageSet's ``original_size`` is ``(W0, H0)``.
    """
    scale = np.array([working_shape[1] / original_shape[1], working_shape[0] / original_shape[0]])
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, without line ends; a missing or undecodable file is a DataError."""
    if not path.is_file():
        raise DataError(path, "missing file")
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read text file: {error}") from error


def parse_points(fields: Sequence[str], path: Path, line: int, first: int = 0) -> np.ndarray:
    """(K, 2) float64 (x, y) from the ``2K`` text fields ``x, y, x, y, ...`` of one line.

    A field that is not a number, or is NaN or infinite, raises DataError naming the file, the line
    and the landmark (numbered from ``first``).
    """
    values = np.empty(len(fields), dtype=np.float64)
    for i, field in enumerate(fields):
        axis = "xy"[i % 2]
        try:
            values[i] = float(field)
        except ValueError:
            raise DataError(
                path, f"{axis} of landmark {first + i // 2} is not a number: {field.strip()!r}", line
            ) from None
        if not math.isfinite(values[i]):
            raise DataError(
                path, f"{axis} of landmark {first + i // 2} is not finite: {field.strip()!r}", line
            )
    return values.reshape(-1, 2)


def check_inside(
    points: np.ndarray, shape: tuple[int, int], path: Path, line: int, image: Path, first: int = 0
) -> None:
    """Raise DataError(path, line) unless every (x, y) lies in the extent of ``image`` of ``shape`` (H0, W0).

    The extent is ``[-0.5, W0 - 0.5] x [-0.5, H0 - 0.5]`` (pixel centres at whole coordinates);
    landmarks are numbered from ``first`` in the message.
    """
    height, width = shape
    outside = (
        (points[:, 0] < -0.5)
        | (points[:, 0] > width - 0.5)
        | (points[:, 1] < -0.5)
        | (points[:, 1] > height - 0.5)
    )
    if np.any(outside):
        k = int(np.flatnonzero(outside)[0])
        x, y = points[k]
        raise DataError(
            path,
            f"landmark {first + k} at ({x:g}, {y:g}) is outside the {width} x {height} image {image.name}",
            line,
        )
