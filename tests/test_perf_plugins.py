"""``benchmark perf`` measures the registered plug-ins through their contract, never by name: every detector
that trains and every augmentation that generates is measured, and so is one registered in a test."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from baselines.detectors.dense import DenseDetector
from benchmark.augmentation import Augmentation, create_augmentation
from benchmark.perf.contract import PerfModel, plain_step
from benchmark.perf.dry_run import dry_run
from benchmark.perf.plugins import detector_names, generator_names, model_names
from benchmark.perf.report import run_perf
from benchmark.registry import AUGMENTATIONS, DETECTORS, Entry

TOYS = ["toy-detector", "toy-generator"]


@dataclass(frozen=True)
class ToyDetectorSettings:
    sigma: float = 1.5
    loss: str = "softmax-ce"


class ToyNet(nn.Module):
    output_stride = 1

    def __init__(self, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(1, out_channels, 3, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images)


class ToyDetector(DenseDetector):
    name = "toy-detector"

    def build_network(self, out_channels: int) -> nn.Module:
        return ToyNet(out_channels)


@dataclass(frozen=True)
class ToyGeneratorSettings:
    width: int = 4


class ToyGenerator(Augmentation):
    """Generates (its class overrides ``synthesize``) and gives one perf row, a linear map."""

    name = "toy-generator"

    def __init__(self, settings: ToyGeneratorSettings):
        self.settings = settings

    def synthesize(self, train, seed, unlabelled=None, device=None):
        return None

    def perf_models(self, train, device) -> list[PerfModel]:
        width, latest = self.settings.width, []

        def loss_of(model: nn.Module) -> torch.Tensor:
            return model(torch.ones(2, width)).pow(2).mean()

        def train_for(steps: int, batch_size: int, device: torch.device) -> dict[str, float]:
            latest[:] = [nn.Linear(width, width)]
            step = plain_step(latest[0], loss_of, 1e-3, device, "off")
            for _ in range(steps):
                step()
            return {"loss": float(loss_of(latest[0]).detach())}

        return [PerfModel(self.name, 2, 5, train_for, lambda: latest,
                          lambda device: plain_step(nn.Linear(width, width), loss_of, 1e-3, device, "off"),
                          lambda n, device: n, "toy")]


@pytest.fixture
def toys(monkeypatch):
    DETECTORS.names(), AUGMENTATIONS.names()  # the built-in plug-ins first, so the toys are only added
    monkeypatch.setitem(DETECTORS._entries, TOYS[0], Entry(TOYS[0], "a toy", ToyDetector,
                                                           settings=ToyDetectorSettings))
    monkeypatch.setitem(AUGMENTATIONS._entries, TOYS[1], Entry(TOYS[1], "a toy", ToyGenerator,
                                                               settings=ToyGeneratorSettings))


def test_every_detector_that_trains_and_every_generator_is_a_perf_model():
    assert detector_names() == [name for name in DETECTORS.names() if DETECTORS.create(name).trains]
    generators = [name for name in AUGMENTATIONS.names() if create_augmentation(name).generates]
    assert generator_names() == generators
    assert {"heatmap", "segformer", "saltpepper", "ddpm", "shape-ddpm", "vae", "gan",
            "latent-blend"} <= set(model_names())
    assert not {"mean-shape", "none", "classic"} & set(model_names())


def test_a_newly_registered_detector_and_generator_are_measured(toys):
    assert set(TOYS) <= set(model_names())
    report = run_perf(profile="smoke", calls=1, warmup=1, only=TOYS, progress=False)
    rows = {row.model: row for row in report.models}
    assert set(rows) == set(TOYS) and rows["toy-generator"].note == "toy"
    assert all(row.train > 0 and row.reference > 0 and row.inference > 0 for row in rows.values())
    dry = {row.model: row for row in dry_run("hand", "smoke", TOYS, progress=False, whole_step=True).rows}
    assert set(dry) == set(TOYS)
    assert dry["toy-generator"].parameters == 4 * 4 + 4 and dry["toy-generator"].steps == 5
    assert all(row.losses for row in dry.values())
