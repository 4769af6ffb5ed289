"""Creating or joining a study, its MLflow parent run, and its trial budget.

The first worker to create the study (the storage's unique study name decides, atomically) creates the
MLflow parent run, ends it FINISHED at once (a container: children attach to it by id from any process
or machine), and stores its id and the question in the study's user attributes; later workers join
and check that they ask the same question. A trial counts against the budget unless it FAILED without
an ``error`` attribute, i.e. its worker died and its heartbeat went stale: such a trial is redone.
"""

from __future__ import annotations

import time

from benchmark.errors import ConfigError
from benchmark.record import tags
from benchmark.sweep.objective import SweepQuestion

PARENT_WAIT_SECONDS = 60


def open_study(storage, study_name: str, question: SweepQuestion, tracking_uri: str, experiment: str | None,
               seed: int | None):
    """(study, parent run id), creating both if the study is new."""
    import optuna
    from mlflow.tracking import MlflowClient

    from benchmark import tracking

    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    asked = {tags.TASK: question.task, tags.AUG: question.aug, tags.DETECTOR: question.detector,
             tags.PROFILE: question.profile}
    try:
        study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize",
                                    sampler=sampler, pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
    else:
        experiment_id = tracking.open_experiment(tracking_uri, experiment or question.task)
        client = MlflowClient(tracking_uri)
        parent = client.create_run(experiment_id, run_name=f"sweep/{study_name}",
                                   tags={**asked, **tags.sweep_tags(study_name, "parent")})
        client.set_terminated(parent.info.run_id, "FINISHED")
        for key, value in {**asked, "mlflow_parent_run_id": parent.info.run_id}.items():
            study.set_user_attr(key, value)
    deadline = time.monotonic() + PARENT_WAIT_SECONDS
    while "mlflow_parent_run_id" not in study.user_attrs:
        if time.monotonic() > deadline:
            raise ConfigError(f"study {study_name!r} has no MLflow parent run; it was not made by "
                              "`benchmark sweep`")
        time.sleep(0.5)
    stored = {k: study.user_attrs.get(k) for k in asked}
    if stored != asked:
        raise ConfigError(f"study {study_name!r} asks {stored}, not {asked}; choose another --study name")
    return study, study.user_attrs["mlflow_parent_run_id"]


def counted_trials(study) -> list:
    """The trials that use up the budget (module docstring)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False)
            if t.state != TrialState.FAIL or "error" in t.user_attrs]
