"""``benchmark``: the command-line entry point.

    benchmark list [--json]
    benchmark run --task hand --aug classic [--detector heatmap] [--profile default] [overrides] [--json]
    benchmark run --task hand --aug classic+ddpm            # a transform composed with a generator
    benchmark sweep --task ceph --aug classic --n-trials 50 [--storage postgresql://...]
    benchmark ablate baselines/ablations/latent_blend_topk.yaml
    benchmark leaderboard --task hand
    benchmark readback --task hand --aug ddpm [--train-size 10]

Errors a user can fix print one line (``error: <file>: <problem>``) and exit with status 2; Ctrl-C
exits with 130. Heavy libraries (torch, MLflow) are imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any, Sequence

from benchmark.database_url import masked, with_driver
from benchmark.errors import BenchmarkError, ConfigError


def image_size(text: str) -> list[int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 128x128, got {text!r}") from None
    return [height, width]


def key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected section.key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value


def shard(text: str) -> tuple[int, int]:
    worker, _, count = text.partition("/")
    if not (worker.isdigit() and count.isdigit() and 1 <= int(worker) <= int(count)):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N (worker K of N), got {text!r}")
    return int(worker), int(count)


PROFILES_HELP = "smoke | default | gpu | paper, or a YAML file (default: default)"


def _parent(*options: tuple[tuple[str, ...], dict[str, Any]]) -> argparse.ArgumentParser:
    """A parent parser (``add_help=False``) holding ``options``, each ``(flags, add_argument keywords)``."""
    parent = argparse.ArgumentParser(add_help=False)
    for flags, keywords in options:
        parent.add_argument(*flags, **keywords)
    return parent


def shared_options() -> dict[str, argparse.ArgumentParser]:
    """The options several commands take, each group once (argparse parent parsers)."""
    return {
        "task": _parent((("--task",), {"required": True, "help": "task name (see `benchmark list`)"})),
        "method": _parent(
            (("--aug",), {"default": "none", "help": "augmentation strategy, or <transform>+<generator> "
                                                      "such as classic+ddpm (default: none)"}),
            (("--detector",), {"default": "heatmap", "help": "detector (default: heatmap)"}),
        ),
        "profile": _parent(
            (("--profile",), {"default": "default", "help": f"settings profile: {PROFILES_HELP}"}),
        ),
        "selection": _parent(
            (("--seed",), {"type": int, "help": "run seed (model init, batches, --train-size subset)"}),
            (("--fold",), {"type": int, "help": "1-based fold of the data set's cross-validation"}),
            (("--train-size",), {"type": int, "help": "use only this many training images"}),
        ),
        "store": _parent(
            (("--tracking-uri",), {"help": "MLflow tracking URI (default: sqlite:///mlruns/mlflow.db)"}),
        ),
        "experiment": _parent(
            (("--experiment",), {"help": "MLflow experiment name (default: the task name)"}),
        ),
        "device": _parent((("--device",), {"default": "auto", "help": "auto | cpu | cuda | cuda:N"})),
        "progress": _parent((("--no-progress",), {"action": "store_true", "help": "no progress bars"})),
    }


def _overrides_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--set", dest="overrides", type=key_value, action="append", default=[],
                        metavar="KEY=VALUE", help=help_text)


def _json_option(parser: argparse.ArgumentParser, what: str = "print one JSON object") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    shared = shared_options()
    listing = commands.add_parser("list", help="list tasks, augmentations, detectors and profiles")
    _json_option(listing)
    for add_command in (_add_run, _add_data, _add_sweep, _add_ablate, _add_leaderboard, _add_readback,
                        _add_perf):
        add_command(commands, shared)
    return parser


def _add_run(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run one experiment and log it to MLflow", parents=[
        shared[name] for name in ("task", "method", "profile", "selection", "store", "experiment", "device",
                                  "progress")])
    run.add_argument("--epochs", type=int, help="training epochs (an epoch = train.samples_per_epoch images)")
    run.add_argument("--batch-size", type=int, help="training batch size")
    run.add_argument("--lr", type=float, help="peak learning rate")
    run.add_argument("--image-size", type=image_size, help="working size HxW, e.g. 128x128")
    run.add_argument("--data-root", help="real data set folder (ISBI 2015, Payer hand, or a plain folder)")
    run.add_argument("--ground-truth",
                     help="annotation to score against where there are several (senior|junior|mean)")
    run.add_argument("--sdr-inequality", choices=["<", "<="], help="SDR counts error < r or error <= r")
    _overrides_option(run, "override any config key, e.g. --set detectors.heatmap.sigma=3 (repeatable)")
    run.add_argument("--no-cache", action="store_true",
                     help="regenerate the synthetic set even if it is cached")
    run.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                     help="continue an interrupted run (this RUN_ID, or the latest unfinished one of this "
                          "command) from its last checkpoint, in the same MLflow run")
    _json_option(run, "end with one JSON line: run_id, task, ..., metrics")


def _add_data(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    data = commands.add_parser("data", help="check a data set before training on it")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    verify = data_commands.add_parser("verify", parents=[shared["task"], shared["profile"]],
                                      help="load a data set through its task's loader and summarise it")
    verify.add_argument("--data-root", required=True, help="the data set folder")
    verify.add_argument("--ground-truth",
                        help="annotation to check where there are several (senior|junior|mean)")
    _json_option(verify)


def _add_sweep(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    sweep = commands.add_parser("sweep", help="tune one (task, aug, detector) with Optuna; trials are MLflow "
                                              "child runs", parents=[
        shared[name] for name in ("task", "method", "profile", "selection", "store", "experiment", "device")])
    sweep.add_argument("--n-trials", type=int, required=True,
                       help="trials in the whole study, over all workers")
    sweep.add_argument("--storage", help="Optuna storage URL (default: sqlite:///mlruns/optuna.db; "
                                         "postgresql://user@host/db for many machines)")
    sweep.add_argument("--study", help="study name (default: <task>-<aug>-<detector>-<profile>)")
    _overrides_option(sweep, "fixed override for every trial, e.g. --set train.num_threads=1 (repeatable)")
    sweep.add_argument("--heartbeat-interval", type=int, default=60, help="seconds between trial heartbeats")
    sweep.add_argument("--grace-period", type=int, default=120,
                       help="seconds without a heartbeat after which a trial's worker counts as dead")
    _json_option(sweep, "end with one JSON line: study, trials, best")


def _add_ablate(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    ablate = commands.add_parser("ablate",
                                 help="run an ablation grid (spec file) x seeds and render its table",
                                 parents=[shared["store"], shared["device"], shared["progress"]])
    ablate.add_argument("spec", help="ablation spec (YAML), e.g. baselines/ablations/latent_blend_topk.yaml")
    ablate.add_argument("--out", default="leaderboards/ablations",
                        help="folder for the table (default: %(default)s)")
    _overrides_option(ablate, "override a config key in every cell (must not change the method, e.g. "
                              "train.num_threads)")
    ablate.add_argument("--dry-run", action="store_true",
                        help="list the cells and whether each is done; run nothing")
    ablate.add_argument("--table-only", action="store_true",
                        help="render the table from the runs the store holds now; run nothing")
    ablate.add_argument("--shard", type=shard, metavar="K/N",
                        help="run only worker K's share of the grid: N workers on one store share it "
                             "(1/N ... N/N), a generator's cells (ddpm, classic+ddpm) on one worker")
    ablate.add_argument("--readme", metavar="FILE",
                        help="also write the spec's claim and its status between the lines "
                             "`<!-- leaderboard:NAME -->` and `<!-- /leaderboard:NAME -->` of FILE (NAME: "
                             "the spec's name)")


def _add_leaderboard(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    board = commands.add_parser("leaderboard", help="tables and figures of one task from the tracked runs",
                                parents=[shared["task"], shared["store"]])
    board.add_argument("--profile", default="default",
                       help="profile whose runs are ranked (default: default)")
    board.add_argument("--baseline", default="none",
                       help="augmentation every row is tested against, except a composed T+G row, which is "
                            "tested against T (default: none)")
    board.add_argument("--experiment", help="only runs of this MLflow experiment (default: all)")
    board.add_argument("--out", default="leaderboards", help="output folder (default: %(default)s)")
    board.add_argument("--no-figures", action="store_true",
                       help="tables only; a --readme digest then links no figure")
    board.add_argument("--readme", metavar="FILE",
                       help="also write the digest of the findings between the lines "
                            "`<!-- leaderboard:TASK -->` and `<!-- /leaderboard:TASK -->` of FILE")


def _add_readback(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    readback = commands.add_parser(
        "readback", parents=[shared[name] for name in ("task", "profile", "selection", "device")],
        help="where a two-channel generator's labels get lost: perfect, denoised-from-t and unconditional "
             "samples read back")
    readback.add_argument("--aug", required=True, help="a two-channel generator: ddpm, vae or gan")
    _overrides_option(readback, "override a config key, e.g. --set augmentations.ddpm.train_steps=3000 "
                                "(repeatable)")
    readback.add_argument("--timesteps", type=int, nargs="+", default=[100, 300, 500],
                          help="noise levels t of stage (b) (default: %(default)s)")
    readback.add_argument("--ddim-steps", type=int, default=10,
                          help="DDIM calls of stage (b) (default: %(default)s)")
    readback.add_argument("--samples", type=int,
                          help="unconditional samples of stage (c) (default: the run's number)")
    readback.add_argument("--held-out", type=int, default=30,
                          help="test images of stage (a) (default: %(default)s)")
    readback.add_argument("--checkpoints", type=int, nargs="+", default=[], metavar="STEP",
                          help="also sample stage (c) after these optimiser steps of the same fit (ddpm; "
                               "each below train_steps)")
    _json_option(readback)


def _add_perf(commands, shared: dict[str, argparse.ArgumentParser]) -> None:
    perf = commands.add_parser("perf", parents=[shared["profile"], shared["device"], shared["progress"]],
                               help="measured throughput of every model, the data pipeline and the samplers")
    perf.add_argument("--task", default="hand",
                      help="task whose data and sizes are used (default: %(default)s)")
    perf.add_argument("--steps", type=int, default=10,
                      help="timed steps per measurement (default: %(default)s)")
    perf.add_argument("--warmup", type=int, default=3, help="untimed steps first (default: %(default)s)")
    perf.add_argument("--only", nargs="+", metavar="NAME",
                      help="measure only these: detector or generator names, pipeline, samplers")
    perf.add_argument("--sampler-images", type=int, default=4,
                      help="images sampled with each ddpm sampler (default: %(default)s)")
    perf.add_argument("--dry-run", action="store_true",
                      help="on the CPU, no timing: build every model at the profile's size for the task "
                           "and train it one step at batch 1; print parameters, activation memory at the "
                           "profile's batch, optimiser steps per run and the estimated GPU training time")
    perf.add_argument("--gpu-perf", metavar="FILE",
                      help="--dry-run: a GPU run's `benchmark perf --json` output for the time estimates "
                           "(default: leaderboards/gpu/perf.json where it exists)")
    _json_option(perf, "print JSON instead of the table")


FLAG_KEYS = {
    "seed": "seed", "fold": "fold", "train_size": "train_size", "epochs": "train.epochs",
    "batch_size": "train.batch_size", "lr": "train.lr", "image_size": "data.image_size",
    "data_root": "data.data_root", "ground_truth": "data.ground_truth",
    "sdr_inequality": "data.sdr_inequality",
    "tracking_uri": "tracking.uri", "experiment": "tracking.experiment",
}


def run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from benchmark.config import parse_value

    overrides: dict[str, Any] = {key: parse_value(value) for key, value in args.overrides}
    for attribute, key in FLAG_KEYS.items():
        value = getattr(args, attribute, None)  # commands take a subset of the flags
        if value is not None:
            overrides[key] = value
    return overrides


def check_names(args: argparse.Namespace) -> None:
    """Unknown task, aug or detector names, and augmentations that do not compose, fail here (with the
    closest match) before anything starts."""
    from benchmark.augmentation import create_augmentation
    from benchmark.registry import DETECTORS, TASKS

    TASKS.entry(args.task)
    create_augmentation(args.aug)
    DETECTORS.entry(args.detector)


def headline(metrics: dict[str, float]) -> str:
    """The headline metrics (:mod:`benchmark.record.metrics`) among ``metrics``, in their order."""
    from benchmark.record.metrics import headline_names

    shown = headline_names()
    return ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k in shown)


def training_set_line(metrics: dict[str, float]) -> str:
    """What the detector trained on, so a user sees at once whether a generator contributed."""
    from benchmark.record.metrics import ACCEPTANCE_RATE, N_GENERATED, N_SYNTHETIC_USED, N_TRAIN_TOTAL

    if N_SYNTHETIC_USED not in metrics:
        return ""
    synthetic = int(metrics[N_SYNTHETIC_USED])
    real = int(metrics[N_TRAIN_TOTAL]) - synthetic
    acceptance = 100 * metrics.get(ACCEPTANCE_RATE, 1.0)
    return (f"; trained on {real} real + {synthetic} synthetic images "
            f"(acceptance {acceptance:.0f} % of {int(metrics[N_GENERATED])} generated)")


def compose_line(roles: dict[str, list[str]]) -> str:
    """How to compose augmentations, from :func:`benchmark.augmentation.strategy_roles`."""
    transforms, generators = roles["transforms"], roles["generates"]
    return (f"compose: <transform>+<generator>, e.g. {transforms[0]}+{generators[0]}; "
            f"transforms: {', '.join(transforms)}; generators: {', '.join(generators)}")


def command_list(args: argparse.Namespace) -> None:
    from benchmark.augmentation import strategy_roles
    from benchmark.config import profile_names
    from benchmark.registry import AUGMENTATIONS, DETECTORS, TASKS

    listing = {"tasks": TASKS.describe(), "augmentations": AUGMENTATIONS.describe(),
               "compose": strategy_roles(), "detectors": DETECTORS.describe(), "profiles": profile_names()}
    if args.json:
        print(json.dumps(listing))
        return
    for section in ("tasks", "augmentations", "detectors"):
        print(f"{section}:")
        width = max(map(len, listing[section]))
        for name, description in listing[section].items():
            print(f"  {name:<{width}}  {description}")
        if section == "augmentations":
            print(f"  {compose_line(listing['compose'])}")
    print(f"profiles: {', '.join(listing['profiles'])}")


def command_run(args: argparse.Namespace) -> None:
    from benchmark.config import resolve_config
    from benchmark.runner import run_experiment

    check_names(args)
    config = resolve_config(args.profile, args.task, args.aug, args.detector, run_overrides(args))
    result = run_experiment(config, progress=not args.no_progress, device=args.device,
                            use_cache=not args.no_cache, resume=args.resume)
    print(f"run {result.run_id} ({result.task}/{result.aug}/{result.detector}/seed{result.seed}): "
          f"{headline(result.metrics)}{training_set_line(result.metrics)}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_json()))


def command_data(args: argparse.Namespace) -> int:
    from benchmark.config import resolve_config
    from benchmark.data.verify import verify
    from benchmark.registry import TASKS
    from benchmark.stages.prepare import data_settings

    TASKS.entry(args.task)
    overrides: dict[str, Any] = {"data.data_root": args.data_root}
    if args.ground_truth:
        overrides["data.ground_truth"] = args.ground_truth
    config = resolve_config(args.profile, args.task, "none", "mean-shape", overrides)
    report = verify(args.task, data_settings(config))
    print(json.dumps(report.as_json()) if args.json else report.text())
    return 0 if report.ok else 2


def command_sweep(args: argparse.Namespace) -> None:
    from benchmark.config import parse_value
    from benchmark.sweep.objective import SweepQuestion
    from benchmark.sweep.storage import default_storage_url
    from benchmark.sweep.worker import run_sweep
    from benchmark.tracking import default_tracking_uri

    check_names(args)
    overrides = {key: parse_value(value) for key, value in args.overrides}
    for option in ("seed", "fold", "train_size"):
        if getattr(args, option) is not None:
            overrides[option] = getattr(args, option)
    question = SweepQuestion(args.task, args.aug, args.detector, args.profile, overrides, args.device)
    study = args.study or f"{args.task}-{args.aug}-{args.detector}-{args.profile}"
    outcome = run_sweep(question, args.n_trials, args.storage or default_storage_url(), study,
                        args.tracking_uri or default_tracking_uri(), args.experiment, args.seed,
                        args.heartbeat_interval, args.grace_period)
    states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(outcome.trials_by_state.items()))
    print(f"study {study}: {states}; best validation score {outcome.best_value}", file=sys.stderr)
    if outcome.best_run_id:
        print(f"best trial re-run on the test split: run {outcome.best_run_id}: "
              f"{headline(outcome.best_metrics)}", file=sys.stderr)
    if args.json:
        print(json.dumps(outcome.as_json()))


def command_leaderboard(args: argparse.Namespace) -> None:
    from pathlib import Path

    from benchmark.leaderboard.build import build_leaderboard
    from benchmark.registry import TASKS
    from benchmark.tracking import default_tracking_uri

    TASKS.entry(args.task)
    board = build_leaderboard(args.tracking_uri or default_tracking_uri(), args.task, Path(args.out),
                              args.profile, args.baseline, args.experiment, with_figures=not args.no_figures,
                              readme=Path(args.readme) if args.readme else None)
    print(board.paths[0].read_text())
    for path in board.paths:
        print(f"wrote {path}", file=sys.stderr)


def command_ablate(args: argparse.Namespace) -> None:
    from pathlib import Path

    from benchmark.ablation import load_spec, render_ablation, run_ablation, write_claim
    from benchmark.config import parse_value
    from benchmark.leaderboard.readme import block_span
    from benchmark.tracking import default_tracking_uri

    spec = load_spec(Path(args.spec))
    readme = Path(args.readme) if args.readme else None
    if readme is not None:
        if spec.claim is None:
            raise ConfigError(f"{args.spec}: --readme writes the spec's claim, and this spec has none; add "
                              f"claim (source, text, cells, expect) or leave out --readme")
        block_span(readme, spec.name)  # a README without the spec's block fails before any run
    overrides = {key: parse_value(value) for key, value in args.overrides}
    tracking_uri = args.tracking_uri or default_tracking_uri()
    failed: list[str] = []
    if args.table_only:
        table = render_ablation(spec, tracking_uri, Path(args.out), overrides)
    else:
        outcome = run_ablation(spec, tracking_uri, Path(args.out), overrides=overrides,
                               dry_run=args.dry_run, device=args.device, progress=not args.no_progress,
                               shard=args.shard)
        table, failed = outcome.table, outcome.failed
    if table is not None:
        print(table.path.read_text())
        if readme is not None:
            write_claim(spec, table, readme)
    if failed:
        raise AblationFailed(f"{args.spec}: {len(failed)} run(s) failed: " + "; ".join(failed))


def command_perf(args: argparse.Namespace) -> None:
    from benchmark.perf.dry_run import dry_run, read_throughput
    from benchmark.perf.plugins import model_names
    from benchmark.perf.report import JOBS, run_perf
    from benchmark.registry import TASKS

    TASKS.entry(args.task)
    known = model_names() if args.dry_run else [*model_names(), *JOBS]
    for name in args.only or []:
        if name not in known:
            raise ConfigError(f"--only: unknown name {name!r}; choose from {', '.join(known)}")
    if args.gpu_perf and not args.dry_run:
        raise ConfigError("--gpu-perf applies to --dry-run only")
    if args.steps < 1 or args.warmup < 1 or args.sampler_images < 1:
        raise ConfigError("--steps, --warmup and --sampler-images must be >= 1")
    if args.dry_run:
        report = dry_run(args.task, args.profile, args.only, read_throughput(args.gpu_perf),
                         progress=not args.no_progress)
    else:
        report = run_perf(args.task, args.profile, args.device, args.steps, args.warmup, args.only,
                          args.sampler_images, progress=not args.no_progress)
    print(json.dumps(report.as_json(), indent=2) if args.json else report.table())


def command_readback(args: argparse.Namespace) -> None:

    from benchmark.augmentation import create_augmentation
    from benchmark.config import resolve_config
    from benchmark.readback import format_rows, staged_readback
    from benchmark.registry import TASKS
    from benchmark.stages.prepare import load_task_data
    from benchmark.training.device import pick_device

    TASKS.entry(args.task)
    generator = create_augmentation(args.aug)
    if not hasattr(generator, "fit") or not hasattr(generator, "sample"):
        raise ConfigError(f"readback: {args.aug!r} is not a two-channel generator; use ddpm, vae or gan")
    if min(args.timesteps) < 0 or args.ddim_steps < 1 or args.held_out < 1 or (args.samples or 1) < 1:
        raise ConfigError("readback: --timesteps must be >= 0, --ddim-steps, --held-out and --samples >= 1")
    config = resolve_config(args.profile, args.task, args.aug, "heatmap", run_overrides(args))
    generator = create_augmentation(args.aug, config["augmentations"])
    data = load_task_data(config)
    total = getattr(generator.settings, "num_train_timesteps", None)
    if total is not None and max(args.timesteps) >= total:
        raise ConfigError(f"readback: --timesteps must be below the generator's T = {total}")
    check_checkpoints(args.checkpoints, generator)
    held_out = data.test.subset(list(range(min(args.held_out, len(data.test)))))
    rows = staged_readback(generator, data.train, held_out, int(config["seed"]), pick_device(args.device),
                           tuple(args.timesteps), args.ddim_steps, args.samples, tuple(args.checkpoints))
    print(json.dumps({"task": args.task, "aug": args.aug, "n_train": len(data.train), "rows": rows})
          if args.json else format_rows(rows))


def check_checkpoints(checkpoints: list[int], generator) -> None:
    """``readback --checkpoints``: a diffusion generator's fit, steps in [1, train_steps)."""
    if not checkpoints:
        return
    steps = getattr(generator.settings, "train_steps", None)
    if not hasattr(generator, "denoise") or steps is None:
        raise ConfigError(f"readback: --checkpoints needs a diffusion generator, not {generator.name!r}")
    if min(checkpoints) < 1 or max(checkpoints) >= steps:
        raise ConfigError(f"readback: --checkpoints must lie in [1, {steps}) (train_steps {steps})")


class AblationFailed(BenchmarkError):
    """Some cells of an ablation failed; the others were run and tracked."""


def _terminate(signum: int, frame) -> None:
    """SIGTERM (a scheduler, ``kill``) stops like Ctrl-C: the MLflow run ends KILLED, not RUNNING."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("benchmark").setLevel(logging.INFO)  # the suite's own progress lines, not libraries'
    # MLflow's "Creating initial MLflow database tables" on every fresh store
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    for option in ("tracking_uri", "storage"):  # one spelling of each database URL from here on
        if getattr(args, option, None):
            setattr(args, option, with_driver(getattr(args, option)))
    signal.signal(signal.SIGTERM, _terminate)
    try:
        commands = {"list": command_list, "run": command_run, "data": command_data, "sweep": command_sweep,
                    "ablate": command_ablate, "leaderboard": command_leaderboard,
                    "perf": command_perf, "readback": command_readback}
        return commands[args.command](args) or 0
    except BenchmarkError as error:
        print(f"error: {masked(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
