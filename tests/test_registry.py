import dataclasses
import subprocess
import sys

import pytest

from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS, DETECTORS, TASKS, Registry


def test_every_kind_lists_the_builtin_names():
    assert {"hand", "ceph", "canal", "landmarks", "segmentation"} <= set(TASKS.names())
    assert {"none", "classic"} <= set(AUGMENTATIONS.names())
    assert {"heatmap", "mean-shape"} <= set(DETECTORS.names())
    assert all(TASKS.describe().values())


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(ConfigError) as error:
        TASKS.entry("hnad")
    message = str(error.value)
    assert "Did you mean 'hand'?" in message
    assert "ceph" in message and "canal" in message


def test_registering_a_name_twice_is_refused():
    registry = Registry("thing", "tasks")
    registry.register("a", "first")(lambda: 1)
    with pytest.raises(ValueError):
        registry.register("a", "second")(lambda: 2)


def test_create_passes_parameters_to_the_factory():
    detector = DETECTORS.create("heatmap", sigma=3.5, encoder="resnet10t")
    assert detector.settings.sigma == 3.5 and detector.settings.encoder == "resnet10t"
    with pytest.raises(ConfigError, match="unknown heatmap detector setting"):
        DETECTORS.create("heatmap", sigmaa=3)


def test_a_registered_settings_class_is_built_from_the_parameter_block():
    @dataclasses.dataclass(frozen=True)
    class ToySettings:
        width: int = 4

    registry = Registry("thing", "tasks")
    registry.register("toy", "a toy", settings=ToySettings)(lambda settings: ("built", settings))
    assert registry.create("toy", width=8) == ("built", ToySettings(width=8))
    assert registry.create("toy") == ("built", ToySettings())
    with pytest.raises(ConfigError) as error:
        registry.create("toy", widht=8)
    assert str(error.value) == "unknown toy thing setting(s) widht. Valid: width"


def test_every_detector_and_augmentation_registers_its_settings_class():
    for registry in (DETECTORS, AUGMENTATIONS):
        for name in registry.names():
            assert dataclasses.is_dataclass(registry.entry(name).settings), (registry.kind, name)
            with pytest.raises(ConfigError, match=f"unknown {name} {registry.kind} setting"):
                registry.create(name, not_a_setting=1)


def test_looking_up_a_task_imports_no_deep_learning_library():
    code = ("import sys; from benchmark.registry import TASKS; TASKS.entry('hand'); "
            "print(sorted(m for m in ('torch', 'diffusers', 'timm', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
