"""Composed augmentation, ``<transform>+<generator>`` (``classic+vae``): names, config blocks, the cache
key, the transform on synthetic images, and composed runs end to end (smoke profile, CPU)."""

import contextlib
import io
import json

import numpy as np
import optuna
import pytest
import torch
from mlflow.tracking import MlflowClient

from baselines.augmentations.classic import ClassicAugmentation, ClassicParams
from benchmark.ablation import AblationSpec, run_ablation
from benchmark.augmentation import (
    Augmentation,
    ComposedAugmentation,
    CompositionSettings,
    SyntheticSet,
    create_augmentation,
    strategy_roles,
)
from benchmark.cli import main
from benchmark.config import flatten, resolve_config, variant_digest
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.leaderboard.build import build_leaderboard
from benchmark.sweep.objective import SweepQuestion, suggest_overrides
from benchmark.synthetic import compose, synthesis_key
from benchmark.training.batch import batch_from
from benchmark.training.loop import train_steps
from tests.cli_helpers import run_cli, runs_in

SEED = 7  # no other test runs vae on hand at this seed: the first composed run generates its set
BAD_NAMES = [
    ("ddpm+classic", "write it as classic+ddpm"),
    ("none+ddpm", "'none' neither transforms nor generates"),
    ("classic+classic", "both parts transform"),
    ("ddpm+vae", "both parts generate"),
    ("classic+ddpx", "unknown augmentation 'ddpx'. Did you mean 'ddpm'?"),
    ("classic+ddpm+vae", "compose exactly two strategies"),
]


def image_set(n: int, prefix: str, seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    return ImageSet(ids=[f"{prefix}{i}" for i in range(n)], images=rng.random((n, 16, 16)),
                    spacing=np.ones((n, 2)), original_size=np.full((n, 2), 16),
                    landmarks=rng.uniform(4, 11, (n, 3, 2)))


class MirrorGenerator(Augmentation):
    """Generates the mirrored training images, all accepted."""

    name = "mirror-test"
    composition = CompositionSettings()

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet:
        landmarks = train.landmarks.copy()
        landmarks[..., 0] = 15 - landmarks[..., 0]
        images = ImageSet(ids=[f"syn{i}" for i in range(len(train))], images=train.images[:, :, ::-1].copy(),
                          spacing=train.spacing, original_size=train.original_size, landmarks=landmarks)
        return SyntheticSet(images, quality={"accepted": [True] * len(train)})


class RecordingTrainable:
    """A one-weight model whose loss records the batches the loop hands it."""

    def __init__(self):
        self.model = torch.nn.Linear(1, 1)
        self.batches = []

    def training_loss(self, batch) -> torch.Tensor:
        self.batches.append(batch)
        return (self.model.weight * batch.images.float().mean()).sum()


def smoke_sections(aug: str, overrides: dict | None = None) -> dict:
    return resolve_config("smoke", "hand", aug, "heatmap", overrides)["augmentations"]


def test_composed_name_builds_both_parts_and_takes_each_part_from_the_object():
    composed = create_augmentation("classic+ddpm", smoke_sections("classic+ddpm"))
    assert isinstance(composed, ComposedAugmentation) and composed.name == "classic+ddpm"
    assert composed.transform_part.name == "classic" and composed.generator.name == "ddpm"
    assert composed.transforms and composed.generates
    assert composed.composition == composed.generator.composition is not None
    assert composed.synthesizer is composed.generator
    plain = create_augmentation("ddpm", smoke_sections("ddpm"))
    assert not isinstance(plain, ComposedAugmentation) and plain.generates and not plain.transforms
    roles = strategy_roles()
    assert (roles["transforms"] == ["classic"]
            and {"ddpm", "gan", "latent-blend", "vae"} <= set(roles["generates"]))
    assert "none" not in roles["generates"] and roles["generates"] == sorted(roles["generates"])


@pytest.mark.parametrize("name, message", BAD_NAMES)
def test_bad_compositions_are_one_line_config_errors(name, message):
    with pytest.raises(ConfigError) as error:
        create_augmentation(name)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """This module's own MLflow store, so its leaderboard holds only the runs made here (created now, so
    that its migrations log nothing during the tests)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('composition') / 'mlflow.db'}"
    assert runs_in(uri) == []
    return uri


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("name, message", BAD_NAMES)
def test_cli_rejects_bad_compositions_before_any_run(capsys, store, command, name, message):
    before = len(runs_in(store))
    extra = ["--n-trials", "1"] if command == "sweep" else []
    code, _, err = run_cli(capsys, command, "--task", "hand", "--aug", name, "--profile", "smoke",
                           "--tracking-uri", store, *extra)
    assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0, err
    assert message in err
    assert len(runs_in(store)) == before


def test_resolve_config_keeps_one_block_per_part_and_set_lands_in_each():
    default = resolve_config("smoke", "hand", "classic+ddpm", "heatmap")
    config = resolve_config("smoke", "hand", "classic+ddpm", "heatmap",
                            {"augmentations.ddpm.train_steps": 5, "augmentations.classic.rotation_deg": 5})
    assert set(config["augmentations"]) == {"classic", "ddpm"}
    assert config["augmentations"]["ddpm"]["train_steps"] == 5
    assert default["augmentations"]["ddpm"]["train_steps"] == 4
    assert config["augmentations"]["ddpm"]["block_out_channels"] == [8, 16]  # the rest of the profile's block
    assert config["augmentations"]["classic"] == {"rotation_deg": 5}
    flat = flatten(config)
    assert flat["augmentations.ddpm.train_steps"] == 5 and flat["augmentations.classic.rotation_deg"] == 5
    assert variant_digest(config) != variant_digest(default)
    composed = create_augmentation(config["aug"], config["augmentations"])
    assert composed.transform_part.params.rotation_deg == 5 and composed.generator.settings.train_steps == 5


def test_cache_key_is_the_generator_parts():
    train = image_set(4, "r", 0)
    vae = create_augmentation("vae", smoke_sections("vae"))
    composed = create_augmentation("classic+vae", smoke_sections("classic+vae"))
    other_classic = create_augmentation("classic+vae",
                                        smoke_sections("classic+vae", {"augmentations.classic.p": 0.5}))
    other_vae = create_augmentation("classic+vae",
                                    smoke_sections("classic+vae", {"augmentations.vae.train_steps": 9}))
    key = synthesis_key(vae, train, 0)
    assert synthesis_key(composed, train, 0) == key == synthesis_key(other_classic, train, 0)
    assert synthesis_key(other_vae, train, 0) != key


@pytest.mark.parametrize("composed", [True, False])
def test_the_transform_reaches_synthetic_images_in_the_training_loop(composed):
    real, generator = image_set(6, "r", 1), MirrorGenerator()
    # the control: the generator alone, whose synthetic images reach the loss as they are
    augmentation = (ComposedAugmentation(ClassicAugmentation(ClassicParams(p=1.0)), generator) if composed
                    else generator)
    synthetic_set = augmentation.synthesize(real, 0)
    training, n_synthetic = compose(real, synthetic_set, augmentation.composition, np.random.default_rng(0))
    synthetic = np.array([i for i, image_id in enumerate(training.ids) if image_id.startswith("syn")])
    assert n_synthetic == len(synthetic) == 6
    trainable = RecordingTrainable()
    optimizer = torch.optim.SGD(trainable.model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    train_steps(trainable, training, synthetic[None], augmentation, optimizer, scheduler,
                torch.Generator().manual_seed(0), torch.device("cpu"), "off")
    seen, raw = trainable.batches[0], batch_from(training, synthetic)
    assert (not torch.equal(seen.images, raw.images)) == composed
    assert (not torch.equal(seen.landmarks, raw.landmarks)) == composed


def test_search_space_is_the_union_of_both_parts():
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    overrides = suggest_overrides(trial, SweepQuestion("hand", "classic+ddpm", "heatmap", "smoke"))
    assert {"augmentations.classic.rotation_deg", "augmentations.classic.p", "train.lr",
            "augmentations.ddpm.synthetic_ratio", "augmentations.ddpm.samples_ratio"} <= set(overrides)
    assert {"classic.rotation_deg", "ddpm.synthetic_ratio"} <= set(trial.params)
    config = resolve_config("smoke", "hand", "classic+ddpm", "heatmap", overrides)
    assert config["augmentations"]["ddpm"]["synthetic_ratio"] == trial.params["ddpm.synthetic_ratio"]


def test_list_says_how_to_compose(capsys):
    code, out, _ = run_cli(capsys, "list")
    lines = out.splitlines()
    line = next(line.strip() for line in lines if "compose:" in line)
    assert code == 0 and lines.index(f"  {line}") < lines.index("detectors:")
    assert line.startswith("compose: <transform>+<generator>, e.g. classic+ddpm; transforms: classic; "
                           "generators: ddpm, gan, latent-blend, ")
    assert line.split("generators: ")[1].split(", ") == strategy_roles()["generates"]
    assert json.loads(run_cli(capsys, "list", "--json")[1])["compose"]["transforms"] == ["classic"]


def cli_run(store: str, *args: str) -> dict:
    """``benchmark run`` on hand (smoke, CPU, seed ``SEED``) in-process; its JSON result line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--task", "hand", "--profile", "smoke", "--seed", str(SEED), "--device", "cpu",
                     "--no-progress", "--json", "--tracking-uri", store, *args])
    assert code == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def composed_runs(store) -> dict[str, dict]:
    """classic+vae twice (the second regenerating its set), then vae and none, all at seed ``SEED``."""
    return {"first": cli_run(store, "--aug", "classic+vae"),
            "again": cli_run(store, "--aug", "classic+vae", "--no-cache"),
            "vae": cli_run(store, "--aug", "vae"), "none": cli_run(store)}


def logged(store: str, result: dict):
    return MlflowClient(store).get_run(result["run_id"])


def test_composed_run_is_named_tagged_deterministic_and_logs_both_parts(store, composed_runs):
    first, again = (logged(store, composed_runs[k]) for k in ("first", "again"))
    assert first.info.run_name == "hand/classic+vae/heatmap/seed7" and first.data.tags["aug"] == "classic+vae"
    assert first.data.params["augmentations.classic"] == "{}"  # the smoke profile's empty classic block
    assert first.data.params["augmentations.vae.train_steps"] == "8"
    vae_variant = logged(store, composed_runs["vae"]).data.tags["variant"]
    assert first.data.tags["variant"] == again.data.tags["variant"] != vae_variant
    assert (first.data.metrics["generator_cache_hit"], again.data.metrics["generator_cache_hit"]) == (0, 0)
    assert first.data.metrics["aug_images"] > 0 and "acceptance_rate" in first.data.metrics  # both parts
    timing = {"train_seconds", "inference_images_per_s", "generator_seconds", "generator_train_seconds",
              "sampling_images_per_s"}
    assert {k: v for k, v in first.data.metrics.items() if k not in timing} == \
        {k: v for k, v in again.data.metrics.items() if k not in timing}


def test_the_generator_alone_reuses_the_composed_runs_synthetic_set(store, composed_runs):
    # "again" regenerated the set last, so its timing is the one stored with it
    composed, vae = logged(store, composed_runs["again"]), logged(store, composed_runs["vae"])
    assert vae.data.metrics["generator_cache_hit"] == 1
    for key in ("acceptance_rate", "nearest_train_ssim_mean", "generator_train_seconds"):
        assert vae.data.metrics[key] == composed.data.metrics[key], key


def test_leaderboard_and_ablation_tables_show_composed_names(store, composed_runs, tmp_path):
    board = build_leaderboard(store, "hand", tmp_path, profile="smoke", with_figures=False)
    assert (dict(zip(board.table["aug"], board.table["n_runs"], strict=True))
            == {"classic+vae": 2, "vae": 1, "none": 1})
    assert all("classic+vae" in path.read_text() for path in board.paths)
    spec = AblationSpec(name="compose", task="hand", factors={"aug": ["classic+vae", "vae"]}, profile="smoke",
                        seeds=(SEED,), extra_cells=({"aug": "none"},))
    outcome = run_ablation(spec, store, tmp_path / "ablations", device="cpu", progress=False)
    assert (outcome.ran, outcome.skipped, outcome.failed) == (0, 3, [])  # the CLI runs are its cells
    table = outcome.table.path.read_text()
    assert "| classic+vae |" in table and "| 1/1 |" in table
