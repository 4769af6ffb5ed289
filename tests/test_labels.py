"""Reading generated all-landmark heatmaps back into labels: peaks, MRF identities, shape model, reader.

Shapes come from the real phantom geometry (hand: 37 landmarks at 128 x 128, ceph: 19 at 160 x 128):
100 (ceph: 50) training shapes, held-out shapes with other seeds.
"""

import itertools

import numpy as np
import pytest

from baselines.augmentations.labels.graph import landmark_graph
from baselines.augmentations.labels.mrf import LandmarkMRF
from baselines.augmentations.labels.peaks import detect_peaks, render_landmark_heatmap
from baselines.augmentations.labels.reader import HeatmapLabelReader
from baselines.augmentations.labels.shape_model import (
    ShapeModel,
    generalised_procrustes,
    similarity_transform,
)
from tasks.phantoms.ceph import render_ceph
from tasks.phantoms.hand import HAND_LANDMARK_NAMES, render_hand

N_TRAIN, N_HELD_OUT = 100, 40
INDEX = {name: i for i, name in enumerate(HAND_LANDMARK_NAMES)}
UPSCALE = 4  # hand landmarks at 512 x 512 for heatmap reading: at 128 px some carpals share a pixel


def chain(digit: str) -> list[int]:
    joints = ("cmc", "mcp", "ip", "tip") if digit == "thumb" else ("cmc", "mcp", "pip", "dip", "tip")
    return [INDEX[f"{digit}_{joint}"] for joint in joints]


def upscale(points: np.ndarray) -> np.ndarray:
    """Working pixels at 128 -> at 128 * UPSCALE (pixel-centre convention of the ImageSet)."""
    return (points + 0.5) * UPSCALE - 0.5


@pytest.fixture(scope="module")
def hands() -> tuple[np.ndarray, np.ndarray]:
    shapes = np.array([render_hand(np.random.default_rng([0, 0, i]), (128, 128))[1]
                       for i in range(N_TRAIN + N_HELD_OUT)], dtype=np.float64)
    return shapes[:N_TRAIN], shapes[N_TRAIN:]


@pytest.fixture(scope="module")
def cephs() -> tuple[np.ndarray, np.ndarray]:
    shapes = np.array([render_ceph(np.random.default_rng([0, 1, i]), (160, 128))[1] for i in range(70)],
                      dtype=np.float64)
    return shapes[:50], shapes[50:]


@pytest.fixture(scope="module")
def working_size_reader(hands) -> HeatmapLabelReader:
    return HeatmapLabelReader().fit(hands[0], (128, 128))


@pytest.fixture(scope="module")
def hand_mrf(working_size_reader) -> LandmarkMRF:
    return working_size_reader.mrf


@pytest.fixture(scope="module")
def hand_ssm(working_size_reader) -> ShapeModel:
    return working_size_reader.shape_model


@pytest.fixture(scope="module")
def hand_reader(hands) -> HeatmapLabelReader:
    return HeatmapLabelReader().fit(upscale(hands[0]), (128 * UPSCALE, 128 * UPSCALE))


# -- peaks ----------------------------------------------------------------------------------------------


def test_rendered_heatmap_peaks_are_recovered_sub_pixel():
    points = np.array([[10.3, 12.7], [30.0, 8.0], [20.5, 30.25], [5.9, 40.1]])
    heatmap = render_landmark_heatmap(points, (48, 40), sigma=2.0)
    assert heatmap.shape == (48, 40) and heatmap.dtype == np.float32
    assert heatmap.max() <= 1.0 and heatmap.max() > np.exp(-0.5 / (2 * 2.0**2)) - 1e-6
    found, heights = detect_peaks(heatmap, max_peaks=10, threshold=0.3, min_distance=1)
    assert len(found) == 4 and np.all(np.diff(heights) <= 0)
    order = [int(np.argmin(np.linalg.norm(points - p, axis=1))) for p in found]
    assert sorted(order) == [0, 1, 2, 3]
    np.testing.assert_allclose(found, points[order], atol=1e-4)


def test_peak_detection_threshold_cap_plateau_and_border():
    heatmap = np.zeros((20, 20))
    heatmap[5, 5], heatmap[10, 14], heatmap[15, 3] = 1.0, 0.6, 0.2
    heatmap[2:4, 11:13] = 0.8  # a flat 2 x 2 plateau: one peak
    heatmap[0, 19] = 0.9  # on the corner: no sub-pixel shift
    found, heights = detect_peaks(heatmap, max_peaks=10, threshold=0.3, min_distance=1)
    np.testing.assert_allclose(heights, [1.0, 0.9, 0.8, 0.6])
    np.testing.assert_allclose(found[[0, 1, 3]], [[5, 5], [19, 0], [14, 10]])
    np.testing.assert_allclose(found[2], [11.5, 2.5])  # the sub-pixel step is clamped to half a pixel
    assert len(detect_peaks(heatmap, max_peaks=2, threshold=0.3, min_distance=1)[0]) == 2
    assert len(detect_peaks(np.zeros((8, 8)), max_peaks=5, threshold=0.1, min_distance=1)[0]) == 0


# -- graph ----------------------------------------------------------------------------------------------


def test_delaunay_graph_links_neighbours_and_finger_joints(hands):
    mean = hands[0].mean(axis=0)
    edges = set(landmark_graph(mean))
    assert all(i < j for i, j in edges) and len(edges) <= 3 * 37 - 6
    distance = np.linalg.norm(mean[:, None] - mean[None], axis=2) + np.diag(np.full(37, np.inf))
    assert all((min(k, n), max(k, n)) in edges for k, n in enumerate(distance.argmin(axis=1)))
    joints = [chain(digit) for digit in ("thumb", "index", "middle", "ring", "little")]
    consecutive = [edge for c in joints for edge in itertools.pairwise(c)]
    assert np.mean([edge in edges for edge in consecutive]) >= 0.9
    assert (INDEX["index_tip"], INDEX["middle_tip"]) in edges  # neighbouring fingers


def test_degenerate_shapes_fall_back_to_a_connected_knn_graph():
    line = np.stack([np.arange(6.0), 2 * np.arange(6.0)], axis=1)
    edges = landmark_graph(line, extra_edges=[(5, 0)])
    assert (0, 5) in edges and {i for edge in edges for i in edge} == set(range(6))
    assert landmark_graph(np.array([[0.0, 0.0], [3.0, 4.0]])) == [(0, 1)]


# -- MRF ------------------------------------------------------------------------------------------------


def identity_rate(mrf: LandmarkMRF, shapes: np.ndarray, noise: float, seed: int) -> float:
    """Fraction of landmarks whose identity the MRF recovers from shuffled (and jittered) true points."""
    rng = np.random.default_rng(seed)
    correct = 0
    for shape in shapes:
        order = rng.permutation(len(shape))
        assignment = mrf.assign(shape[order] + rng.normal(0.0, noise, shape.shape))
        recovered = np.where(assignment.assigned_peak >= 0, order[assignment.assigned_peak], -1)
        correct += int((recovered == np.arange(len(shape))).sum())
    return correct / shapes[:, :, 0].size


def test_mrf_recovers_identities_of_shuffled_hand_landmarks(hands, hand_mrf):
    assert identity_rate(hand_mrf, hands[1], noise=0.0, seed=1) >= 0.98
    assert identity_rate(hand_mrf, hands[1], noise=1.0, seed=2) >= 0.98


def test_mrf_recovers_ceph_identities(cephs):
    mrf = LandmarkMRF().fit(cephs[0])
    # The upper and lower incisal edges may lie within a pixel of each other: they are the one ambiguity.
    assert identity_rate(mrf, cephs[1], noise=0.0, seed=3) >= 0.95


def test_mrf_marks_one_landmark_missing_per_absent_peak_and_leaves_distractors_unassigned(hands, hand_mrf):
    shape = hands[1][0]
    for k in (INDEX["capitate"], INDEX["middle_pip"], INDEX["thumb_cmc"]):
        assignment = hand_mrf.assign(np.delete(shape, k, axis=0))
        assert (assignment.assigned_peak < 0).sum() == 1 and assignment.n_unassigned_peaks == 0
        assert np.isnan(assignment.landmarks).any(axis=1).sum() == 1

    far = np.array([[2.0, 2.0], [125.0, 3.0], [3.0, 124.0]])  # corners, far from any hand landmark
    peaks = np.concatenate([shape, far])
    assignment = hand_mrf.assign(peaks)
    np.testing.assert_array_equal(assignment.assigned_peak, np.arange(37))
    assert assignment.n_unassigned_peaks == 3
    assert assignment.energy == pytest.approx(hand_mrf.energy(peaks, np.arange(37)))


# -- shape model ----------------------------------------------------------------------------------------


def stretched_thumb(shape: np.ndarray, factor: float) -> np.ndarray:
    out, joints = shape.copy(), chain("thumb")
    out[joints[1:]] = shape[joints[0]] + factor * (shape[joints[1:]] - shape[joints[0]])
    return out


def swapped(shape: np.ndarray, a: str, b: str) -> np.ndarray:
    out = shape.copy()
    out[[INDEX[a], INDEX[b]]] = shape[[INDEX[b], INDEX[a]]]
    return out


def displaced_index_finger(shape: np.ndarray) -> np.ndarray:
    """The index finger chain moved two finger spacings towards the thumb: the chain an MRF would label
    as the index finger in a hand with an extra finger beyond it."""
    out, index, middle = shape.copy(), chain("index"), chain("middle")
    out[index] += 2 * (shape[index[0]] - shape[middle[0]])
    return out


def test_procrustes_tools():
    rng = np.random.default_rng(5)
    source = rng.normal(size=(9, 2))
    angle, scale, shift = 0.7, 2.5, np.array([3.0, -1.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    a, t = similarity_transform(source, source @ (scale * rotation).T + shift)
    np.testing.assert_allclose(a, scale * rotation, atol=1e-12)
    np.testing.assert_allclose(t, shift, atol=1e-12)
    aligned, mean = generalised_procrustes(np.stack([source @ rotation.T * s + s for s in (1.0, 2.0, 3.0)]))
    np.testing.assert_allclose(aligned, np.broadcast_to(mean, aligned.shape), atol=1e-9)
    assert np.linalg.norm(mean) == pytest.approx(1.0)


def test_shape_model_accepts_held_out_shapes(hands, hand_ssm):
    rng = np.random.default_rng(6)
    held_out = hands[1]
    assert np.mean([hand_ssm.plausible(s)[0] for s in held_out]) >= 0.95
    assert np.mean([hand_ssm.plausible(s + rng.normal(0.0, 1.0, s.shape))[0] for s in held_out]) >= 0.95
    # Invariant to the pose: a similarity transform of a shape has the same statistics.
    shape = held_out[0]
    moved = shape @ (1.7 * np.array([[0.6, -0.8], [0.8, 0.6]])).T + [40.0, -7.0]
    assert hand_ssm.mahalanobis(moved) == pytest.approx(hand_ssm.mahalanobis(shape))
    assert hand_ssm.residual(moved) == pytest.approx(hand_ssm.residual(shape))


@pytest.mark.parametrize("plant", [
    lambda s: stretched_thumb(s, 1.7),
    lambda s: stretched_thumb(s, 1.8),
    lambda s: swapped(s, "thumb_tip", "little_tip"),
    lambda s: swapped(s, "index_tip", "ring_tip"),
    displaced_index_finger,
], ids=["thumb-x1.7", "thumb-x1.8", "swap-thumb-little-tips", "swap-index-ring-tips", "displaced-finger"])
def test_shape_model_rejects_planted_implausible_shapes(hands, hand_ssm, plant):
    verdicts = [hand_ssm.plausible(plant(s)) for s in hands[1]]
    assert np.mean([not accepted for accepted, _ in verdicts]) >= 0.95
    assert all(reason.startswith("implausible shape") for accepted, reason in verdicts if not accepted)


def test_shape_model_rejects_missing_landmarks(hands, hand_ssm):
    shape = hands[1][0].copy()
    shape[INDEX["ring_tip"]] = np.nan
    assert hand_ssm.plausible(shape) == (False, "missing landmarks")


# -- reader ---------------------------------------------------------------------------------------------


def read(reader: HeatmapLabelReader, points: np.ndarray):
    return reader.read(render_landmark_heatmap(points, reader.image_size, sigma=2.0))


def test_reader_recovers_rendered_heatmaps(hands, hand_reader):
    for shape in upscale(hands[1][:15]):
        reading = read(hand_reader, shape)
        assert reading.accepted and reading.reason == "accepted" and reading.n_peaks == 37
        assert np.abs(reading.landmarks - shape).max() < 0.5
        assert reading.mahalanobis <= hand_reader.shape_model.mahalanobis_limit


def test_reader_at_the_working_size_reads_merged_peaks_as_shared(hands, working_size_reader):
    """At 128 px two landmarks within a pixel (typically triquetrum and pisiform) give one peak; the
    reader lets them share it and accepts the shape, both landmarks on the peak."""
    merged_accepted = accepted = 0
    for shape in hands[1][:15]:
        reading = read(working_size_reader, shape)
        accepted += reading.accepted
        error = np.linalg.norm(reading.landmarks - shape, axis=1) if reading.landmarks is not None else None
        if reading.n_peaks < 37 and reading.accepted:
            merged_accepted += 1
            assert error.max() < 2.0
        elif reading.accepted:  # at most one swap of two landmarks a few pixels apart
            assert np.sum(error < 0.5) >= 35
    assert merged_accepted >= 2 and accepted >= 13  # without sharing: 0 merged ones and 11 in all


def test_a_missing_landmark_does_not_hide_on_a_neighbours_peak(hands, working_size_reader):
    shape = next(s for s in hands[1] if read(working_size_reader, s).n_peaks == 37)
    reading = working_size_reader.read(render_landmark_heatmap(np.delete(shape, INDEX["middle_tip"], axis=0),
                                                               (128, 128), sigma=2.0))
    assert reading.n_peaks == 36 and not reading.accepted and reading.reason.startswith("missing landmarks")
    fewer = working_size_reader.read(render_landmark_heatmap(shape[:30], (128, 128), sigma=2.0))
    assert fewer.reason.startswith("too few peaks") and fewer.landmarks is None


def test_reader_rejects_an_extra_finger(hands, hand_reader):
    shape = upscale(hands[1][1])
    little, ring = chain("little"), chain("ring")
    sixth = shape[little] + (shape[little[0]] - shape[ring[0]])  # one more finger beyond the little one
    reading = read(hand_reader, np.concatenate([shape, sixth]))
    assert not reading.accepted and reading.reason.startswith("extra peaks") and reading.n_peaks == 42


def test_reader_rejects_a_long_thumb_a_lost_finger_and_a_stray_landmark(hands, hand_reader):
    shape = upscale(hands[1][2])
    reading = read(hand_reader, stretched_thumb(shape, 1.7))
    # Either the MRF finds no landmark for the far-out thumb peaks, or the shape model rejects the thumb.
    assert not reading.accepted and reading.reason.startswith(("implausible shape", "missing landmarks"))
    assert reading.landmarks is not None

    reading = read(hand_reader, np.delete(shape, chain("little"), axis=0))
    assert not reading.accepted and reading.reason.startswith("too few peaks") and reading.landmarks is None

    stray = shape.copy()
    stray[INDEX["middle_tip"]] = [500.0, 500.0]  # far from where any landmark can be
    reading = read(hand_reader, stray)
    assert not reading.accepted and reading.reason.startswith("missing landmarks")
    assert np.isnan(reading.landmarks[INDEX["middle_tip"]]).all()


def test_reader_checks_the_heatmap_size(hand_reader):
    with pytest.raises(ValueError, match="fitted for"):
        hand_reader.read(np.zeros((128, 128)))
    assert hand_reader.read(np.zeros(hand_reader.image_size)).reason.startswith("too few peaks")
