"""The array cache verifies itself: a damaged entry is a logged miss, removed and rebuilt, never wrong data
and never a traceback; a run over a damaged phantom or synthetic-set entry goes on as if it were absent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.data.cache import ArrayCache

ARRAYS = {"images": np.linspace(0, 1, 600, dtype=np.float32).reshape(6, 10, 10),
          "labels": np.arange(24, dtype=np.int64).reshape(6, 2, 2), "ids": np.array(["a", "b", "c"])}


def assert_equal(loaded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(loaded) == set(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array)


def test_an_entry_reads_back_equal(tmp_path):
    cache = ArrayCache(tmp_path)
    cache.save("k", ARRAYS)
    assert_equal(cache.load("k"), ARRAYS)


@settings(max_examples=60, deadline=None)
@given(position=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7), truncate=st.booleans())
def test_a_damaged_entry_is_a_miss_or_the_exact_arrays_never_wrong_data(tmp_path_factory, position, bit,
                                                                         truncate):
    cache = ArrayCache(tmp_path_factory.mktemp("cache"))
    path = cache.save("k", ARRAYS)
    data = bytearray(path.read_bytes())
    at = int(position * len(data))
    if truncate:
        del data[at:]
    else:
        data[at] ^= 1 << bit
    path.write_bytes(bytes(data))
    loaded = cache.load("k")
    if loaded is None:
        assert not path.exists()  # removed, so the rebuild replaces it
    else:
        assert_equal(loaded, ARRAYS)  # the flip hit bytes no reader uses (a zip header's timestamp, say)


def test_an_entry_written_without_a_checksum_is_a_miss(tmp_path, caplog):
    cache = ArrayCache(tmp_path)
    cache.folder.mkdir(parents=True)
    np.savez(cache.path("k"), **ARRAYS)
    assert cache.load("k") is None and "rebuilding" in caplog.text and str(cache.path("k")) in caplog.text


def test_runs_go_on_over_damaged_phantom_and_synthetic_entries(tmp_path, monkeypatch, capsys):
    from tests.cli_helpers import run_json

    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("--task", "hand", "--aug", "vae", "--epochs", "1")
    first = run_json(capsys, tracking, *args)["metrics"]
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert {p.parent.name for p in entries} == {"phantoms", "synthetic"}
    for path in entries:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = run_json(capsys, tracking, *args)["metrics"]
    assert again["generator_cache_hit"] == 0  # the damaged set was rebuilt, not read
    for name in ("mre_mm", "sdr_2mm", "acceptance_rate", "n_synthetic_used"):
        assert again[name] == first[name], name
    assert all(ArrayCache(path.parent.parent, path.parent.name).load(path.stem) for path in entries)
