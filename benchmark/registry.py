"""One small registry for the three kinds of plug-in: tasks, augmentations and detectors.

Names are the public API (``--task hand --aug ddpm --detector heatmap``), as in timm's model registry
and lm-evaluation-harness. A plug-in registers itself with a decorator in the module that defines it;
:func:`load_plugins` imports the plug-in packages once so that every name is known.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from benchmark.errors import ConfigError

T = TypeVar("T")

PLUGIN_PACKAGES = ("tasks", "baselines.augmentations", "baselines.detectors")


SearchSpace = Callable[..., dict]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered name. ``search_space(trial) -> settings`` (optional, declared beside the method) suggests
    the method's own settings for an Optuna sweep, naming each trial parameter ``<name>.<setting>``."""

    name: str
    description: str
    factory: Callable[..., T]
    search_space: SearchSpace | None = None


class Registry(Generic[T]):
    """Named factories of one kind, with "did you mean" errors for unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str,
                 search_space: SearchSpace | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, description, factory, search_space)
            return factory

        return decorator

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry[T]:
        load_plugins()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}.{hint} Valid: {', '.join(self.names())}")
        return self._entries[name]

    def create(self, name: str, *args, **kwargs) -> T:
        return self.entry(name).factory(*args, **kwargs)

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name].description for name in self.names()}


TASKS: Registry = Registry("task")
AUGMENTATIONS: Registry = Registry("augmentation")
DETECTORS: Registry = Registry("detector")

_loaded = False


def load_plugins() -> None:
    """Import every top-level module of the plug-in packages; each registers its names on import.

    Adding a plug-in is therefore one file with one decorated factory; sub-packages (phantom
    generators, file-format readers) hold helpers and are not scanned.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.ispkg and not module.name.startswith("_"):
                importlib.import_module(f"{package_name}.{module.name}")
