"""Staged read-back (benchmark/readback.py) on a tiny DDPM-2ch trained to fit a set of near-identical
samples: the reader passes perfect heatmaps, restored training samples and unconditional samples alike."""

import json

import numpy as np
import torch

from benchmark.data.imageset import ImageSet
from benchmark.readback import format_rows, staged_readback
from benchmark.registry import AUGMENTATIONS
from tests.cli_helpers import run_cli

SQUARE = np.array([[8.0, 8.0], [23.0, 8.0], [23.0, 23.0], [8.0, 23.0]])


def square_set(n: int, seed: int) -> ImageSet:
    """Bright dots at the corners of one square (jitter 0.3 px) on dark 32 x 32 images."""
    rng = np.random.default_rng(seed)
    landmarks = SQUARE[None] + rng.normal(0, 0.3, (n, 4, 2))
    yy, xx = np.mgrid[:32, :32]
    images = np.stack(
        [sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 4.0) for x, y in shape) for shape in landmarks]
    )
    return ImageSet(
        ids=[f"sq{seed}-{i}" for i in range(n)],
        images=np.clip(images, 0, 1),
        spacing=np.full((n, 2), 0.5),
        original_size=np.full((n, 2), 32),
        landmarks=landmarks,
    )


def test_a_fitted_model_reads_back_at_every_stage():
    ddpm = AUGMENTATIONS.create(
        "ddpm",
        block_out_channels=[16, 32],
        attention_levels=0,
        image_size=[16, 16],
        train_steps=300,
        batch_size=8,
        lr=2e-3,
        prediction_type="v_prediction",
        min_snr_gamma=None,
        warmup_steps=0,
        patch_size=1,
        grid_scale=1.0,
        ema_decay=0.99,
        label_weight=4.0,
        heatmap_sigma=1.0,
        ddim_steps=10,
        n_samples=6,
    )
    torch.manual_seed(0)
    rows = staged_readback(
        ddpm,
        square_set(12, 0),
        square_set(6, 1),
        seed=0,
        device=torch.device("cpu"),
        timesteps=(100, 300),
        ddim_steps=5,
        checkpoints=(150,),
    )
    stages = {row["stage"]: row for row in rows}
    assert list(stages) == [
        "(a) perfect, held-out",
        "fit",
        "(b) t=100, x0 estimate",
        "(b) t=100, DDIM 5",
        "(b) t=300, x0 estimate",
        "(b) t=300, DDIM 5",
        "(c) unconditional, step 150",
        "(c) unconditional",
    ]
    assert stages["(a) perfect, held-out"]["acceptance"] == 1.0
    assert stages["(b) t=100, x0 estimate"]["acceptance"] >= 0.9
    assert stages["(b) t=300, DDIM 5"]["acceptance"] >= 0.9
    unconditional = stages["(c) unconditional"]
    assert unconditional["n"] == 6 and unconditional["acceptance"] >= 0.5
    assert unconditional["nearest_train_ssim"] > 0.4  # the squares, not noise
    table = format_rows(rows)
    assert table.count("\n") == len(rows) + 1 and "| (c) unconditional | 6 |" in table


def test_the_command_prints_the_stages_and_rejects_what_it_cannot_read(capsys):
    code, out, _ = run_cli(
        capsys,
        "readback",
        "--task",
        "hand",
        "--aug",
        "ddpm",
        "--profile",
        "smoke",
        "--timesteps",
        "50",
        "--ddim-steps",
        "2",
        "--held-out",
        "3",
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and [row["stage"] for row in report["rows"]][0] == "(a) perfect, held-out"
    assert report["rows"][-1]["stage"] == "(c) unconditional" and report["rows"][-1]["n"] == 8
    for args, message in (
        (("--aug", "classic"), "not a two-channel generator"),
        (("--aug", "ddpm", "--timesteps", "1000"), "below the generator's T = 1000"),
        (("--aug", "shape-dpm"), "Did you mean 'shape-ddpm'"),
        (("--aug", "vae", "--checkpoints", "2"), "--checkpoints needs a diffusion generator, not 'vae'"),
        (("--aug", "ddpm", "--checkpoints", "4"), "--checkpoints must lie in [1, 4)"),
    ):
        code, _, err = run_cli(capsys, "readback", "--task", "hand", "--profile", "smoke", *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
