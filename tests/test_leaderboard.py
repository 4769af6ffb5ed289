"""Leaderboards from the tracking store: Holm correction, paired tests, each row's baseline and its Holm
family, aggregation, which runs count, the written tables and figures (the learning curve included), the
findings under each table and the generator evidence beside it, and ablation grids that resume and render
their table."""

import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from benchmark.ablation import expand, linked_note, load_spec, run_ablation
from benchmark.config import resolve_config, variant_digest
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.leaderboard import collect
from benchmark.leaderboard.build import build_leaderboard, identical_rows, zero_acceptance_rows
from benchmark.leaderboard.figures import size_axis
from benchmark.leaderboard.render import (
    IMAGE_PAIRING_NOTE,
    identical_note,
    p_text,
    step_budget_note,
    zero_acceptance_note,
)
from benchmark.leaderboard.stats import aggregate, holm, paired_tests, row_baseline, wilcoxon_p
from benchmark.record import tags
from benchmark.tracking import TrackingError, open_experiment
from benchmark.training.settings import TrainSettings
from tests.cli_helpers import run_cli

N_IMAGES, N_LANDMARKS = 12, 3


# --- statistics ------------------------------------------------------------------------------------------

def test_holm_adjusts_in_input_order_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == [0.02]


def test_wilcoxon_of_no_difference_is_one_and_of_a_consistent_shift_is_small():
    assert wilcoxon_p(np.zeros(10)) == 1.0
    shifted = -1.0 - 0.1 * np.arange(12)
    assert wilcoxon_p(shifted) < 0.001


def test_aggregate_gives_mean_and_sample_sd_per_group():
    runs = pd.DataFrame({"detector": ["heatmap"] * 3, "train_size": ["all"] * 3,
                         "aug": ["none", "none", "ddpm"], "metrics.mre_mm": [1.0, 3.0, 2.0]})
    table = aggregate(runs, ["mre_mm"]).set_index("aug")
    assert (table.loc["none", "mre_mm_mean"] == 2.0
            and table.loc["none", "mre_mm_sd"] == pytest.approx(math.sqrt(2)))
    assert table.loc["ddpm", "n_runs"] == 1 and table.loc["ddpm", "mre_mm_sd"] == 0.0


def test_paired_tests_pair_shared_seeds_and_images_and_average_over_seeds():
    base = np.linspace(2, 3, 10)
    runs = pd.DataFrame({"run_id": ["a", "a2", "b", "c", "c2", "d"], "seed": ["0", "1", "0", "1", "2", "0"],
                         "detector": "heatmap", "train_size": "10",
                         "aug": ["none", "none", "ddpm", "ddpm", "ddpm", "classic"]})
    values = {"a": base, "a2": base + 0.2, "b": base - 0.5, "c": base - 0.5, "c2": base + 9,
              "d": (base + 0.01 * np.arange(10))[:6]}
    per_image = pd.concat([pd.DataFrame({"run_id": run, "fold": "1",
                                         "image_id": [f"i{k}" for k in range(len(v))], "value": v})
                           for run, v in values.items()])
    tests = paired_tests(runs, per_image).set_index("aug")
    # ddpm seed 2 has no none run to pair with and is left out: (-0.5 + -0.7) / 2 per image
    assert tests.loc["ddpm", "n_seeds"] == 2 and tests.loc["ddpm", "n_pairs"] == 10
    assert tests.loc["ddpm", "median_difference"] == pytest.approx(-0.6)
    # both means over the seeds both ran (0 and 1), not over each method's own runs
    assert tests.loc["ddpm", ["mean", "reference_mean"]].tolist() == pytest.approx([2.0, 2.6])
    assert tests.loc["classic", "n_pairs"] == 6 and tests.loc["classic", "n_seeds"] == 1
    assert tests.loc["ddpm", "p"] < 0.01
    assert tests.loc["ddpm", "p_holm"] == pytest.approx(min(1.0, 2 * tests.loc["ddpm", "p"]))


# --- a store written the way runs write it --------------------------------------------------------------

def log_run(client: MlflowClient, experiment_id: str, aug: str, seed: int, errors: np.ndarray, *,
            profile: str = "smoke", variant: str | None = None, parent: str | None = None,
            train_size: str = "all", n_train: int | None = None, generated: dict[str, float] | None = None,
            samples: bytes | None = None, test_digest: str = "test-images", tmp: Path) -> str:
    """A finished hand run with per-image, per-landmark ``errors`` (N, K) in its predictions.csv and, if
    given, its number of training images ``n_train`` as the param runs log, a generator's metrics
    ``generated`` and the content of its synthetic_samples.png, ``samples``."""
    tags = {"task": "hand", "aug": aug, "detector": "heatmap", "profile": profile, "seed": str(seed),
            "fold": "1", "train_size": train_size, "test_digest": test_digest,
            "variant": variant or variant_digest(resolve_config(profile, "hand", aug, "heatmap"))}
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, tags=tags)
    run_id = run.info.run_id
    client.log_param(run_id, "fold", 1)
    if n_train is not None:
        client.log_param(run_id, collect.N_TRAIN, n_train)
    metrics = {"mre_mm": errors.mean(), "sdr_2mm": 100 * (errors <= 2).mean(),
               "sdr_4mm": 100 * (errors <= 4).mean(), **(generated or {})}
    client.log_batch(run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()])
    n, k = errors.shape
    path = tmp / f"{run_id}.csv"
    pd.DataFrame({"image_id": np.repeat([f"i{j}" for j in range(n)], k), "landmark": np.tile(np.arange(k), n),
                  "error_mm": errors.ravel()}).to_csv(path, index=False)
    client.log_artifact(run_id, str(path.rename(path.with_name("predictions.csv"))))
    if samples is not None:
        grid = tmp / "synthetic_samples.png"
        grid.write_bytes(samples)
        client.log_artifact(run_id, str(grid))
    client.set_terminated(run_id)
    return run_id


def hand_store(folder: Path) -> tuple[str, str, MlflowClient]:
    """A new SQLite store in ``folder`` with a `hand` experiment: its uri, the experiment's id, a client."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return uri, open_experiment(uri, "hand"), MlflowClient(uri)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Three seeds of `none` and of `ddpm` (ddpm 1 mm better on every image), plus runs that must not
    count: another profile's, a non-default variant, a sweep trial (child run) and an unfinished run."""
    tmp = tmp_path_factory.mktemp("store")
    uri, experiment_id, client = hand_store(tmp)
    rng = np.random.default_rng(0)
    base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    ids = {}
    for seed in range(3):
        noise = rng.normal(0, 0.05, size=base.shape)
        ids[("none", seed)] = log_run(client, experiment_id, "none", seed, base + noise, tmp=tmp)
        ids[("ddpm", seed)] = log_run(client, experiment_id, "ddpm", seed, base - 1 + noise, tmp=tmp)
    log_run(client, experiment_id, "none", 0, base, profile="default", tmp=tmp)
    log_run(client, experiment_id, "classic", 0, base - 2, variant="not-the-default", tmp=tmp)
    log_run(client, experiment_id, "classic", 1, base - 2, parent=ids[("none", 0)], tmp=tmp)
    client.create_run(experiment_id,
                      tags={"task": "hand", "aug": "gan", "detector": "heatmap", "profile": "smoke"})
    return uri, base, ids


def test_leaderboard_ranks_only_default_finished_top_level_runs(store, tmp_path):
    uri, base, _ = store
    board = build_leaderboard(uri, "hand", tmp_path, profile="smoke")
    table = board.table.set_index("aug")
    assert list(board.table["aug"]) == ["ddpm", "none"] and list(board.table["rank"]) == [1, 2]
    assert table.loc["ddpm", "n_runs"] == 3 and table.loc["none", "n_runs"] == 3
    assert table.loc["ddpm", "mre_mm_mean"] == pytest.approx(base.mean() - 1, abs=0.05)
    assert table.loc["ddpm", "p_holm"] < 0.01 and math.isnan(table.loc["none", "p_holm"])
    names = {p.name for p in board.paths}
    assert {"hand.md", "hand.csv", "hand.tex", "hand_sdr.png", "hand_landmark_errors.png"} <= names
    # one training-set size: no learning curve
    assert "hand_learning_curve.png" not in names
    assert not (tmp_path / "figures" / "hand_learning_curve.png").exists()
    text = (tmp_path / "hand.md").read_text()
    assert "| 1 | all | heatmap | ddpm | 3 | **" in text and "SDR 2 mm (%)" in text
    assert "\\toprule" in (tmp_path / "hand.tex").read_text()
    assert pd.read_csv(tmp_path / "hand.csv")["aug"].tolist() == ["ddpm", "none"]


def test_runs_scored_on_other_test_images_are_left_out_and_named(tmp_path):
    """A run whose test set differs from its fold's (another rendering of the phantoms, another copy of the
    data) is neither ranked nor paired, and the caption names it."""
    uri, experiment_id, client = hand_store(tmp_path)
    base = np.random.default_rng(0).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    for seed in range(2):
        log_run(client, experiment_id, "none", seed, base, tmp=tmp_path)
        log_run(client, experiment_id, "ddpm", seed, base - 0.5, tmp=tmp_path)
    log_run(client, experiment_id, "ddpm", 2, base - 5, test_digest="elsewhere", tmp=tmp_path)
    board = build_leaderboard(uri, "hand", tmp_path / "out", profile="smoke", with_figures=False)
    table = board.table.set_index("aug")
    assert table.loc["ddpm", "n_runs"] == 2 and table.loc["ddpm", "mre_mm_mean"] == pytest.approx(
        base.mean() - 0.5)
    text = (tmp_path / "out" / "hand.md").read_text()
    assert ("Left out: 1 run scored on other test images than the rest of their fold "
            "(test digest elsewhere; ddpm (all) seed 2)") in text


def test_a_fold_keeps_its_most_common_test_set_and_the_newest_on_a_tie():
    runs = pd.DataFrame({"fold": ["1", "1", "1", "2", "2"], "test_digest": ["b", "a", "b", "c", "d"],
                         "run_id": ["r1", "r2", "r3", "r4", "r5"]})  # newest first
    kept, elsewhere = collect.on_one_test_set(runs)
    assert kept["run_id"].tolist() == ["r1", "r3", "r4"] and elsewhere["run_id"].tolist() == ["r2", "r5"]


def test_leaderboard_cli_prints_the_table_and_fails_cleanly_without_runs(store, tmp_path, capsys):
    uri, _, _ = store
    code, out, err = run_cli(capsys, "leaderboard", "--task", "hand", "--profile", "smoke",
                             "--tracking-uri", uri, "--out", str(tmp_path), "--no-figures")
    assert code == 0 and "| ddpm |" not in out.split("\n")[0] and "ddpm" in out and "wrote" in err
    assert not (tmp_path / "figures").exists()
    code, _, err = run_cli(capsys, "leaderboard", "--task", "ceph", "--tracking-uri", uri,
                           "--out", str(tmp_path))
    assert (code == 2 and "no finished default-profile runs of task 'ceph'" in err
            and len(err.strip().splitlines()) == 1)


def test_leaderboard_with_no_store_is_one_clear_error(tmp_path):
    with pytest.raises(BenchmarkError, match="no finished"):
        build_leaderboard(f"sqlite:///{tmp_path / 'empty.db'}", "hand", tmp_path)


# --- per-row baselines and the learning curve ------------------------------------------------------------

N_FULL = 40  # training images of the full-size runs
# mean per-image shift of each aug from `none` (mm); `classic` has no runs at 10 images
SHIFTS = {"all": {"none": 0.0, "classic": -0.8, "ddpm": -0.3, "classic+ddpm": -1.0, "classic+gan": -0.9},
          "10": {"none": 0.0, "ddpm": -0.3, "classic+ddpm": -1.0}}


@pytest.fixture(scope="module")
def composed_store(tmp_path_factory):
    """Two seeds of each aug of :data:`SHIFTS` at 10 training images and at full size, each image shifted
    by its own draw around the aug's shift (so that composed rows differ from classic in both
    directions); returns the store and each run's per-image values (mean error over landmarks)."""
    tmp = tmp_path_factory.mktemp("composed")
    uri, experiment_id, client = hand_store(tmp)
    rng = np.random.default_rng(7)
    base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    per_image = {}
    for size, shifts in SHIFTS.items():
        for aug, shift in shifts.items():
            for seed in (0, 1):
                errors = base + rng.normal(shift, 0.4, size=(N_IMAGES, 1)) + rng.normal(0, 0.05, base.shape)
                log_run(client, experiment_id, aug, seed, errors, train_size=size,
                        n_train=N_FULL if size == "all" else int(size), tmp=tmp)
                per_image[(size, aug, seed)] = errors.mean(axis=1)
    return uri, per_image


def seed_mean(per_image: dict, size: str, aug: str) -> np.ndarray:
    return (per_image[(size, aug, 0)] + per_image[(size, aug, 1)]) / 2


def test_row_baseline_is_the_transform_of_a_composed_row_else_the_baseline():
    assert row_baseline("classic+ddpm") == "classic" and row_baseline("classic+ddpm", "gan") == "classic"
    assert row_baseline("ddpm") == "none" and row_baseline("classic") == "none"
    assert row_baseline("none") is None and row_baseline("classic", "classic") is None
    assert row_baseline("none", "classic") == "classic"


def test_a_composed_row_is_tested_against_classic_on_the_paired_images(composed_store, tmp_path):
    from scipy.stats import wilcoxon

    uri, per_image = composed_store
    board = build_leaderboard(uri, "hand", tmp_path, profile="smoke", with_figures=False)
    tests = board.tests.set_index(["train_size", "aug"])
    assert tests.loc[("all", "classic+ddpm"), "baseline"] == "classic"
    assert tests.loc[("all", "ddpm"), "baseline"] == tests.loc[("all", "classic"), "baseline"] == "none"
    composed = seed_mean(per_image, "all", "classic+ddpm")
    against_classic = wilcoxon(composed - seed_mean(per_image, "all", "classic")).pvalue
    against_none = wilcoxon(composed - seed_mean(per_image, "all", "none")).pvalue
    assert against_classic != pytest.approx(against_none)  # the check below can tell the baselines apart
    assert tests.loc[("all", "classic+ddpm"), "p"] == pytest.approx(against_classic)
    table = board.table.set_index(["train_size", "aug"])
    assert table.loc[("all", "classic+ddpm"), "baseline"] == "classic"
    assert pd.isna(table.loc[("all", "none"), "baseline"])


def test_holm_corrects_within_each_baseline_family(composed_store, tmp_path):
    uri, _ = composed_store
    tests = build_leaderboard(uri, "hand", tmp_path, profile="smoke", with_figures=False).tests
    full = tests[tests["train_size"] == "all"].set_index("aug")
    for family in (["classic", "ddpm"], ["classic+ddpm", "classic+gan"]):  # against none; against classic
        low, high = sorted(family, key=lambda aug: full.loc[aug, "p"])
        first = min(1.0, 2 * full.loc[low, "p"])  # m = 2 in each family, not 4 in the group
        assert full.loc[low, "p_holm"] == pytest.approx(first)
        assert full.loc[high, "p_holm"] == pytest.approx(max(first, full.loc[high, "p"]))
    small = tests[tests["train_size"] == "10"].set_index("aug")
    assert small.loc["ddpm", "p_holm"] == pytest.approx(small.loc["ddpm", "p"])  # alone in its family


def test_a_row_whose_baseline_has_no_runs_gets_no_p(composed_store, tmp_path):
    uri, _ = composed_store
    board = build_leaderboard(uri, "hand", tmp_path, profile="smoke", with_figures=False)
    assert not ((board.tests["train_size"] == "10") & (board.tests["aug"] == "classic+ddpm")).any()
    row = board.table.set_index(["train_size", "aug"]).loc[("10", "classic+ddpm")]
    assert row["baseline"] == "classic" and pd.isna(row["p_holm"])
    lines = (tmp_path / "hand.md").read_text().splitlines()
    composed = [line for line in lines if line.startswith("| ") and "| 10 | heatmap | classic+ddpm |" in line]
    assert len(composed) == 1 and composed[0].endswith("| classic | – |")
    assert any("| all | heatmap | classic+ddpm |" in line and "| classic | " in line and "– |" not in line
               for line in lines)
    assert "& baseline & p (Holm) \\\\" in (tmp_path / "hand.tex").read_text()


def test_learning_curve_is_drawn_when_an_arm_ran_at_two_sizes(composed_store, tmp_path):
    uri, _ = composed_store
    board = build_leaderboard(uri, "hand", tmp_path, profile="smoke")
    curve = tmp_path / "figures" / "hand_learning_curve.png"
    assert curve in board.paths and curve.stat().st_size > 0
    text = (tmp_path / "hand.md").read_text()
    assert "![hand_learning_curve](figures/hand_learning_curve.png)" in text
    assert text.index("| rank |") < text.index("## Findings") < text.index("![hand_learning_curve]")


def test_learning_curve_has_a_panel_only_for_detectors_with_a_curve(tmp_path):
    from PIL import Image

    from benchmark.leaderboard.figures import learning_curve

    def width(detectors: list[str]) -> int:
        points = pd.DataFrame({"detector": detectors, "aug": "none", "train_size": ["10", "all", "all"],
                               "n_train": [10, 180, 180], "MRE (mm)": [3.0, 1.2, 2.2]})
        path = learning_curve(points, "MRE (mm)", tmp_path / f"{len(set(detectors))}.png")
        with Image.open(path) as image:
            return image.width

    # a second detector run at one size only adds no panel; run at two it does
    one_size = width(["heatmap", "heatmap", "saltpepper"])
    assert one_size == width(["heatmap", "heatmap", "heatmap"])
    both = pd.DataFrame({"detector": ["heatmap", "heatmap", "saltpepper", "saltpepper"], "aug": "none",
                         "train_size": ["10", "all", "10", "all"], "n_train": [10, 180, 10, 180],
                         "MRE (mm)": [3.0, 1.2, 3.5, 2.2]})
    with Image.open(learning_curve(both, "MRE (mm)", tmp_path / "two.png")) as image:
        assert image.width > 1.5 * one_size
    assert learning_curve(both.iloc[[0, 2]], "MRE (mm)", tmp_path / "none.png") is None


def test_a_render_removes_its_tasks_figures_it_did_not_write(composed_store, tmp_path):
    uri, _ = composed_store
    figures_dir = tmp_path / "figures"
    figures_dir.mkdir()
    for name in ("hand_ddpm_10_samples.png", "ceph_sdr.png"):
        (figures_dir / name).write_bytes(b"old")
    board = build_leaderboard(uri, "hand", tmp_path, profile="smoke")
    assert sorted(p.name for p in figures_dir.iterdir()) == sorted(
        ["ceph_sdr.png", *(p.name for p in board.paths if p.parent == figures_dir)])
    assert not (figures_dir / "hand_ddpm_10_samples.png").exists()


def test_the_readme_digest_shows_the_learning_curve_where_one_was_drawn(composed_store, tmp_path, capsys):
    uri, _ = composed_store
    readme = tmp_path / "README.md"
    readme.write_text(README)
    code, _, err = run_cli(capsys, "leaderboard", "--task", "hand", "--profile", "smoke",
                           "--tracking-uri", uri, "--out", str(tmp_path / "boards"), "--readme", str(readme))
    assert code == 0, err
    block = readme.read_text().split("<!-- /leaderboard:hand -->")[0]
    assert block.endswith("\n\n![hand_learning_curve](boards/figures/hand_learning_curve.png)\n")
    assert (tmp_path / "boards" / "figures" / "hand_learning_curve.png").exists()


def test_size_axis_places_full_size_at_its_logged_number_of_images():
    sizes = pd.Series(["10", "all", "50", "all"])
    x, ticks = size_axis(sizes, pd.Series([10.0, 180.0, 50.0, 182.0]))
    assert x.tolist() == [10.0, 181.0, 50.0, 181.0] and ticks == {10.0: "10", 50.0: "50", 181.0: "181 (all)"}
    x, ticks = size_axis(sizes, pd.Series([np.nan] * 4))
    assert x.tolist() == [10.0, 100.0, 50.0, 100.0] and ticks[100.0] == "all"


# --- ablations ---------------------------------------------------------------------------------------------

def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, problem", [
    ("name: x\ntask: hand\n", "missing factors"),
    ("name: x\ntask: hand\nfactors: {aug: []}\n", "non-empty lists"),
    ("name: x\ntask: hand\nfactor: {aug: [none]}\n", "unknown key"),
    ("name: x\ntask: hand\nfactors: {aug: [none]}\nseeds: 3\n", "seeds must be"),
    ("name: [x\n", "not valid YAML"),
    ("name: x\ntask: hand\nfactors: {aug: [none]}\nlinked: {augmentations.ddpm.n_samples: train_size}\n",
     "linked must map config keys to factor keys"),
    ("name: x\ntask: hand\nfactors: {aug: [none]}\nlinked: {aug: aug}\n", "linked key must be a config key"),
    ("name: x\ntask: hand\nfactors: {aug: [none]}\nlinked: {augmentations.ddpm.n_samples: [aug]}\n",
     "linked must map config keys to factor keys"),
])
def test_bad_specs_name_the_file_and_the_problem(tmp_path, text, problem):
    path = write_spec(tmp_path, text)
    with pytest.raises(ConfigError, match=problem) as raised:
        load_spec(path)
    assert str(path) in str(raised.value)


def test_a_bad_level_fails_before_anything_runs(tmp_path):
    spec = load_spec(write_spec(tmp_path, "name: x\ntask: hand\nprofile: smoke\nfactors:\n"
                                          "  aug: [none, ddmp]\n"))
    with pytest.raises(ConfigError, match="did you mean 'ddpm'|Did you mean 'ddpm'"):
        expand(spec)
    spec = load_spec(write_spec(tmp_path, "name: x\ntask: hand\naug: ddpm\nprofile: smoke\nfactors:\n"
                                          "  augmentations.ddpm.samples_ratoi: [1.0]\n"))
    with pytest.raises(ConfigError, match="samples_ratoi"):
        expand(spec)
    spec = load_spec(write_spec(tmp_path, "name: x\ntask: canal\nprofile: smoke\nfactors:\n"
                                          "  detector: [heatmap, saltpepper]\n"))
    with pytest.raises(ConfigError, match="saltpepper.*cannot do segmentation"):
        expand(spec)


def test_a_linked_key_takes_its_factors_level_in_every_cell_that_sets_it(tmp_path):
    spec = load_spec(write_spec(tmp_path, "name: x\ntask: hand\naug: ddpm\nprofile: smoke\nseeds: [0]\n"
                                          "extra_cells: [{aug: none}]\nfactors:\n"
                                          "  augmentations.ddpm.samples_ratio: [2, 5]\n"
                                          "linked: {augmentations.ddpm.synthetic_ratio: "
                                          "augmentations.ddpm.samples_ratio}\n"))
    ratios = [cell.config["augmentations"].get("ddpm", {}).get("synthetic_ratio") for cell, _ in expand(spec)]
    assert ratios == [None, 2, 5]
    assert "`augmentations.ddpm.synthetic_ratio` = `augmentations.ddpm.samples_ratio`" in linked_note(spec)


def test_committed_specs_expand_into_valid_cells():
    specs = sorted((Path(__file__).resolve().parents[1] / "baselines" / "ablations").glob("*.yaml"))
    assert len(specs) >= 5
    for path in specs:
        spec = load_spec(path)
        planned = expand(spec)
        assert len(planned) == len(spec.seeds) * (len(spec.extra_cells)
                                                  + math.prod(map(len, spec.factors.values())))
        distinct = {(variant_digest(cell.config), cell.config["train_size"]) for cell, _ in planned}
        assert len(distinct) == len(planned) // len(spec.seeds), f"{path}: two cells are the same run"


def test_ablation_runs_the_grid_skips_done_cells_and_feeds_the_leaderboard(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_spec(tmp_path, "name: tiny\ntask: hand\nprofile: smoke\nseeds: [0]\nfactors:\n"
                                "  aug: [none, classic]\n")
    code, out, err = run_cli(capsys, "ablate", str(path), "--tracking-uri", uri,
                             "--out", str(tmp_path / "out"), "--no-progress")
    assert code == 0, err
    assert "| none |" in out and "| classic |" in out and out.count("1/1") == 2
    outcome = run_ablation(load_spec(path), uri, tmp_path / "out", progress=False)
    assert (outcome.ran, outcome.skipped, outcome.failed) == (0, 2, [])
    assert pd.read_csv(tmp_path / "out" / "tiny.csv")["n_runs"].tolist() == [1, 1]
    board = build_leaderboard(uri, "hand", tmp_path / "board", profile="smoke", with_figures=False)
    assert sorted(board.table["aug"]) == ["classic", "none"]
    wider = write_spec(tmp_path, "name: tiny\ntask: hand\nprofile: smoke\nseeds: [0]\nfactors:\n"
                                 "  aug: [none, classic, vae]\n")
    code, out, err = run_cli(capsys, "ablate", str(wider), "--tracking-uri", uri,
                             "--out", str(tmp_path / "out"), "--table-only")
    assert code == 0 and out.count("1/1") == 2 and "| vae |" in out and "0/1" in out, err
    client = MlflowClient(uri)
    assert len(client.search_runs([e.experiment_id for e in client.search_experiments()])) == 2  # nothing ran


def test_shards_split_the_grid_between_workers_without_overlap(tmp_path, capsys, caplog):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_spec(tmp_path, "name: tiny\ntask: hand\nprofile: smoke\nseeds: [0, 1]\nfactors:\n"
                                "  aug: [none, classic, vae]\n")
    taken = []
    for worker in (1, 2, 3, 4):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="benchmark.ablation"):
            assert run_cli(capsys, "ablate", str(path), "--tracking-uri", uri, "--dry-run",
                           "--shard", f"{worker}/4")[0] == 0
        taken.append([int(re.search(r"\[(\d+)/6\]", r.getMessage())[1]) for r in caplog.records])
    assert taken == [[1, 5], [2, 6], [3], [4]]
    for bad in ("0/2", "3/2", "half"):
        with pytest.raises(SystemExit):
            run_cli(capsys, "ablate", str(path), "--dry-run", "--shard", bad)
        assert f"expected K/N with 1 <= K <= N (worker K of N), got '{bad}'" in capsys.readouterr().err


def test_a_generator_and_its_composed_twin_go_to_one_worker(tmp_path, capsys, caplog):
    """vae and classic+vae generate one synthetic set: the worker that fits it runs both, so the other
    worker never fits it a second time beside it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_spec(tmp_path, "name: twins\ntask: hand\nprofile: smoke\nseeds: [0, 1]\nfactors:\n"
                                "  aug: [none, vae, classic+vae, classic]\n")
    taken = []
    for worker in (1, 2):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="benchmark.ablation"):
            assert run_cli(capsys, "ablate", str(path), "--tracking-uri", uri, "--dry-run",
                           "--shard", f"{worker}/2")[0] == 0
        taken.append([int(re.search(r"\[(\d+)/8\]", r.getMessage())[1]) for r in caplog.records])
    # groups in plan order: none, vae (+ classic+vae), classic; then the same at seed 1
    assert taken == [[1, 4, 6, 7], [2, 3, 5, 8]]


def test_a_moved_sqlite_store_still_finds_its_artifacts(tmp_path):
    """The committed evidence store is read from wherever the repository was cloned."""
    import shutil

    original = tmp_path / "original"
    original.mkdir()
    uri, experiment_id, client = hand_store(original)
    errors = np.full((N_IMAGES, N_LANDMARKS), 3.0)
    for seed in range(2):
        log_run(client, experiment_id, "none", seed, errors, tmp=original)
    moved = shutil.move(original, tmp_path / "moved")
    board = build_leaderboard(f"sqlite:///{Path(moved) / 'mlflow.db'}", "hand", tmp_path / "board",
                              profile="smoke", with_figures=False)
    assert board.table["n_runs"].tolist() == [2] and board.table["mre_mm_mean"].tolist() == [3.0]


def test_sqlite_reader_returns_what_mlflow_search_returns(tmp_path):
    """The SQL reader of a sqlite:/// store and mlflow.search_runs give the same frame: tag filters, NaN
    metrics, deleted runs and deleted experiments included."""
    uri, experiment_id, client = hand_store(tmp_path)
    errors = np.full((N_IMAGES, N_LANDMARKS), 3.0)
    kept = [log_run(client, experiment_id, aug, seed, errors, tmp=tmp_path)
            for aug in ("none", "ddpm") for seed in (0, 1)]
    client.log_metric(kept[0], "mre_mm", float("nan"), step=1)
    client.delete_run(kept[1])
    other = open_experiment(uri, "hand-old")
    log_run(client, other, "none", 5, errors, tmp=tmp_path)
    client.delete_experiment(other)

    for wanted, experiment in (({"task": "hand"}, None), ({"task": "hand", "aug": "ddpm"}, "hand")):
        ours = collect.search_finished_runs(uri, wanted, experiment)
        theirs = collect.search_finished_runs(uri, wanted, experiment, through_mlflow=True)
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    ours = collect.search_finished_runs(uri, {"task": "hand"})
    assert (set(ours["run_id"]) == {kept[0], *kept[2:]}
            and math.isnan(ours.set_index("run_id").loc[kept[0], "metrics.mre_mm"]))
    with pytest.raises(TrackingError, match="no experiment named 'ceph'"):
        collect.search_finished_runs(uri, {"task": "hand"}, "ceph")
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_bytes(b"plain text, not SQLite")
    with pytest.raises(TrackingError, match="notes.db: not a readable MLflow store"):
        collect.search_finished_runs(f"sqlite:///{not_a_store}", {"task": "hand"})


def test_box_statistics_match_matplotlib_boxplot_stats():
    from matplotlib.cbook import boxplot_stats

    from benchmark.leaderboard.figures import box_statistics

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 5, 4000)
    codes[codes == 4] = 3  # group 4 stays empty
    values = rng.gamma(2.0, 1.0, 4000)
    values[:3] = [40.0, 55.0, 0.0]  # outliers beyond the whiskers
    stats = box_statistics(codes, values, 5)
    assert stats["count"][4] == 0 and stats["count"].sum() == 4000
    for group in range(4):
        expected = boxplot_stats(values[codes == group])[0]
        for key in ("q1", "med", "q3", "whislo", "whishi"):
            assert stats[key][group] == pytest.approx(expected[key]), key


def test_equal_means_share_a_rank(tmp_path):
    uri, experiment_id, client = hand_store(tmp_path)
    errors = np.random.default_rng(1).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    for aug, shift in (("none", 0.0), ("gan", 0.0), ("classic", -1.0)):
        log_run(client, experiment_id, aug, 0, errors + shift, tmp=tmp_path)
    table = build_leaderboard(uri, "hand", tmp_path / "out", profile="smoke", with_figures=False).table
    assert dict(zip(table["aug"], table["rank"])) == {"classic": 1, "gan": 2, "none": 2}


def test_caption_names_the_generator_rows_that_trained_on_real_images_only(tmp_path):
    uri, experiment_id, client = hand_store(tmp_path)
    base = np.random.default_rng(1).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    log_run(client, experiment_id, "none", 0, base, tmp=tmp_path)
    log_run(client, experiment_id, "gan", 0, base, generated={"acceptance_rate": 0.0}, tmp=tmp_path)
    log_run(client, experiment_id, "ddpm", 0, base - 0.5, generated={"acceptance_rate": 0.4}, tmp=tmp_path)
    board = build_leaderboard(uri, "hand", tmp_path / "board", profile="smoke", with_figures=False)
    caption = (tmp_path / "board" / "hand.md").read_text().splitlines()[2]
    assert caption.endswith("so any difference from the baseline is not the generator's): gan (all).")
    assert "ddpm (all)" not in caption
    assert zero_acceptance_rows(board.table) == ["gan (all)"]
    assert zero_acceptance_note([]) == ""


def test_caption_flags_rows_identical_to_their_baseline_that_should_differ(tmp_path):
    uri, experiment_id, client = hand_store(tmp_path)
    base = np.random.default_rng(2).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    log_run(client, experiment_id, "none", 0, base, tmp=tmp_path)
    log_run(client, experiment_id, "gan", 0, base, generated={"acceptance_rate": 0.0}, tmp=tmp_path)
    log_run(client, experiment_id, "vae", 0, base, generated={"acceptance_rate": 0.5}, tmp=tmp_path)
    log_run(client, experiment_id, "ddpm", 0, base - 0.5, generated={"acceptance_rate": 0.5}, tmp=tmp_path)
    board = build_leaderboard(uri, "hand", tmp_path / "board", profile="smoke", with_figures=False)
    caption = (tmp_path / "board" / "hand.md").read_text().splitlines()[2]
    assert identical_rows(board.table) == ["vae (all)"]
    assert caption.endswith("should have changed the training (check that these runs used them): vae (all).")
    assert identical_note([]) == ""


def test_caption_states_the_profiles_equal_step_budget(tmp_path):
    uri, experiment_id, client = hand_store(tmp_path)
    log_run(client, experiment_id, "none", 0, np.full((N_IMAGES, N_LANDMARKS), 3.0), tmp=tmp_path)
    build_leaderboard(uri, "hand", tmp_path / "board", profile="smoke", with_figures=False)
    caption = (tmp_path / "board" / "hand.md").read_text().splitlines()[2]
    train = resolve_config("smoke", "hand", "none", "heatmap")["train"]
    steps = -(-train["samples_per_epoch"] // train["batch_size"])
    assert (f"Equal optimiser steps for every row: each run trains at most {train['epochs']} epochs of "
            f"{train['samples_per_epoch']} images in batches of {train['batch_size']} ({steps} steps per "
            f"epoch), real and synthetic images drawn within that budget, never added to it") in caption
    assert step_budget_note(TrainSettings(patience=0)).endswith("(no early stopping; the best validation "
                                                                 "epoch is scored).")


def test_caption_says_p_pairs_images_not_training_runs(tmp_path):
    uri, experiment_id, client = hand_store(tmp_path)
    base = np.random.default_rng(4).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    log_run(client, experiment_id, "none", 0, base, tmp=tmp_path)
    log_run(client, experiment_id, "classic", 0, base - 0.5, tmp=tmp_path)
    build_leaderboard(uri, "hand", tmp_path / "board", profile="smoke", with_figures=False)
    caption = (tmp_path / "board" / "hand.md").read_text().splitlines()[2]
    assert "p pairs test images, not training runs" in IMAGE_PAIRING_NOTE
    assert IMAGE_PAIRING_NOTE in caption
    assert IMAGE_PAIRING_NOTE.strip() in (tmp_path / "board" / "hand.tex").read_text()


# --- generator evidence ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evidence_board(tmp_path_factory):
    """A leaderboard of `none`, `classic+ddpm` at 10 images (seeds 1 and 0, each with its own sample grid,
    seed 1 logged first) and `gan` at full size (no grid, as in a cloned store): the board, its folder,
    the content of the seed-0 grid and the store's uri."""
    tmp = tmp_path_factory.mktemp("evidence")
    uri, experiment_id, client = hand_store(tmp)
    base = np.random.default_rng(2).uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    grids = {seed: f"grid of seed {seed}".encode() for seed in (1, 0)}
    for seed, acceptance, ssim, used in ((1, 0.6, 0.5, 30), (0, 0.4, 0.3, 20)):
        log_run(client, experiment_id, "classic+ddpm", seed, base - 0.5, train_size="10",
                generated={"acceptance_rate": acceptance, "nearest_train_ssim_mean": ssim,
                           "n_synthetic_used": used}, samples=grids[seed], tmp=tmp)
    log_run(client, experiment_id, "none", 0, base, tmp=tmp)
    log_run(client, experiment_id, "gan", 0, base - 0.2,
            generated={"acceptance_rate": 0.25, "nearest_train_ssim_mean": 0.75, "n_synthetic_used": 8},
            tmp=tmp)
    out = tmp / "board"
    return build_leaderboard(uri, "hand", out, profile="smoke"), out, grids[0], uri


def evidence_lines(out: Path) -> list[str]:
    """The lines of the Generator evidence section of ``out``'s hand.md (fails when it is missing)."""
    lines = (out / "hand.md").read_text().splitlines()
    start = lines.index("## Generator evidence")
    assert start > lines.index("| rank | train size | detector | aug | runs | MRE (mm) | SDR 2 mm (%) | "
                               "SDR 4 mm (%) | acceptance | baseline | p (Holm) |")
    return lines[start:]


def test_a_generator_row_links_the_grid_of_its_lowest_seed_with_its_evidence(evidence_board):
    board, out, seed_0_grid, _ = evidence_board
    grid = out / "figures" / "hand_classic_plus_ddpm_10_samples.png"
    assert grid.read_bytes() == seed_0_grid and grid in board.paths
    section = evidence_lines(out)
    assert ("| detector | aug | train size | acceptance | nearest-training SSIM | synthetic images used | "
            "samples |") in section
    assert ("| heatmap | classic+ddpm | 10 | 0.50 | 0.400 | 25 | "
            "[samples](figures/hand_classic_plus_ddpm_10_samples.png) |") in section
    assert not any("| none |" in line for line in section)


def test_a_generator_row_without_a_local_grid_links_none(evidence_board):
    board, out, _, _ = evidence_board
    section = evidence_lines(out)
    assert "| heatmap | gan | all | 0.25 | 0.750 | 8 | – |" in section
    assert any("only on the machine that made the runs" in line for line in section)
    assert not (out / "figures" / "hand_gan_all_samples.png").exists()
    assert [p.name for p in board.paths if p.name.endswith("_samples.png")] == [
        "hand_classic_plus_ddpm_10_samples.png"]


def test_a_grid_rendered_where_the_run_was_made_is_kept_and_linked_where_the_run_has_none(evidence_board,
                                                                                       tmp_path):
    """A cloned store has no images, but the copy rendered on the machine that made the run is committed
    beside the table: a render elsewhere links it and does not delete it."""
    committed = tmp_path / "figures" / "hand_gan_all_samples.png"
    committed.parent.mkdir()
    committed.write_bytes(b"grid drawn where the gan run was made")
    board = build_leaderboard(evidence_board[3], "hand", tmp_path, profile="smoke")
    assert "| heatmap | gan | all | 0.25 | 0.750 | 8 | [samples](figures/hand_gan_all_samples.png) |" in (
        evidence_lines(tmp_path))
    assert committed in board.paths and committed.read_bytes() == b"grid drawn where the gan run was made"


# --- findings ----------------------------------------------------------------------------------------------

# per-image shift of each aug from `none` (mm) and its acceptance; `latent-blend` moves images both ways
LEVEL_SHIFT = np.array([(-1) ** i * (i + 1) * 0.01 for i in range(N_IMAGES)])[:, None]
FINDING_ARMS = {"ddpm": (-1.0, 0.5), "gan": (1.0, 0.4), "vae": (-1.0, 0.0),
                "latent-blend": (LEVEL_SHIFT, 0.6)}


def findings_lists(text: str) -> dict[str, list[str]]:
    """The bullets under each list heading of the Findings section of a leaderboard's Markdown ``text``
    (fails when the section is missing); a list written ``<heading>: none.`` is empty."""
    lines = text.split("## Findings\n", 1)[1].split("\n## ", 1)[0].split("\n![", 1)[0].splitlines()
    lists: dict[str, list[str]] = {}
    heading = None
    for line in lines:
        if line.endswith(": none."):
            lists[line.removesuffix(": none.")] = []
        elif line.endswith(":"):
            heading = line[:-1]
            lists[heading] = []
        elif line.startswith("- "):
            lists[heading].append(line)
    return lists


BETTER, WORSE = ("Significantly better than the baseline (p < 0.05)",
                 "Significantly worse than the baseline (p < 0.05)")
LEVEL, REAL_ONLY = "Not significant (p ≥ 0.05)", "No synthetic image passed the filter"


@pytest.fixture(scope="module")
def findings_board(tmp_path_factory):
    """Three seeds of `none` and of each aug of :data:`FINDING_ARMS`, each image shifted by the aug's
    shift, with the aug's acceptance rate: the board and its hand.md."""
    tmp = tmp_path_factory.mktemp("findings")
    uri, experiment_id, client = hand_store(tmp)
    rng = np.random.default_rng(5)
    base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
    for seed in range(3):
        noise = rng.normal(0, 0.05, size=base.shape)
        log_run(client, experiment_id, "none", seed, base + noise, tmp=tmp)
        for aug, (shift, acceptance) in FINDING_ARMS.items():
            log_run(client, experiment_id, aug, seed, base + noise + shift,
                    generated={"acceptance_rate": acceptance}, tmp=tmp)
    board = build_leaderboard(uri, "hand", tmp / "board", profile="smoke", with_figures=False)
    return board, (tmp / "board" / "hand.md").read_text()


def test_findings_list_better_worse_level_and_real_only_rows_from_the_table(findings_board):
    board, text = findings_board
    table = board.table.set_index("aug")
    mre = table["mre_mm_mean"]
    assert mre["ddpm"] == pytest.approx(mre["none"] - 1) and mre["gan"] == pytest.approx(mre["none"] + 1)
    assert table.loc["latent-blend", "p_holm"] >= 0.05 and table.loc["gan", "p_holm"] < 0.05
    lists = findings_lists(text)
    assert list(lists) == [BETTER, WORSE, LEVEL, REAL_ONLY]

    def bullet(aug: str, claim: str) -> str:
        match = re.fullmatch(rf"- hand, all images, heatmap: {re.escape(aug)} {re.escape(claim)} "
                             r"\(p = ([0-9.e+-]+), 3 seeds\)(.*)", next(b for b in sum(lists.values(), [])
                                                                       if f"heatmap: {aug} " in b))
        assert match, f"{aug}: {claim}"
        assert float(match[1]) == pytest.approx(table.loc[aug, "p_holm"], rel=0.05)
        return match[0]

    assert lists[BETTER] == [bullet("ddpm", f"lowers MRE from {mre['none']:.2f} to {mre['ddpm']:.2f} mm "
                                            f"against none")]
    assert lists[WORSE] == [bullet("gan", f"raises MRE from {mre['none']:.2f} to {mre['gan']:.2f} mm "
                                          f"against none")]
    assert lists[LEVEL] == [bullet("latent-blend", f"is level with none on MRE, {mre['latent-blend']:.2f} "
                                                   f"against {mre['none']:.2f} mm")]
    # vae is 1 mm better at p < 0.05, but it trained on real images only
    assert table.loc["vae", "p_holm"] < 0.05
    real_only = bullet("vae", f"lowers MRE from {mre['none']:.2f} to {mre['vae']:.2f} mm against none")
    assert lists[REAL_ONLY] == [real_only] and real_only.endswith(
        "3 seeds) (acceptance 0: trained on real images only).")
    assert "heatmap: none " not in text  # the baseline is compared with nothing


def test_findings_follow_the_table_and_precede_the_evidence(findings_board):
    _, text = findings_board
    lines = text.splitlines()
    findings = lines.index("## Findings")
    header = next(i for i, line in enumerate(lines) if line.startswith("| rank | train size |"))
    assert lines.index("### heatmap, all images") > findings > header
    assert lines.index("## Generator evidence") > findings
    assert not any(line.startswith("| ") for line in lines[findings:lines.index("## Generator evidence")])


def test_findings_of_a_dice_task_turn_the_direction_and_say_when_nothing_was_compared():
    from benchmark.leaderboard.findings import NONE_COMPARED, findings_section
    from benchmark.record.metrics import primary

    # at full size ddpm's seeds pair with none's on no image: no p; gan ran one seed, on which none
    # scored 0.39, below gan's 0.40 though none's mean over its three seeds is 0.45: the finding compares
    # the seed both ran
    table = pd.DataFrame({"detector": "heatmap", "train_size": ["10"] * 4 + ["all"] * 2,
                          "aug": ["classic+vae", "classic", "none", "gan", "ddpm", "none"],
                          "n_runs": [3, 3, 3, 1, 1, 2], "dice_mean": [0.52, 0.47, 0.45, 0.40, 0.55, 0.5],
                          "baseline": ["classic", "none", None, "none", "none", None],
                          "p_holm": [0.0004, 0.2, np.nan, 0.012, np.nan, np.nan],
                          "paired_seeds": [3, 3, np.nan, 1, np.nan, np.nan],
                          "paired_mean": [0.52, 0.47, np.nan, 0.40, np.nan, np.nan],
                          "paired_baseline_mean": [0.47, 0.45, np.nan, 0.39, np.nan, np.nan],
                          "acceptance_rate_mean": [1.0, np.nan, np.nan, 0.3, 0.5, np.nan]})
    text = findings_section(table, primary("segmentation"), "canal")
    lists = findings_lists(text)
    assert lists[BETTER] == ["- canal, 10 images, heatmap: classic+vae raises Dice from 0.470 to 0.520 "
                             "against classic (p = 4.0e-04, 3 seeds).",
                             "- canal, 10 images, heatmap: gan raises Dice from 0.390 to 0.400 against none "
                             "(p = 0.012, 1 seed)."]
    assert lists[WORSE] == []
    assert lists[LEVEL] == ["- canal, 10 images, heatmap: classic is level with none on Dice, 0.470 against "
                            "0.450 (p = 0.2, 3 seeds)."]
    assert REAL_ONLY not in lists
    assert text.split("### heatmap, all images\n", 1)[1].strip() == NONE_COMPARED


# --- the README's digest of the findings ------------------------------------------------------------------

README = ("# Title\n\nHand-written prose.\n\n<!-- leaderboard:hand -->\nstale\n<!-- /leaderboard:hand -->\n"
          "\nMore prose.\n")


def test_readme_block_digests_the_findings_and_keeps_the_prose(findings_board, tmp_path, capsys):
    board, _ = findings_board
    uri = board.paths[0].parent.parent / "mlflow.db"
    readme = tmp_path / "README.md"
    readme.write_text(README)
    arguments = ["leaderboard", "--task", "hand", "--profile", "smoke", "--tracking-uri", f"sqlite:///{uri}",
                 "--out", str(tmp_path / "leaderboards"), "--no-figures", "--readme", str(readme)]
    assert run_cli(capsys, *arguments)[0] == 0
    text = readme.read_text()
    before, block = text.split("<!-- leaderboard:hand -->\n")
    block, after = block.split("<!-- /leaderboard:hand -->\n")
    assert before == "# Title\n\nHand-written prose.\n\n" and after == "\nMore prose.\n"
    assert block.startswith("**hand** ([leaderboard](leaderboards/hand.md)): MRE of each row against the "
                            "row's baseline, both means over the seeds the two ran")
    mre = board.table.set_index("aug")["mre_mm_mean"]
    p = board.table.set_index("aug")["p_holm"]
    (line,) = [b for b in block.splitlines() if b.startswith("- ")]
    assert line == (f"- all images, heatmap (3 runs per row): "
                    f"better: ddpm (none {mre['none']:.2f} → {mre['ddpm']:.2f} mm, p = {p_text(p['ddpm'])}); "
                    f"worse: gan (none {mre['none']:.2f} → {mre['gan']:.2f} mm, p = {p_text(p['gan'])}); "
                    f"not significant: latent-blend (none {mre['none']:.2f} → {mre['latent-blend']:.2f} mm, "
                    f"p = {p_text(p['latent-blend'])}); acceptance 0, trained on real images only: vae.")
    # a second render replaces the block instead of adding one
    assert run_cli(capsys, *arguments)[0] == 0
    assert readme.read_text() == text


def test_a_readme_without_the_tasks_block_fails_before_anything_is_written(findings_board, tmp_path, capsys):
    board, _ = findings_board
    uri = board.paths[0].parent.parent / "mlflow.db"
    readme = tmp_path / "README.md"
    readme.write_text(README.replace("leaderboard:hand", "leaderboard:ceph"))
    code, _, err = run_cli(capsys, "leaderboard", "--task", "hand", "--profile", "smoke", "--tracking-uri",
                           f"sqlite:///{uri}", "--out", str(tmp_path / "out"), "--readme", str(readme))
    assert code != 0 and err.strip().splitlines() == [
        f"error: {readme}: needs one line `<!-- leaderboard:hand -->` and, below it, one line "
        f"`<!-- /leaderboard:hand -->` around the generated hand findings; add them where the findings go"]
    assert not (tmp_path / "out").exists()
    assert readme.read_text() == README.replace("leaderboard:hand", "leaderboard:ceph")


def test_readme_digest_of_a_dice_task_with_a_group_compared_to_nothing():
    from benchmark.leaderboard.findings import summary
    from benchmark.record.metrics import primary

    table = pd.DataFrame({"detector": "unet", "train_size": ["10", "10", "all"],
                          "aug": ["vae", "none", "none"], "n_runs": [3, 2, 2], "dice_mean": [0.52, 0.45, 0.5],
                          "baseline": ["none", None, None], "p_holm": [0.0004, np.nan, np.nan],
                          "paired_seeds": [2, np.nan, np.nan], "paired_mean": [0.52, np.nan, np.nan],
                          "paired_baseline_mean": [0.45, np.nan, np.nan],
                          "acceptance_rate_mean": [1.0, np.nan, np.nan]})
    lines = summary(table, primary("segmentation"), "canal", "leaderboards/canal.md").splitlines()
    assert lines[2:] == ["- 10 images, unet (2-3 runs per row): better: vae (none 0.450 → 0.520, "
                         "p = 4.0e-04); worse: none; not significant: none.",
                         "- all images, unet (2 runs per row): No baseline had runs to compare with."]


# --- an ablation's rows against its reference row -----------------------------------------------------------

REFERENCE_SPEC = """name: against_real
task: hand
profile: smoke
seeds: [0, 1, 2]
reference: {aug: none}
extra_cells: [{aug: none, train_size: 10}, {aug: none, train_size: null}]
factors:
  train_size: [10, null]
  aug: [ddpm, gan]
"""


def test_ablation_rows_are_tested_against_the_reference_of_their_training_size(tmp_path):
    from benchmark.ablation import render_ablation

    uri, experiment_id, client = hand_store(tmp_path)
    rng = np.random.default_rng(3)
    shifts = {("10", "ddpm"): -1.0, ("all", "ddpm"): LEVEL_SHIFT, ("all", "gan"): 0.5}
    errors = {}
    for seed in range(3):
        for size in ("10", "all"):
            base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
            errors[size, "none", seed] = base
            for (shifted_size, aug), shift in shifts.items():
                if shifted_size == size:
                    errors[size, aug, seed] = base + shift + rng.normal(0, 0.05, size=base.shape)
    for (size, aug, seed), value in errors.items():
        log_run(client, experiment_id, aug, seed, value, train_size=size, tmp=tmp_path)
    spec = load_spec(write_spec(tmp_path, REFERENCE_SPEC))
    path = render_ablation(spec, uri, tmp_path / "out").path
    table = pd.read_csv(path.with_suffix(".csv"))
    table["train_size"] = [tags.train_size_tag(None if pd.isna(v) else int(v)) for v in table["train_size"]]

    def raw_p(size: str, aug: str) -> float:
        per_image = [errors[size, aug, s].mean(1) - errors[size, "none", s].mean(1) for s in range(3)]
        return wilcoxon_p(np.mean(per_image, axis=0))

    p = table.set_index(["train_size", "aug"])["p_holm"]
    assert p["10", "ddpm"] == pytest.approx(raw_p("10", "ddpm")) and p["10", "ddpm"] < 0.05
    assert [p["all", "ddpm"], p["all", "gan"]] == pytest.approx(holm([raw_p("all", "ddpm"),
                                                                       raw_p("all", "gan")]))
    # gan at 10 has no runs; none is a reference
    assert np.isnan(p["10", "gan"]) and np.isnan(p["10", "none"])
    rows = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    header = [h.strip() for h in rows[0].strip("|").split("|")]
    cells = {(r[header.index("train_size")], r[header.index("aug")]): r[header.index("p (Holm)")]
             for r in ([c.strip() for c in row.strip("|").split("|")] for row in rows[1:])}
    assert cells["10", "ddpm"].endswith("*") and cells["10", "gan"] == "–" and cells["10", "none"] == ""
    assert ('against the reference row {"aug": "none"} that shares its other factors, on per-image MRE (mm) '
            'averaged' in path.read_text())
    assert IMAGE_PAIRING_NOTE.strip() in path.read_text()


def test_an_ablation_pairs_only_runs_of_one_test_set_and_says_which_were_scored_elsewhere(tmp_path):
    from benchmark.ablation import render_ablation

    uri, experiment_id, client = hand_store(tmp_path)
    rng = np.random.default_rng(5)
    errors = {}
    for seed in range(3):
        base = rng.uniform(2, 6, size=(N_IMAGES, N_LANDMARKS))
        errors["none", seed] = base
        errors["ddpm", seed] = base - 1.0 + rng.normal(0, 0.05, size=base.shape)
    for (aug, seed), value in errors.items():
        # ddpm seed 0 was scored on other images that carry the same ids
        digest = "other-images" if (aug, seed) == ("ddpm", 0) else "test-images"
        log_run(client, experiment_id, aug, seed, value, train_size="10", test_digest=digest, tmp=tmp_path)
    spec = load_spec(write_spec(tmp_path, REFERENCE_SPEC.replace("aug: [ddpm, gan]", "aug: [ddpm]")))
    path = render_ablation(spec, uri, tmp_path / "out").path
    table = pd.read_csv(path.with_suffix(".csv")).query("train_size == 10").set_index("aug")
    assert table.loc["ddpm", "paired_seeds"] == 2
    per_image = [errors["ddpm", s].mean(1) - errors["none", s].mean(1) for s in (1, 2)]
    assert table.loc["ddpm", "p_holm"] == pytest.approx(wilcoxon_p(np.mean(per_image, axis=0)))
    assert ("Scored on 2 test sets (test digest): 5 runs on test-images, 1 on other-images (10 / ddpm); "
            "p never pairs runs of different test sets" in path.read_text())


def test_an_ablation_csv_names_the_aug_of_rows_that_take_the_specs_default(tmp_path):
    from benchmark.ablation import render_ablation

    uri, experiment_id, client = hand_store(tmp_path)
    for aug in ("none", "ddpm"):
        log_run(client, experiment_id, aug, 0, np.full((N_IMAGES, N_LANDMARKS), 3.0), train_size="10",
                tmp=tmp_path)
    spec = load_spec(write_spec(tmp_path, "name: default_aug\ntask: hand\naug: ddpm\nprofile: smoke\n"
                                          "seeds: [0]\nextra_cells: [{aug: none, train_size: 10}]\nfactors:\n"
                                          "  train_size: [10]\n"))
    table = pd.read_csv(render_ablation(spec, uri, tmp_path / "out").path.with_suffix(".csv"))
    assert table["aug"].tolist() == ["none", "ddpm"] and table["n_runs"].tolist() == [1, 1]


@pytest.mark.parametrize("change, problem", [
    ("reference: {aug: vae}", "matches no cell"),
    ("extra_cells: [{aug: none}, {aug: none, detector: heatmap}]", "has 2 reference cells"),
])
def test_an_ablation_reference_naming_no_cell_or_two_fails_before_anything_runs(tmp_path, change, problem):
    key = change.split(":")[0]
    text = "\n".join(change if line.startswith(f"{key}:") else line for line in REFERENCE_SPEC.splitlines())
    with pytest.raises(ConfigError, match=f"ablation against_real: .*{problem}"):
        expand(load_spec(write_spec(tmp_path, text)))
