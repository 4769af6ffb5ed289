"""The embedded phantom data sets: determinism, label geometry, mm rules, folds and the cache."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation
from skimage.measure import label as connected_components
from skimage.morphology import skeletonize

from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError
from tasks.formats.payer_hand import wrist_rule_spacing
from tasks.phantoms import libm
from tasks.phantoms.canal import CANAL_SPEC, read_canal_phantom, render_canal
from tasks.phantoms.ceph import CEPH_LANDMARK_NAMES, CEPH_SPEC, read_ceph_phantom, render_ceph
from tasks.phantoms.hand import HAND_LANDMARK_NAMES, HAND_SPEC, read_hand_phantom, render_hand
from tasks.phantoms.pool import phantom_pool

REPOSITORY = Path(__file__).resolve().parents[1]
RENDERERS = {"hand": render_hand, "ceph": render_ceph, "canal": render_canal}
SIZES = {"hand": (64, 64), "ceph": (80, 64), "canal": (64, 128)}
ISBI_ORDER = [
    "sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
    "gonion", "lower_incisal_incision", "upper_incisal_incision", "upper_lip", "lower_lip", "subnasale",
    "soft_tissue_pogonion", "posterior_nasal_spine", "anterior_nasal_spine", "articulare",
]


def _samples(name: str, count: int = 12, size=None, seed: int = 0):
    render, size = RENDERERS[name], size or SIZES[name]
    return [render(np.random.default_rng([seed, 0, i]), size) for i in range(count)]


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_same_seed_same_sample_other_seed_other_sample(name):
    render, size = RENDERERS[name], SIZES[name]
    a, b, c = (render(np.random.default_rng(s), size) for s in (7, 7, 8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_images_are_float_unit_range_with_content(name):
    for image, _ in _samples(name, count=4):
        assert image.shape == SIZES[name] and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
        assert image.std() > 0.05


@pytest.mark.parametrize("name,count", [("hand", 37), ("ceph", 19)])
@pytest.mark.parametrize("size", [(64, 64), (72, 48), (48, 72)])
def test_landmarks_inside_image_at_any_aspect(name, count, size):
    for _, landmarks in _samples(name, size=size):
        assert landmarks.shape == (count, 2) and landmarks.dtype == np.float32
        assert np.all(landmarks >= 0.0)
        assert np.all(landmarks[:, 0] <= size[1] - 1) and np.all(landmarks[:, 1] <= size[0] - 1)


def test_hand_names_and_anatomy():
    assert len(HAND_LANDMARK_NAMES) == 37 == len(set(HAND_LANDMARK_NAMES))
    assert HAND_LANDMARK_NAMES[1] == "radial_styloid" and HAND_LANDMARK_NAMES[5] == "ulnar_styloid"
    thumb_tip = HAND_LANDMARK_NAMES.index("thumb_tip")
    long_tips = {HAND_LANDMARK_NAMES.index(f"{f}_tip") for f in ("index", "middle", "ring")}
    for _, p in _samples("hand"):
        # the radial styloid is on the thumb side; a long finger's tip is the farthest point from the wrist
        assert np.linalg.norm(p[thumb_tip] - p[1]) < np.linalg.norm(p[thumb_tip] - p[5])
        wrist = 0.5 * (p[1] + p[5])
        assert np.argmax(np.linalg.norm(p - wrist, axis=1)) in long_tips


def test_ceph_names_in_isbi_order_and_anatomy():
    assert CEPH_LANDMARK_NAMES == ISBI_ORDER
    for _, p in _samples("ceph"):
        sella, nasion, porion, orbitale = p[0], p[1], p[3], p[2]
        assert sella[0] < nasion[0] and porion[0] < orbitale[0]  # facing right
        assert p[7, 1] > p[6, 1] > nasion[1]  # menton below pogonion below nasion
        assert p[15, 0] > p[6, 0] and p[12, 0] > p[11, 0]  # soft tissue in front of bone and teeth
        assert p[17, 0] > p[16, 0]  # ANS in front of PNS


def test_canal_masks_are_two_thin_curves():
    for image, mask in _samples("canal", count=4, size=(128, 256)):
        assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
        assert 0.003 < mask.mean() < 0.05
        components, count = connected_components(mask, return_num=True)
        assert count == 2
        left, right = (np.nonzero(components == k)[1].mean() for k in (1, 2))
        assert min(left, right) < 128 < max(left, right)
        width = mask.sum() / skeletonize(mask.astype(bool)).sum()
        assert 1.5 < width < 5.0


def test_canal_lumen_is_darker_than_its_surroundings():
    darker = []
    for image, mask in _samples("canal", count=8, size=(128, 256)):
        lumen = mask.astype(bool)
        around = binary_dilation(lumen, iterations=5) & ~binary_dilation(lumen, iterations=2)
        darker.append(image[lumen].mean() < image[around].mean())
    assert np.mean(darker) >= 0.75


@pytest.mark.parametrize("name", ["hand", "ceph"])
def test_landmarks_vary_enough_for_learning(name):
    """The training-mean shape is a poor predictor: leave-one-out error above a few pixels."""
    landmarks = np.stack([p for _, p in _samples(name)])
    errors = [np.linalg.norm(landmarks[i] - np.delete(landmarks, i, 0).mean(0), axis=-1).mean()
              for i in range(len(landmarks))]
    assert np.mean(errors) > 1.5


def _settings(**overrides) -> DataSettings:
    base = dict(image_size=(48, 48), n_labelled=9, n_unlabelled=4, num_folds=3, data_seed=3)
    base.update(overrides)
    return DataSettings(**base)


def test_pool_ids_folds_and_unlabelled(tmp_path):
    pool = phantom_pool(HAND_SPEC, _settings(), cache_root=tmp_path)
    ids = pool.images.ids
    assert ids[7] == "hand-0007" and pool.unlabelled.ids[3] == "hand-u0003"
    assert pool.unlabelled.landmarks is None and pool.unlabelled.masks is None
    assert not np.array_equal(pool.images.images[0], pool.unlabelled.images[0])
    assert [f.name for f in pool.folds] == ["fold1", "fold2", "fold3"]
    tests = [t for f in pool.folds for t in f.test]
    assert sorted(tests) == sorted(ids)  # every image tested exactly once
    for fold in pool.folds:
        assert not set(fold.train) & set(fold.test)
        assert sorted(fold.train + fold.test) == sorted(ids)
    assert pool.ground_truth == "phantom" and pool.landmark_names == HAND_LANDMARK_NAMES


def test_pool_without_unlabelled_and_bad_folds(tmp_path):
    assert phantom_pool(CEPH_SPEC, _settings(n_unlabelled=0), cache_root=tmp_path).unlabelled is None
    with pytest.raises(ConfigError):
        phantom_pool(CEPH_SPEC, _settings(num_folds=1), cache_root=tmp_path)


def test_larger_pool_extends_smaller(tmp_path):
    small = phantom_pool(CANAL_SPEC, _settings(n_labelled=4), cache_root=tmp_path)
    large = phantom_pool(CANAL_SPEC, _settings(n_labelled=7), cache_root=tmp_path)
    np.testing.assert_array_equal(small.images.images, large.images.images[:4])
    np.testing.assert_array_equal(small.images.masks, large.images.masks[:4])
    np.testing.assert_array_equal(small.unlabelled.images, large.unlabelled.images)


def test_hand_spacing_follows_the_wrist_rule(tmp_path):
    pool = phantom_pool(HAND_SPEC, _settings(), cache_root=tmp_path)
    lm = pool.images.landmarks
    np.testing.assert_allclose(pool.images.spacing[:, 0], 50.0 / np.linalg.norm(lm[:, 1] - lm[:, 5], axis=-1),
                               rtol=1e-5)
    np.testing.assert_allclose(pool.images.spacing, wrist_rule_spacing(lm), rtol=1e-6)
    assert pool.mm_rule == "wrist width: |L1-L5| = 50 mm"


def test_ceph_and_canal_spacing_model_native_images(tmp_path):
    ceph = phantom_pool(CEPH_SPEC, _settings(image_size=(160, 128), n_labelled=3), cache_root=tmp_path)
    np.testing.assert_allclose(ceph.images.spacing, np.tile([0.1 * 1935 / 128, 0.1 * 2400 / 160], (3, 1)))
    assert ceph.images.original_size.tolist() == [[1935, 2400]] * 3
    canal = phantom_pool(CANAL_SPEC, _settings(image_size=(64, 128), n_labelled=3), cache_root=tmp_path)
    np.testing.assert_allclose(canal.images.spacing, np.tile([0.1 * 2560 / 128, 0.1 * 1280 / 64], (3, 1)))
    assert canal.images.landmarks is None and canal.images.masks.shape == (3, 64, 128)


def _refuse(rng, image_size):
    raise AssertionError("rendered although the pool was cached")


def test_cache_hit_skips_rendering_and_returns_identical_arrays(tmp_path):
    settings = _settings()
    first = phantom_pool(HAND_SPEC, settings, cache_root=tmp_path)
    assert len(list((tmp_path / "phantoms").glob("*.npz"))) == 1
    cached = phantom_pool(replace(HAND_SPEC, render=_refuse), settings, cache_root=tmp_path)
    np.testing.assert_array_equal(first.images.images, cached.images.images)
    np.testing.assert_array_equal(first.images.landmarks, cached.images.landmarks)
    np.testing.assert_array_equal(first.images.spacing, cached.images.spacing)
    np.testing.assert_array_equal(first.unlabelled.images, cached.unlabelled.images)
    with pytest.raises(AssertionError, match="rendered"):
        bumped = replace(HAND_SPEC, render=_refuse, version=HAND_SPEC.version + 1)
        phantom_pool(bumped, settings, cache_root=tmp_path)
    for other in (_settings(data_seed=4), _settings(image_size=(48, 40)), _settings(n_unlabelled=5)):
        with pytest.raises(AssertionError, match="rendered"):
            phantom_pool(replace(HAND_SPEC, render=_refuse), other, cache_root=tmp_path)


def test_readers_build_task_pools():
    settings = _settings(n_labelled=6, n_unlabelled=2)
    hand, ceph, canal = (read(settings) for read in (read_hand_phantom, read_ceph_phantom,
                                                     read_canal_phantom))
    assert hand.images.num_landmarks == 37 and ceph.images.num_landmarks == 19
    assert canal.images.masks is not None and canal.images.landmarks is None
    assert {p.source for p in (hand, ceph, canal)} == {"phantom:hand", "phantom:ceph", "phantom:canal"}
    assert ceph.mm_rule == "pixel spacing 0.1 mm at 1935x2400"


WITHOUT_AVX512 = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}  # ignored where absent
PHANTOM_BITS = """
import hashlib
import numpy as np
from tests.test_phantoms import _samples
for name in ("hand", "ceph", "canal"):
    digest = hashlib.sha256()
    for image, label in _samples(name, count=4):
        digest.update(image.tobytes() + np.asarray(label).tobytes())
    print(name, digest.hexdigest())
"""
NUMPY_UFUNCS = """
import numpy as np
x = np.random.default_rng(0).uniform(0.0, 1.0, 5000)
for values in (np.exp(-20 * x), x ** 3, x.astype(np.float32) ** 0.83):
    print(values.tobytes().hex())
print(repr(float(np.arctan2(x[0] - 0.5, x[1] - 0.5))), repr(float(np.arcsin(x[2] - 0.5))))
"""


def python_output(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_phantoms_are_the_same_bits_with_and_without_numpys_avx512_kernels():
    """NumPy's AVX-512 ``arctan2``/``arcsin``/``power``/``exp`` differ from the C library's in the last bit;
    a phantom drawn with them was another data set on an AVX-512 machine (different digests)."""
    assert python_output(PHANTOM_BITS, {}) == python_output(PHANTOM_BITS, WITHOUT_AVX512)


def test_libm_gives_what_numpy_gives_without_its_avx512_kernels():
    x = np.random.default_rng(0).uniform(0.0, 1.0, 5000)
    ours = [libm.exp(-20 * x), libm.power(x, 3), libm.power(x.astype(np.float32), 0.83)]
    assert [values.dtype for values in ours] == [np.float64, np.float64, np.float32]
    scalars = f"{libm.atan2(x[0] - 0.5, x[1] - 0.5)!r} {libm.asin(x[2] - 0.5)!r}"
    expected = python_output(NUMPY_UFUNCS, WITHOUT_AVX512).split("\n")
    assert [values.tobytes().hex() for values in ours] + [scalars] == expected[:4]
    with pytest.raises(TypeError, match="float32 or float64"):
        libm.power(np.arange(3), 2.0)
