"""Profiles and overrides -> one resolved, loggable run configuration.

A profile (``profiles/{smoke,default,gpu,paper}.yaml``) sets every knob; named CLI flags and generic
``--set section.key=value`` overrides change any of them. Per-task values (``data.image_size``) are
picked for the chosen task, and only the chosen detector's and augmentation's parameter blocks are
kept (one block per part of a composed augmentation: ``classic+ddpm`` keeps ``augmentations.classic``
and ``augmentations.ddpm``), so the resolved config is exactly what the run used; it is logged as MLflow
params and as ``config.yaml``. An override that adds a plug-in setting the profile leaves out, at the value
the plug-in's settings class defaults it to, changes nothing the run does and is left out, so the config
(and its variant digest) stays the default's: ``--set augmentations.ddpm.quality_filter=true`` is the
default DDPM run.
"""

from __future__ import annotations

import copy
import re
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.checks import is_integer, is_number
from benchmark.errors import ConfigError, first_line
from benchmark.field_types import check_field_types
from benchmark.registry import AUGMENTATIONS, DETECTORS, augmentation_parts

PROFILE_DIR = Path(__file__).parent / "profiles"
# Method parameter blocks accept new keys here; the method's settings dataclass validates them.
OPEN_SECTIONS = {"detectors", "augmentations"}


PROFILE_SECTIONS = ("data", "train", "detectors", "augmentations")
EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name: str) -> dict[str, Any]:
    """A profile by name from ``profiles/``, or by the path of a ``.yaml``/``.yml`` file of the same
    form; anything else (a path elsewhere that is not YAML, a file that does not parse or lacks a
    section) is a ConfigError naming it."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: no such profile file")
    elif name in profile_names():
        path = PROFILE_DIR / f"{name}.yaml"
    else:
        raise ConfigError(f"unknown profile {name!r}. Valid: {', '.join(profile_names())}, or the path of a "
                          ".yaml file")
    try:
        profile = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the profile: {first_line(error)}") from None
    sections = profile if isinstance(profile, dict) else {}
    missing = [s for s in PROFILE_SECTIONS if not isinstance(sections.get(s), dict)]
    if missing:
        raise ConfigError(f"{path}: not a profile: it lacks the section(s) {', '.join(missing)}")
    return profile


def check_run_options(config: dict[str, Any]) -> None:
    """The run-level keys, before anything is loaded: ``seed`` an integer in [0, 2^32) (NumPy's legacy
    seeding, which the suite also sets, takes no more), ``fold`` an integer >= 1, ``train_size`` null or
    an integer >= 1, ``val_fraction`` a number in (0, 1)."""
    if not is_integer(config.get("seed")) or not 0 <= config["seed"] < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2^32), got {config.get('seed')!r}")
    if not is_integer(config.get("fold")) or config["fold"] < 1:
        raise ConfigError(f"fold must be an integer >= 1, got {config.get('fold')!r}")
    size = config.get("train_size")
    if size is not None and (not is_integer(size) or size < 1):
        raise ConfigError(f"train_size must be null or an integer >= 1, got {size!r}")
    fraction = config.get("val_fraction")
    if not is_number(fraction) or not 0 < fraction < 1:
        raise ConfigError(f"val_fraction must be a number in (0, 1), got {fraction!r}")


def parse_value(text: str) -> Any:
    """Parse an override value as YAML, so ``3``, ``1e-3``, ``null``, ``[64, 64]`` and ``true`` work.
    YAML 1.1 (PyYAML) reads ``1e-3`` (no dot) as a string; a plain decimal number in exponent form is
    taken as the float it spells."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"cannot parse override value {text!r}: {first_line(error)}") from None
    if isinstance(value, str) and EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def set_dotted(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``config[a][b][c] = value`` for ``dotted='a.b.c'``; only existing keys may be overridden."""
    *parents, leaf = dotted.split(".")
    node = config
    for i, key in enumerate(parents):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"unknown config key {'.'.join(parents[: i + 1])!r} in override {dotted!r}")
        node = node[key]
    if not isinstance(node, dict):
        raise ConfigError(f"{'.'.join(parents)!r} is not a section; cannot set {dotted!r}")
    if leaf not in node and (not parents or parents[0] not in OPEN_SECTIONS):
        known = ", ".join(sorted(node))
        raise ConfigError(f"unknown config key {dotted!r}. Keys here: {known}")
    node[leaf] = value


def resolve_config(
    profile: str, task: str, aug: str, detector: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The run's whole configuration as a nested dict (see the module docstring)."""
    base = load_profile(profile)
    config: dict[str, Any] = copy.deepcopy(base)
    config.update(profile=profile, task=task, aug=aug, detector=detector)
    sizes = config["data"]["image_size"]
    config["data"]["image_size"] = sizes.get(task, sizes.get("landmarks"))
    config["detectors"] = {detector: dict(base.get("detectors", {}).get(detector) or {})}
    config["augmentations"] = {part: dict(base.get("augmentations", {}).get(part) or {})
                               for part in augmentation_parts(aug)}
    config.setdefault("data", {}).setdefault("data_root", None)
    config.setdefault("tracking", {"uri": None, "experiment": None})
    for dotted, value in (overrides or {}).items():
        if not restates_default(config, dotted, value):
            set_dotted(config, dotted, copy.deepcopy(value))  # the caller's dict or list stays its own
    size = config["data"]["image_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v >= 16 for v in size)):
        raise ConfigError(f"data.image_size must be [H, W] with H, W >= 16, got {size!r}")
    check_run_options(config)
    return config


def plugin_default(section: str, name: str, setting: str) -> Any:
    """The default of field ``setting`` of plug-in ``name``'s settings class (``section``: ``detectors`` or
    ``augmentations``), or :data:`dataclasses.MISSING` where there is no such class or field."""
    registry = {"detectors": DETECTORS, "augmentations": AUGMENTATIONS}[section]
    if name not in registry.names() or not is_dataclass(settings := registry.entry(name).settings):
        return MISSING
    field = next((f for f in fields(settings) if f.name == setting), None)
    if field is None:
        return MISSING
    return field.default if field.default_factory is MISSING else field.default_factory()


def restates_default(config: dict[str, Any], dotted: str, value: Any) -> bool:
    """Whether override ``dotted = value`` adds a setting ``<section>.<plug-in>.<setting>`` that ``config``
    leaves out, at the plug-in's own default (module docstring)."""
    section, *path = dotted.split(".")
    if section not in OPEN_SECTIONS or len(path) != 2:
        return False
    name, setting = path
    block = config.get(section, {}).get(name)
    if not isinstance(block, dict) or setting in block:
        return False
    default = plugin_default(section, name, setting)
    if isinstance(default, tuple) and isinstance(value, list):
        default = list(default)
    return default is not MISSING and type(value) is type(default) and value == default


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'train': {'lr': 1e-3}} -> {'train.lr': 1e-3}`` for MLflow params."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# What a run varies over without changing the method or the protocol: repetitions (seed, fold), the
# training-set size (a leaderboard axis of its own), where it is logged, and how it executed (threads,
# memory layout, compilation).
REPETITION_KEYS = ("seed", "fold", "train_size", "tracking", "train.num_threads", "train.channels_last",
                   "train.compile")


# Raised whenever a code change alters the numbers a run gives at unchanged settings (a run at the same
# seed, settings and thread count is otherwise bit-identical). It enters every variant digest, so runs of
# an earlier version neither count as done for `benchmark ablate` nor aggregate with newer runs. Version 2:
# the canal detector's Dice moved by up to 0.01 between runs of 2026-12-03 and 2026-12-06 at equal settings,
# and the hand baselines of 2026-12-01 were trained and tested on phantoms of another data digest.
NUMERICS_VERSION = 2


def variant_digest(config: dict[str, Any]) -> str:
    """A short digest of everything in a resolved config that defines the method variant and the protocol:
    the flattened config without :data:`REPETITION_KEYS`, and :data:`NUMERICS_VERSION`. Runs with equal
    digests differ only by seed, fold and training-set size, so a leaderboard may aggregate them; a
    profile's default settings for an (aug, detector) pair have one digest, which tells its runs from
    ablations and sweep trials."""
    from benchmark.data.cache import cache_key

    flat = flatten(config)
    kept = {k: v for k, v in flat.items()
            if not any(k == r or k.startswith(f"{r}.") for r in REPETITION_KEYS)}
    return cache_key({**kept, "numerics_version": NUMERICS_VERSION})[:12]


def build(cls, params: dict[str, Any], what: str):
    """Instantiate a settings dataclass: unknown keys are a ConfigError that lists the valid ones, and values
    of the wrong kind one naming the key (:mod:`benchmark.field_types`)."""
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ConfigError(f"unknown {what} setting(s) {', '.join(unknown)}. "
                          f"Valid: {', '.join(sorted(valid))}")
    check_field_types(cls, params, what)
    return cls(**params)
