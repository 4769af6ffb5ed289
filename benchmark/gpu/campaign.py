"""The GPU campaign: a fixed, prioritised list of ``benchmark`` commands run against one wall-clock
deadline, for a GPU slot of a few minutes (``benchmark/gpu/run.sh`` installs the carried wheels, checks
the GPU and calls this module).

Order of priority (one seed, the profile's defaults; a generator's synthetic set is trained once per task
and training-set size and shared with its ``classic+`` arm through the synthetic cache):

1. ``benchmark perf`` on hand (short windows): every model's training and inference images/s;
2. hand at ``--train-size 10``: ``none``, ``classic``, ``ddpm``, ``classic+ddpm``, ``shape-ddpm``,
   ``classic+shape-ddpm``;
3. the same at full size; 4. ceph likewise (10 images, then full size);
5. canal at full size with ``latent-blend`` and ``classic+latent-blend``.

Each job starts only if its estimated duration (:mod:`benchmark.gpu.schedule`) ends before the deadline;
one still running at the deadline gets SIGTERM, which ends its MLflow run KILLED (a job caught while
exiting after its run ended keeps that FINISHED run in its record). Every job's outcome
(finished, failed, stopped at the deadline, skipped) is recorded. The output folder receives at most
eight files: ``mlflow.db`` (every run), ``artifacts.tar.gz`` (their artifacts, checkpoints left out),
``perf.json``, ``gpu_utilisation.csv`` (:mod:`benchmark.gpu.utilisation`), ``campaign.json`` (the jobs,
their seconds, estimates, run ids, metrics and mean GPU utilisation) and ``campaign.log`` (every job's
output).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchmark.augmentation import create_augmentation
from benchmark.gpu.schedule import History, Job, fits
from benchmark.gpu.utilisation import UtilisationTrace
from benchmark.registry import augmentation_parts

REPOSITORY = Path(__file__).resolve().parents[2]
LANDMARK_ARMS = ("none", "classic", "ddpm", "classic+ddpm", "shape-ddpm", "classic+shape-ddpm")
CANAL_ARMS = ("latent-blend", "classic+latent-blend")
ARTIFACTS_LIMIT_BYTES = 15 * 2**20
STOP_GRACE_S = 30.0


def generator_of(aug: str) -> str | None:
    generators = [part for part in augmentation_parts(aug) if create_augmentation(part).generates]
    return generators[0] if generators else None


def run_job(task: str, aug: str, train_size: int | None, common: tuple[str, ...]) -> Job:
    size = () if train_size is None else ("--train-size", str(train_size))
    generator = generator_of(aug)
    return Job(
        name=f"{task}/{aug}/{train_size or 'all'}",
        argv=("run", "--task", task, "--aug", aug, *size, *common),
        generator=generator,
        cache_key=None if generator is None else (task, generator, train_size),
    )


def campaign_jobs(profile: str, device: str, tracking_uri: str, perf_only: tuple[str, ...] = ()) -> list[Job]:
    """The module docstring's list, in order; ``perf_only`` restricts the perf job to those rows."""
    shared = ("--profile", profile, "--device", device)
    common = (*shared, "--tracking-uri", tracking_uri, "--json", "--no-progress")
    perf = ("perf", "--task", "hand", *shared, "--steps", "5", "--warmup", "2", "--json", "--no-progress",
            *(("--only", *perf_only) if perf_only else ()))
    jobs = [Job("perf hand", perf, kind="perf", output="perf.json")]
    for task in ("hand", "ceph"):
        for train_size in (10, None):
            jobs += [run_job(task, aug, train_size, common) for aug in LANDMARK_ARMS]
    jobs += [run_job("canal", aug, None, common) for aug in CANAL_ARMS]
    return jobs


def execute(job: Job, work: Path, timeout_s: float, log) -> tuple[str, int | None, str]:
    """Run one job in ``work``; returns its status, return code and standard output."""
    env = {
        **os.environ,
        "BENCHMARK_CACHE_DIR": str(work / "cache"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
    }
    log.write(f"\n=== {job.name}: benchmark {' '.join(job.argv)}\n")
    log.flush()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *job.argv],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        stdout, _ = process.communicate(timeout=max(timeout_s, 1.0))
        status = "finished" if process.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the suite ends its run KILLED
        try:
            stdout, _ = process.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, _ = process.communicate()
        status = "stopped at the deadline"
    log.write(stdout)
    log.flush()
    return status, process.returncode, stdout


def last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def pack_artifacts(work: Path, out: Path) -> None:
    """``artifacts.tar.gz`` of the runs' artifacts without checkpoints; without images too if it would
    exceed the limit on one returned file."""
    source = work / "artifacts"
    for keep_images in (True, False):
        with tarfile.open(out / "artifacts.tar.gz", "w:gz") as archive:
            for path in sorted(source.rglob("*")) if source.exists() else []:
                if path.is_file() and path.suffix != ".pt" and (keep_images or path.suffix != ".png"):
                    archive.add(path, arcname=str(path.relative_to(work)))
        if (out / "artifacts.tar.gz").stat().st_size <= ARTIFACTS_LIMIT_BYTES:
            return


def preflight(device: str) -> str | None:
    """What stops the campaign before its first job: a package the jobs import, or the asked-for GPU,
    missing."""
    try:
        import diffusers  # noqa: F401
        import mlflow  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as error:
        return f"{error.name} is missing: carry the wheels that benchmark/gpu/wheels.sh downloads"
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"--device {device}, but torch {torch.__version__} sees no CUDA device"
    return None


def run_campaign(
    out: Path,
    profile: str,
    device: str,
    deadline_s: float,
    started: float,
    default_estimate_s: float,
    perf_only: tuple[str, ...] = (),
) -> dict:
    """Run :func:`campaign_jobs` until ``deadline_s`` seconds after ``started`` (epoch seconds); write the
    output files of the module docstring into ``out``; return the ``campaign.json`` record."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="benchmark-campaign-"))
    jobs = campaign_jobs(profile, device, f"sqlite:///{work / 'mlflow.db'}", perf_only)
    history, records = History(), []
    with (
        open(out / "campaign.log", "w") as log,
        UtilisationTrace(out / "gpu_utilisation.csv", started) as trace,
    ):
        for job in jobs:
            elapsed, estimate = time.time() - started, history.estimate(job, default_estimate_s)
            record = {
                "job": job.name,
                "command": "benchmark " + " ".join(job.argv),
                "estimate_s": round(estimate, 1),
            }
            if not fits(elapsed, estimate, deadline_s):
                records.append(
                    {
                        **record,
                        "status": "skipped",
                        "reason": f"{elapsed:.0f} s elapsed + {estimate:.0f} s "
                        f"estimated > {deadline_s:.0f} s deadline",
                    }
                )
                continue
            status, code, stdout = execute(job, work, deadline_s - elapsed, log)
            end = time.time() - started
            history.record(job, end - elapsed, status == "finished")
            if job.output and status == "finished":
                (out / job.output).write_text(stdout)
            result = last_json_line(stdout) if not job.output else None
            records.append(
                {
                    **record,
                    "status": status,
                    "returncode": code,
                    "start_s": round(elapsed, 1),
                    "seconds": round(end - elapsed, 1),
                    "gpu_utilisation_mean": trace.mean_between(elapsed, end),
                    "run": result,
                }
            )
    if (work / "mlflow.db").exists():
        shutil.copy2(work / "mlflow.db", out / "mlflow.db")
    pack_artifacts(work, out)
    shutil.rmtree(work, ignore_errors=True)
    summary = {
        "profile": profile,
        "device": device,
        "deadline_s": deadline_s,
        "total_s": round(time.time() - started, 1),
        "utilisation_unavailable": trace.unavailable,
        "finished": sum(r["status"] == "finished" for r in records),
        "skipped": sum(r["status"] == "skipped" for r in records),
        "jobs": records,
    }
    (out / "campaign.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.gpu.campaign", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (at most 8 files are written)")
    parser.add_argument("--profile", default="gpu", help="profile of every job (default: %(default)s)")
    parser.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (default: %(default)s)")
    parser.add_argument(
        "--deadline-s",
        type=float,
        default=480.0,
        help="seconds after --started by which every job has ended (default: %(default)s)",
    )
    parser.add_argument("--started", type=float, help="epoch seconds the deadline counts from (default: now)")
    parser.add_argument(
        "--default-estimate-s",
        type=float,
        default=60.0,
        help="estimated seconds of the first job of its kind (default: %(default)s)",
    )
    parser.add_argument(
        "--perf-only",
        nargs="+",
        default=[],
        metavar="NAME",
        help="rows of the perf job, as `benchmark perf --only` (default: every model)",
    )
    args = parser.parse_args(argv)
    problem = preflight(args.device)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    summary = run_campaign(
        args.out,
        args.profile,
        args.device,
        args.deadline_s,
        args.started or time.time(),
        args.default_estimate_s,
        tuple(args.perf_only),
    )
    counts = f"{summary['finished']} finished, {summary['skipped']} skipped of {len(summary['jobs'])} jobs"
    print(f"campaign: {counts} in {summary['total_s']:.0f} s; outputs in {args.out}")
    return 0 if summary["finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
