"""``benchmark perf --dry-run``: every model of a profile built at the profile's working size for a task and
run through one training step at batch 1 on the CPU, with what one run of the profile asks of a GPU.

Rows: the registered detectors that train and whose kinds fit the task, and every row of every registered
generator (:mod:`benchmark.perf.plugins`; a generator may have several, ``latent-blend`` its autoencoder and
its latent U-Net). Each is built and trained by the plug-in's own code on one training image of the task at
the profile's working size: a detector's ``setup`` and one :func:`benchmark.training.loop.train_steps` step
(its ``training_loss``, AdamW, the schedule); a generator row's ``train`` of one step at batch 1
(:class:`benchmark.perf.contract.PerfModel`). The dry run stops each step where its backward pass begins (the
first time autograd unpacks a saved tensor), so only forward passes run; ``whole_step`` lets it finish
(backward, optimiser step), as the tests do. Per row:

* ``parameters``: of the model's network(s) (the GAN: generator and discriminator);
* ``activation_bytes``: the activation memory of one training step at the profile's batch size ``B``,
  estimated as ``B`` times the bytes autograd saves for backward in the step at batch 1 up to its first
  backward pass (every tensor passed to ``torch.autograd.graph.saved_tensors_hooks``, each storage
  once, the networks' parameters and buffers not counted), in float32 as on the CPU (bf16 autocast on a
  GPU stores most of it at half the size). For the GAN that is the discriminator update's graph (the
  generator's pass and two discriminator passes), the larger of its two. Saved tensors that do not grow
  with the batch (timestep embeddings, spectrally normalised weights) are multiplied too, so the figure
  is a slight overestimate;
* ``steps``: the optimiser steps of one run of the profile: ``epochs * ceil(samples_per_epoch /
  batch_size)`` for a detector (early stopping may end it sooner), the row's ``steps`` for a generator
  (``train_steps``; ``latent-blend``: ``ae_steps`` and ``ddpm_steps``);
* ``seconds``: given the JSON of ``benchmark perf --json`` run on a GPU, the estimated wall time of that
  training, ``steps * B / train`` with ``train`` the model's measured training images per second there (at
  the sizes of that file's profile and task); NaN where there is no such file or it lacks the model.

No GPU is needed and nothing is materialised at the profile's batch size.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.augmentation import Augmentation, create_augmentation
from benchmark.config import build, resolve_config
from benchmark.detector import Detector, FitContext
from benchmark.errors import ConfigError
from benchmark.perf.contract import PerfModel
from benchmark.perf.plugins import detector_names, generator_names
from benchmark.registry import DETECTORS
from benchmark.stages.prepare import load_task_data
from benchmark.task import TaskData
from benchmark.training.loop import optimiser_and_schedule, train_steps
from benchmark.training.settings import TrainSettings

CPU = torch.device("cpu")
DEFAULT_GPU_PERF = Path("leaderboards/gpu/perf.json")


@dataclass
class DryRunRow:
    """One model (module docstring); ``losses``: the training losses of its one step at batch 1."""

    model: str
    kind: str
    parameters: int
    activation_bytes: int
    batch_size: int
    steps: int
    losses: dict[str, float]
    seconds: float = math.nan

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "seconds": None if math.isnan(self.seconds) else self.seconds}


@dataclass(frozen=True)
class Throughput:
    """Training images per second by model row (``models[].train``) of a ``benchmark perf --json`` file."""

    path: str
    profile: str
    task: str
    device: str
    train: dict[str, float]

    def seconds(self, row: DryRunRow) -> float:
        """``steps * batch / train``; NaN without a positive rate for the row's model."""
        rate = self.train.get(row.model, math.nan)
        return row.steps * row.batch_size / rate if rate > 0 else math.nan


def read_throughput(path: str | None) -> Throughput | None:
    """The rates in ``path``, else in :data:`DEFAULT_GPU_PERF` where that exists; None without either."""
    if path is None and not DEFAULT_GPU_PERF.exists():
        return None
    path = path or str(DEFAULT_GPU_PERF)
    try:
        report = json.loads(Path(path).read_text())
        rates = {row["model"]: float(row["train"]) for row in report["models"]}
        return Throughput(path, report["profile"], report["task"], report["device"], rates)
    except OSError as error:
        raise ConfigError(f"--gpu-perf {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"--gpu-perf {path}: not the output of `benchmark perf --json` "
            "(needs profile, task, device, models[].model, models[].train)"
        ) from None


@dataclass
class DryRunReport:
    """The rows of one task and profile, as a table and as JSON (``seconds`` null where not estimated)."""

    task: str
    profile: str
    throughput: Throughput | None
    rows: list[DryRunRow] = field(default_factory=list)

    def as_json(self) -> dict:
        source = (
            None
            if self.throughput is None
            else {k: v for k, v in dataclasses.asdict(self.throughput).items() if k != "train"}
        )
        return {
            "task": self.task,
            "profile": self.profile,
            "gpu_perf": source,
            "models": [row.as_json() for row in self.rows],
        }

    def table(self) -> str:
        t = self.throughput
        source = (
            "no GPU perf JSON (--gpu-perf FILE)"
            if t is None
            else f"train img/s of {t.path} (profile {t.profile}, task {t.task}, {t.device})"
        )
        lines = [
            f"# benchmark perf --dry-run: task {self.task}, profile {self.profile}",
            "",
            "| model | kind | parameters | batch | activation memory | steps per run | GPU training time |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.model} | {r.kind} | {r.parameters / 1e6:.2f} M | {r.batch_size} | "
            f"{_bytes(r.activation_bytes)} | {r.steps} | {_duration(r.seconds)} |"
            for r in self.rows
        ]
        lines += [
            "",
            "Activation memory: bytes saved for backward in one training step at batch 1 (float32, "
            f"measured on the CPU) times the batch. GPU training time: steps x batch / {source}.",
        ]
        return "\n".join(lines) + "\n"


def _bytes(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


class ForwardDone(Exception):
    """Raised when autograd first unpacks a saved tensor: the step's backward pass has begun."""


@dataclass
class Trainee:
    """One row's model: ``step()`` trains its network(s) one step at batch 1 by the suite's own code
    (building them first where that code does) and returns the losses; ``networks()`` are the networks it
    trained. ``batch_size`` and ``steps`` are the profile's."""

    model: str
    kind: str
    batch_size: int
    steps: int
    step: Callable[[], dict[str, float]]
    networks: Callable[[], list[torch.nn.Module]]


def measured(trainee: Trainee, whole_step: bool) -> DryRunRow:
    """Run ``trainee.step`` and count what it saves for backward (module docstring); unless ``whole_step``,
    stop it where its backward pass begins. The saved storages are held until counted, so that no address
    is reused meanwhile."""
    storages: dict[int, torch.UntypedStorage] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages.setdefault(storage.data_ptr(), storage)
        return tensor

    def unpack(tensor: torch.Tensor) -> torch.Tensor:
        if not whole_step:
            raise ForwardDone
        return tensor

    losses: dict[str, float] = {}
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            losses = trainee.step()
    except ForwardDone:
        pass
    networks = trainee.networks()
    own = {t.untyped_storage().data_ptr() for net in networks for t in (*net.parameters(), *net.buffers())}
    saved = sum(storage.nbytes() for address, storage in storages.items() if address not in own)
    parameters = sum(p.numel() for net in networks for p in net.parameters())
    return DryRunRow(
        trainee.model,
        trainee.kind,
        parameters,
        trainee.batch_size * saved,
        trainee.batch_size,
        trainee.steps,
        losses,
    )


def detector_trainee(name: str, detector: Detector, data: TaskData, settings: TrainSettings) -> Trainee:
    """``setup`` on the training image, then one ``train_steps`` step at batch 1."""
    one = dataclasses.replace(settings, batch_size=1)

    def step() -> dict[str, float]:
        none = Augmentation()
        detector.setup(
            data.train,
            FitContext(
                settings=one, augmentation=none, seed=0, device=CPU, progress=False
            ),
        )
        optimizer, scheduler = optimiser_and_schedule(detector.model, one)
        first_image = np.zeros((1, 1), dtype=np.int64)
        (loss,) = train_steps(
            detector,
            data.train,
            first_image,
            none,
            optimizer,
            scheduler,
            torch.Generator().manual_seed(0),
            CPU,
            one.amp,
        )
        return {"loss": float(loss)}

    return Trainee(
        name,
        "detector",
        settings.batch_size,
        settings.epochs * settings.steps_per_epoch,
        step,
        lambda: [detector.model],
    )


def generator_trainee(model: PerfModel) -> Trainee:
    """The generator row's own ``train``, one step at batch 1 on the CPU."""
    return Trainee(model.name, "generator", model.batch_size, model.steps, lambda: model.train(1, 1, CPU),
                   model.networks)


def one_training_image(profile: str, task: str) -> TaskData:
    """The task's data at the profile's working size with one training image: a pool of 6 (3 folds leave 4
    training images, one of them validates), ``train_size`` 1."""
    overrides = {"data.n_labelled": 6, "data.n_unlabelled": 0, "train_size": 1}
    return load_task_data(resolve_config(profile, task, "none", "heatmap", overrides))


def trainees(task: str, profile: str, only: list[str] | None) -> list[Trainee]:
    """The models of :mod:`benchmark.perf.plugins` (or those named in ``only``) that fit the task, at the
    profile's settings, on one training image."""
    data = one_training_image(profile, task)
    kind = "landmarks" if data.train.landmarks is not None else "segmentation"
    settings = build(TrainSettings, resolve_config(profile, task, "none", "heatmap")["train"], "train")
    detectors, generators = detector_names(), generator_names()
    chosen: list[Trainee] = []
    for name in [name for name in (*detectors, *generators) if not only or name in only]:
        if name in detectors:
            params = resolve_config(profile, task, "none", name)["detectors"][name]
            detector = DETECTORS.create(name, **params)
            if kind in detector.kinds:
                chosen.append(detector_trainee(name, detector, data, settings))
        else:
            sections = resolve_config(profile, task, name, "heatmap")["augmentations"]
            generator = create_augmentation(name, sections)
            chosen.extend(generator_trainee(model) for model in generator.perf_models(data.train, CPU))
    return chosen


def dry_run(
    task: str = "hand",
    profile: str = "paper",
    only: list[str] | None = None,
    throughput: Throughput | None = None,
    progress: bool = True,
    whole_step: bool = False,
) -> DryRunReport:
    """One row per trainee of :func:`trainees`, each stepped once (module docstring); estimated GPU seconds
    from ``throughput`` when given."""
    torch.manual_seed(0)
    report = DryRunReport(task, profile, throughput)
    for trainee in tqdm(trainees(task, profile, only), desc="benchmark perf --dry-run", disable=not progress):
        row = measured(trainee, whole_step)
        row.seconds = throughput.seconds(row) if throughput is not None else math.nan
        report.rows.append(row)
    return report
