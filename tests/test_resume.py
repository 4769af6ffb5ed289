"""What survives: a run killed with SIGKILL resumes in the same MLflow run and ends with the metrics of an
uninterrupted run; SIGTERM ends a run KILLED; the same command and seed give identical metrics."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

from tests.cli_helpers import run_cli, run_json

COMMAND = ["run", "--task", "hand", "--profile", "smoke", "--epochs", "6",
           "--set", "train.samples_per_epoch=48", "--set", "train.num_threads=1", "--no-progress", "--json"]
TIMING = {"train_seconds", "inference_images_per_s"}


def start(tmp_path: Path, tracking_uri: str, *extra: str) -> subprocess.Popen:
    """The command in its own working folder ``tmp_path/cwd``: checkpoints go beside the store, not there."""
    (tmp_path / "cwd").mkdir(exist_ok=True)
    command = [sys.executable, "-m", "benchmark.cli", *COMMAND, "--tracking-uri", tracking_uri, *extra]
    return subprocess.Popen(command, cwd=tmp_path / "cwd", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_checkpoint(tmp_path: Path, process: subprocess.Popen, epoch: int) -> Path:
    """The run's ``last.pt`` once it holds ``epoch`` or later."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        for path in (tmp_path / "checkpoints").glob("*/last.pt"):
            try:
                if torch.load(path, weights_only=False)["epoch"] >= epoch:
                    return path
            except (EOFError, RuntimeError):  # caught between two writes: try again
                pass
        time.sleep(0.1)
    raise AssertionError("no checkpoint in time")


def only_run(tracking_uri: str):
    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return run


def test_a_sigkilled_run_resumes_in_the_same_run_with_the_uninterrupted_metrics(tmp_path, capsys):
    reference = run_json(capsys, f"sqlite:///{tmp_path / 'reference.db'}", *COMMAND[1:-2])["metrics"]
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    doomed = start(tmp_path, tracking_uri)
    checkpoint = wait_for_checkpoint(tmp_path, doomed, epoch=2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    killed = only_run(tracking_uri)
    assert killed.info.status == "RUNNING" and checkpoint.parent.name == killed.info.run_id

    resumed = start(tmp_path, tracking_uri, "--resume")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    run = only_run(tracking_uri)
    assert run.info.run_id == killed.info.run_id and run.info.status == "FINISHED"
    import json

    metrics = json.loads(out.strip().splitlines()[-1])["metrics"]
    assert ({k: v for k, v in metrics.items() if k not in TIMING}
            == {k: v for k, v in reference.items() if k not in TIMING})
    steps = [m.step for m in MlflowClient(tracking_uri).get_metric_history(run.info.run_id, "train_loss")]
    assert sorted(set(steps)) == list(range(6))
    assert not checkpoint.parent.exists()  # a finished run keeps no checkpoint


def test_sigterm_ends_the_run_killed(tmp_path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(tmp_path, tracking_uri)
    wait_for_checkpoint(tmp_path, process, epoch=1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in err
    run = only_run(tracking_uri)
    assert run.info.status == "KILLED" and "interrupted" in run.data.tags["error"]
    assert (tmp_path / "checkpoints" / run.info.run_id / "last.pt").exists()
    assert not list((tmp_path / "cwd").rglob("*"))  # nothing written to the working folder


def test_resume_errors_are_one_line_and_start_nothing(tmp_path, capsys):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking_uri, "--resume")
    assert code == 2 and "no unfinished run" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking_uri, "--resume", "0123abcd")
    assert code == 2 and "no run with id '0123abcd'" in err
    client = MlflowClient(tracking_uri)
    assert not client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_the_same_command_and_seed_give_identical_metrics_on_the_cpu(tmp_path, capsys):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ("--task", "ceph", "--aug", "classic", "--seed", "3")
    first, second = (run_json(capsys, tracking_uri, *args)["metrics"] for _ in range(2))
    assert ({k: v for k, v in first.items() if k not in TIMING}
            == {k: v for k, v in second.items() if k not in TIMING})


def test_a_second_interrupt_while_closing_still_ends_the_run_killed(tmp_path, monkeypatch):
    import mlflow

    from benchmark.tracking import open_experiment, tracked_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = open_experiment(uri, "hand")
    real_set_tag, calls = mlflow.set_tag, []

    def interrupted_once(key, value):
        calls.append(key)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the second Ctrl-C arrives while the first one is being handled
        return real_set_tag(key, value)

    monkeypatch.setattr(mlflow, "set_tag", interrupted_once)
    try:
        with tracked_run(experiment_id, "twice", {"task": "hand"}) as run:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    finished = MlflowClient(uri).get_run(run.info.run_id)
    assert finished.info.status == "KILLED" and finished.data.tags["error"].startswith("interrupted")


class RunsCode:
    """Pickles to ``os.system(command)``: what a planted checkpoint would do under ``weights_only=False``."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_resume_refuses_missing_damaged_and_code_carrying_checkpoints_and_leaves_the_run_as_it_was(
        tmp_path, capsys):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(tmp_path, tracking_uri)
    checkpoint = wait_for_checkpoint(tmp_path, process, epoch=1)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    marker = tmp_path / "code-ran"
    good = checkpoint.read_bytes()
    middle = len(good) // 2
    torch.save({"epoch": 0, "payload": RunsCode(f"touch {marker}")}, checkpoint)
    planted = checkpoint.read_bytes()
    cases = {"missing": None, "truncated": good[: len(good) // 2], "code-carrying": planted,
             "flipped in a header": good[:100] + bytes([good[100] ^ 0xFF]) + good[101:],
             "flipped in the weights": good[:middle] + bytes([good[middle] ^ 0x10]) + good[middle + 1:]}
    for case, content in cases.items():
        if content is None:
            checkpoint.unlink()
        else:
            checkpoint.write_bytes(content)
        code, _, err = run_cli(capsys, *COMMAND, "--tracking-uri", tracking_uri, "--resume")
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), (case, err)
        assert str(checkpoint.relative_to(tmp_path)) in lines[0] and "without --resume" in lines[0], case
        run = only_run(tracking_uri)
        assert run.info.status == "KILLED", case
    assert not marker.exists()
