"""``benchmark perf``: every figure of :mod:`benchmark.perf` in one run, as a table and as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from benchmark.augmentation import create_augmentation
from benchmark.config import build, resolve_config
from benchmark.perf.detectors import detector_figures
from benchmark.perf.figures import ModelFigures
from benchmark.perf.generators import generator_figures
from benchmark.perf.pipeline import pipeline_rates
from benchmark.perf.plugins import detector_names, generator_names
from benchmark.perf.samplers import sampler_rates
from benchmark.registry import DETECTORS
from benchmark.stages.prepare import data_settings, load_task_data
from benchmark.training.device import pick_device, seed_everything
from benchmark.training.settings import TrainSettings

JOBS = ("pipeline", "samplers")


@dataclass
class PerfReport:
    task: str
    profile: str
    device: str
    threads: int
    models: list[ModelFigures] = field(default_factory=list)
    pipeline: dict[str, float] = field(default_factory=dict)
    samplers: dict[str, float] = field(default_factory=dict)

    @property
    def pipeline_vs_training(self) -> float:
        """In-loop pipeline rate over the fastest detector's training rate."""
        trained = [m.train for m in self.models if m.kind == "detector"]
        in_loop = self.pipeline.get("batch assembly + classic augmentation")
        return in_loop / max(trained) if trained and in_loop else float("nan")

    @property
    def fast_sampler_speed_up(self) -> float:
        full, fast = list(self.samplers.values()) if len(self.samplers) == 2 else (math.nan, math.nan)
        return fast / full

    def as_json(self) -> dict:
        return {"task": self.task, "profile": self.profile, "device": self.device, "threads": self.threads,
                "models": [m.as_json() for m in self.models], "pipeline_images_per_s": self.pipeline,
                "sampler_images_per_s": self.samplers, "pipeline_vs_training": self.pipeline_vs_training,
                "fast_sampler_speed_up": self.fast_sampler_speed_up}

    def table(self) -> str:
        title = (f"# benchmark perf: task {self.task}, profile {self.profile}, {self.device}, "
                 f"{self.threads} threads")
        lines = [title, "", "| model | kind | batch | train img/s | reference img/s | train / reference | "
                 "inference or sampling img/s | note |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {m.model} | {m.kind} | {m.batch_size} | {m.train:.1f} | {m.reference:.1f} | "
                  f"{m.train_vs_reference:.2f} | {_number(m.inference)} | {m.note} |" for m in self.models]
        if self.pipeline:
            lines += ["", "| data pipeline stage | img/s |", "|---|---|"]
            lines += [f"| {stage} | {value:.1f} |" for stage, value in self.pipeline.items()]
            lines += [f"| in-loop pipeline / fastest detector training | {self.pipeline_vs_training:.1f}x |"]
        if self.samplers:
            lines += ["", "| ddpm sampler | img/s |", "|---|---|"]
            lines += [f"| {name} | {value:.3f} |" for name, value in self.samplers.items()]
            lines += [f"| fast / full | {self.fast_sampler_speed_up:.1f}x |"]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def run_perf(task: str = "hand", profile: str = "default", device: str = "auto", calls: int = 10,
             warmup: int = 3, only: list[str] | None = None, sampler_images: int = 4,
             progress: bool = True) -> PerfReport:
    """Measure the rows named in ``only`` (names of :mod:`benchmark.perf.plugins`, ``pipeline``,
    ``samplers``; all by default): every registered detector that trains and fits the task, every row of
    every registered generator (:mod:`benchmark.perf.contract`), the pipeline and the samplers."""
    torch_device = pick_device(device)
    seed_everything(0, torch_device)
    config = resolve_config(profile, task, "none", "heatmap")
    data = load_task_data(config)
    kind = "landmarks" if data.train.landmarks is not None else "segmentation"
    detectors, generators = detector_names(), generator_names()
    jobs = [name for name in (*detectors, *generators, *JOBS) if not only or name in only]
    report = PerfReport(task, profile, str(torch_device), torch.get_num_threads())
    settings = build(TrainSettings, config["train"], "train")  # the train section is the same for every model
    for name in tqdm(jobs, desc="benchmark perf", disable=not progress):
        if name in detectors:
            params = resolve_config(profile, task, "none", name)["detectors"][name]
            detector = DETECTORS.create(name, **params)
            if kind in detector.kinds:
                report.models.append(detector_figures(name, detector, data, settings, torch_device, calls,
                                                      warmup, inference_images=32))
        elif name in generators:
            sections = resolve_config(profile, task, name, "heatmap")["augmentations"]
            generator = create_augmentation(name, sections)
            report.models.extend(generator_figures(model, torch_device, calls, warmup, n_samples=32)
                                 for model in generator.perf_models(data.train, torch_device))
        elif name == "pipeline" and kind == "landmarks":
            report.pipeline = pipeline_rates(data, data_settings(config), settings.batch_size, calls, 32)
        elif name == "samplers":
            params = resolve_config(profile, task, "ddpm", "heatmap")["augmentations"]["ddpm"]
            report.samplers = sampler_rates(params, data.train, sampler_images, torch_device)
    return report
