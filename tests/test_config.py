import dataclasses

import pytest

import benchmark.config as config_module
from benchmark.config import flatten, load_profile, profile_names, resolve_config, variant_digest
from benchmark.data.settings import DataSettings
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS, DETECTORS
from benchmark.training.settings import TrainSettings


def test_profile_is_resolved_for_the_chosen_task_and_methods():
    config = resolve_config("default", "ceph", "classic", "heatmap")
    assert config["data"]["image_size"] == [160, 128]
    assert set(config["detectors"]) == {"heatmap"}
    assert set(config["augmentations"]) == {"classic"}
    assert config["profile"] == "default" and config["task"] == "ceph"


def test_overrides_reach_nested_keys_and_method_blocks():
    config = resolve_config("smoke", "hand", "none", "heatmap",
                            {"train.lr": 0.01, "detectors.heatmap.sigma": 4.0, "data.image_size": [64, 64]})
    assert config["train"]["lr"] == 0.01
    assert config["detectors"]["heatmap"]["sigma"] == 4.0
    assert config["data"]["image_size"] == [64, 64]
    assert flatten(config)["detectors.heatmap.sigma"] == 4.0


def test_a_block_valued_override_is_copied_so_the_resolved_config_never_writes_into_it():
    block = {"top_k": 5}
    config = resolve_config("smoke", "canal", "latent-blend", "segformer",
                            {"augmentations.latent-blend": block})
    config["augmentations"]["latent-blend"]["composition"] = "synthetic"
    assert block == {"top_k": 5}


@pytest.mark.parametrize("key", ["train.lrr", "nope.lr", "data.image_size.x"])
def test_unknown_override_keys_are_errors(key):
    with pytest.raises(ConfigError):
        resolve_config("smoke", "hand", "none", "heatmap", {key: 1})


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="smoke"):
        resolve_config("fast", "hand", "none", "heatmap")


def test_bad_image_size_is_refused():
    with pytest.raises(ConfigError, match="image_size"):
        resolve_config("smoke", "hand", "none", "heatmap", {"data.image_size": [8, 8]})


@pytest.mark.parametrize("profile", profile_names())
def test_every_method_block_of_every_profile_builds(profile):
    """A typo in a profile's method settings fails here, not hours into a paper-profile run."""
    blocks = load_profile(profile)
    for kind, registry in (("augmentations", AUGMENTATIONS), ("detectors", DETECTORS)):
        assert set(blocks[kind]) == set(registry.names()), (profile, kind)
        for name, params in blocks[kind].items():
            registry.create(name, **(params or {}))


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def test_every_key_of_the_default_profile_is_its_settings_dataclass_default():
    """One source of defaults: every key the default profile sets is its settings dataclass's default, so
    code that builds settings without a profile gets the default profile's method."""
    profiles = [load_profile(name) for name in profile_names()]
    blocks = [("train", TrainSettings, [p["train"] for p in profiles]),
              ("data", DataSettings, [p["data"] for p in profiles])]
    blocks += [(f"{kind}.{name}", registry.entry(name).settings, [p[kind][name] or {} for p in profiles])
               for kind, registry in (("detectors", DETECTORS), ("augmentations", AUGMENTATIONS))
               for name in registry.names()]
    default = profile_names().index("default")
    for section, settings, values in blocks:
        for field in dataclasses.fields(settings):
            if field.name not in values[default]:
                continue
            value = field.default if field.default_factory is dataclasses.MISSING else field.default_factory()
            if field.name != "image_size":  # per task in a profile, the working size itself in DataSettings
                assert _plain(value) == _plain(values[default][field.name]), f"{section}.{field.name}"


def test_the_variant_digest_ignores_repetitions_and_changes_with_the_numerics_version(monkeypatch):
    config = resolve_config("smoke", "hand", "ddpm", "heatmap")
    digest = variant_digest(config)
    repeated = resolve_config("smoke", "hand", "ddpm", "heatmap", {"seed": 3, "train.num_threads": 1})
    assert variant_digest(repeated) == digest
    assert variant_digest(resolve_config("smoke", "hand", "ddpm", "heatmap",
                                         {"augmentations.ddpm.train_steps": 5})) != digest
    monkeypatch.setattr(config_module, "NUMERICS_VERSION", config_module.NUMERICS_VERSION + 1)
    assert variant_digest(config) != digest


def test_an_override_at_the_plugins_own_default_is_the_default_run():
    """An ablation level or --set that restates a setting's default must find the default runs as done."""
    def ddpm(overrides=None):
        return resolve_config("default", "hand", "ddpm", "heatmap", overrides)

    base = ddpm()
    assert "quality_filter" not in base["augmentations"]["ddpm"]  # the profile leaves it to the class
    restated = ddpm({"augmentations.ddpm.quality_filter": True})
    assert restated == base and variant_digest(restated) == variant_digest(base)
    changed = ddpm({"augmentations.ddpm.quality_filter": False})
    assert changed["augmentations"]["ddpm"]["quality_filter"] is False
    assert variant_digest(changed) != variant_digest(base)
    # 1 is not True: only a value of the default's own type restates it
    assert ddpm({"augmentations.ddpm.quality_filter": 1})["augmentations"]["ddpm"]["quality_filter"] == 1
