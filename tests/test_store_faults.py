"""The run record under store faults: a store that stops taking writes mid-run is one line, and the run is
ended FAILED in the store's reserve, never left RUNNING nor to MLflow's exit hook (which would end it
FINISHED); a fresh SQLite store opened by two runs at the same moment records both."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys

import mlflow

from benchmark.store_reserve import RESERVE_BYTES, ensure_reserve, release_reserve, reserve_path
from tests.cli_helpers import run_cli, runs_in

COMMAND = ("run", "--task", "hand", "--profile", "smoke", "--no-progress")


def fill_the_disk_at_the_final_metrics(monkeypatch, database):
    """Make the store refuse every write from the final metrics on, as a full disk does, until the store's
    reserve is deleted (the room it frees takes the writes again)."""
    reserve = reserve_path(database)
    real = {name: getattr(mlflow.MlflowClient, name) for name in ("set_terminated", "set_tag")}
    real_log_metrics = mlflow.log_metrics

    def refuse_while_full(write):
        def written(*args, **kwargs):
            if reserve.exists():
                raise sqlite3.OperationalError("database or disk is full")
            return write(*args, **kwargs)
        return written

    def full_disk_at_the_end(metrics, *args, **kwargs):
        if "mre_mm" in metrics:  # the final metrics: the disk is full from here on
            for name, write in real.items():
                monkeypatch.setattr(mlflow.MlflowClient, name, refuse_while_full(write))
            return refuse_while_full(real_log_metrics)(metrics, *args, **kwargs)
        return real_log_metrics(metrics, *args, **kwargs)

    monkeypatch.setattr(mlflow, "log_metrics", full_disk_at_the_end)


def test_a_store_that_fills_up_mid_run_ends_the_run_failed_in_its_reserve(capsys, tmp_path, monkeypatch):
    database = tmp_path / "mlflow.db"
    tracking = f"sqlite:///{database}"
    fill_the_disk_at_the_final_metrics(monkeypatch, database)
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "stopped taking writes (database or disk is full)" in lines[0] and "--resume" in lines[0]
    assert "ended FAILED" in lines[0]
    assert mlflow.active_run() is None  # nothing left for MLflow's exit hook to end FINISHED
    monkeypatch.undo()
    (run,) = runs_in(tracking)
    assert run.info.status == "FAILED" and run.info.run_id in lines[0]
    assert "disk is full" in run.data.tags["error"]
    assert not reserve_path(database).exists()


def test_a_run_scored_before_the_disk_filled_is_ended_finished_in_the_reserve(capsys, tmp_path, monkeypatch):
    database = tmp_path / "mlflow.db"
    real_set_terminated = mlflow.MlflowClient.set_terminated

    def refused_while_full(*args, **kwargs):
        if reserve_path(database).exists():
            raise sqlite3.OperationalError("database or disk is full")
        return real_set_terminated(*args, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", refused_while_full)
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", f"sqlite:///{database}")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "could not be marked FINISHED" in lines[0] and "ended FINISHED" in lines[0]
    monkeypatch.undo()
    (run,) = runs_in(f"sqlite:///{database}")
    assert run.info.status == "FINISHED" and "mre_mm" in run.data.metrics


def test_without_a_reserve_the_run_is_reported_for_resume_and_not_left_to_the_exit_hook(capsys, tmp_path,
                                                                                         monkeypatch):
    database = tmp_path / "mlflow.db"
    tracking = f"sqlite:///{database}"
    fill_the_disk_at_the_final_metrics(monkeypatch, database)
    monkeypatch.setattr("benchmark.tracking.release_reserve", lambda _database: False)
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].endswith("free space, then --resume it") and "ended" not in lines[0]
    assert mlflow.active_run() is None
    monkeypatch.undo()
    (run,) = runs_in(tracking)
    assert run.info.status == "RUNNING" and run.info.run_id in lines[0]


def test_a_disk_without_room_for_the_reserve_refuses_the_run_before_it_starts(capsys, tmp_path, monkeypatch):
    def no_room(_handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("benchmark.store_reserve._allocate", no_room)
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert str(tmp_path) in lines[0] and "disk is full" in lines[0]
    assert not reserve_path(tmp_path / "mlflow.db").exists()


def test_the_reserve_holds_its_bytes_on_disk(tmp_path):
    database = tmp_path / "mlflow.db"
    ensure_reserve(database)
    reserve = reserve_path(database)
    assert reserve.stat().st_size == RESERVE_BYTES
    assert reserve.stat().st_blocks * 512 >= RESERVE_BYTES  # allocated, not a sparse file
    assert release_reserve(database) and not reserve.exists() and not release_reserve(database)


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
