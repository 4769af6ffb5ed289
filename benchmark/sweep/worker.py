"""A sweep worker: run trials of one study until its budget is used, then (once per budget) re-run the
best trial's settings on the test split.

Any number of workers, on one machine or many, may run the same command against one storage; each one
loops: take the study lock, fail stale trials, count the trials
(:func:`benchmark.sweep.study.counted_trials`), and start one more if the budget allows, releasing the
lock as soon as the trial exists. When the budget is used but trials are still running elsewhere, the
worker waits (failing any whose heartbeat goes stale, which frees budget for it to redo). The first
worker to find every budgeted trial finished
claims the final step: the best trial's overrides, trained again as a child run tagged
``sweep.role=best`` and scored on the test split; its metrics go to the parent run as ``best.<metric>``.
Extending a study (a larger ``--n-trials``) runs the missing trials and a new final step.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BenchmarkError, ConfigError
from benchmark.record import tags
from benchmark.record.metrics import BEST_VAL_SCORE
from benchmark.sweep.objective import SweepQuestion, make_objective, trial_config
from benchmark.sweep.storage import StudyLock, open_storage
from benchmark.sweep.study import counted_trials, open_study

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    study_name: str
    parent_run_id: str
    trials_by_state: dict[str, int]
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run_id: str | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"study": self.study_name, "parent_run_id": self.parent_run_id,
                "trials": self.trials_by_state, "best_value": self.best_value,
                "best_params": self.best_params, "best_run_id": self.best_run_id,
                "best_metrics": self.best_metrics}


def check_question(question: SweepQuestion) -> None:
    """Fail before any study or run exists if the question cannot be swept: its methods do not build, do not
    fit the task (:func:`benchmark.stages.prepare.build_methods`), or the detector does not train."""
    from benchmark.stages.prepare import build_methods

    detector, _ = build_methods(trial_config(question, {}))
    if not detector.trains:
        raise ConfigError(f"detector {question.detector!r} does not train, so there is nothing to sweep")


def mark_stale_run(tracking_uri: str):
    """The storage's stale-trial callback: end the dead worker's MLflow run FAILED, with the reason."""
    def on_stale(study, trial) -> None:
        from mlflow.tracking import MlflowClient

        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id:
            client = MlflowClient(tracking_uri)
            reason = "worker stopped heartbeating (killed or lost); the trial is redone"
            client.set_tag(run_id, tags.ERROR, reason)
            client.set_terminated(run_id, "FAILED")
        log.warning("trial %d of %s went stale (its worker died); it will be redone", trial.number,
                    study.study_name)

    return on_stale


def run_sweep(question: SweepQuestion, n_trials: int, storage_url: str, study_name: str, tracking_uri: str,
              experiment: str | None = None, seed: int | None = None, heartbeat_interval: int = 60,
              grace_period: int = 120) -> SweepOutcome:
    import optuna
    from optuna.trial import TrialState

    if n_trials < 1:
        raise ConfigError(f"--n-trials must be >= 1, got {n_trials}")
    check_question(question)
    storage = open_storage(storage_url, heartbeat_interval, grace_period, mark_stale_run(tracking_uri))
    study, parent_run_id = open_study(storage, study_name, question, tracking_uri, experiment, seed)
    lock = StudyLock(storage_url, study_name)
    objective = make_objective(question, study_name, parent_run_id, tracking_uri, experiment)

    def releasing_objective(trial):
        lock.release()  # the trial exists now: other workers may count it and start theirs
        return objective(trial)

    claim = f"final_step_{n_trials}"
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        while True:
            lock.acquire()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            counted = counted_trials(study)
            if len(counted) < n_trials:
                log.info("%s: trial %d of %d", study_name, len(counted) + 1, n_trials)
                study.optimize(releasing_objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
                continue
            if any(t.state == TrialState.RUNNING for t in counted):
                lock.release()
                time.sleep(min(heartbeat_interval, 5))
                continue
            mine = claim not in study.user_attrs
            if mine:
                if not any(t.state == TrialState.COMPLETE for t in counted):
                    raise BenchmarkError(f"study {study_name!r}: no trial completed (see the error tags of "
                                         "its FAILED trial runs in MLflow)")
                study.set_user_attr(claim, worker)
            break
    finally:
        lock.release()
    outcome = summarise(study, study_name, parent_run_id)
    if mine:
        final_step(study, question, outcome, tracking_uri, experiment, claim)
    return outcome


def summarise(study, study_name: str, parent_run_id: str) -> SweepOutcome:
    states: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    outcome = SweepOutcome(study_name, parent_run_id, states)
    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if completed:
        best = study.best_trial
        outcome.best_value, outcome.best_params = best.value, dict(best.params)
    return outcome


def final_step(study, question: SweepQuestion, outcome: SweepOutcome, tracking_uri: str,
               experiment: str | None, claim: str) -> None:
    """Re-run the best trial's settings with the test split and log the result to the parent run."""
    from mlflow.tracking import MlflowClient

    from benchmark.runner import run_experiment
    from benchmark.stages.open_run import RunPlacement

    best = study.best_trial
    config = trial_config(question, best.user_attrs["overrides"], tracking_uri, experiment)
    placement = RunPlacement(outcome.parent_run_id, f"{outcome.study_name}/best",
                             tags.sweep_tags(outcome.study_name, "best", best.number))
    result = run_experiment(config, progress=False, device=question.device, placement=placement)
    client = MlflowClient(tracking_uri)
    client.log_metric(outcome.parent_run_id, BEST_VAL_SCORE, best.value)
    for key, value in result.metrics.items():
        client.log_metric(outcome.parent_run_id, f"{tags.BEST_PREFIX}{key}", value)
    client.set_tag(outcome.parent_run_id, f"{tags.BEST_PREFIX}trial", str(best.number))
    client.set_tag(outcome.parent_run_id, f"{tags.BEST_PREFIX}run_id", result.run_id)
    for key, value in best.params.items():
        client.set_tag(outcome.parent_run_id, f"{tags.BEST_PREFIX}{key}", str(value))
    study.set_user_attr(f"{claim}_run_id", result.run_id)
    outcome.best_run_id, outcome.best_metrics = result.run_id, result.metrics
