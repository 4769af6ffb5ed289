"""Options checked before a run exists: each bad value is one line, exit 2, and nothing in the store."""

from __future__ import annotations

import shutil

import pytest

from benchmark.config import PROFILE_DIR
from tests.cli_helpers import run_cli, runs_in

BASE = ("run", "--task", "hand", "--profile", "smoke", "--no-progress")


@pytest.mark.parametrize("options, message", [
    (("--set", "detectors.heatmap.encoder=resnet181"), "did you mean resnet18"),
    (("--set", "detectors.heatmap.decoder_channels=[8, 8]"), "decoder_channels needs 5 positive integers"),
    (("--set", "detectors.heatmap.decoder_channels=[8, 8, 8, 8, -8]"), "decoder_channels needs 5 positive"),
    (("--seed", "-1"), "seed must be an integer in [0, 2^32)"),
    (("--seed", str(2**64)), "seed must be an integer in [0, 2^32)"),
    (("--set", "seed=null"), "seed must be an integer"),
    (("--set", "fold=abc"), "fold must be an integer >= 1"),
    (("--set", "train_size=0"), "train_size must be null or an integer >= 1"),
    (("--set", "val_fraction=1.5"), "val_fraction must be a number in (0, 1)"),
    (("--set", "train.weight_decay=.inf"), "train.weight_decay must be a finite number"),
    (("--set", "train.weight_decay=.nan"), "train.weight_decay must be a finite number"),
    (("--set", "data.sdr_inequality=lt"), "data.sdr_inequality must be one of <, <="),
    (("--set", "data.n_unlabelled=-5"), "data.n_unlabelled must be an integer >= 0"),
    (("--set", "data.num_folds=1"), "data.num_folds must be an integer >= 2"),
])
def test_a_bad_option_is_one_line_before_any_run(capsys, tmp_path, options, message):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, *BASE, "--tracking-uri", tracking, *options)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not runs_in(tracking)


@pytest.mark.parametrize("profile, message", [
    ("../../README", "unknown profile '../../README'"),
    ("/etc/hostname", "unknown profile '/etc/hostname'"),
    ("missing.yaml", "missing.yaml: no such profile file"),
    ("not-a-profile.yaml", "not a profile: it lacks the section(s) data, train, detectors, augmentations"),
    ("broken.yaml", "cannot read the profile"),
])
def test_a_profile_is_a_known_name_or_a_yaml_file_of_that_form(capsys, tmp_path, monkeypatch, profile,
                                                               message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-profile.yaml").write_text("seed: 0\n")
    (tmp_path / "broken.yaml").write_text("seed: [0\n")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, "run", "--task", "hand", "--profile", profile, "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not runs_in(tracking)


def test_a_profile_given_as_a_yaml_path_runs(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    shutil.copy(PROFILE_DIR / "smoke.yaml", path)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, *BASE[:3], "--profile", str(path), "--no-progress",
                           "--tracking-uri", tracking)
    assert code == 0, err
    (run,) = runs_in(tracking)
    assert run.data.tags["profile"] == str(path)


def test_synthetic_only_training_without_an_accepted_sample_ends_with_one_line(capsys, tmp_path):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, *BASE, "--tracking-uri", tracking, "--aug", "ddpm",
                           "--set", "augmentations.ddpm.composition=synthetic",
                           "--set", "augmentations.ddpm.peak_threshold=0.999")
    lines = err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("error: composition 'synthetic'"), err
    assert "none of the" in lines[-1] and "Traceback" not in err
    (run,) = runs_in(tracking)
    assert run.info.status == "FAILED"


@pytest.mark.parametrize("options, message", [
    (("--detector", "saltpepper", "--image-size", "102x102"), "saltpepper: the working size 102x102 must be"),
    (("--aug", "latent-blend", "--image-size", "102x102"), "latent-blend: image size (102, 102) must be"),
    (("--aug", "classic+latent-blend", "--image-size", "102x102"), "must be divisible"),
    (("--detector", "saltpepper", "--task", "canal"), "detector 'saltpepper' cannot do segmentation"),
    (("--aug", "latent-blend", "--train-size", "1", "--set", "data.n_unlabelled=0"),
     "latent-blend: without an unlabelled pool the training set needs at least 2 images"),
])
def test_a_method_that_cannot_work_at_the_task_or_size_is_refused_before_any_run(capsys, tmp_path, options,
                                                                                  message):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, *BASE, "--tracking-uri", tracking, *options)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not runs_in(tracking)
