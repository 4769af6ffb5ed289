"""Stage ``prepare``: a resolved config -> an :class:`Experiment` ready to run, with nothing tracked yet.

Everything a user can get wrong is found here, before any MLflow run exists, so that bad input is one
line (exit 2) and leaves no run behind. In order: the methods' settings (building the detector and the
augmentation), the detector against the task's kind and both methods against the working size (their
``check``), the training settings, the images against the memory available, the data itself, and both
methods again against the loaded set sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.augmentation import Augmentation, create_augmentation
from benchmark.config import build
from benchmark.data.memory import check_memory
from benchmark.data.settings import DataSettings
from benchmark.detector import Detector
from benchmark.errors import ConfigError
from benchmark.registry import DETECTORS, TASKS
from benchmark.task import TaskData, TaskShape
from benchmark.training.device import pick_device
from benchmark.training.settings import TrainSettings


@dataclass
class Experiment:
    """One experiment, prepared: its resolved ``config``, methods, training settings, data and device."""

    config: dict[str, Any]
    detector: Detector
    augmentation: Augmentation
    settings: TrainSettings
    data: TaskData
    device: torch.device

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def name(self) -> str:
        """``task/aug/detector/seed<N>``: the run's name in MLflow."""
        return f"{self.config['task']}/{self.config['aug']}/{self.config['detector']}/seed{self.seed}"


def prepare(config: dict[str, Any], device: str = "auto") -> Experiment:
    """Build and check everything ``config`` names (module docstring), load the data, pick the device."""
    detector, augmentation = build_methods(config)
    settings = build(TrainSettings, config["train"], "train")
    data = load_task_data(config)
    kind, size = TASKS.create(config["task"]).kind, tuple(config["data"]["image_size"])
    pool = 0 if data.unlabelled is None else len(data.unlabelled)
    shape = TaskShape(kind, size, len(data.train), pool)
    detector.check(shape)
    augmentation.check(shape)
    torch_device = pick_device(device)
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    return Experiment(config, detector, augmentation, settings, data, torch_device)


def build_methods(config: dict[str, Any]) -> tuple[Detector, Augmentation]:
    """The detector and the augmentation of ``config``, built from their settings and checked: the detector
    does the task's kind, and both work at the working size. Sweeps and ablations call it too, before
    any study or cell runs."""
    detector = DETECTORS.create(config["detector"], **config["detectors"][config["detector"]])
    augmentation = create_augmentation(config["aug"], config["augmentations"])
    kind = TASKS.create(config["task"]).kind
    if kind not in detector.kinds:
        raise ConfigError(f"detector {config['detector']!r} cannot do {kind} (task {config['task']!r}); "
                          f"it does: {', '.join(sorted(detector.kinds))}")
    shape = TaskShape(kind, tuple(config["data"]["image_size"]))
    detector.check(shape)
    augmentation.check(shape)
    return detector, augmentation


def data_settings(config: dict[str, Any]) -> DataSettings:
    data = dict(config["data"])
    root = data.pop("data_root", None)
    if root is not None and not isinstance(root, str):
        raise ConfigError(f"data.data_root must be the path of a data set folder, got {root!r}")
    data["image_size"] = tuple(data["image_size"])
    return build(DataSettings, {**data, "data_root": Path(root).expanduser() if root else None}, "data")


def load_task_data(config: dict[str, Any]) -> TaskData:
    """The task's splits for ``config``, after checking that its images fit in memory."""
    task = TASKS.create(config["task"])
    settings = data_settings(config)
    check_memory(settings, int(config["train"]["batch_size"]))
    return task.load(settings, fold=int(config["fold"]), train_size=config["train_size"],
                     val_fraction=float(config["val_fraction"]), seed=int(config["seed"]))
