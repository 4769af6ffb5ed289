"""Staged read-back of a two-channel generator: where between "the reader works" and "samples are
accepted" a generator's labels get lost.

For one (task, generator) on the training split of the run's fold, each stage reads label channels back
with the generator's own reader and quality filter
(:func:`~baselines.augmentations.two_channel.decode_two_channel`) and reports the acceptance rate, the
label-channel peak counts and the nearest-training SSIM:

* **(a) perfect**: the encoded (image, label) samples of held-out test images, decoded as they are: the
  ceiling the reader allows at the generator's grid and heatmap width;
* **(b) denoised from t** (diffusion generators only): training samples noised to ``t``
  (``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``) and denoised by the fitted model, once as the
  one-step ``x0`` estimate and once by DDIM in ``steps`` calls: whether the model restores labels it is
  shown;
* **(c) unconditional**: samples from the fitted generator, as a run makes them; with ``checkpoints``
  (diffusion generators) also after each of those optimiser steps of the same fit, from the weights the
  fit would end with there (its EMA), so one fit gives acceptance against training length. The learning
  rate schedule spans the whole fit (``train_steps``), so a cosine decay is mid-way at a checkpoint.

``benchmark readback --task hand --aug ddpm [--train-size 10] [--set augmentations.ddpm.train_steps=...]``
prints one table (``--json``: one JSON object).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
import torch

from benchmark.data.imageset import ImageSet
from benchmark.record.metrics import ACCEPTANCE_RATE, NEAREST_TRAIN_SSIM_MEAN


def _stage(name: str, samples: np.ndarray, train: ImageSet, settings, seconds: float) -> dict[str, Any]:
    from baselines.augmentations.two_channel import decode_two_channel

    decoded = decode_two_channel(samples, train, settings)
    reasons = Counter(r for r, ok in zip(decoded.quality["reason"], decoded.quality["accepted"]) if not ok)
    row = {
        "stage": name,
        "n": len(samples),
        "acceptance": decoded.metrics[ACCEPTANCE_RATE],
        "nearest_train_ssim": decoded.metrics[NEAREST_TRAIN_SSIM_MEAN],
        "seconds": seconds,
        "rejections": dict(reasons.most_common(3)),
    }
    if "n_peaks" in decoded.quality:
        peaks = np.asarray(decoded.quality["n_peaks"])
        row["peaks"] = f"{int(np.median(peaks))} [{peaks.min()}-{peaks.max()}]"
    else:
        components = np.asarray(decoded.quality["n_components"])
        row["peaks"] = f"{int(np.median(components))} [{components.min()}-{components.max()}] components"
    return row


def staged_readback(
    augmentation,
    train: ImageSet,
    held_out: ImageSet,
    seed: int,
    device: torch.device,
    timesteps: tuple[int, ...] = (100, 300, 500),
    ddim_steps: int = 10,
    n_unconditional: int | None = None,
    checkpoints: tuple[int, ...] = (),
) -> list[dict[str, Any]]:
    """The rows of the module docstring's three stages for a two-channel generator ``augmentation``."""
    from baselines.augmentations.two_channel import encode_two_channel, generator_grid

    s = augmentation.settings
    size = generator_grid(s, train)
    rows = [
        _stage("(a) perfect, held-out", encode_two_channel(held_out, size, s.heatmap_sigma), train, s, 0.0)
    ]
    data = torch.from_numpy(encode_two_channel(train, size, s.heatmap_sigma))
    n = n_unconditional or s.n_to_generate(len(train))
    curve: list[dict[str, Any]] = []
    spent_reading = 0.0  # the checkpoints' sampling and reading, not part of the fit's time

    def unconditional_at(step: int) -> None:
        nonlocal spent_reading
        begun = time.perf_counter()
        samples = augmentation.sample(n, seed, device)
        seconds = time.perf_counter() - begun
        curve.append(_stage(f"(c) unconditional, step {step}", samples, train, s, seconds))
        spent_reading += time.perf_counter() - begun

    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if checkpoints:
            augmentation.fit(data, seed, device, checkpoints=checkpoints, on_checkpoint=unconditional_at)
        else:
            augmentation.fit(data, seed, device)
    rows.append({"stage": "fit", "n": len(data), "seconds": time.perf_counter() - started - spent_reading})
    if hasattr(augmentation, "denoise"):
        total = augmentation.settings.num_train_timesteps
        for t in timesteps:
            for steps, label in ((1, "x0 estimate"), (ddim_steps, f"DDIM {ddim_steps}")):
                started = time.perf_counter()
                restored = augmentation.denoise(data, (t + 1) / total, steps, seed + t, device)
                rows.append(_stage(f"(b) t={t}, {label}", restored, train, s, time.perf_counter() - started))
    started = time.perf_counter()
    samples = augmentation.sample(n, seed, device)
    rows += [*curve, _stage("(c) unconditional", samples, train, s, time.perf_counter() - started)]
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| stage | n | acceptance | label peaks median [range] | nearest-train SSIM | seconds "
        "| top rejections |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "acceptance" not in r:
            lines.append(f"| {r['stage']} | {r['n']} | | | | {r['seconds']:.1f} | |")
            continue
        rejections = "; ".join(f"{k} ({v})" for k, v in r["rejections"].items())
        lines.append(
            f"| {r['stage']} | {r['n']} | {100 * r['acceptance']:.0f} % | {r['peaks']} | "
            f"{r['nearest_train_ssim']:.2f} | {r['seconds']:.1f} | {rejections} |"
        )
    return "\n".join(lines)
