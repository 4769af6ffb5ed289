"""What a task is: a labelled pool, its folds, and the metric protocol (as in lm-eval-harness / MTEB).

A reader (phantom generator or real-format loader) returns a :class:`LabelledPool`; the task turns it
into the :class:`TaskData` of one experiment with :func:`split_pool`, the single place where folds,
validation split and ``--train-size`` subsets are decided:

* the validation images are the first ``val_fraction`` of the fold's training ids in an order fixed by
  the data (not by the run seed), so every run of a fold validates on the same images;
* ``--train-size n`` takes the first ``n`` of the remaining training ids in an order drawn from the run
  seed: runs of different methods with the same seed train on the same images (paired comparisons),
  runs with different seeds on different subsets (so the spread over seeds includes subset choice);
  a reader may supply fixed low-data subsets instead (Payer's ``cv_rand`` splits);
* test images are never seen by augmentations or model selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from benchmark.data.imageset import ImageSet
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError, DataError
from benchmark.protocol import Protocol

LabelKind = Literal["landmarks", "segmentation"]


@dataclass(frozen=True)
class TaskShape:
    """What a plug-in's ``check`` is given: the task's label ``kind``, the ``working_size`` (H, W) and,
    once the data are loaded, the number of training images and of unlabelled pool images (``None``
    before: sweeps and ablations check their methods before any data are read)."""

    kind: str
    working_size: tuple[int, int]
    n_train: int | None = None
    n_unlabelled: int | None = None


@dataclass
class Fold:
    train: list[str]
    test: list[str]
    name: str = ""
    low_data_train: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class LabelledPool:
    """Every labelled image of a data set at working size, its folds, and an optional unlabelled pool."""

    images: ImageSet
    folds: list[Fold]
    source: str
    ground_truth: str
    mm_rule: str
    unlabelled: ImageSet | None = None
    landmark_names: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class TaskData:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    protocol: Protocol
    source: str
    fold_name: str
    unlabelled: ImageSet | None = None
    landmark_names: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def split_summary(self) -> dict[str, list[str]]:
        """The explicit splits file of a run (nnU-Net style), logged as an artifact."""
        return {"train": self.train.ids, "val": self.val.ids, "test": self.test.ids}


def split_pool(
    pool: LabelledPool, protocol: Protocol, fold: int, train_size: int | None, val_fraction: float, seed: int
) -> TaskData:
    """Cut one experiment's train / val / test sets out of a pool (rules in the module docstring)."""
    if not 1 <= fold <= len(pool.folds):
        raise ConfigError(f"--fold {fold} is out of range: this data set has folds 1..{len(pool.folds)}")
    chosen = pool.folds[fold - 1]
    if not chosen.train or not chosen.test:
        raise ConfigError(f"fold {fold} ({chosen.name}) has an empty train or test split")
    n_val = max(1, int(round(val_fraction * len(chosen.train)))) if val_fraction > 0 else 0
    if n_val >= len(chosen.train):
        raise ConfigError(f"fold {fold} has {len(chosen.train)} training images: too few to hold out {n_val}")
    order = np.random.default_rng(len(chosen.train)).permutation(len(chosen.train))
    val_ids = [chosen.train[i] for i in order[:n_val]]
    held_out = set(val_ids)
    train_ids = [chosen.train[i] for i in order[n_val:]]
    if train_size is not None:
        if train_size < 1:
            raise ConfigError(f"--train-size must be at least 1, got {train_size}")
        fixed = [i for i in chosen.low_data_train.get(train_size, []) if i not in held_out]
        if fixed:
            train_ids = fixed
        elif train_size < len(train_ids):
            pick = np.random.default_rng(seed).permutation(len(train_ids))[:train_size]
            train_ids = [train_ids[i] for i in sorted(pick)]
        elif train_size > len(train_ids):
            raise ConfigError(f"--train-size {train_size} exceeds the {len(train_ids)} training images of "
                              f"fold {fold}")
    return TaskData(
        train=pool.images.select(train_ids),
        val=pool.images.select(val_ids) if val_ids else pool.images.subset([]),
        test=pool.images.select(chosen.test),
        protocol=protocol,
        source=pool.source,
        fold_name=chosen.name or f"fold{fold}",
        unlabelled=pool.unlabelled,
        landmark_names=pool.landmark_names,
        skipped=pool.skipped,
    )


PoolReader = Callable[[DataSettings], LabelledPool]


@dataclass
class Task:
    """A benchmark: which data (phantom by default, a real layout behind ``--data-root``) and how it is
    scored.

    ``num_landmarks=0`` marks a segmentation task. ``read_real`` turns a ``--data-root`` folder into a
    pool; ``num_landmarks=None`` accepts any landmark count (the generic folder task).
    """

    name: str
    kind: LabelKind
    num_landmarks: int | None
    read_phantom: PoolReader | None
    read_real: PoolReader
    sdr_radii_mm: tuple[float, ...] = ()
    landmark_names: list[str] = field(default_factory=list)

    def pool(self, settings: DataSettings) -> LabelledPool:
        if settings.data_root is None:
            if self.read_phantom is None:
                raise ConfigError(f"task {self.name!r} has no embedded data: pass --data-root DIR")
            return self.read_phantom(settings)
        root = settings.data_root
        if not root.is_dir():
            raise DataError(root, "data root is not a folder (check --data-root)")
        pool = self.read_real(settings)
        found = pool.images.num_landmarks
        if self.kind == "landmarks" and pool.images.landmarks is None:
            raise DataError(root, f"task {self.name!r} is a landmark task but the data has no landmarks (a "
                                  "segmentation folder? use the segmentation or canal task)")
        if self.kind == "landmarks" and self.num_landmarks is not None and found != self.num_landmarks:
            raise DataError(root, f"task {self.name!r} needs {self.num_landmarks} landmarks per image, "
                                  f"the data has {found}")
        if self.kind == "segmentation" and pool.images.masks is None:
            raise DataError(root, f"task {self.name!r} is a segmentation task but the data has no masks")
        return pool

    def protocol(self, pool: LabelledPool, settings: DataSettings) -> Protocol:
        return Protocol(
            kind=self.kind,
            ground_truth=pool.ground_truth,
            mm_rule=pool.mm_rule,
            sdr_radii_mm=self.sdr_radii_mm,
            sdr_inequality=settings.sdr_inequality,  # type: ignore[arg-type]
        )

    def load(
        self, settings: DataSettings, fold: int, train_size: int | None, val_fraction: float, seed: int
    ) -> TaskData:
        pool = self.pool(settings)
        data = split_pool(pool, self.protocol(pool, settings), fold, train_size, val_fraction, seed)
        if not data.landmark_names and data.train.num_landmarks:
            data.landmark_names = self.landmark_names or [f"L{i}" for i in range(data.train.num_landmarks)]
        return data
