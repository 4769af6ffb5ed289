"""The one training loop every neural detector uses.

AdamW, linear warm-up + cosine decay per step, a validation score per epoch (lower is better: the
detector returns e.g. MRE in mm or 1 - Dice), early stopping with best-weights restore, and a
checkpoint (``last.pt``: model, optimiser, scheduler, RNG states, history;
:mod:`benchmark.training.checkpoint`) written every ``checkpoint_every`` epochs so that an interrupted
run can resume from where it stopped and end with the same result as an uninterrupted one on the CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.augmentation import Augmentation
from benchmark.data.imageset import ImageSet
from benchmark.training.batch import Batch, batch_from
from benchmark.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from benchmark.training.device import autocast
from benchmark.training.settings import TrainSettings


class Trainable(Protocol):
    """What a detector hands the loop: its network, a loss on a batch, and a validation score."""

    model: torch.nn.Module

    def training_loss(self, batch: Batch) -> torch.Tensor: ...

    def validate(self, val: ImageSet) -> tuple[float, dict[str, float]]: ...


@dataclass
class History:
    epoch_metrics: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = math.inf
    stopped_early: bool = False


EpochCallback = Callable[[int, dict[str, float]], None]


def batch_schedule(n: int, settings: TrainSettings, rng: np.random.Generator) -> np.ndarray:
    """(steps_per_epoch, batch_size) indices: consecutive shuffled passes over ``n`` images."""
    needed = settings.steps_per_epoch * settings.batch_size
    passes = [rng.permutation(n) for _ in range(-(-needed // n))]
    return np.concatenate(passes)[:needed].reshape(settings.steps_per_epoch, settings.batch_size)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def prepare_model(model: torch.nn.Module, settings: TrainSettings, device: torch.device) -> torch.nn.Module:
    """Move ``model`` to ``device`` and apply ``channels_last`` and ``compile`` (in place, so the state
    dict keeps its keys and checkpoints stay loadable without compilation)."""
    model.to(device)
    if settings.channels_last:
        model.to(memory_format=torch.channels_last)
    if settings.compile:
        model.compile()
    return model


def optimiser_and_schedule(model: torch.nn.Module, settings: TrainSettings):
    """AdamW and the per-step warm-up + cosine learning-rate schedule of the module docstring."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    total = settings.epochs * settings.steps_per_epoch
    warmup = settings.warmup_epochs * settings.steps_per_epoch
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warmup, total))


def train_steps(trainable: Trainable, train: ImageSet, schedule: np.ndarray, augmentation: Augmentation,
                optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                generator: torch.Generator, device: torch.device, amp: str) -> list[torch.Tensor]:
    """One optimiser step per row of ``schedule`` (batch indices into ``train``): assemble the batch,
    augment it, compute the loss under autocast, step. Returns the detached losses; nothing here waits
    for the device (no ``.item()``), so a GPU never idles on the host."""
    losses = []
    for index in schedule:
        batch = augmentation.transform(batch_from(train, index), generator).to(device)
        with autocast(device, amp):
            loss = trainable.training_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
    return losses


def fit(
    trainable: Trainable,
    train: ImageSet,
    val: ImageSet,
    settings: TrainSettings,
    *,
    augmentation: Augmentation,
    seed: int,
    device: torch.device,
    checkpoint_dir: Path | None = None,
    on_epoch: EpochCallback | None = None,
    resume: bool = False,
    progress: bool = True,
) -> History:
    """Train ``trainable.model`` in place and leave the best validation epoch's weights loaded."""
    model = prepare_model(trainable.model, settings, device)
    optimizer, scheduler = optimiser_and_schedule(model, settings)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    history, best_state, start_epoch = History(), None, 0
    last_path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
    if resume and last_path is not None and last_path.exists():
        state = load_checkpoint(last_path, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["numpy_rng"]
        generator.set_state(state["torch_generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_state = History(**state["history"]), state["best_state"]
        start_epoch = state["epoch"] + 1

    bar = tqdm(range(start_epoch, settings.epochs), desc="train", unit="epoch", disable=not progress,
               initial=start_epoch, total=settings.epochs, leave=False)
    for epoch in bar:
        model.train()
        losses = train_steps(trainable, train, batch_schedule(len(train), settings, rng), augmentation,
                             optimizer, scheduler, generator, device, settings.amp)
        train_loss = float(torch.stack(losses).mean())
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training loss became {train_loss} at epoch {epoch}")
        model.eval()
        score, val_metrics = trainable.validate(val)
        metrics = {"train_loss": train_loss, "lr": scheduler.get_last_lr()[0], **val_metrics}
        history.epoch_metrics.append(metrics)
        if score < history.best_score:
            history.best_score, history.best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{score:.4g}")
        if last_path is not None and (epoch + 1) % settings.checkpoint_every == 0:
            save_checkpoint({
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "numpy_rng": rng.bit_generator.state,
                "torch_generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                "history": dataclasses.asdict(history), "best_state": best_state, "epoch": epoch,
            }, last_path)
        if settings.patience and epoch - history.best_epoch >= settings.patience:
            history.stopped_early = True
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
