"""Training-loop settings shared by every neural detector (the ``train`` section of a profile)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from benchmark.checks import is_integer, is_number
from benchmark.errors import ConfigError

AmpMode = Literal["auto", "bf16", "off"]  # bf16 autocast on a GPU: auto and bf16 turn it on, off does not

@dataclass(frozen=True)
class TrainSettings:
    """An *epoch* is ``samples_per_epoch`` training images (cycling through shuffled passes of the
    training set), not one pass: every run of a profile gets the same compute budget whatever its
    training-set size or number of synthetic images, which keeps comparisons fair.

    The learning rate warms up linearly for ``warmup_epochs`` then follows a cosine decay to zero.
    Early stopping ends training after ``patience`` epochs without a better validation score
    (0 disables it); the best epoch's weights are restored at the end. ``amp='auto'`` uses bf16
    autocast on a GPU and float32 on the CPU. ``num_threads=0`` keeps torch's default.
    ``channels_last`` stores the network's weights (and so its activations) NHWC, which tensor-core
    convolutions on a GPU prefer; ``compile`` runs ``torch.compile`` on the network in place (first steps
    are slow while it compiles; needs a C compiler on the CPU).
    """

    epochs: int = 16
    samples_per_epoch: int = 320
    batch_size: int = 16
    eval_batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    patience: int = 8
    amp: AmpMode = "auto"
    num_threads: int = 0
    checkpoint_every: int = 1
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        positive = ("epochs", "samples_per_epoch", "batch_size", "eval_batch_size", "checkpoint_every")
        for names, low in ((positive, 1), (("warmup_epochs", "patience", "num_threads"), 0)):
            for name in names:
                value = getattr(self, name)
                if not is_integer(value) or value < low:
                    raise ConfigError(f"train.{name} must be an integer >= {low}, got {value!r}")
        if not is_number(self.lr) or not 0 <= self.lr < 10:
            raise ConfigError(f"train.lr must be a number in [0, 10), got {self.lr!r}")
        if not is_number(self.weight_decay) or not 0 <= self.weight_decay < math.inf:
            raise ConfigError(f"train.weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        for name in ("channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"train.{name} must be true or false, got {getattr(self, name)!r}")
        if self.amp not in ("auto", "bf16", "off"):
            raise ConfigError(f"train.amp must be auto, bf16 or off, got {self.amp!r}")

    @property
    def steps_per_epoch(self) -> int:
        return max(1, -(-self.samples_per_epoch // self.batch_size))


def search_space(trial) -> dict:
    """Sweep suggestions for the ``train`` section: the peak learning rate and the weight decay, on log
    scales; the epoch budget stays the profile's (it is the protocol, not a knob)."""
    return {"lr": trial.suggest_float("train.lr", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("train.weight_decay", 1e-6, 1e-2, log=True)}
