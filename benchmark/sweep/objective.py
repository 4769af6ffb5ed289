"""One sweep trial: suggestions -> a resolved config -> a tracked child run scored on the validation split.

The search space is the union of the ``train`` section's (:func:`benchmark.training.settings.search_space`)
and the spaces declared beside the augmentation (each part of a composed one, ``classic+ddpm``) and the
detector in the registry; a trial parameter ``<method>.<setting>`` becomes the override
``augmentations.<method>.<setting>`` or ``detectors.<method>.<setting>``, ``train.<key>`` stays as it is.
The objective is the best epoch's validation score (validation MRE in mm, or 1 - Dice; lower is better;
:mod:`benchmark.record.metrics`) and every epoch's score is reported to Optuna for pruning. A trial runs
the stages up to ``train`` (:func:`run_trial`) and never sees the test split. A pruned trial's MLflow run
ends KILLED; a failing one (an exception, a NaN loss, out of memory) ends FAILED, and its reason is kept
as the trial's ``error`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmark.record import tags
from benchmark.record.metrics import BEST_VAL_SCORE, score_of

if TYPE_CHECKING:
    from benchmark.stages.open_run import RunPlacement


@dataclass(frozen=True)
class SweepQuestion:
    task: str
    aug: str
    detector: str
    profile: str
    overrides: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"


def suggest_overrides(trial, question: SweepQuestion) -> dict[str, Any]:
    """One trial's overrides: the union of the train section's space and the registered spaces of the
    augmentation's parts and the detector, each in its own config block (module docstring)."""
    from benchmark.registry import AUGMENTATIONS, DETECTORS, augmentation_parts
    from benchmark.training.settings import search_space as train_space

    overrides = {f"train.{k}": v for k, v in train_space(trial).items()}
    methods = [("augmentations", AUGMENTATIONS, part) for part in augmentation_parts(question.aug)]
    for section, registry, name in (*methods, ("detectors", DETECTORS, question.detector)):
        space = registry.entry(name).search_space
        if space is not None:
            overrides.update({f"{section}.{name}.{k}": v for k, v in space(trial).items()})
    return overrides


def trial_config(question: SweepQuestion, overrides: dict[str, Any], tracking_uri: str | None = None,
                 experiment: str | None = None) -> dict[str, Any]:
    """One trial's resolved config, tracked at ``tracking_uri`` in ``experiment`` (``None``: the task's):
    where the sweep's parent run is, so that a study's runs stay together."""
    from benchmark.config import resolve_config

    config = resolve_config(question.profile, question.task, question.aug, question.detector,
                            {**question.overrides, **overrides})
    config["tracking"] = {"uri": tracking_uri, "experiment": experiment}
    return config


def run_trial(trial, config: dict[str, Any], device: str, placement: RunPlacement) -> float:
    """prepare -> synthesize -> train as a child run of the sweep, each epoch's validation score reported to
    Optuna (which may prune the trial); the best validation score, the test split never seen."""
    import optuna

    from benchmark.stages.open_run import open_run
    from benchmark.stages.prepare import prepare
    from benchmark.stages.record import record_validation
    from benchmark.stages.synthesize import synthesize
    from benchmark.stages.train import train

    def prune(epoch: int, metrics: dict[str, float]) -> None:
        trial.report(score_of(metrics), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}")

    prepared = prepare(config, device)
    with open_run(prepared, placement, stop_exceptions=(optuna.TrialPruned,)) as run:
        trial.set_user_attr("mlflow_run_id", run.run_id)
        trained = train(prepared, synthesize(prepared, run), run, progress=False, on_epoch=prune)
        return record_validation(prepared, run, trained).metrics[BEST_VAL_SCORE]


def make_objective(question: SweepQuestion, study_name: str, parent_run_id: str, tracking_uri: str,
                   experiment: str | None):
    import optuna

    from benchmark.stages.open_run import RunPlacement

    def objective(trial) -> float:
        placement = RunPlacement(parent_run_id, f"{study_name}/trial{trial.number}",
                                 tags.sweep_tags(study_name, "trial", trial.number))
        try:
            overrides = suggest_overrides(trial, question)
            trial.set_user_attr("overrides", overrides)
            config = trial_config(question, overrides, tracking_uri, experiment)
            return run_trial(trial, config, question.device, placement)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:2000])
            raise

    return objective
