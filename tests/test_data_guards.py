"""Image files and split lists that must not be read silently: decompression bombs, multi-page images,
broken or looping symbolic links, test images listed twice. Each is a DataError naming the file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import tifffile
from skimage.io import imsave

from benchmark.errors import DataError
from tasks.formats.images import MAX_PIXELS, index_images, read_grey
from tasks.formats.landmark_folder import read_folds


def tiff_header_only(path, width: int, height: int) -> None:
    """A baseline 8-bit grey TIFF whose tags declare ``width`` x ``height`` but whose single strip holds
    16 bytes: what a decompression bomb's header looks like to a reader."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
            (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", tag, kind, 1, value)
                                                  for tag, kind, value in tags) + struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 24) + bytes(16) + ifd)


@pytest.mark.parametrize("side", [30000, 2**13 + 1])
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, side):
    path = tmp_path / "bomb.tif"
    tiff_header_only(path, side, side)
    assert side * side > MAX_PIXELS
    with pytest.raises(DataError, match=f"declares {side} x {side} pixels") as error:
        read_grey(path)
    assert str(path) in str(error.value)


def test_a_large_but_plausible_header_is_not_refused_by_the_guard(tmp_path):
    path = tmp_path / "big.tif"
    tiff_header_only(path, 4000, 3000)
    with pytest.raises(DataError) as error:  # the decoder then finds the data missing
        read_grey(path)
    assert "declares" not in str(error.value)


def test_a_multi_page_tiff_is_refused(tmp_path):
    path = tmp_path / "stack.tif"
    for _ in range(3):
        tifffile.imwrite(path, np.zeros((16, 16), np.uint8), append=True)
    with pytest.raises(DataError, match="3 pages"):
        read_grey(path)
    tifffile.imwrite(tmp_path / "one.tif", np.full((16, 16), 255, np.uint8))
    assert read_grey(tmp_path / "one.tif").shape == (16, 16)


@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_a_broken_symbolic_link_among_the_images_is_an_error_naming_it(tmp_path, link):
    folder = tmp_path / "images"
    folder.mkdir()
    imsave(folder / "a.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    if link == "dangling":
        (folder / "b.png").symlink_to(tmp_path / "gone.png")
    else:
        (folder / "b.png").symlink_to(folder / "c.png")
        (folder / "c.png").symlink_to(folder / "b.png")
    with pytest.raises(DataError, match="broken symbolic link") as error:
        index_images(folder)
    assert "b.png" in str(error.value)


def test_a_test_image_listed_twice_in_splits_json_is_an_error(tmp_path):
    ids = [f"case{i}" for i in range(6)]
    (tmp_path / "splits.json").write_text(json.dumps(
        {"folds": [{"train": ids[:3], "test": ["case3", "case4.png", "case4"]}]}))
    with pytest.raises(DataError, match=r"test lists images more than once \['case4'\]"):
        read_folds(tmp_path, ids, 3)


def test_a_landmark_task_on_a_segmentation_folder_is_refused_before_training(capsys, tmp_path):
    from tests.cli_helpers import run_cli, runs_in
    from tests.fixture_writers import write_segmentation_folder

    folder = write_segmentation_folder(tmp_path / "seg", spacing_mm=0.3, folds=2, n_unlabelled=0, ext=".png")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, "run", "--task", "landmarks", "--data-root", str(folder.root), "--profile",
                           "smoke", "--no-progress", "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "has no landmarks" in lines[0] and str(folder.root) in lines[0]
    assert not runs_in(tracking)


def test_a_working_size_that_cannot_fit_in_memory_is_refused_with_the_estimate(capsys, tmp_path):
    from tests.cli_helpers import run_cli, runs_in

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, "run", "--task", "hand", "--profile", "smoke", "--image-size",
                           "100000x100000", "--no-progress", "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "working size 100000x100000" in lines[0] and "GiB" in lines[0]
    assert not runs_in(tracking)


def test_the_memory_estimate_counts_images_and_the_batch():
    from benchmark.data.memory import ACTIVATION_FLOATS, check_memory
    from benchmark.data.settings import DataSettings

    settings = DataSettings(image_size=(100, 200), n_labelled=10, n_unlabelled=5)
    needed = 4 * 100 * 200 * (15 + ACTIVATION_FLOATS * 8)
    check_memory(settings, 8, available=needed)
    with pytest.raises(Exception, match="batch 8 needs at least"):
        check_memory(settings, 8, available=needed - 1)
