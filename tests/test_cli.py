"""End to end through the CLI on the smoke profile: embedded phantoms and real-format fixtures."""

import json

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from tests.cli_helpers import run_cli, run_json, runs_in
from tests.fixture_writers import write_isbi2015, write_payer_hand, write_segmentation_folder


def test_list_json_names_every_plugin(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    listing = json.loads(out)
    assert code == 0
    assert {"hand", "ceph", "canal"} <= set(listing["tasks"])
    assert {"none", "classic"} <= set(listing["augmentations"])
    assert {"heatmap", "mean-shape"} <= set(listing["detectors"])
    assert "smoke" in listing["profiles"]


def test_hand_classic_run_is_tracked_with_params_tags_metrics_and_artifacts(capsys, tracking_uri):
    result = run_json(capsys, tracking_uri, "--task", "hand", "--aug", "classic", "--seed", "3")
    assert {"run_id", "task", "aug", "detector", "profile", "seed", "metrics"} <= set(result)
    assert result["task"] == "hand" and result["aug"] == "classic" and result["seed"] == 3
    metrics = result["metrics"]
    assert {"mre_mm", "mre_sd_mm", "sdr_2mm", "sdr_4mm", "sdr_10mm"} <= set(metrics)
    assert np.isfinite(metrics["mre_mm"]) and 0 <= metrics["sdr_4mm"] <= 100

    run = MlflowClient(tracking_uri).get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "hand/classic/heatmap/seed3"
    assert run.data.tags["task"] == "hand" and run.data.tags["profile"] == "smoke"
    assert run.data.tags["data_digest"] and run.data.tags["git_commit"]
    assert run.data.tags["env.torch"] == torch.__version__
    assert run.data.tags["env.cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert run.data.params["train.epochs"] == "2" and run.data.params["protocol.sdr_inequality"] == "<="
    assert len(MlflowClient(tracking_uri).get_metric_history(run.info.run_id, "val_mre_mm")) == 2
    artifacts = {a.path for a in MlflowClient(tracking_uri).list_artifacts(run.info.run_id)}
    assert {"config.yaml", "splits.json", "summary.json", "predictions.csv", "overlays.png",
            "curves.png"} <= artifacts
    predictions = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/predictions.csv").splitlines()
    assert predictions[0].startswith("image_id,landmark,name,x_pred,y_pred,x_true,y_true,error_mm")
    summary = json.loads(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/summary.json"))
    assert summary["metrics"]["mre_mm"] == pytest.approx(metrics["mre_mm"])
    assert len(summary["per_landmark_mre_mm"]) == 37


def test_canal_reports_segmentation_metrics(capsys, tracking_uri):
    metrics = run_json(capsys, tracking_uri, "--task", "canal", "--aug", "classic")["metrics"]
    assert {"dice", "precision", "recall", "hd95_mm"} <= set(metrics)
    assert 0.0 <= metrics["dice"] <= 1.0


def test_mean_shape_on_ceph(capsys, tracking_uri):
    metrics = run_json(capsys, tracking_uri, "--task", "ceph", "--detector", "mean-shape")["metrics"]
    assert {"sdr_2mm", "sdr_2.5mm", "sdr_3mm", "sdr_4mm"} <= set(metrics) and metrics["mre_mm"] > 0


def test_ceph_runs_through_the_isbi_loader(capsys, tracking_uri, tmp_path):
    write_isbi2015(tmp_path / "isbi", n_train=8, n_test1=3, n_test2=2)
    result = run_json(capsys, tracking_uri, "--task", "ceph", "--data-root", str(tmp_path / "isbi"),
                      "--ground-truth", "mean", "--fold", "2")
    run = MlflowClient(tracking_uri).get_run(result["run_id"])
    assert run.data.tags["data_source"] == "isbi2015" and run.data.tags["fold"] == "test2"
    assert run.data.params["protocol.ground_truth"] == "mean" and run.data.params["data.n_test"] == "2"


def test_hand_runs_through_the_payer_loader(capsys, tracking_uri, tmp_path):
    fixture = write_payer_hand(tmp_path / "hand", n=9)
    result = run_json(capsys, tracking_uri, "--task", "hand", "--data-root", str(fixture.root),
                      "--aug", "classic")
    run = MlflowClient(tracking_uri).get_run(result["run_id"])
    assert run.data.tags["data_source"] == "payer-hand"
    assert run.data.params["data.skipped.rows_without_image"] == "1"


def test_canal_runs_through_the_segmentation_folder(capsys, tracking_uri, tmp_path):
    fixture = write_segmentation_folder(tmp_path / "seg", n=9, size=(64, 32))
    metrics = run_json(capsys, tracking_uri, "--task", "canal", "--data-root", str(fixture.root))["metrics"]
    assert "dice" in metrics


@pytest.mark.parametrize("args, expected", [
    (["--task", "hnad"], "unknown task 'hnad'. Did you mean 'hand'?"),
    (["--task", "hand", "--aug", "ddpmm"], "unknown augmentation 'ddpmm'"),
    (["--task", "hand", "--profile", "fast"], "unknown profile 'fast'"),
    (["--task", "hand", "--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
    (["--task", "hand", "--fold", "9"], "--fold 9 is out of range"),
    (["--task", "landmarks"], "has no embedded data: pass --data-root"),
    (["--task", "hand", "--device", "cuda:7"], "--device cuda:7: no such CUDA GPU is visible"),
    (["--task", "hand", "--device", "tpu"], "--device 'tpu': not a device"),
    (["--task", "hand", "--device", "meta"], "only cpu and cuda devices are supported"),
])
def test_bad_options_end_with_one_line_and_no_run(capsys, tmp_path, args, expected):
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--no-progress", "--tracking-uri", uri,
                             *args)
    assert code == 2
    assert err.strip().count("\n") == 0 and expected in err
    assert runs_in(uri) == []


def test_bad_data_names_the_file_and_leaves_no_run(capsys, tracking_uri, tmp_path):
    fixture = write_isbi2015(tmp_path / "isbi", n_train=4, n_test1=2, n_test2=2)
    annotation = fixture.root / "AnnotationsByMD" / "400_senior" / "002.txt"
    lines = annotation.read_text().splitlines()
    lines[4] = "nan,12"
    annotation.write_text("\n".join(lines) + "\n")
    before = len(runs_in(tracking_uri))
    code, _, err = run_cli(capsys, "run", "--profile", "smoke", "--task", "ceph",
                           "--data-root", str(fixture.root), "--tracking-uri", tracking_uri, "--no-progress")
    assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0
    assert "002.txt:5" in err
    assert len(runs_in(tracking_uri)) == before
    assert all(r.info.status != "RUNNING" for r in runs_in(tracking_uri))
