"""Opening an experiment's MLflow run, between ``prepare`` and ``synthesize``.

:func:`open_run` starts the run, or reopens one to ``--resume`` (:func:`resumable_run`), with its tags
(:func:`benchmark.record.tags.run_tags`, and the library versions and CPU kernels of
:func:`benchmark.tracking.environment_tags`) and params, where a :class:`RunPlacement` puts it, and ends it
FINISHED, FAILED or KILLED, never RUNNING (:func:`benchmark.tracking.tracked_run`). The later stages
write to it through the :class:`TrackedRun` it yields.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from benchmark import tracking
from benchmark.config import flatten
from benchmark.errors import ConfigError
from benchmark.record import tags
from benchmark.stages.prepare import Experiment
from benchmark.training.checkpoint import check_resumable, checkpoint_dir, removed_on_success


@dataclass(frozen=True)
class RunPlacement:
    """Where a run goes: under ``parent_run_id`` (a sweep's parent run), named ``name`` (default
    ``task/aug/detector/seed<N>``), with ``tags`` besides its own (an ablation's cell, a sweep's trial)."""

    parent_run_id: str | None = None
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackedRun:
    """The open MLflow run of an experiment, with its checkpoint folder; ``resumed`` when it continues an
    interrupted run from that folder's checkpoint."""

    run_id: str
    checkpoint_dir: Path
    resumed: bool

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)

    def log_artifacts(self, folder: Path) -> None:
        import mlflow

        mlflow.log_artifacts(str(folder))


@contextlib.contextmanager
def open_run(experiment: Experiment, placement: RunPlacement = RunPlacement(), resume: str | None = None,
             stop_exceptions: tuple[type[BaseException], ...] = ()) -> Iterator[TrackedRun]:
    """The experiment's run, open while the block runs, with its params logged. ``resume`` (a run id, or
    ``"latest"``) reopens an interrupted run of the same configuration instead; ``stop_exceptions`` end
    the run KILLED rather than FAILED (a pruned sweep trial). The checkpoints are removed when the block
    ends without an exception."""
    import mlflow

    config, data = experiment.config, experiment.data
    tracking_uri = tracking.resolved_uri(config["tracking"]["uri"])
    experiment_id = tracking.open_experiment(tracking_uri, config["tracking"]["experiment"] or config["task"])
    run_tags = {**tags.run_tags(config, data, tracking.git_commit()), **tracking.environment_tags(),
                **placement.tags}
    resume_id = None if resume is None else resumable_run(experiment_id, run_tags, resume)
    if resume_id is not None:
        check_resumable(resume_id, tracking_uri)
    opened = tracking.tracked_run(experiment_id, placement.name or experiment.name, run_tags,
                                  run_id=resume_id, parent_run_id=placement.parent_run_id,
                                  stop_exceptions=stop_exceptions)
    with opened as run, removed_on_success(checkpoint_dir(run.info.run_id, tracking_uri)) as checkpoints:
        mlflow.log_params(tracking.loggable_params({**flatten(config), **data.protocol.as_params()}))
        sizes = {"data.n_train": len(data.train), "data.n_val": len(data.val), "data.n_test": len(data.test)}
        mlflow.log_params({**sizes, **{f"data.skipped.{k}": v for k, v in data.skipped.items()}})
        yield TrackedRun(run.info.run_id, checkpoints, resume_id is not None)


def resumable_run(experiment_id: str, run_tags: dict[str, str], resume: str) -> str:
    """The id of the run to continue: ``resume`` itself, or for ``"latest"`` the newest unfinished
    (RUNNING after a kill, FAILED or KILLED) run of the experiment with this run's identity tags. The run
    must exist, be unfinished and have the same configuration
    (:data:`benchmark.record.tags.IDENTITY`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    if resume == "latest":
        query = " and ".join(f"tags.{k} = '{run_tags[k]}'" for k in tags.IDENTITY)
        newest_first = client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"])
        candidates = [r for r in newest_first if r.info.status != "FINISHED"]
        if not candidates:
            described = "/".join(run_tags[k] for k in (tags.TASK, tags.AUG, tags.DETECTOR))
            raise ConfigError(f"--resume: no unfinished run of {described}/seed{run_tags[tags.SEED]} with "
                              f"this configuration in experiment {experiment_id}")
        return candidates[0].info.run_id
    try:
        run = client.get_run(resume)
    except Exception:
        raise ConfigError(f"--resume: no run with id {resume!r} in the tracking store") from None
    if run.info.status == "FINISHED":
        raise ConfigError(f"--resume: run {resume} already finished")
    different = [k for k in tags.IDENTITY if run.data.tags.get(k) != run_tags[k]]
    if different:
        raise ConfigError(f"--resume: run {resume} has another configuration ({', '.join(different)} "
                          "differ); resume with the command that started it")
    return resume
