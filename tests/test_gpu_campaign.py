"""The GPU campaign: its scheduling rules, and the whole device script run on the CPU at the smoke profile
(so that a GPU slot is spent on results, not on debugging)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmark.gpu.campaign import campaign_jobs, execute
from benchmark.gpu.schedule import DETECTOR_ONLY, History, Job, fits

REPOSITORY = Path(__file__).resolve().parents[1]


def job(aug: str, generator: str | None, train_size: int | None = 10, task: str = "hand") -> Job:
    return Job(
        f"{task}/{aug}/{train_size}",
        ("run",),
        generator=generator,
        cache_key=None if generator is None else (task, generator, train_size),
    )


def test_estimates_follow_the_most_specific_finished_job():
    history = History()
    perf, none, ddpm = Job("perf", ("perf",), kind="perf"), job("none", None), job("ddpm", "ddpm")
    assert history.estimate(none, 60.0) == 60.0  # nothing run yet
    history.record(perf, 40.0, finished=True)
    assert history.estimate(none, 60.0) == 40.0  # the longest job so far
    history.record(none, 10.0, finished=True)
    assert history.estimate(job("classic", None), 60.0) == 10.0  # detector only
    assert history.estimate(ddpm, 60.0) == 40.0  # no generator seen: the longest job so far
    history.record(ddpm, 100.0, finished=True)
    assert history.key(job("classic+ddpm", "ddpm")) == DETECTOR_ONLY  # its set is cached now
    assert history.estimate(job("classic+ddpm", "ddpm"), 60.0) == 10.0
    assert history.estimate(job("ddpm", "ddpm", train_size=None), 60.0) == 100.0  # trains the generator again
    assert history.estimate(Job("perf ceph", ("perf",), kind="perf"), 60.0) == 40.0


def test_a_job_that_did_not_finish_leaves_no_cache_and_no_estimate():
    history = History()
    history.record(job("ddpm", "ddpm"), 5.0, finished=False)
    assert history.key(job("classic+ddpm", "ddpm")) == "ddpm"
    assert history.estimate(job("ddpm", "ddpm"), 60.0) == 60.0


def test_a_job_starts_only_when_its_estimate_ends_before_the_deadline():
    assert fits(100.0, 380.0, 480.0)
    assert not fits(100.0, 380.5, 480.0)


def test_the_job_list_follows_the_priorities():
    jobs = campaign_jobs("gpu", "cuda", "sqlite:///x.db")
    names = [j.name for j in jobs]
    assert names[0] == "perf hand" and jobs[0].output == "perf.json"
    assert names[1:7] == [
        f"hand/{aug}/10"
        for aug in ("none", "classic", "ddpm", "classic+ddpm", "shape-ddpm", "classic+shape-ddpm")
    ]
    assert names[7] == "hand/none/all" and names[13] == "ceph/none/10" and names[19] == "ceph/none/all"
    assert names[-2:] == ["canal/latent-blend/all", "canal/classic+latent-blend/all"]
    by_name = {j.name: j for j in jobs}
    assert by_name["hand/classic+ddpm/10"].cache_key == by_name["hand/ddpm/10"].cache_key
    assert by_name["hand/ddpm/all"].cache_key != by_name["hand/ddpm/10"].cache_key
    assert by_name["hand/classic/10"].generator is None
    assert all({"--device", "cuda", "--profile", "gpu"} <= set(j.argv) for j in jobs)


def test_a_missing_package_is_one_line_and_exit_2_before_any_job(tmp_path):
    env = {
        **os.environ,
        "CAMPAIGN_DEVICE": "cpu",
        "CAMPAIGN_WHEELS": str(tmp_path),
        "PYTHON": sys.executable,
        "PYTHONPATH": str(tmp_path),
    }
    (tmp_path / "diffusers.py").write_text("raise ImportError('diffusers is broken', name='diffusers')\n")
    done = subprocess.run(
        ["bash", "benchmark/gpu/run.sh", str(tmp_path / "out")],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: diffusers is missing: carry the wheels that benchmark/gpu/wheels.sh downloads"
    ]
    assert not (tmp_path / "out").exists()


def runs_by_status(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return dict(connection.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())


def test_a_job_running_at_the_deadline_is_stopped_and_its_run_ends_killed(tmp_path):
    argv = (
        "run",
        "--task",
        "hand",
        "--profile",
        "smoke",
        "--epochs",
        "100000",
        "--device",
        "cpu",
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--no-progress",
    )
    with open(tmp_path / "log", "w") as log:
        status, code, _ = execute(Job("long", argv), tmp_path, 25.0, log)
    assert status == "stopped at the deadline" and code == 130
    assert runs_by_status(tmp_path / "mlflow.db") == {"KILLED": 1}


def test_the_device_script_runs_the_campaign_on_the_cpu_within_its_deadline(tmp_path):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "CAMPAIGN_PROFILE": "smoke",
        "CAMPAIGN_DEVICE": "cpu",
        "CAMPAIGN_DEADLINE_S": "100",
        "CAMPAIGN_PERF_ONLY": "heatmap",
        "CAMPAIGN_WHEELS": str(tmp_path / "no-wheels"),
        "PYTHON": sys.executable,
    }
    done = subprocess.run(
        ["bash", "benchmark/gpu/run.sh", str(out)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "artifacts.tar.gz",
        "campaign.json",
        "campaign.log",
        "gpu_utilisation.csv",
        "mlflow.db",
        "perf.json",
    ]
    summary = json.loads((out / "campaign.json").read_text())
    assert [r["job"] for r in summary["jobs"]] == [j.name for j in campaign_jobs("smoke", "cpu", "x")]
    assert "--only heatmap" in summary["jobs"][0]["command"]
    statuses = [r["status"] for r in summary["jobs"]]
    assert set(statuses) <= {"finished", "skipped", "stopped at the deadline"}, statuses
    # A job that runs longer than its estimate is stopped at the deadline by design (the schedule only
    # estimates): it is the last job started, and its run ends KILLED, or FINISHED with the run in its
    # record when the signal came after the run had ended (during the process's exit).
    stopped = [i for i, status in enumerate(statuses) if status == "stopped at the deadline"]
    after_the_stop = statuses[stopped[0] + 1 :] if stopped else []
    assert len(stopped) <= 1 and set(after_the_stop) <= {"skipped"}, statuses
    finished = [r for r in summary["jobs"] if r["status"] == "finished"]
    assert len(finished) >= 2 and summary["skipped"] >= 1  # perf, a run or more, and the deadline bit
    assert summary["total_s"] <= 100 + 5
    assert all(r["run"]["metrics"] for r in finished if r["job"] != "perf hand")
    runs = [r["run"] for r in summary["jobs"] if r.get("run")]
    by_status = runs_by_status(out / "mlflow.db")
    assert by_status.pop("FINISHED") == len(runs)
    assert set(by_status) <= {"KILLED"} and by_status.get("KILLED", 0) <= len(stopped), by_status
    perf = json.loads((out / "perf.json").read_text())
    assert [m["model"] for m in perf["models"]] == ["heatmap"] and perf["models"][0]["train"] > 0
    assert (out / "gpu_utilisation.csv").read_text().splitlines()[
        0
    ] == "time_s,utilisation_pct,memory_used_mib"
    with tarfile.open(out / "artifacts.tar.gz") as archive:
        names = archive.getnames()
    assert sum(name.endswith("predictions.csv") for name in names) == len(runs)
    assert not any(name.endswith(".pt") for name in names)
