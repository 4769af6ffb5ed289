"""Device choice, seeding and determinism."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from benchmark.errors import ConfigError


def pick_device(requested: str = "auto") -> torch.device:
    """``auto``: the first GPU when one is visible, else the CPU; otherwise the named device, which must
    exist (a missing GPU is a one-line error, not a failure halfway through a run)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ConfigError(f"--device {requested!r}: not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"--device {requested}: no such CUDA GPU is visible on this machine "
                          f"({torch.cuda.device_count()} found); use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {requested!r}: only cpu and cuda devices are supported")
    return device


def seed_everything(seed: int, device: torch.device) -> None:
    """Seed Python, NumPy and torch. On the CPU this makes a run bit-for-bit repeatable; on a GPU,
    cuDNN autotuning is left on for speed, so GPU runs are repeatable only up to kernel choice."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device, amp: str):
    """bf16 autocast on a GPU when ``amp`` is 'auto' or 'bf16'; a no-op context otherwise."""
    enabled = device.type == "cuda" and amp in ("auto", "bf16")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
