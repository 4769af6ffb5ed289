"""One experiment, end to end: Task -> Augmentation -> Detector -> Evaluation -> one MLflow run.

Everything that can fail on user input (names, settings, data) is checked *before* the MLflow run
starts, so bad input leaves no run behind; anything that fails later ends the run FAILED.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
import yaml

from benchmark import tracking
from benchmark.augmentation import create_augmentation
from benchmark.config import build, flatten, variant_digest
from benchmark.data.memory import check_memory
from benchmark.data.settings import DataSettings
from benchmark.detector import FitContext
from benchmark.errors import ConfigError
from benchmark.evaluation import evaluate
from benchmark.figures import overlay_grid, sample_grid, training_curves
from benchmark.registry import DETECTORS, TASKS
from benchmark.synthetic import compose, synthesize_cached
from benchmark.task import TaskData
from benchmark.training.checkpoint import check_resumable, checkpoint_dir, removed_on_success
from benchmark.training.device import pick_device, seed_everything
from benchmark.training.settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    task: str
    aug: str
    detector: str
    profile: str
    seed: int
    metrics: dict[str, float]
    artifacts_uri: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "task": self.task, "aug": self.aug, "detector": self.detector,
                "profile": self.profile, "seed": self.seed, "metrics": self.metrics}


@dataclass
class RunHooks:
    """How a caller (a sweep, an ablation) embeds a run: as a child of ``parent_run_id``, with extra
    ``tags``, an extra per-epoch callback ``on_epoch(epoch, metrics)`` (Optuna pruning raises from it;
    ``stop_exceptions`` then end the run KILLED rather than FAILED), ``evaluate_test=False`` to stop
    after training and validation (a sweep's objective must never see the test split), its own
    ``run_name``, and ``on_start(run_id)`` called once the MLflow run exists."""

    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_name: str | None = None
    on_start: Callable[[str], None] | None = None
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    stop_exceptions: tuple[type[BaseException], ...] = ()
    evaluate_test: bool = True


def data_settings(config: dict[str, Any]) -> DataSettings:
    data = dict(config["data"])
    root = data.pop("data_root", None)
    if root is not None and not isinstance(root, str):
        raise ConfigError(f"data.data_root must be the path of a data set folder, got {root!r}")
    data["image_size"] = tuple(data["image_size"])
    return build(DataSettings, {**data, "data_root": Path(root).expanduser() if root else None}, "data")


def load_task_data(config: dict[str, Any]) -> TaskData:
    task = TASKS.create(config["task"])
    settings = data_settings(config)
    check_memory(settings, int(config["train"]["batch_size"]))
    return task.load(settings, fold=int(config["fold"]), train_size=config["train_size"],
                     val_fraction=float(config["val_fraction"]), seed=int(config["seed"]))


IDENTITY_TAGS = ("task", "aug", "detector", "profile", "seed", "fold", "train_size", "variant", "data_digest")


def resumable_run(experiment_id: str, tags: dict[str, str], resume: str) -> str:
    """The id of the run to continue: ``resume`` itself, or for ``"latest"`` the newest unfinished
    (RUNNING after a kill, FAILED or KILLED) run of the experiment with this run's identity tags. The
    run must exist, be unfinished and have the same configuration (:data:`IDENTITY_TAGS`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    if resume == "latest":
        query = " and ".join(f"tags.{k} = '{tags[k]}'" for k in IDENTITY_TAGS)
        candidates = [r for r in client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"])
                      if r.info.status != "FINISHED"]
        if not candidates:
            raise ConfigError(f"--resume: no unfinished run of {tags['task']}/{tags['aug']}/{tags['detector']}/seed"
                              f"{tags['seed']} with this configuration in experiment {experiment_id}")
        return candidates[0].info.run_id
    try:
        run = client.get_run(resume)
    except Exception:
        raise ConfigError(f"--resume: no run with id {resume!r} in the tracking store") from None
    if run.info.status == "FINISHED":
        raise ConfigError(f"--resume: run {resume} already finished")
    different = [k for k in IDENTITY_TAGS if run.data.tags.get(k) != tags[k]]
    if different:
        raise ConfigError(f"--resume: run {resume} has another configuration ({', '.join(different)} differ); "
                          "resume with the command that started it")
    return resume


def validation_summary(history, train_seconds: float) -> dict[str, float]:
    """A sweep trial's result: the best validation score (lower is better, see
    :mod:`benchmark.validation`) and that epoch's ``val_*`` metrics."""
    if history is None or not history.epoch_metrics:
        raise ConfigError("this detector does not train with a validation score, so it cannot be swept")
    best = history.epoch_metrics[history.best_epoch]
    return {"best_val_score": history.best_score, "best_epoch": history.best_epoch, "train_seconds": train_seconds,
            **{k: v for k, v in best.items() if k.startswith("val_")}}


def variant_metrics(detector, data: TaskData) -> dict[str, float]:
    """Metrics and inference speed of the detector's :meth:`~benchmark.detector.Detector.prediction_variants`
    on the test split, each named ``<variant>.<metric>``."""
    metrics: dict[str, float] = {}
    for name, predict in detector.prediction_variants().items():
        started = time.perf_counter()
        prediction = predict(data.test)
        metrics[f"{name}.inference_images_per_s"] = len(data.test) / max(time.perf_counter() - started, 1e-9)
        scored = evaluate(data.test, prediction, data.protocol, data.landmark_names).metrics
        metrics.update({f"{name}.{key}": value for key, value in scored.items()})
    return metrics


def run_experiment(
    config: dict[str, Any], *, progress: bool = True, device: str = "auto", use_cache: bool = True,
    hooks: RunHooks | None = None, resume: str | None = None,
) -> RunResult:
    """Run one experiment and log it as one MLflow run. With ``hooks.evaluate_test=False`` the result's
    metrics are the validation ones (``best_val_score`` and the best epoch's ``val_*``). ``resume`` (a run
    id, or ``"latest"``) continues an interrupted run of the same configuration in the same MLflow run,
    from its last checkpoint (see :func:`resumable_run`)."""
    import mlflow

    hooks = hooks or RunHooks()

    task_name, aug_name, detector_name = config["task"], config["aug"], config["detector"]
    detector = DETECTORS.create(detector_name, **config["detectors"][detector_name])
    augmentation = create_augmentation(aug_name, config["augmentations"])
    settings = build(TrainSettings, config["train"], "train")
    kind = TASKS.create(task_name).kind
    if kind not in detector.kinds:
        raise ConfigError(f"detector {detector_name!r} cannot do {kind} (task {task_name!r}); "
                          f"it does: {', '.join(sorted(detector.kinds))}")
    working_size = tuple(config["data"]["image_size"])
    detector.check(working_size)
    augmentation.check(working_size)
    data = load_task_data(config)
    torch_device = pick_device(device)
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    seed = int(config["seed"])

    tracking_uri = tracking.resolved_uri(config["tracking"]["uri"])
    experiment_id = tracking.open_experiment(tracking_uri, config["tracking"]["experiment"] or task_name)
    tags = {
        "task": task_name, "aug": aug_name, "detector": detector_name, "profile": config["profile"],
        "seed": str(seed), "fold": data.fold_name, "data_source": data.source,
        "data_digest": data.train.digest(), "test_digest": data.test.digest(), "git_commit": tracking.git_commit(),
        "variant": variant_digest(config), "train_size": "all" if config["train_size"] is None else str(config["train_size"]),
        **hooks.tags,
    }
    run_name = hooks.run_name or f"{task_name}/{aug_name}/{detector_name}/seed{seed}"
    resume_id = None if resume is None else resumable_run(experiment_id, tags, resume)
    if resume_id is not None:
        check_resumable(resume_id, tracking_uri)
    with tracking.tracked_run(experiment_id, run_name, tags, run_id=resume_id, parent_run_id=hooks.parent_run_id,
                              stop_exceptions=hooks.stop_exceptions) as run, \
            removed_on_success(checkpoint_dir(run.info.run_id, tracking_uri)) as run_checkpoints:
        if hooks.on_start is not None:
            hooks.on_start(run.info.run_id)
        mlflow.log_params(tracking.loggable_params({**flatten(config), **data.protocol.as_params()}))
        mlflow.log_params({"data.n_train": len(data.train), "data.n_val": len(data.val), "data.n_test": len(data.test),
                           **{f"data.skipped.{k}": v for k, v in data.skipped.items()}})
        started = time.perf_counter()
        synthetic, cache_hit = synthesize_cached(augmentation, data.train, seed, use_cache=use_cache,
                                                  unlabelled=data.unlabelled, device=torch_device)
        training, n_synthetic, generation = data.train, 0, {}
        if synthetic is not None:
            training, n_synthetic = compose(data.train, synthetic, augmentation.composition, np.random.default_rng(seed))
            generator_seconds = time.perf_counter() - started
            generation = {**synthetic.metrics, "generator_seconds": generator_seconds,
                          "generator_cache_hit": float(cache_hit), "n_synthetic_used": n_synthetic,
                          "n_train_total": len(training)}
            mlflow.log_metrics(generation)
            log.info("%s: %s %d synthetic samples in %.1f s, acceptance %.0f %%, training on %d real + %d synthetic",
                     aug_name, "loaded cached" if cache_hit else "generated", len(synthetic.images),
                     generator_seconds, 100 * synthetic.metrics.get("acceptance_rate", 1.0), len(data.train),
                     n_synthetic)
        seed_everything(seed, torch_device)

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            mlflow.log_metrics(metrics, step=epoch)
            if hooks.on_epoch is not None:
                hooks.on_epoch(epoch, metrics)

        context = FitContext(
            settings=settings, augmentation=augmentation, protocol=data.protocol, seed=seed, device=torch_device,
            checkpoint_dir=run_checkpoints, progress=progress, on_epoch=on_epoch, resume=resume_id is not None,
        )
        started = time.perf_counter()
        history = detector.fit(training, data.val, context)
        train_seconds = time.perf_counter() - started
        if not hooks.evaluate_test:
            metrics = validation_summary(history, train_seconds)
            mlflow.log_metrics(metrics)
            return RunResult(run.info.run_id, task_name, aug_name, detector_name, config["profile"], seed,
                             metrics=metrics, artifacts_uri=run.info.artifact_uri)
        started = time.perf_counter()
        prediction = detector.predict(data.test)
        inference_seconds = time.perf_counter() - started
        result = evaluate(data.test, prediction, data.protocol, data.landmark_names)
        metrics = {**result.metrics, **augmentation.metrics()}
        timing = {"train_seconds": train_seconds, "inference_images_per_s": len(data.test) / max(inference_seconds, 1e-9)}
        metrics.update(variant_metrics(detector, data))
        if history is not None and history.epoch_metrics:
            timing.update(best_epoch=history.best_epoch, epochs_run=len(history.epoch_metrics))
        mlflow.log_metrics({**metrics, **timing})
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            (out / "splits.json").write_text(json.dumps(data.split_summary(), indent=1))
            (out / "summary.json").write_text(json.dumps({**result.summary(data.protocol), "timing": timing}, indent=2))
            result.table.to_csv(out / "predictions.csv", index=False)
            overlay_grid(data.test, prediction, out / "overlays.png")
            if history is not None and history.epoch_metrics:
                training_curves(history.epoch_metrics, out / "curves.png")
            if synthetic is not None:
                pd.DataFrame({"image_id": synthetic.images.ids, **synthetic.quality}).to_csv(
                    out / "synthetic_quality.csv", index=False)
                sample_grid(synthetic, out / "synthetic_samples.png")
            mlflow.log_artifacts(str(out))
        return RunResult(run.info.run_id, task_name, aug_name, detector_name, config["profile"], seed,
                         metrics={**metrics, **timing, **generation}, artifacts_uri=run.info.artifact_uri)
