"""Generator throughput: each generator's own training code against a plain loop on the same networks,
and sampling images per second, one row per :class:`~benchmark.perf.contract.PerfModel` of the generator.

Suite: the row's ``train`` (the generator's own training code, fresh networks each call), timed at
``warmup`` and at ``warmup + calls`` optimiser steps; the difference is ``calls`` steps without network
construction and first-call costs. Reference: the row's ``reference`` step, the same loss on the same
architecture with the data already on the device, a fresh optimiser and nothing else. Sampling: the row's
``sample`` after one training step (the sampler's speed does not depend on the weights).
"""

from __future__ import annotations

from typing import Callable

import torch

from benchmark.perf.contract import PerfModel
from benchmark.perf.figures import ModelFigures
from benchmark.perf.timing import rate, seconds


def steps_rate(train_for: Callable[[int], object], batch_size: int, calls: int, warmup: int,
               device: torch.device, repeats: int = 3) -> float:
    """Images per second of ``calls`` steps from ``train_for(steps)`` timed at two step counts, each the
    best of ``repeats`` (as :func:`benchmark.perf.timing.rate`)."""
    short = min(seconds(lambda: train_for(warmup), device) for _ in range(repeats))
    long = min(seconds(lambda: train_for(warmup + calls), device) for _ in range(repeats))
    return batch_size * calls / max(long - short, 1e-9)


def generator_figures(model: PerfModel, device: torch.device, calls: int, warmup: int,
                      n_samples: int) -> ModelFigures:
    """The row of ``model`` at its profile batch; sampling asks for ``n_samples`` images."""
    batch = model.batch_size
    train = steps_rate(lambda steps: model.train(steps, batch, device), batch, calls, warmup, device)
    reference = rate(model.reference(device), batch, calls, warmup, device)
    sampling = float("nan")
    if model.sample is not None:
        model.train(1, batch, device)
        made: list[int] = []
        elapsed = seconds(lambda: made.append(model.sample(n_samples, device)), device)
        sampling = made[0] / max(elapsed, 1e-9)
    return ModelFigures(model.name, "generator", batch, train, reference, sampling, model.note)
