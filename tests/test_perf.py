"""``benchmark perf``: every row measured, the figures consistent, bad options rejected."""

import json
import math

import numpy as np
import pytest

from benchmark.data.settings import DataSettings
from benchmark.perf.pipeline import write_landmark_folder
from benchmark.perf.report import run_perf
from tasks.formats.landmark_folder import read_landmark_folder
from tests.blob_sets import blobs
from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def smoke_report():
    return run_perf(profile="smoke", calls=2, warmup=1, sampler_images=1, progress=False)


def test_every_model_has_positive_training_reference_and_inference_rates(smoke_report):
    rows = {m.model: m for m in smoke_report.models}
    assert set(rows) == {"heatmap", "segformer", "saltpepper", "ddpm", "shape-ddpm", "vae", "gan",
                         "latent-blend autoencoder", "latent-blend latent ddpm"}
    for row in rows.values():
        assert row.train > 0 and row.reference > 0 and math.isfinite(row.train_vs_reference)
        assert row.train_vs_reference == pytest.approx(row.train / row.reference)
    assert all(rows[name].inference > 0
               for name in ("heatmap", "segformer", "saltpepper", "ddpm", "shape-ddpm", "vae", "gan"))


def test_pipeline_and_sampler_figures(smoke_report):
    assert set(smoke_report.pipeline) == {"phantom generation", "loading", "batch assembly",
                                          "batch assembly + classic augmentation"}
    assert all(v > 0 for v in smoke_report.pipeline.values())
    fastest = max(m.train for m in smoke_report.models if m.kind == "detector")
    assert smoke_report.pipeline_vs_training == pytest.approx(
        smoke_report.pipeline["batch assembly + classic augmentation"] / fastest)
    full, fast = smoke_report.samplers.values()
    # smoke: 1000 ancestral steps against 3 DDIM steps of the same network
    assert fast / full > 10 and smoke_report.fast_sampler_speed_up == pytest.approx(fast / full)


def test_table_and_json_carry_the_same_rows(smoke_report):
    table, data = smoke_report.table(), json.loads(json.dumps(smoke_report.as_json()))
    for row in data["models"]:
        assert f"| {row['model']} |" in table
        assert row["train_vs_reference"] == pytest.approx(row["train"] / row["reference"])
    assert "fast / full" in table and data["fast_sampler_speed_up"] > 10


def test_written_landmark_folder_reads_back(tmp_path):
    images = blobs(3, 0, size=(32, 32))
    write_landmark_folder(tmp_path / "set", images.images, images.landmarks, 0.25)
    pool = read_landmark_folder(DataSettings(image_size=(32, 32), data_root=tmp_path / "set", num_folds=3))
    assert len(pool.images) == 3
    assert np.allclose(np.sort(pool.images.landmarks.reshape(3, -1), axis=0),
                       np.sort(images.landmarks.reshape(3, -1), axis=0), atol=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--only", "heatmapp"], "--only: unknown name 'heatmapp'"),
    (["--steps", "0"], "must be >= 1"),
    (["--task", "hands"], "hands"),
])
def test_bad_options_end_with_one_line(capsys, args, message):
    code, out, err = run_cli(capsys, "perf", "--no-progress", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not out
