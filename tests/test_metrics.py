import math

import numpy as np
import pytest

from benchmark.metrics.landmarks import landmark_summary, per_landmark_mre, radial_errors_mm
from benchmark.metrics.segmentation import hd95_mm, segmentation_per_image, segmentation_summary


def test_radial_error_is_a_3_4_5_triangle_in_mm():
    target = np.zeros((2, 1, 2))
    pred = np.array([[[3.0, 4.0]], [[3.0, 4.0]]])
    errors = radial_errors_mm(pred, target, np.array([[1.0, 1.0], [0.1, 0.1]]))
    np.testing.assert_allclose(errors, [[5.0], [0.5]])


def test_radial_error_scales_x_and_y_by_their_own_spacing():
    errors = radial_errors_mm(np.array([[[3.0, 4.0]]]), np.zeros((1, 1, 2)), np.array([[2.0, 0.5]]))
    assert errors[0, 0] == pytest.approx(math.hypot(6.0, 2.0))


def test_radial_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        radial_errors_mm(np.zeros((1, 2, 2)), np.zeros((1, 3, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError):
        radial_errors_mm(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), np.ones((1, 2)))


ERRORS = np.array([[1.0, 2.0], [2.5, 4.0]])


def test_summary_statistics_over_all_instances():
    summary = landmark_summary(ERRORS, (2.0,))
    assert summary["mre_mm"] == pytest.approx(2.375)
    assert summary["mre_median_mm"] == pytest.approx(2.25)
    assert summary["mre_sd_mm"] == pytest.approx(math.sqrt(4.6875 / 4))


def test_sdr_with_less_or_equal_counts_errors_exactly_at_the_radius():
    summary = landmark_summary(ERRORS, (2.0, 2.5, 4.0), "<=")
    assert (summary["sdr_2mm"], summary["sdr_2.5mm"], summary["sdr_4mm"]) == (50.0, 75.0, 100.0)


def test_sdr_with_strictly_less_excludes_errors_exactly_at_the_radius():
    summary = landmark_summary(ERRORS, (2.0, 2.5, 4.0), "<")
    assert (summary["sdr_2mm"], summary["sdr_2.5mm"], summary["sdr_4mm"]) == (25.0, 50.0, 75.0)


def test_outliers_count_errors_at_or_above_the_radius_whatever_the_inequality():
    for inequality in ("<", "<="):
        summary = landmark_summary(ERRORS, (2.0, 2.5, 4.0, 10.0), inequality)
        counts = [summary[f"outliers_{r}mm"] for r in ("2", "2.5", "4", "10")]
        assert counts == [3.0, 2.0, 1.0, 0.0]


def test_summary_keys_format_radii_without_trailing_zeros():
    assert set(landmark_summary(ERRORS, (2.0, 2.5))) == {
        "mre_mm", "mre_sd_mm", "mre_median_mm", "sdr_2mm", "sdr_2.5mm", "outliers_2mm", "outliers_2.5mm",
    }


def test_summary_rejects_non_finite_errors_and_unknown_inequalities():
    with pytest.raises(ValueError, match="not finite"):
        landmark_summary(np.array([[1.0, np.nan]]), (2.0,))
    with pytest.raises(ValueError, match="inequality"):
        landmark_summary(ERRORS, (2.0,), "<<")


def test_per_landmark_mre_averages_over_images():
    np.testing.assert_allclose(per_landmark_mre(np.array([[1.0, 2.0], [3.0, 6.0]])), [2.0, 4.0])


def _square(size: int, top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[top:top + height, left:left + width] = 1
    return mask


def test_overlap_metrics_on_hand_counted_squares():
    target = _square(8, 2, 2, 4, 4)  # 16 pixels
    pred = _square(8, 2, 2, 4, 6)  # 24 pixels, 16 of them on the target
    result = segmentation_per_image(pred[None], target[None], np.ones((1, 2)))
    assert result["dice"][0] == pytest.approx(2 * 16 / (24 + 16))
    assert result["precision"][0] == pytest.approx(16 / 24)
    assert result["recall"][0] == pytest.approx(1.0)


def test_hd95_between_single_pixels_uses_the_spacing_of_each_axis():
    a, horizontal, vertical = np.zeros((3, 9, 9), dtype=bool)
    a[2, 2] = horizontal[2, 7] = vertical[5, 2] = True
    spacing = (0.5, 2.0)  # (sx, sy)
    assert hd95_mm(a, horizontal, spacing) == pytest.approx(5 * 0.5)
    assert hd95_mm(a, vertical, spacing) == pytest.approx(3 * 2.0)


def test_hd95_of_concentric_squares_is_the_95th_percentile_of_the_outer_boundary_distances():
    # Inner boundary -> outer boundary: every distance is 2. Outer -> inner: 20 pixels at 2, the 8 next
    # to the corners at sqrt(5), the 4 corners at sqrt(8); P95 of those 32 (linear) is sqrt(8).
    outer, inner = _square(11, 1, 1, 9, 9).astype(bool), _square(11, 3, 3, 5, 5).astype(bool)
    assert hd95_mm(inner, outer, (1.0, 1.0)) == pytest.approx(math.sqrt(8))
    assert hd95_mm(outer, inner, (0.5, 0.5)) == pytest.approx(math.sqrt(8) / 2)


def test_hd95_counts_pixels_on_the_image_border_as_boundary():
    full, centre = np.ones((5, 5), dtype=bool), np.zeros((5, 5), dtype=bool)
    centre[2, 2] = True
    assert hd95_mm(full, centre, (1.0, 1.0)) == pytest.approx(math.sqrt(8))


def test_empty_mask_conventions():
    empty, square = np.zeros((6, 6), dtype=np.uint8), _square(6, 1, 1, 3, 3)
    result = segmentation_per_image(
        np.stack([empty, empty, square]), np.stack([empty, square, empty]), np.ones((3, 2))
    )
    np.testing.assert_array_equal(result["dice"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(result["precision"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(result["recall"], [1.0, 0.0, 0.0])
    assert result["hd95_mm"][0] == 0.0
    assert np.isnan(result["hd95_mm"][1:]).all()


def test_summary_leaves_undefined_hd95_out_of_the_mean_and_counts_it():
    empty = np.zeros((8, 8), dtype=np.uint8)
    target = _square(8, 2, 2, 4, 4)
    shifted = _square(8, 2, 4, 4, 4)  # overlap 8 of 16 + 16
    pred = np.stack([target, shifted, empty])
    summary = segmentation_summary(pred, np.stack([target, target, target]), np.full((3, 2), 0.5))
    dice = np.array([1.0, 0.5, 0.0])
    assert summary["dice"] == pytest.approx(dice.mean())
    assert summary["dice_sd"] == pytest.approx(dice.std())
    assert summary["precision"] == pytest.approx(0.5)
    assert summary["recall"] == pytest.approx(0.5)
    assert summary["hd95_undefined"] == 1.0
    assert summary["hd95_mm"] == pytest.approx((0.0 + hd95_mm(shifted > 0, target > 0, (0.5, 0.5))) / 2)
    assert summary["hd95_mm"] > 0


def test_summary_hd95_is_nan_when_undefined_everywhere():
    empty, square = np.zeros((1, 6, 6), dtype=np.uint8), _square(6, 1, 1, 3, 3)[None]
    summary = segmentation_summary(empty, square, np.ones((1, 2)))
    assert math.isnan(summary["hd95_mm"]) and summary["hd95_undefined"] == 1.0


def test_segmentation_rejects_probabilities_and_mismatched_shapes():
    with pytest.raises(ValueError, match="binary"):
        segmentation_per_image(np.full((1, 4, 4), 0.7), np.ones((1, 4, 4)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        segmentation_per_image(np.ones((1, 4, 4)), np.ones((1, 4, 5)), np.ones((1, 2)))
