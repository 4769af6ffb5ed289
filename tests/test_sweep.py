"""Sweeps: suggestions become overrides, trials are MLflow child runs scored on validation, the best is
re-run on test, failures and pruning are recorded, studies resume; and on a real PostgreSQL server, two
workers share one study exactly and a SIGKILLed worker's trial is failed and redone."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from benchmark.config import resolve_config
from benchmark.errors import BenchmarkError, ConfigError
from benchmark.stages.open_run import open_run
from benchmark.stages.prepare import prepare as prepare_experiment
from benchmark.stages.synthesize import synthesize
from benchmark.stages.train import train
from benchmark.sweep.objective import SweepQuestion, suggest_overrides
from benchmark.sweep.storage import StudyLock
from benchmark.sweep.study import counted_trials
from benchmark.sweep.worker import run_sweep
from tests.postgres_server import PostgresServer

FAST = {"train.num_threads": 1}
QUESTION = SweepQuestion("hand", "classic", "heatmap", "smoke", FAST)


def runs_of(tracking_uri: str, study: str) -> list:
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, f"tags.`sweep.study` = '{study}'")


EXPERIMENT = "sweeps-of-hand"


def by_role(runs: list, role: str) -> list:
    return [r for r in runs if r.data.tags.get("sweep.role") == role]


# --- pieces ------------------------------------------------------------------------------------------------

def test_suggestions_become_dotted_overrides_of_train_aug_and_detector():
    trial = optuna.trial.FixedTrial({"train.lr": 1e-3, "train.weight_decay": 1e-4, "heatmap.sigma": 2.5,
                                     "heatmap.loss": "mse", "classic.rotation_deg": 5.0,
                                     "classic.translation_frac": 0.0, "classic.brightness": 0.1,
                                     "classic.noise_std": 0.0, "classic.p": 1.0})
    overrides = suggest_overrides(trial, QUESTION)
    assert overrides["train.lr"] == 1e-3 and overrides["detectors.heatmap.sigma"] == 2.5
    assert overrides["augmentations.classic.rotation_deg"] == 5.0
    config = resolve_config("smoke", "hand", "classic", "heatmap", overrides)
    assert config["detectors"]["heatmap"]["loss"] == "mse" and config["train"]["weight_decay"] == 1e-4


def test_stale_failures_do_not_use_up_the_budget():
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={"error": "ValueError: x"}))
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))  # its worker died: redone
    study.add_trial(optuna.trial.create_trial(state=TrialState.PRUNED, intermediate_values={0: 2.0}))
    assert [t.number for t in counted_trials(study)] == [0, 1, 3]


def test_sqlite_lock_excludes_a_second_holder(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first, second = StudyLock(url, "s"), StudyLock(url, "s")
    first.acquire()
    probe = subprocess.run([sys.executable, "-c", f"import fcntl; f = open({str(second._path)!r}, 'a'); "
                            "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)"], capture_output=True)
    assert probe.returncode != 0  # held
    first.release()
    first.release()  # idempotent
    second.acquire()
    second.release()


def test_a_pruned_run_ends_killed_not_failed(tracking_uri):
    config = resolve_config("smoke", "hand", "none", "heatmap", {**FAST, "tracking.uri": tracking_uri,
                                                                  "tracking.experiment": "pruning"})

    def prune(epoch, metrics):
        raise optuna.TrialPruned(f"pruned at epoch {epoch}")

    experiment = prepare_experiment(config)
    stopped = (optuna.TrialPruned,)
    with pytest.raises(optuna.TrialPruned), open_run(experiment, stop_exceptions=stopped) as run:
        train(experiment, synthesize(experiment, run), run, progress=False, on_epoch=prune)
    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("pruning").experiment_id])
    assert run.info.status == "KILLED" and run.data.tags["error"] == "stopped: pruned at epoch 0"


# --- one machine (SQLite) ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    storage, tracking = f"sqlite:///{folder / 'optuna.db'}", f"sqlite:///{folder / 'mlflow.db'}"
    outcome = run_sweep(QUESTION, 3, storage, "s1", tracking, experiment=EXPERIMENT, seed=0)
    return storage, tracking, outcome


def test_each_trial_is_a_validation_only_child_run_and_the_best_is_rerun_on_test(sqlite_sweep):
    storage, tracking, outcome = sqlite_sweep
    assert outcome.trials_by_state == {"COMPLETE": 3}
    runs = runs_of(tracking, "s1")
    (parent,) = by_role(runs, "parent")
    trials = by_role(runs, "trial")
    assert sorted(r.data.tags["sweep.trial"] for r in trials) == ["0", "1", "2"]
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.status == "FINISHED"
        # never the test split
        assert "best_val_score" in run.data.metrics and "mre_mm" not in run.data.metrics
    (best,) = by_role(runs, "best")
    assert best.data.metrics["mre_mm"] > 0 and best.data.tags["mlflow.parentRunId"] == parent.info.run_id
    parent = MlflowClient(tracking).get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["best.run_id"] == best.info.run_id
    assert parent.data.metrics["best_val_score"] == pytest.approx(outcome.best_value)
    assert min(r.data.metrics["best_val_score"] for r in trials) == pytest.approx(outcome.best_value)
    assert parent.data.metrics["best.mre_mm"] == pytest.approx(best.data.metrics["mre_mm"])


def test_every_run_of_a_study_lands_in_the_experiment_it_was_given(sqlite_sweep):
    _, tracking, _ = sqlite_sweep
    client = MlflowClient(tracking)
    runs = runs_of(tracking, "s1")
    assert {r.info.experiment_id for r in runs} == {client.get_experiment_by_name(EXPERIMENT).experiment_id}
    assert {r.data.tags["sweep.role"] for r in runs} == {"parent", "trial", "best"}


def test_a_study_resumes_and_extends(sqlite_sweep):
    storage, tracking, _ = sqlite_sweep
    again = run_sweep(QUESTION, 3, storage, "s1", tracking, experiment=EXPERIMENT, seed=0)
    assert again.trials_by_state == {"COMPLETE": 3} and again.best_run_id is None  # nothing left to do
    extended = run_sweep(QUESTION, 4, storage, "s1", tracking, experiment=EXPERIMENT, seed=0)
    assert extended.trials_by_state == {"COMPLETE": 4} and extended.best_run_id is not None
    assert len(by_role(runs_of(tracking, "s1"), "best")) == 2


def test_a_study_of_another_question_is_refused(sqlite_sweep):
    storage, tracking, _ = sqlite_sweep
    with pytest.raises(ConfigError, match="choose another --study"):
        run_sweep(SweepQuestion("hand", "none", "heatmap", "smoke", FAST), 3, storage, "s1", tracking)


def test_failing_trials_are_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    from baselines.detectors.heatmap import HeatmapDetector

    def out_of_memory(*_args, **_kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(HeatmapDetector, "fit", out_of_memory)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(BenchmarkError, match="no trial completed"):
        run_sweep(QUESTION, 2, f"sqlite:///{tmp_path / 'optuna.db'}", "broken", tracking)
    study = optuna.load_study(study_name="broken", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all("out of memory" in t.user_attrs["error"] for t in study.trials)
    trials = by_role(runs_of(tracking, "broken"), "trial")
    assert len(trials) == 2
    assert all(r.info.status == "FAILED" and "out of memory" in r.data.tags["error"] for r in trials)


def test_an_unknown_encoder_is_refused_before_any_study_or_run(tmp_path):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    broken = SweepQuestion("hand", "none", "heatmap", "smoke",
                           {**FAST, "detectors.heatmap.encoder": "no-such-net"})
    with pytest.raises(ConfigError, match="encoder 'no-such-net' is not a timm model"):
        run_sweep(broken, 2, f"sqlite:///{tmp_path / 'optuna.db'}", "broken", tracking)
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("question, problem", [
    (SweepQuestion("canal", "none", "saltpepper", "smoke", FAST), "cannot do segmentation"),
    (SweepQuestion("hand", "latent-blend", "heatmap", "smoke", {**FAST, "data.image_size": [102, 102]}),
     "must be divisible"),
])
def test_methods_that_cannot_work_at_the_task_or_size_are_refused_before_any_study(tmp_path, question,
                                                                                      problem):
    storage, tracking = f"sqlite:///{tmp_path / 'optuna.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ConfigError, match=problem):
        run_sweep(question, 2, storage, "unfit", tracking)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "optuna.db").exists()


def test_a_detector_that_does_not_train_cannot_be_swept(tmp_path):
    with pytest.raises(ConfigError, match="nothing to sweep"):
        run_sweep(SweepQuestion("hand", "none", "mean-shape", "smoke"), 2, f"sqlite:///{tmp_path / 'o.db'}",
                  "m", f"sqlite:///{tmp_path / 'm.db'}")


# --- many workers on a real PostgreSQL server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    url = server.start()
    yield url
    server.stop()


def worker(storage: str, tracking: str, study: str, n_trials: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "benchmark.cli", "sweep", "--task", "hand", "--aug", "classic",
               "--profile", "smoke", "--n-trials", str(n_trials), "--storage", storage, "--study", study,
               "--tracking-uri", tracking, "--heartbeat-interval", "1", "--grace-period", "3",
               "--set", "train.num_threads=1", "--set", "train.epochs=3"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def prepare(storage: str, tracking: str, study: str) -> None:
    """Create the study and its parent run before the workers start, as the README's multi-machine recipe
    does."""
    from benchmark.sweep.storage import open_storage
    from benchmark.sweep.study import open_study

    question = SweepQuestion("hand", "classic", "heatmap", "smoke",
                             {"train.num_threads": 1, "train.epochs": 3})
    open_study(open_storage(storage, 1, 3), study, question, tracking, None, None)


def test_two_workers_on_one_postgres_study_finish_exactly_n_trials(postgres, tmp_path):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    prepare(postgres, tracking, "pair")
    workers = [worker(postgres, tracking, "pair", 5) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    study = optuna.load_study(study_name="pair", storage=postgres)
    finished = {TrialState.COMPLETE: "FINISHED", TrialState.PRUNED: "KILLED"}
    assert len(study.trials) == 5 and all(t.state in finished for t in study.trials)
    runs = runs_of(tracking, "pair")
    trial_runs = {int(r.data.tags["sweep.trial"]): r for r in by_role(runs, "trial")}
    assert sorted(trial_runs) == [0, 1, 2, 3, 4]
    assert all(trial_runs[t.number].info.status == finished[t.state] for t in study.trials)
    assert len(by_role(runs, "best")) == 1 and by_role(runs, "best")[0].info.status == "FINISHED"
    assert sum("best trial re-run" in err for _, err in outputs) == 1


def test_a_killed_worker_leaves_no_trial_running_and_a_restarted_one_continues(postgres, tmp_path):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    prepare(postgres, tracking, "killed")
    doomed = worker(postgres, tracking, "killed", 3)
    study = optuna.load_study(study_name="killed", storage=postgres)
    deadline = time.monotonic() + 300
    while not any(t.state == TrialState.RUNNING and "mlflow_run_id" in t.user_attrs
                  for t in study.get_trials()):
        assert time.monotonic() < deadline and doomed.poll() is None, "the worker never started a trial"
        time.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    (victim,) = [t for t in study.get_trials() if t.state == TrialState.RUNNING]

    restarted = worker(postgres, tracking, "killed", 3)
    _, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err[-2000:]
    trials = study.get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert trials[victim.number].state == TrialState.FAIL and "error" not in trials[victim.number].user_attrs
    assert len(counted_trials(study)) == 3 and len(trials) == 4
    dead_run = MlflowClient(tracking).get_run(victim.user_attrs["mlflow_run_id"])
    assert dead_run.info.status == "FAILED" and "stopped heartbeating" in dead_run.data.tags["error"]
