"""The augmentation contract. Every strategy may do one or both of two things:

* **synthesize** a labelled synthetic set once, fitted on the training split of the current fold only
  (generators: VAE, GAN, DDPM-2ch, latent blending) and, where a method uses one, the task's unlabelled
  pool (never test images), returned with per-sample quality evidence;
* **transform** each training batch on the fly (classic geometric + intensity augmentation), applying
  one draw consistently to images, landmarks and masks.

What a strategy does is read from the object: :attr:`Augmentation.generates` and
:attr:`Augmentation.transforms` say whether its class overrides :meth:`Augmentation.synthesize` or
:meth:`Augmentation.transform`. A strategy that transforms and one that generates compose into one,
named ``<transform>+<generator>`` (``classic+ddpm``, :class:`ComposedAugmentation`): the generator's set
joins the real one, and every training batch, real and synthetic images alike, is transformed.
:func:`create_augmentation` builds any strategy, plain or composed, from its name and the resolved
config's ``augmentations`` section (one parameter block per part).

The runner calls :meth:`Augmentation.synthesize` before training and :meth:`Augmentation.transform` on
every training batch; validation and test batches are never transformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS, augmentation_parts
from benchmark.task import TaskShape
from benchmark.training.batch import Batch

if TYPE_CHECKING:
    from benchmark.perf.contract import PerfModel


COMPOSITIONS = ("real", "synthetic", "real+synthetic")


@dataclass(frozen=True)
class CompositionSettings:
    """How a generated set joins the real one (see :func:`benchmark.synthetic.compose`)."""

    composition: Literal["real", "synthetic", "real+synthetic"] = "real+synthetic"
    n_synthetic: int | None = None
    synthetic_ratio: float = 1.0


@dataclass(frozen=True)
class GeneratorSettings(CompositionSettings):
    """The base of every generator's settings, declaring once what they share: how the generated set joins
    the real one (:class:`CompositionSettings`) and how many samples are generated, ``n_samples`` or, where
    that is ``None``, ``samples_ratio`` times the training set (:meth:`n_to_generate`). A generator's
    settings add their own fields and name the method in ``method``, which starts its error messages."""

    method: ClassVar[str] = "generator"

    n_samples: int | None = None
    samples_ratio: float = 1.0

    def __post_init__(self) -> None:
        what = self.method
        if self.composition not in COMPOSITIONS:
            raise ConfigError(f"{what}: composition must be real, synthetic or real+synthetic, "
                              f"got {self.composition!r}")
        if self.synthetic_ratio < 0:
            raise ConfigError(f"{what}: synthetic_ratio must be >= 0, got {self.synthetic_ratio}")
        if self.n_synthetic is not None and self.n_synthetic < 0:
            raise ConfigError(f"{what}: n_synthetic must be >= 0 or null, got {self.n_synthetic}")
        if self.n_samples is not None and self.n_samples < 1:
            raise ConfigError(f"{what}: n_samples must be >= 1 or null, got {self.n_samples}")
        if self.samples_ratio <= 0:
            raise ConfigError(f"{what}: samples_ratio must be > 0, got {self.samples_ratio}")

    def n_to_generate(self, n_train: int) -> int:
        """``n_samples`` if set, else ``round(samples_ratio * n_train)`` (at least 1)."""
        if self.n_samples is not None:
            return int(self.n_samples)
        return max(1, round(self.samples_ratio * n_train))


def composition_search_space(name: str):
    """The sweep suggestions every generator shares, for the one named ``name``: how many synthetic
    images join the real ones (``synthetic_ratio`` x the real set) and how many are generated per
    training image (``samples_ratio``), each trial parameter named ``<name>.<setting>``."""

    def search_space(trial) -> dict:
        return {"synthetic_ratio": trial.suggest_float(f"{name}.synthetic_ratio", 0.25, 4.0, log=True),
                "samples_ratio": trial.suggest_float(f"{name}.samples_ratio", 0.2, 4.0, log=True)}

    return search_space


@dataclass
class SyntheticSet:
    """Generated, labelled images plus evidence: ``quality`` holds per-sample columns (accepted, reason,
    nearest-training SSIM, ...); ``metrics`` the generator's summary numbers for tracking."""

    images: ImageSet
    quality: dict[str, list] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Augmentation:
    """Base class and the ``none`` strategy. Generators set :attr:`composition` to their settings (a
    :class:`GeneratorSettings`)."""

    name: str = "none"
    composition: CompositionSettings | None = None

    @property
    def generates(self) -> bool:
        """Whether :meth:`synthesize` makes a synthetic set (its class overrides it)."""
        return type(self).synthesize is not Augmentation.synthesize

    @property
    def transforms(self) -> bool:
        """Whether :meth:`transform` changes training batches (its class overrides it)."""
        return type(self).transform is not Augmentation.transform

    @property
    def synthesizer(self) -> Augmentation:
        """The strategy whose name and settings define what :meth:`synthesize` makes, and so key the
        synthetic-set cache: this one (a composed strategy: its generator part)."""
        return self

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet | None:
        """The labelled synthetic set made from ``train`` (and the ``unlabelled`` pool, for generators that
        use one), with its networks on ``device`` (``None``: the GPU if there is one)."""
        return None

    def transform(self, batch: Batch, generator: torch.Generator) -> Batch:
        return batch

    def check(self, shape: TaskShape) -> None:
        """Raise a ConfigError if this strategy cannot work on a task of ``shape``: called with the working
        size before any data is read, and again with the set sizes once they are loaded, always before
        any run exists."""

    def metrics(self) -> dict[str, float]:
        """Counters accumulated while transforming (logged once at the end of training)."""
        return {}

    def perf_models(self, train: ImageSet, device: torch.device) -> list[PerfModel]:
        """The networks ``benchmark perf`` measures, one row each, at these settings on ``train`` (their data
        prepared on ``device``; :mod:`benchmark.perf.contract`); every strategy that generates gives at least
        one."""
        return []


def _role(part: Augmentation) -> str:
    """What ``part`` does, in words: ``transforms``, ``generates``, both or neither."""
    if part.transforms and part.generates:
        return "both transforms and generates"
    if part.transforms or part.generates:
        return "transforms" if part.transforms else "generates"
    return "neither transforms nor generates"


class ComposedAugmentation(Augmentation):
    """A strategy that transforms joined with one that generates, named ``<transform>+<generator>``:
    :meth:`synthesize` and :attr:`composition` are the generator's, :meth:`transform` is the transform's
    (applied to every training batch, synthetic images included), :meth:`metrics` are both parts'.

    Raises a ConfigError unless ``transform_part`` only transforms and ``generator`` only generates."""

    def __init__(self, transform_part: Augmentation, generator: Augmentation):
        name = f"{transform_part.name}+{generator.name}"
        roles = (_role(transform_part), _role(generator))
        if roles == ("generates", "transforms"):
            raise ConfigError(f"augmentation {name!r}: the part that transforms comes first; "
                              f"write it as {generator.name}+{transform_part.name}")
        if roles != ("transforms", "generates"):
            same = roles[0] == roles[1] and roles[0] in ("transforms", "generates")
            said = (f"both parts {roles[0].removesuffix('s')}" if same
                    else f"{transform_part.name!r} {roles[0]} and {generator.name!r} {roles[1]}")
            raise ConfigError(f"augmentation {name!r}: {said}; compose one strategy that transforms with one "
                              "that generates, as <transform>+<generator> (see `benchmark list`)")
        self.name = name
        self.transform_part = transform_part
        self.generator = generator
        self.composition = generator.composition

    @property
    def synthesizer(self) -> Augmentation:
        return self.generator

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet | None:
        return self.generator.synthesize(train, seed, unlabelled, device)

    def transform(self, batch: Batch, generator: torch.Generator) -> Batch:
        return self.transform_part.transform(batch, generator)

    def check(self, shape: TaskShape) -> None:
        self.transform_part.check(shape)
        self.generator.check(shape)

    def metrics(self) -> dict[str, float]:
        return {**self.generator.metrics(), **self.transform_part.metrics()}


def create_augmentation(name: str, sections: Mapping[str, Mapping[str, Any]] | None = None) -> Augmentation:
    """The strategy called ``name``, a registered name or a composed ``<transform>+<generator>``, each
    part built from its own block ``sections[part]`` of a resolved config's ``augmentations`` section
    (:func:`benchmark.config.resolve_config` keeps one per part); ``sections=None`` builds every part at
    its default settings. Unknown parts (with the closest registered name) and parts that cannot be
    composed are one-line ConfigErrors; this is the only place that builds a strategy from a name."""
    parts = augmentation_parts(name)
    for part in parts:
        AUGMENTATIONS.entry(part)
    built = [AUGMENTATIONS.create(part, **(sections[part] if sections is not None else {})) for part in parts]
    return built[0] if len(built) == 1 else ComposedAugmentation(*built)


def strategy_roles() -> dict[str, list[str]]:
    """The registered strategies that may be composed, by what their objects (at default settings) do:
    ``{"transforms": [...], "generates": [...]}``, names sorted; ``none`` is in neither."""
    built = [create_augmentation(name) for name in AUGMENTATIONS.names()]
    return {role: [a.name for a in built if _role(a) == role] for role in ("transforms", "generates")}
