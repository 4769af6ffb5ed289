"""Readers of the real data layouts, on tiny fixtures written in exactly those layouts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import skimage.io
from PIL import Image

from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.protocol import Protocol
from benchmark.task import split_pool
from tasks.formats.detect import read_data_root
from tasks.formats.images import (
    aspect_padded_shape,
    check_inside,
    pad_to_aspect,
    read_grey,
    resize_image,
    resize_mask,
    to_working_pixels,
)
from tasks.formats.isbi2015 import ISBI_LANDMARK_NAMES, read_isbi2015
from tasks.formats.landmark_folder import read_landmark_folder
from tasks.formats.payer_hand import read_payer_hand
from tasks.formats.segmentation_folder import read_segmentation_folder
from tests.fixture_writers import (
    write_isbi2015,
    write_landmark_folder,
    write_payer_hand,
    write_segmentation_folder,
)

SIZE = (48, 40)  # working (H, W)


def settings(root: Path, **changes) -> DataSettings:
    return DataSettings(image_size=SIZE, data_root=root, **changes)


def set_line(path: Path, line: int, text: str) -> None:
    """Replace the 1-based ``line`` of a text file (append when it is one past the end)."""
    lines = path.read_text().splitlines()
    lines[line - 1 : line] = [text]
    path.write_text("\n".join(lines) + "\n")


def assert_names(error: pytest.ExceptionInfo, path: Path, line: int | None) -> None:
    assert error.value.path == path
    assert error.value.line == line
    assert str(error.value).startswith(f"{path}:{line}:" if line is not None else f"{path}:")


# --- images.py --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pixels", "expected"),
    [
        ("grey8.png", np.full((5, 7), 51, np.uint8), 0.2),
        ("grey16.png", np.full((5, 7), 13107, np.uint16), 0.2),
        ("grey8.bmp", np.full((5, 7), 51, np.uint8), 0.2),
        ("grey8.tif", np.full((5, 7), 51, np.uint8), 0.2),
        ("red.png", np.tile(np.array([255, 0, 0], np.uint8), (5, 7, 1)), 0.2125),
        ("red_alpha.png", np.tile(np.array([255, 0, 0, 128], np.uint8), (5, 7, 1)), 0.2125),
    ],
)
def test_read_grey_scales_to_unit_range_and_converts_colour(tmp_path, name, pixels, expected):
    path = tmp_path / name
    skimage.io.imsave(path, pixels, check_contrast=False)
    grey = read_grey(path)
    assert grey.dtype == np.float32 and grey.shape == (5, 7)
    np.testing.assert_allclose(grey, expected, atol=1e-4)


def test_read_grey_reads_a_palette_bmp(tmp_path):
    pixels = np.arange(35, dtype=np.uint8).reshape(5, 7) * 7
    Image.fromarray(pixels).convert("P").save(tmp_path / "palette.bmp")
    np.testing.assert_allclose(read_grey(tmp_path / "palette.bmp"), pixels / 255, atol=1e-6)


@pytest.mark.parametrize("damage", ["empty", "truncated-png", "truncated-bmp", "not-an-image"])
def test_read_grey_turns_every_decoding_failure_into_a_data_error(tmp_path, damage):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 30), dtype=np.uint8)
    path = tmp_path / ("a.bmp" if damage == "truncated-bmp" else "a.png")
    skimage.io.imsave(path, pixels, check_contrast=False)
    content = path.read_bytes()
    damaged = {"empty": b"", "not-an-image": b"x,y\n1,2\n" * 20}.get(damage, content[: len(content) // 2])
    path.write_bytes(damaged)
    with pytest.raises(DataError, match="cannot read image") as error:
        read_grey(path)
    assert_names(error, path, None)


def test_resize_and_to_working_pixels_follow_the_same_pixel_centre_rule():
    original = (30, 23)  # (H0, W0)
    ys, xs = np.mgrid[0 : original[0], 0 : original[1]].astype(np.float64)
    for ramp, axis in ((xs / (original[1] - 1), 0), (ys / (original[0] - 1), 1)):
        resized = resize_image(ramp, (12, 10)).astype(np.float64)
        source = np.stack([xs, ys], axis=-1)[[4, 22], [5, 17]]  # two interior points of the source
        working = to_working_pixels(source, original, (12, 10))
        # bilinear sampling of the resized ramp at the mapped points returns the source coordinate
        for (x, y), (sx, sy) in zip(working, source):
            j, i = int(np.floor(x)), int(np.floor(y))
            fx, fy = x - j, y - i
            value = (
                resized[i, j] * (1 - fx) * (1 - fy)
                + resized[i, j + 1] * fx * (1 - fy)
                + resized[i + 1, j] * (1 - fx) * fy
                + resized[i + 1, j + 1] * fx * fy
            )
            expected = (sx, sy)[axis] / (original[1 - axis] - 1)
            assert value == pytest.approx(expected, abs=1e-6)


def test_to_working_pixels_maps_a_known_point():
    got = to_working_pixels(np.array([[10.0, 20.0]]), (120, 97), SIZE)
    np.testing.assert_allclose(got, [[10.5 * 40 / 97 - 0.5, 20.5 * 48 / 120 - 0.5]])


def test_resize_mask_stays_binary_both_ways():
    mask = np.zeros((30, 23), np.uint8)
    mask[5:20, 4:15] = 255
    for shape in ((12, 10), (61, 47)):
        resized = resize_mask(mask, shape)
        assert resized.dtype == np.uint8 and set(np.unique(resized)) == {0, 1}
        assert resized.mean() == pytest.approx((mask > 0).mean(), abs=0.05)


def test_check_inside_accepts_the_pixel_extent_and_nothing_beyond(tmp_path):
    corners = np.array([[-0.5, -0.5], [96.5, 119.5]])
    check_inside(corners, (120, 97), tmp_path / "a.txt", 1, tmp_path / "a.bmp")
    for beyond in ([-0.51, 0], [0, -0.51], [96.51, 0], [0, 119.51]):
        with pytest.raises(DataError, match="outside the 97 x 120 image a.bmp"):
            check_inside(np.array([beyond]), (120, 97), tmp_path / "a.txt", 1, tmp_path / "a.bmp")


@pytest.mark.parametrize(
    ("shape", "padded"), [((80, 60), (80, 67)), ((72, 74), (89, 74)), ((96, 80), (96, 80))]
)
def test_pad_to_aspect_pads_right_or_bottom_to_the_working_aspect(shape, padded):
    assert aspect_padded_shape(shape, SIZE) == padded
    image = np.random.default_rng(0).random(shape)
    out = pad_to_aspect(image, SIZE)
    assert out.shape == padded
    np.testing.assert_array_equal(out[: shape[0], : shape[1]], image)
    assert out[shape[0] :].sum() == 0 and out[:, shape[1] :].sum() == 0


# --- ISBI 2015 ------------------------------------------------------------------------------------


@pytest.fixture
def isbi(tmp_path):
    return write_isbi2015(tmp_path / "isbi")


def test_isbi_reads_every_image_with_the_challenge_folds(isbi):
    pool = read_isbi2015(settings(isbi.root))
    assert pool.images.ids == ["001", "002", "003", "004", "151", "152", "301", "302"]
    assert pool.images.images.shape == (8, *SIZE)
    assert pool.images.landmarks.shape == (8, 19, 2)
    assert [(f.name, f.train, f.test) for f in pool.folds] == [
        ("test1", ["001", "002", "003", "004"], ["151", "152"]),
        ("test2", ["001", "002", "003", "004"], ["301", "302"]),
    ]
    assert pool.landmark_names == ISBI_LANDMARK_NAMES and ISBI_LANDMARK_NAMES[18] == "articulare"
    assert (pool.source, pool.ground_truth, pool.mm_rule) == (
        "isbi2015",
        "senior",
        "pixel spacing 0.1 mm (ISBI 2015)",
    )
    np.testing.assert_array_equal(pool.images.original_size, [[97, 120]] * 8)
    raw = skimage.io.imread(isbi.paths["152"]) / 255
    np.testing.assert_allclose(pool.images.images[5], resize_image(raw, SIZE), atol=1e-6)


def test_isbi_maps_a_known_pixel_exactly_and_back(isbi):
    set_line(isbi.root / "AnnotationsByMD" / "400_senior" / "151.txt", 3, "10,20")
    pool = read_isbi2015(settings(isbi.root))
    i = pool.images.ids.index("151")
    np.testing.assert_allclose(
        pool.images.landmarks[i, 2], [10.5 * 40 / 97 - 0.5, 20.5 * 48 / 120 - 0.5], atol=1e-5
    )
    back = pool.images.to_original_pixels(pool.images.landmarks)
    np.testing.assert_allclose(back[i, 2], [10, 20], atol=1e-4)
    truth = np.stack([isbi.landmarks[image_id] for image_id in pool.images.ids])
    truth[i, 2] = [10, 20]
    np.testing.assert_allclose(back, truth, atol=1e-4)


def test_isbi_spacing_is_a_tenth_of_a_millimetre_per_original_pixel(isbi):
    pool = read_isbi2015(settings(isbi.root))
    np.testing.assert_allclose(pool.images.spacing, [[0.1 * 97 / 40, 0.1 * 120 / 48]] * 8)
    # ten original pixels along x are one millimetre
    assert 10 * (40 / 97) * pool.images.spacing[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("ground_truth", ["senior", "junior", "mean"])
def test_isbi_ground_truth_choice(isbi, ground_truth):
    pool = read_isbi2015(settings(isbi.root, ground_truth=ground_truth))
    senior = np.stack([isbi.landmarks[i] for i in pool.images.ids])
    junior = np.stack([isbi.junior[i] for i in pool.images.ids])
    expected = {"senior": senior, "junior": junior, "mean": (senior + junior) / 2}[ground_truth]
    assert np.abs(senior - junior).max() > 0
    np.testing.assert_allclose(pool.images.to_original_pixels(pool.images.landmarks), expected, atol=1e-4)
    assert pool.ground_truth == ground_truth


def test_isbi_unknown_ground_truth_lists_the_valid_ones(isbi):
    with pytest.raises(ConfigError, match="senior, junior, mean"):
        read_isbi2015(settings(isbi.root, ground_truth="consensus"))


def test_isbi_ignores_lines_after_the_nineteenth(isbi):
    annotation = isbi.root / "AnnotationsByMD" / "400_senior" / "001.txt"
    assert len(annotation.read_text().splitlines()) == 27
    set_line(annotation, 20, "not a coordinate")
    pool = read_isbi2015(settings(isbi.root))
    np.testing.assert_allclose(
        pool.images.to_original_pixels(pool.images.landmarks)[0], isbi.landmarks["001"], atol=1e-4
    )


def _isbi_annotation(root: Path, image_id: str = "002", observer: str = "400_senior") -> Path:
    return root / "AnnotationsByMD" / observer / f"{image_id}.txt"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "line", "message"),
    [
        (lambda r: _isbi_annotation(r).write_text("1,2\n" * 18), None, "expected 19 lines"),
        (lambda r: set_line(_isbi_annotation(r), 19, "3"), 19, "expected 'x,y'"),
        (lambda r: set_line(_isbi_annotation(r), 5, "12;40"), 5, "expected 'x,y'"),
        (lambda r: set_line(_isbi_annotation(r), 3, "abc,4"), 3, "x of landmark 2 is not a number"),
        (lambda r: set_line(_isbi_annotation(r), 7, "4,nan"), 7, "y of landmark 6 is not finite"),
        (
            lambda r: set_line(_isbi_annotation(r), 2, "97,3"),
            2,
            "landmark 1 at \\(97, 3\\) is outside the 97 x 120",
        ),
        (lambda r: set_line(_isbi_annotation(r), 4, "3,-1"), 4, "landmark 3 at \\(3, -1\\) is outside"),
        (lambda r: set_line(_isbi_annotation(r), 6, "-0.6,3"), 6, "landmark 5 at \\(-0.6, 3\\) is outside"),
        (lambda r: _isbi_annotation(r).unlink(), None, "missing annotation of image 002"),
    ],
)
def test_isbi_bad_annotation_names_file_and_line(isbi, damage, line, message):
    damage(isbi.root)
    with pytest.raises(DataError, match=message) as error:
        read_isbi2015(settings(isbi.root))
    assert_names(error, _isbi_annotation(isbi.root), line)


def test_isbi_missing_junior_annotation_matters_only_when_used(isbi):
    _isbi_annotation(isbi.root, "301", "400_junior").unlink()
    read_isbi2015(settings(isbi.root, ground_truth="senior"))
    with pytest.raises(DataError, match="junior") as error:
        read_isbi2015(settings(isbi.root, ground_truth="mean"))
    assert_names(error, _isbi_annotation(isbi.root, "301", "400_junior"), None)


def test_isbi_truncated_image_is_named(isbi):
    _truncate(isbi.paths["151"])
    with pytest.raises(DataError, match="cannot read image") as error:
        read_isbi2015(settings(isbi.root))
    assert_names(error, isbi.paths["151"], None)


def test_isbi_missing_test_folder_is_named(isbi):
    for path in (isbi.root / "RawImage" / "Test2Data").iterdir():
        path.unlink()
    (isbi.root / "RawImage" / "Test2Data").rmdir()
    with pytest.raises(DataError, match="missing folder") as error:
        read_isbi2015(settings(isbi.root))
    assert_names(error, isbi.root / "RawImage" / "Test2Data", None)


# --- Payer's hand layout --------------------------------------------------------------------------


@pytest.fixture
def hand(tmp_path):
    return write_payer_hand(tmp_path / "hand")


def test_hand_skips_rows_without_an_image_with_a_logged_count(hand, caplog):
    with caplog.at_level(logging.WARNING):
        pool = read_payer_hand(settings(hand.root))
    assert pool.images.ids == hand.ids and len(hand.ids) == 9
    assert pool.images.images.shape == (9, *SIZE) and pool.images.landmarks.shape == (9, 37, 2)
    assert pool.skipped == {"rows_without_image": 1, "split_entries_without_image": 3}
    assert "skipped 1 rows without an image" in caplog.text and "3901" in caplog.text
    assert (pool.source, pool.ground_truth) == ("payer-hand", "setup/all.csv")


def test_hand_pads_to_the_working_aspect_and_maps_back_exactly(hand):
    _set_hand_field(hand.root, 1, 1, "10")
    _set_hand_field(hand.root, 1, 2, "20")
    hand.landmarks["3001"][0] = [10, 20]
    pool = read_payer_hand(settings(hand.root))
    padded_any = {"right": False, "bottom": False}
    for i, image_id in enumerate(pool.images.ids):
        width0, height0 = hand.sizes[image_id]
        width_p, height_p = pool.images.original_size[i]
        assert (width_p == width0 and height_p >= height0) or (height_p == height0 and width_p >= width0)
        assert abs(40 / width_p - 48 / height_p) < 0.5 * (48 / height_p) / min(width_p, height_p)
        if width_p > width0 + 3:
            padded_any["right"] = True
            assert pool.images.images[i, :, -1].max() < 0.02
        if height_p > height0 + 3:
            padded_any["bottom"] = True
            assert pool.images.images[i, -1, :].max() < 0.02
    assert padded_any == {"right": True, "bottom": True}
    width_p, height_p = pool.images.original_size[0]
    np.testing.assert_allclose(
        pool.images.landmarks[0, 0], [10.5 * 40 / width_p - 0.5, 20.5 * 48 / height_p - 0.5], atol=1e-5
    )
    back = pool.images.to_original_pixels(pool.images.landmarks)
    np.testing.assert_allclose(back, np.stack([hand.landmarks[i] for i in pool.images.ids]), atol=1e-4)


def test_hand_wrist_rule_makes_landmarks_1_and_5_fifty_millimetres_apart(hand):
    pool = read_payer_hand(settings(hand.root))
    working = pool.images.landmarks.astype(np.float64)
    spacing = pool.images.spacing
    np.testing.assert_allclose(spacing[:, 0], spacing[:, 1])
    mm = np.hypot(*((working[:, 1] - working[:, 5]) * spacing).T)
    np.testing.assert_allclose(mm, 50.0, rtol=1e-5)
    original = np.stack([hand.landmarks[i] for i in pool.images.ids])
    per_original_pixel = spacing[:, 0] * 40 / pool.images.original_size[:, 0]
    np.testing.assert_allclose(
        np.linalg.norm(original[:, 1] - original[:, 5], axis=1) * per_original_pixel, 50, rtol=0.02
    )
    assert "50 mm" in pool.mm_rule


def test_hand_folds_and_low_data_subsets(hand):
    pool = read_payer_hand(settings(hand.root))
    assert [f.name for f in pool.folds] == ["set1", "set2", "set3"]
    assert [(f.train, f.test) for f in pool.folds] == hand.folds
    assert [f.low_data_train for f in pool.folds] == hand.low_data
    assert all(len(f.low_data_train[3]) == 3 and set(f.low_data_train[3]) <= set(f.train) for f in pool.folds)
    protocol = Protocol(kind="landmarks", ground_truth=pool.ground_truth, mm_rule=pool.mm_rule)
    data = split_pool(pool, protocol, fold=2, train_size=3, val_fraction=0.0, seed=7)
    assert data.train.ids == hand.low_data[1][3]


def test_hand_tolerates_a_header_and_images_in_the_root(tmp_path):
    hand = write_payer_hand(tmp_path / "hand", header=True, image_folder="", ext=".png")
    assert (hand.root / "setup" / "all.csv").read_text().startswith("id,x0,y0,")
    pool = read_payer_hand(settings(hand.root))
    assert pool.images.ids == hand.ids
    np.testing.assert_allclose(
        pool.images.to_original_pixels(pool.images.landmarks),
        np.stack([hand.landmarks[i] for i in hand.ids]),
        atol=1e-4,
    )


def _hand_row(root: Path, line: int) -> list[str]:
    return (root / "setup" / "all.csv").read_text().splitlines()[line - 1].split(",")


def _set_hand_field(root: Path, line: int, index: int, value: str) -> None:
    fields = _hand_row(root, line)
    fields[index] = value
    set_line(root / "setup" / "all.csv", line, ",".join(fields))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda r: set_line(r / "setup" / "all.csv", 4, ",".join(_hand_row(r, 4)[:-1])),
            "expected 75 fields",
        ),
        (lambda r: _set_hand_field(r, 4, 9, "x"), "x of landmark 4 is not a number: 'x'"),
        (lambda r: _set_hand_field(r, 4, 10, "NaN"), "y of landmark 4 is not finite"),
        (lambda r: _set_hand_field(r, 4, 1, "500"), "landmark 0 at \\(500, .*\\) is outside"),
        (
            lambda r: set_line(r / "setup" / "all.csv", 4, ",".join(_hand_row(r, 2))),
            "id '3002' also on line 2",
        ),
        (
            lambda r: [_set_hand_field(r, 4, i, v) for i, v in ((3, "7"), (4, "8"), (11, "7"), (12, "8"))],
            "coincide",
        ),
    ],
)
def test_hand_bad_table_names_file_and_line(hand, damage, message):
    damage(hand.root)
    with pytest.raises(DataError, match=message) as error:
        read_payer_hand(settings(hand.root))
    assert_names(error, hand.root / "setup" / "all.csv", 4)


def test_hand_split_id_without_a_row_names_file_and_line(hand):
    split = hand.root / "setup" / "cv" / "set2" / "test.txt"
    set_line(split, 2, "9999")
    with pytest.raises(DataError, match="'9999' has no row in setup/all.csv") as error:
        read_payer_hand(settings(hand.root))
    assert_names(error, split, 2)


def test_hand_low_data_id_outside_the_training_split_is_an_error(hand):
    subset = hand.root / "setup" / "cv_rand" / "3" / "1" / "set1" / "train.txt"
    set_line(subset, 2, hand.folds[0][1][0])
    with pytest.raises(DataError, match="not in the training split") as error:
        read_payer_hand(settings(hand.root))
    assert_names(error, subset, 2)


def test_hand_missing_split_files_are_named(hand):
    (hand.root / "setup" / "cv" / "set3" / "test.txt").unlink()
    with pytest.raises(DataError, match="missing file") as error:
        read_payer_hand(settings(hand.root))
    assert_names(error, hand.root / "setup" / "cv" / "set3" / "test.txt", None)
    for folder in sorted((hand.root / "setup" / "cv").rglob("*"), reverse=True):
        folder.unlink() if folder.is_file() else folder.rmdir()
    (hand.root / "setup" / "cv").rmdir()
    with pytest.raises(DataError, match="setup/cv/set\\{1,2,3\\}") as error:
        read_payer_hand(settings(hand.root))
    assert_names(error, hand.root / "setup" / "cv", None)


# --- plain landmark folder ------------------------------------------------------------------------


def test_landmark_folder_reads_per_image_spacing_and_cross_validates(tmp_path):
    folder = write_landmark_folder(tmp_path / "lm")
    pool = read_landmark_folder(settings(folder.root))
    assert pool.images.ids == folder.ids and pool.images.landmarks.shape == (6, 5, 2)
    sizes = np.array([folder.sizes[i] for i in folder.ids])
    np.testing.assert_array_equal(pool.images.original_size, sizes)
    expected = np.array([folder.spacing_mm[i] for i in folder.ids])[:, None] * sizes / [40, 48]
    np.testing.assert_allclose(pool.images.spacing, expected)
    np.testing.assert_allclose(
        pool.images.to_original_pixels(pool.images.landmarks),
        np.stack([folder.landmarks[i] for i in folder.ids]),
        atol=1e-4,
    )
    assert len(pool.folds) == 3 and sorted(i for f in pool.folds for i in f.test) == folder.ids
    assert all(sorted(f.train + f.test) == folder.ids for f in pool.folds)
    again = read_landmark_folder(settings(folder.root))
    assert [f.test for f in again.folds] == [f.test for f in pool.folds]
    assert len(read_landmark_folder(settings(folder.root, num_folds=2)).folds) == 2
    assert (pool.source, pool.ground_truth) == ("landmark-folder", "landmarks.csv")


def test_landmark_folder_spacing_from_dataset_json_and_splits_json(tmp_path):
    folder = write_landmark_folder(tmp_path / "lm", spacing_column=False, dataset_spacing_mm=0.25, folds=2)
    pool = read_landmark_folder(settings(folder.root))
    sizes = np.array([folder.sizes[i] for i in folder.ids])
    np.testing.assert_allclose(pool.images.spacing, 0.25 * sizes / [40, 48])
    assert pool.mm_rule == "pixel spacing 0.25 mm (dataset.json)"
    assert [(f.train, f.test) for f in pool.folds] == folder.folds


def test_landmark_folder_without_spacing_says_how_to_give_it(tmp_path):
    folder = write_landmark_folder(tmp_path / "lm", spacing_column=False)
    with pytest.raises(DataError, match='spacing_mm.*dataset.json.*"pixel_spacing_mm"') as error:
        read_landmark_folder(settings(folder.root))
    assert_names(error, folder.root, None)


@pytest.mark.parametrize(
    ("line", "text", "message"),
    [
        (1, "image,x0,y0,x2,y2,x3,y3,x4,y4,x5,y5,spacing_mm", "header must be image,x0,y0"),
        (1, "name,x0,y0,x1,y1,x2,y2,x3,y3,x4,y4,spacing_mm", "header must be image,x0,y0"),
        (3, "case02.png,1,2,3", "expected 12 fields as in the header, got 4"),
        (3, "case02.png,1,2,3,4,5,6,7,8,9,ten,0.1", "y of landmark 4 is not a number"),
        (3, "case02.png,1,2,3,4,5,6,7,inf,9,10,0.1", "y of landmark 3 is not finite"),
        (3, "case02.png,1,2,3,4,5,6,7,8,9,100,0.1", "landmark 4 at \\(9, 100\\) is outside"),
        (3, "case02.png,1,2,3,4,5,6,7,8,9,10,-0.1", "spacing_mm must be a positive number"),
        (3, "case99.png,1,2,3,4,5,6,7,8,9,10,0.1", "image 'case99' is not in"),
    ],
)
def test_landmark_folder_bad_table_names_file_and_line(tmp_path, line, text, message):
    folder = write_landmark_folder(tmp_path / "lm")
    set_line(folder.root / "landmarks.csv", line, text)
    with pytest.raises(DataError, match=message) as error:
        read_landmark_folder(settings(folder.root))
    assert_names(error, folder.root / "landmarks.csv", line)


def test_landmark_folder_image_without_a_row_is_named(tmp_path):
    folder = write_landmark_folder(tmp_path / "lm")
    extra = folder.root / "images" / "stray.png"
    skimage.io.imsave(extra, np.zeros((5, 5), np.uint8), check_contrast=False)
    with pytest.raises(DataError, match="image has no row") as error:
        read_landmark_folder(settings(folder.root))
    assert_names(error, extra, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"folds": [{"train": ["case01.png", "case02"], "test": ["case07"]}]},
            "unknown images \\['case07'\\]",
        ),
        ({"folds": [{"train": ["case01", "case02"], "test": ["case02.png"]}]}, "in both train and test"),
        ({"folds": [{"train": ["case01"], "test": []}]}, "'test' must be a non-empty list"),
        ({"splits": []}, 'expected {"folds"'),
    ],
)
def test_landmark_folder_bad_splits_file_is_named(tmp_path, content, message):
    folder = write_landmark_folder(tmp_path / "lm")
    (folder.root / "splits.json").write_text(json.dumps(content))
    with pytest.raises(DataError, match=message) as error:
        read_landmark_folder(settings(folder.root))
    assert_names(error, folder.root / "splits.json", None)


def test_landmark_folder_invalid_json_names_the_line(tmp_path):
    folder = write_landmark_folder(tmp_path / "lm", spacing_column=False, dataset_spacing_mm=0.1)
    (folder.root / "dataset.json").write_text('{\n "pixel_spacing_mm": 0.1,\n}\n')
    with pytest.raises(DataError, match="invalid JSON") as error:
        read_landmark_folder(settings(folder.root))
    assert_names(error, folder.root / "dataset.json", 3)


# --- plain segmentation folder ------------------------------------------------------------------------


def test_segmentation_folder_reads_masks_unlabelled_pool_and_default_spacing(tmp_path):
    folder = write_segmentation_folder(tmp_path / "seg", mask_ext=".bmp")
    pool = read_segmentation_folder(settings(folder.root))
    assert pool.images.ids == folder.ids and pool.images.landmarks is None
    masks = pool.images.masks
    assert masks.shape == (6, *SIZE) and set(np.unique(masks)) == {0, 1}
    for i, image_id in enumerate(folder.ids):  # masks stored as 255 and as 1 are both foreground
        assert masks[i].mean() == pytest.approx(folder.masks[image_id].mean(), abs=0.03)
        assert masks[i].mean() > 0.05
    sizes = np.array([folder.sizes[i] for i in folder.ids])
    np.testing.assert_allclose(pool.images.spacing, 0.1 * sizes / [40, 48])
    assert pool.mm_rule == "pixel spacing 0.1 mm (default: no dataset.json)"
    assert pool.unlabelled.ids == folder.unlabelled and pool.unlabelled.images.shape == (2, *SIZE)
    assert pool.unlabelled.masks is None and pool.unlabelled.landmarks is None
    assert len(pool.folds) == 3 and sorted(i for f in pool.folds for i in f.test) == folder.ids
    assert (pool.source, pool.ground_truth) == ("segmentation-folder", "masks")


def test_segmentation_folder_spacing_and_splits_from_json(tmp_path):
    folder = write_segmentation_folder(tmp_path / "seg", spacing_mm=0.3, folds=2, n_unlabelled=0, ext=".jpg")
    pool = read_segmentation_folder(settings(folder.root))
    sizes = np.array([folder.sizes[i] for i in folder.ids])
    np.testing.assert_allclose(pool.images.spacing, 0.3 * sizes / [40, 48])
    assert pool.mm_rule == "pixel spacing 0.3 mm (dataset.json)"
    assert [(f.train, f.test) for f in pool.folds] == folder.folds
    assert pool.unlabelled is None


def test_segmentation_mask_of_another_size_is_named(tmp_path):
    folder = write_segmentation_folder(tmp_path / "seg")
    mask = folder.root / "masks" / "scan03.png"
    skimage.io.imsave(mask, np.zeros((7, 9), np.uint8), check_contrast=False)
    with pytest.raises(DataError, match="mask is 9 x 7 pixels but its image scan03.png is 54 x 50") as error:
        read_segmentation_folder(settings(folder.root))
    assert_names(error, mask, None)


def test_segmentation_image_without_mask_and_mask_without_image_are_named(tmp_path):
    folder = write_segmentation_folder(tmp_path / "seg")
    (folder.root / "masks" / "scan02.png").rename(folder.root / "masks" / "scan99.png")
    with pytest.raises(DataError, match="image has no mask") as error:
        read_segmentation_folder(settings(folder.root))
    assert_names(error, folder.paths["scan02"], None)
    (folder.root / "masks" / "scan99.png").rename(folder.root / "masks" / "scan02.png")
    stray = folder.root / "masks" / "scan77.png"
    skimage.io.imsave(stray, np.zeros((5, 5), np.uint8), check_contrast=False)
    with pytest.raises(DataError, match="mask has no image") as error:
        read_segmentation_folder(settings(folder.root))
    assert_names(error, stray, None)


def test_segmentation_truncated_mask_is_named(tmp_path):
    folder = write_segmentation_folder(tmp_path / "seg")
    mask = folder.root / "masks" / "scan04.png"
    _truncate(mask)
    with pytest.raises(DataError, match="cannot read image") as error:
        read_segmentation_folder(settings(folder.root))
    assert_names(error, mask, None)


# --- layout detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "source"),
    [
        (write_isbi2015, "isbi2015"),
        (write_payer_hand, "payer-hand"),
        (write_landmark_folder, "landmark-folder"),
        (write_segmentation_folder, "segmentation-folder"),
    ],
)
def test_read_data_root_recognises_each_layout(tmp_path, writer, source):
    writer(tmp_path)
    assert read_data_root(settings(tmp_path)).source == source


def test_read_data_root_rejects_an_unknown_layout_listing_the_known_ones(tmp_path):
    (tmp_path / "RawImage").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="unrecognised layout") as error:
        read_data_root(settings(tmp_path))
    assert_names(error, tmp_path, None)
    for marker in (
        "AnnotationsByMD/",
        "setup/all.csv",
        "landmarks.csv",
        "masks/",
        "found RawImage/, notes.txt",
    ):
        assert marker in str(error.value)


def test_read_data_root_rejects_empty_image_folders(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DataError, match="holds no images") as error:
        read_data_root(settings(tmp_path))
    assert_names(error, tmp_path / "images", None)
    with pytest.raises(DataError, match="not a folder"):
        read_data_root(settings(tmp_path / "absent"))
