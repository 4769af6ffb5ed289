"""Settings values are checked against their dataclass's type hints before any plug-in is built: every
field of every registered augmentation and detector, set to a value of the wrong kind or a negative
number (no method setting takes one), is one ConfigError naming the field (and, through the CLI, one
line with exit 2 and no run)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from benchmark.augmentation import create_augmentation
from benchmark.config import parse_value
from benchmark.errors import ConfigError
from benchmark.field_types import UNCHECKED, describe, fits
from benchmark.registry import AUGMENTATIONS, DETECTORS
from tests.cli_helpers import run_cli, runs_in


@pytest.mark.parametrize("value, hint, expected", [
    (3, int, True), (True, int, False), (3.0, int, False), ("3", int, False),
    (3, float, True), (2.5, float, True), (float("nan"), float, False), (float("inf"), float, False),
    (False, float, False), ("1e-3", float, False),
    (True, bool, True), (1, bool, False), ("x", str, True), (3, str, False),
    ("a", Literal["a", "b"], True), ("c", Literal["a", "b"], False), (1, Literal[True], False),
    (None, int | None, True), (4, int | None, True), ("x", int | None, False),
    ([1, 2], tuple[int, ...], True), ((1, 2), list[int], True), ([1, 2.5], tuple[int, ...], False),
    ("12", tuple[int, ...], False), ([1, 2], tuple[int, int], True), ([1, 2, 3], tuple[int, int], False),
    (None, tuple[int, int] | None, True), ({"a": 1}, dict, True),
])
def test_fits_follows_the_rules_of_the_module_docstring(value, hint, expected):
    assert fits(value, hint) is expected


def test_describe_names_the_expected_kind_and_skips_hints_it_does_not_check():
    assert describe(int | None) == "an integer or null"
    assert describe(tuple[int, ...]) == "a list, each an integer"
    assert describe(Literal["l1", "mse"]) == "one of l1, mse"
    assert describe(dict) is UNCHECKED and describe(dict | None) is UNCHECKED


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("-2E+5", -200000.0), (".5e1", 5.0), ("3", 3),
                                         ("nan", "nan"), ("1e", "1e"), ("[1, 2]", [1, 2])])
def test_an_exponent_without_a_dot_is_a_float_as_the_cli_help_promises(text, value):
    assert parse_value(text) == value


BAD = {int: ["-7", "1.5", "true", "text"], float: ["-1.0", ".inf", "true", "text"], bool: ["3", "text"],
       str: ["3", "[1]"], tuple: ["text", "[1.5]"], list: ["text", "[1.5]"]}


def plugin_cases() -> list[tuple[str, str, str, str]]:
    """(kind, plug-in, field, bad value) for every field of every registered plug-in's settings whose
    default has a checked kind."""
    cases = []
    for kind, registry in (("augmentation", AUGMENTATIONS), ("detector", DETECTORS)):
        for name in registry.names():
            built = create_augmentation(name) if kind == "augmentation" else registry.create(name)
            settings = getattr(built, "settings", None) or getattr(built, "params", None)
            if not dataclasses.is_dataclass(settings):
                continue
            for field in dataclasses.fields(settings):
                default = getattr(settings, field.name)
                kind_of = bool if isinstance(default, bool) else type(default)
                cases += [(kind, name, field.name, bad) for bad in BAD.get(kind_of, [])]
    return cases


CASES = plugin_cases()


def test_every_registered_method_is_covered():
    covered = {name for _, name, _, _ in CASES}
    assert covered >= {"classic", "ddpm", "shape-ddpm", "vae", "gan", "latent-blend",
                       "heatmap", "saltpepper", "segformer"}, covered
    assert len(CASES) > 400


@pytest.mark.parametrize("kind, name, key, value", CASES, ids=[f"{n}.{k}={v}" for _, n, k, v in CASES])
def test_a_bad_method_setting_is_one_error_naming_it(kind, name, key, value):
    with pytest.raises(ConfigError) as raised:
        if kind == "augmentation":
            create_augmentation(name, {name: {key: parse_value(value)}})
        else:
            DETECTORS.create(name, **{key: parse_value(value)})
    message = str(raised.value)
    assert key in message and "\n" not in message


@pytest.mark.parametrize("args", [
    ["--aug", "ddpm", "--set", "augmentations.ddpm.train_steps=1.5"],
    ["--aug", "latent-blend", "--set", "augmentations.latent-blend.amp=zzz"],
    ["--detector", "saltpepper", "--set", "detectors.saltpepper.steps=text"],
])
def test_through_the_cli_it_is_one_line_exit_2_and_no_run(capsys, tmp_path, args):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, out, err = run_cli(capsys, "run", "--task", "hand", "--profile", "smoke", "--no-progress",
                             "--tracking-uri", store, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err[-400:]
    assert not runs_in(store)
