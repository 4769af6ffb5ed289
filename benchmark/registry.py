"""One small registry for the three kinds of plug-in: tasks, augmentations and detectors.

Names are the public API (``--task hand --aug ddpm --detector heatmap``), as in timm's model registry
and lm-evaluation-harness; an augmentation name may join two registered ones, ``classic+ddpm``
(:func:`augmentation_parts`, :func:`benchmark.augmentation.create_augmentation`). A plug-in registers
itself in the module that defines it: ``register(name, description, settings=Settings)(Constructor)``
makes ``create(name, **params)`` build the settings dataclass from the parameter block (an unknown key is
a one-line error listing the valid ones) and pass it to the constructor. Each registry imports its own
plug-in package once, on first use, so that every name of that kind is known (looking up a task does not
import the detectors' deep-learning libraries).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from benchmark.errors import ConfigError

T = TypeVar("T")

SearchSpace = Callable[..., dict]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered name. ``settings``: the dataclass that ``factory`` takes as its one argument (None: the
    factory takes the parameters themselves). ``search_space(trial) -> settings`` (optional, declared beside
    the method) suggests the method's own settings for an Optuna sweep, naming each trial parameter
    ``<name>.<setting>``."""

    name: str
    description: str
    factory: Callable[..., T]
    search_space: SearchSpace | None = None
    settings: type | None = None


class Registry(Generic[T]):
    """Named factories of one kind, with "did you mean" errors for unknown names."""

    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, description: str, settings: type | None = None,
                 search_space: SearchSpace | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Register the decorated factory (a plug-in's class, usually) as ``name``; with ``settings`` it
        takes one instance of that dataclass, which :meth:`create` builds from the parameter block."""
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, description, factory, search_space, settings)
            return factory

        return decorator

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry[T]:
        self.load_plugins()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}.{hint} Valid: {', '.join(self.names())}")
        return self._entries[name]

    def create(self, name: str, **params) -> T:
        """The plug-in ``name`` made from its parameter block: the factory gets
        ``build(entry.settings, params)`` (unknown keys: a ConfigError naming ``<name> <kind>`` and the valid
        keys), or ``params`` themselves where no settings class is registered."""
        entry = self.entry(name)
        if entry.settings is None:
            return entry.factory(**params)
        from benchmark.config import build  # benchmark.config imports this module

        return entry.factory(build(entry.settings, params, f"{name} {self.kind}"))

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name].description for name in self.names()}

    def load_plugins(self) -> None:
        """Import every top-level module of :attr:`package`; each registers its names on import.

        Adding a plug-in is therefore one file with one decorated factory; sub-packages (phantom
        generators, file-format readers) hold helpers and are not scanned.
        """
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.ispkg and not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")


TASKS: Registry = Registry("task", "tasks")
AUGMENTATIONS: Registry = Registry("augmentation", "baselines.augmentations")
DETECTORS: Registry = Registry("detector", "baselines.detectors")


def augmentation_parts(name: str) -> tuple[str, ...]:
    """The registered augmentation names that ``name`` is made of: ``("ddpm",)`` for ``ddpm``,
    ``("classic", "ddpm")`` for the composed ``classic+ddpm``. Only the form is checked here (one name,
    or two joined by ``+``); :func:`benchmark.augmentation.create_augmentation` checks the parts."""
    parts = tuple(name.split("+"))
    if len(parts) > 2:
        raise ConfigError(f"augmentation {name!r}: compose exactly two strategies, as "
                          "<transform>+<generator> (see `benchmark list`)")
    return parts
