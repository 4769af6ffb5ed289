"""Tag names of a run, its identity, and the one encoding of the training-set size.

**Identity.** Two runs are the same configuration when their :data:`IDENTITY` tags agree (``--resume``
continues only such a run). An ablation cell is done when a finished run has the same
:func:`run_key`: method variant, training-set size, seed and fold, whoever ran it.

**Training-set size.** ``train_size`` is a number of training images, or ``None`` for all of them; as
text (a tag, a table cell) it is the number or :data:`ALL_IMAGES` (:func:`train_size_tag`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.task import TaskData

TASK, AUG, DETECTOR, PROFILE, SEED, FOLD = "task", "aug", "detector", "profile", "seed", "fold"
TRAIN_SIZE, VARIANT = "train_size", "variant"
DATA_SOURCE, DATA_DIGEST, TEST_DIGEST, GIT_COMMIT = "data_source", "data_digest", "test_digest", "git_commit"
ENV_NUMPY, ENV_TORCH = "env.numpy", "env.torch"
ENV_CPU_CAPABILITY, ENV_CUDA_DEVICE = "env.cpu_capability", "env.cuda_device"
ABLATION, CELL = "ablation", "cell"
SWEEP_STUDY, SWEEP_TRIAL, SWEEP_ROLE = "sweep.study", "sweep.trial", "sweep.role"
BEST_PREFIX = "best."  # a sweep's parent run: the best trial's tags and its test run's metrics
ERROR = "error"  # why a run ended FAILED or KILLED
PARENT_RUN = "mlflow.parentRunId"

IDENTITY = (TASK, AUG, DETECTOR, PROFILE, SEED, FOLD, TRAIN_SIZE, VARIANT, DATA_DIGEST)
# the tags the leaderboard and ablations read back, one column each
COLUMNS = (TASK, AUG, DETECTOR, PROFILE, SEED, FOLD, TRAIN_SIZE, VARIANT, ABLATION, CELL, TEST_DIGEST,
           PARENT_RUN)

ALL_IMAGES = "all"


def train_size_tag(train_size: Any) -> str:
    """``train_size`` as text: the number, or ``"all"`` for ``None`` (also given back as ``"None"`` or
    ``"all"`` by a store)."""
    return ALL_IMAGES if train_size in (None, "None", ALL_IMAGES) else str(train_size)


def train_size_order(tag: str) -> tuple[int, int]:
    """Sort key of :func:`train_size_tag` values: numbers ascending, then all images."""
    return (1, 0) if tag == ALL_IMAGES else (0, int(tag))


def run_tags(config: dict[str, Any], data: TaskData, git_commit: str) -> dict[str, str]:
    """The tags of a run of ``config`` on ``data``: its :data:`IDENTITY` and where its data came from."""
    from benchmark.config import variant_digest

    return {TASK: config["task"], AUG: config["aug"], DETECTOR: config["detector"],
            PROFILE: config["profile"], SEED: str(int(config["seed"])), FOLD: data.fold_name,
            DATA_SOURCE: data.source, DATA_DIGEST: data.train.digest(), TEST_DIGEST: data.test.digest(),
            GIT_COMMIT: git_commit,
            VARIANT: variant_digest(config), TRAIN_SIZE: train_size_tag(config["train_size"])}


RunKey = tuple[str, str, str, str]


def run_key(variant: Any, train_size: Any, seed: Any, fold: Any) -> RunKey:
    """(variant, training-set size, seed, fold number) as text: the same experiment, whoever ran it."""
    return str(variant), train_size_tag(train_size), str(seed), str(fold)


def config_run_key(config: dict[str, Any]) -> RunKey:
    """The :func:`run_key` of a resolved config (its variant is :func:`benchmark.config.variant_digest`)."""
    from benchmark.config import variant_digest

    return run_key(variant_digest(config), config["train_size"], config["seed"], config["fold"])


def sweep_tags(study_name: str, role: str, trial: int | None = None) -> dict[str, str]:
    """The tags of a sweep's runs: its study, the run's ``role`` (parent, trial or best) and trial number."""
    return {SWEEP_STUDY: study_name, SWEEP_ROLE: role, **({} if trial is None else {SWEEP_TRIAL: str(trial)})}
