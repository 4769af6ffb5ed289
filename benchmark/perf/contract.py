"""What a model plug-in gives ``benchmark perf``, so that perf measures every registered model by the
plug-in's own code and knows none of them by name.

* A detector that trains (:attr:`benchmark.detector.Detector.trains`): ``setup`` builds its network,
  ``training_loss`` is its suite step's loss, ``network_loss(batch)`` the same loss as a function of a
  network with the batch's targets prepared once (the reference loop's loss), ``predict`` its inference.
* A generator (:attr:`benchmark.augmentation.Augmentation.generates`): ``perf_models(train, device)``, one
  :class:`PerfModel` per row (a network, or networks trained together).

The reference loop is :func:`plain_step` around the plug-in's loss, or a step of the plug-in's own where one
loss does not describe it (the GAN's two optimisers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from benchmark.training.device import autocast

Step = Callable[[], None]


def plain_step(model: torch.nn.Module, loss_of: Callable[[torch.nn.Module], torch.Tensor], lr: float,
               device: torch.device, amp: str) -> Step:
    """The reference loop's step: ``loss_of(model)`` under autocast, backward, an AdamW step; nothing else."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    def step() -> None:
        with autocast(device, amp):
            loss = loss_of(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


@dataclass
class PerfModel:
    """One generator row of ``benchmark perf`` and of its dry run.

    ``train(steps, batch_size, device)``: fresh networks trained ``steps`` optimiser steps at ``batch_size``
    by the plug-in's own training code; returns its loss metrics. ``networks()``: the networks of the latest
    ``train`` call (built before its first step, so they exist when the call is interrupted).
    ``reference(device)``: the reference loop's step on the same architecture, the same loss, the data
    already on ``device``, a fresh optimiser and nothing else. ``sample(n, device)``: samples about ``n``
    images (or one sampling batch of the generator's own) from the networks of the latest ``train`` call and
    returns how many; ``None`` where the row is sampled with another one (``note`` says so). ``batch_size``
    and ``steps``: the profile's training batch and optimiser steps of one run."""

    name: str
    batch_size: int
    steps: int
    train: Callable[[int, int, torch.device], dict[str, float]]
    networks: Callable[[], list[torch.nn.Module]]
    reference: Callable[[torch.device], Step]
    sample: Callable[[int, torch.device], int] | None
    note: str = ""
