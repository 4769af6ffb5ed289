"""The run record under store faults: a store that stops taking writes mid-run is one line, and the run is
never left to MLflow's exit hook (which would end it FINISHED); a fresh SQLite store opened by two runs at
the same moment records both."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import mlflow

from tests.cli_helpers import run_cli, runs_in

COMMAND = ("run", "--task", "hand", "--profile", "smoke", "--no-progress")


def test_a_store_that_fills_up_mid_run_is_one_line_and_no_run_is_left_to_the_exit_hook(capsys, tmp_path,
                                                                                          monkeypatch):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    real_log_metrics = mlflow.log_metrics

    def full_disk_at_the_end(metrics, *args, **kwargs):
        if "mre_mm" in metrics:  # the final metrics: the disk is full from here on
            monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", refuse)
            monkeypatch.setattr(mlflow.MlflowClient, "set_tag", refuse)
            refuse()
        return real_log_metrics(metrics, *args, **kwargs)

    def refuse(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(mlflow, "log_metrics", full_disk_at_the_end)
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "stopped taking writes (database or disk is full)" in lines[0] and "--resume" in lines[0]
    assert mlflow.active_run() is None  # nothing left for MLflow's exit hook to end FINISHED
    monkeypatch.undo()
    (run,) = runs_in(tracking)
    assert run.info.status == "RUNNING" and run.info.run_id in lines[0]


def test_two_runs_opening_a_fresh_store_at_once_are_both_recorded(tmp_path):
    tracking = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = [subprocess.Popen([sys.executable, "-m", "benchmark.cli", *COMMAND, "--seed", str(seed),
                                   "--tracking-uri", tracking], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    runs = runs_in(tracking)
    assert sorted(r.data.tags["seed"] for r in runs) == ["1", "2"]
    assert {r.info.status for r in runs} == {"FINISHED"}
