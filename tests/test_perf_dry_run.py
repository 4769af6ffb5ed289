"""``benchmark perf --dry-run``: every model of the ``gpu`` profile built at its profile size and trained one
step at batch 1 by its own training code and loss, every model of the ``paper`` profile built at its size and
run through the forward pass of that step, as the command does (landmark-only models on ``hand``, the others,
which can segment, on ``canal``); the command's rows, estimates and errors."""

import json
import math

import pytest
import torch

from benchmark.perf.dry_run import DryRunReport, DryRunRow, Throughput, dry_run
from benchmark.perf.figures import ModelFigures
from benchmark.perf.plugins import model_names
from benchmark.perf.report import PerfReport
from tests.cli_helpers import run_cli

ROWS = {
    "heatmap",
    "segformer",
    "saltpepper",
    "ddpm",
    "shape-ddpm",
    "vae",
    "gan",
    "latent-blend autoencoder",
    "latent-blend latent ddpm",
}


def test_every_model_takes_one_training_step_at_the_gpu_profile_size():
    for row in rows_of_every_model("gpu", whole_step=True):
        assert row.losses and all(math.isfinite(loss) for loss in row.losses.values()), row


def test_every_model_runs_the_forward_pass_of_a_step_at_the_paper_profile_size():
    """The command's own mode: stopped where backward begins, so no loss is reported (a whole step at these
    sizes took over a minute and a half of the suite; backward is the same code as at the ``gpu`` size)."""
    for row in rows_of_every_model("paper", whole_step=False):
        assert not row.losses, row


def rows_of_every_model(profile: str, whole_step: bool) -> list[DryRunRow]:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        landmarks_only = dry_run("hand", profile, ["saltpepper"], progress=False, whole_step=whole_step).rows
        others = [name for name in model_names() if name != "saltpepper"]
        segmenting = dry_run("canal", profile, others, progress=False, whole_step=whole_step).rows
    finally:
        torch.set_num_threads(threads)
    rows = {row.model: row for row in landmarks_only + segmenting}
    assert set(rows) == ROWS
    for row in rows.values():
        assert row.parameters > 0 and row.activation_bytes > 0 and row.steps > 0, row
    return list(rows.values())


def test_cli_lists_every_model_and_estimates_seconds_from_a_gpu_perf_json(capsys, tmp_path):
    rate = 100.0
    figures = [ModelFigures(name, "model", 32, rate, rate, rate) for name in ROWS]
    perf = PerfReport("hand", "gpu", "cuda", 16, figures)
    path = tmp_path / "perf.json"
    path.write_text(json.dumps(perf.as_json()))
    code, out, err = run_cli(
        capsys,
        "perf",
        "--profile",
        "gpu",
        "--dry-run",
        "--task",
        "hand",
        "--json",
        "--no-progress",
        "--gpu-perf",
        str(path),
    )
    assert code == 0, err
    report = json.loads(out)
    rows = {row["model"]: row for row in report["models"]}
    assert set(rows) == ROWS and report["gpu_perf"]["profile"] == "gpu"
    assert all(row["parameters"] > 0 and row["activation_bytes"] > 0 for row in rows.values())
    assert all(math.isfinite(row["seconds"]) and row["seconds"] > 0 for row in rows.values())
    # gpu profile: 30 epochs of ceil(1024 / 32) steps at batch 32
    assert rows["heatmap"]["steps"] == 30 * 32
    assert rows["heatmap"]["seconds"] == pytest.approx(30 * 32 * 32 / rate)


def test_table_shows_a_dash_without_throughput_and_a_duration_with_it():
    row = DryRunRow("ddpm", "generator", 2_000_000, 3 * 2**30, 16, 100_000, {"generator_final_loss": 0.5})
    table = DryRunReport("hand", "paper", None, [row]).table()
    assert "| ddpm | generator | 2.00 M | 16 | 3.0 GiB | 100000 | – |" in table
    throughput = Throughput("perf.json", "gpu", "hand", "cuda", {"ddpm": 400.0})
    row.seconds = throughput.seconds(row)
    assert row.seconds == pytest.approx(100_000 * 16 / 400)
    assert "| 100000 | 66.7 min |" in DryRunReport("hand", "paper", throughput, [row]).table()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dry-run", "--gpu-perf", "missing.json"], "--gpu-perf missing.json: No such file"),
        (["--dry-run", "--gpu-perf", "{file}"], "not the output of `benchmark perf --json`"),
        (["--gpu-perf", "{file}"], "--gpu-perf applies to --dry-run only"),
        (["--dry-run", "--only", "pipeline"], "--only: unknown name 'pipeline'"),
    ],
)
def test_bad_dry_run_options_end_with_one_line(capsys, tmp_path, args, message):
    (tmp_path / "bad.json").write_text(json.dumps({"models": [{"name": "ddpm"}]}))
    args = [arg.replace("{file}", str(tmp_path / "bad.json")) for arg in args]
    code, out, err = run_cli(capsys, "perf", "--no-progress", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not out
