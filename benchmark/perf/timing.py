"""Wall-clock throughput with the device synchronised at the ends of each timed window only.

``rate(step, images_per_call, calls, warmup, repeats)`` runs ``step`` ``warmup`` times untimed
(allocator, cuDNN autotuning, lazy initialisation), then ``repeats`` windows of ``calls`` calls, each
between two synchronisations, and reports the best window's ``images_per_call * calls / seconds`` (the
``timeit`` convention: other processes only ever slow a window down). The hot loop itself never waits
for the device, so on a GPU the figure includes whatever host work keeps the GPU idle, which is what it
should measure.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(step: Callable[[], object], images_per_call: int, calls: int, warmup: int,
         device: torch.device = torch.device("cpu"), repeats: int = 3) -> float:
    """Images per second of ``step`` (module docstring)."""
    for _ in range(warmup):
        step()
    best = math.inf
    for _ in range(repeats):
        best = min(best, seconds(lambda: [step() for _ in range(calls)], device))
    return images_per_call * calls / max(best, 1e-9)


def seconds(job: Callable[[], object], device: torch.device = torch.device("cpu")) -> float:
    """Wall-clock seconds of one call of ``job``, device work included."""
    synchronise(device)
    started = time.perf_counter()
    job()
    synchronise(device)
    return time.perf_counter() - started
