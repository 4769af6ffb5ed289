import numpy as np
import pytest

from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.protocol import Protocol
from benchmark.task import Fold, LabelledPool, split_pool

PROTOCOL = Protocol(kind="landmarks", ground_truth="phantom", mm_rule="1 mm", sdr_radii_mm=(2.0,))


def make_pool(n=40, low_data=None):
    ids = [f"img{i:03d}" for i in range(n)]
    images = ImageSet(ids=ids, images=np.zeros((n, 8, 8)), spacing=np.ones((n, 2)),
                      original_size=np.full((n, 2), 8), landmarks=np.zeros((n, 3, 2)))
    folds = [Fold(train=ids[:30], test=ids[30:], name="f1", low_data_train=low_data or {})]
    return LabelledPool(images=images, folds=folds, source="test", ground_truth="phantom", mm_rule="1 mm")


def test_val_is_fixed_by_the_data_and_disjoint_from_train_and_test():
    a = split_pool(make_pool(), PROTOCOL, 1, None, 0.1, seed=0)
    b = split_pool(make_pool(), PROTOCOL, 1, None, 0.1, seed=7)
    assert a.val.ids == b.val.ids and len(a.val) == 3
    assert not set(a.val.ids) & set(a.train.ids)
    assert not set(a.test.ids) & (set(a.train.ids) | set(a.val.ids))
    assert len(a.train) == 27


def test_train_size_subset_depends_on_the_seed_only():
    a = split_pool(make_pool(), PROTOCOL, 1, 10, 0.1, seed=1)
    b = split_pool(make_pool(), PROTOCOL, 1, 10, 0.1, seed=1)
    c = split_pool(make_pool(), PROTOCOL, 1, 10, 0.1, seed=2)
    assert len(a.train) == 10 and a.train.ids == b.train.ids and a.train.ids != c.train.ids


def test_fixed_low_data_split_is_used_when_the_reader_gives_one():
    fixed = [f"img{i:03d}" for i in range(20, 30)]
    data = split_pool(make_pool(low_data={10: fixed}), PROTOCOL, 1, 10, 0.1, seed=3)
    assert set(data.train.ids) <= set(fixed) and not set(data.train.ids) & set(data.val.ids)


@pytest.mark.parametrize("fold, size", [(2, None), (0, None), (1, 0), (1, 500)])
def test_bad_fold_or_train_size_is_a_config_error(fold, size):
    with pytest.raises(ConfigError):
        split_pool(make_pool(), PROTOCOL, fold, size, 0.1, seed=0)
