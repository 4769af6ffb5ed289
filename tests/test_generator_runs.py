"""Every generator end to end through the CLI (smoke profile): quality evidence in MLflow, and the cache."""

import io
import logging

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from benchmark.registry import AUGMENTATIONS
from tests.cli_helpers import run_json

GENERATORS = ["vae", "gan", "ddpm", "shape-ddpm", "latent-blend"]
EVIDENCE = {"acceptance_rate", "nearest_train_ssim_mean", "n_generated", "n_synthetic_used",
            "generator_cache_hit", "generator_train_seconds", "sampling_images_per_s"}


def test_every_generator_is_registered():
    assert set(GENERATORS) <= set(AUGMENTATIONS.names())


@pytest.mark.parametrize("task, metric", [("hand", "mre_mm"), ("canal", "dice")])
@pytest.mark.parametrize("aug", GENERATORS)
def test_generator_run_logs_quality_evidence(capsys, tracking_uri, task, metric, aug):
    result = run_json(capsys, tracking_uri, "--task", task, "--aug", aug, "--seed", "11")
    metrics = result["metrics"]
    assert metric in metrics
    client = MlflowClient(tracking_uri)
    run = client.get_run(result["run_id"])
    logged = run.data.metrics
    assert EVIDENCE <= set(logged), EVIDENCE - set(logged)
    assert logged["generator_cache_hit"] == 0.0
    assert 0.0 <= logged["acceptance_rate"] <= 1.0
    assert logged["n_synthetic_used"] <= logged["n_generated"]
    assert logged["n_train_total"] == int(run.data.params["data.n_train"]) + logged["n_synthetic_used"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"synthetic_quality.csv", "synthetic_samples.png"} <= artifacts
    quality = pd.read_csv(io.StringIO(
        mlflow.artifacts.load_text(f"{run.info.artifact_uri}/synthetic_quality.csv")))
    assert len(quality) == logged["n_generated"]
    assert {"image_id", "accepted", "reason", "nearest_train_ssim"} <= set(quality.columns)
    assert quality["accepted"].mean() == pytest.approx(logged["acceptance_rate"])


def test_second_run_hits_the_cache_and_no_cache_regenerates(capsys, caplog, tracking_uri):
    args = ("--task", "hand", "--aug", "vae", "--seed", "5")
    first = MlflowClient(tracking_uri).get_run(run_json(capsys, tracking_uri, *args)["run_id"]).data.metrics
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="benchmark"):
        second = MlflowClient(tracking_uri).get_run(
            run_json(capsys, tracking_uri, *args)["run_id"]).data.metrics
    assert "vae: loaded cached 8 synthetic samples" in caplog.text
    forced = MlflowClient(tracking_uri).get_run(
        run_json(capsys, tracking_uri, *args, "--no-cache")["run_id"]).data.metrics
    assert (first["generator_cache_hit"], second["generator_cache_hit"],
            forced["generator_cache_hit"]) == (0, 1, 0)
    for key in ("acceptance_rate", "nearest_train_ssim_mean", "n_synthetic_used", "mre_mm"):
        assert second[key] == first[key] == forced[key], key  # CPU-deterministic generator and detector
    assert second["generator_train_seconds"] == first["generator_train_seconds"]  # loaded, not re-measured
    assert forced["generator_train_seconds"] != first["generator_train_seconds"]
    other_seed = run_json(capsys, tracking_uri, "--task", "hand", "--aug", "vae", "--seed", "6")
    assert MlflowClient(tracking_uri).get_run(other_seed["run_id"]).data.metrics["generator_cache_hit"] == 0
