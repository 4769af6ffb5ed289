"""Generated bad inputs: every run-level, data, train and heatmap key of a resolved config, set (as a user
would, through ``--set key=value``) to each value its type rules out. Every case must end with one error
line and exit 2, no traceback, and no run in the store."""

from __future__ import annotations

import pytest

from benchmark.config import flatten, resolve_config
from tests.cli_helpers import run_cli, runs_in

NOT_NUMBERS = [".nan", ".inf", "-.inf", "text", "''", "[1, 2]", "{a: 1}", "true", "null"]
BAD = {
    int: ["-7", "1.5", "1e400", *NOT_NUMBERS],
    float: ["-1.0", *NOT_NUMBERS],
    str: ["zzz", "3", "[1]", "null", "true", "''"],
    list: ["[8]", "[-48, 48]", "[48.5, 48]", "text", "null", "[]"],
}
SPECIAL = {
    "train_size": ["0", "-3", "1.5", "text", ".nan", "true", "[1]"],
    "detectors.heatmap.encoder": ["resnet181", "3", "null", "[1]", "''"],
    "data.data_root": ["/nonexistent/data", "3"],
}


def cases() -> list[tuple[str, str]]:
    config = resolve_config("smoke", "hand", "none", "heatmap")
    out = []
    for key, value in flatten(config).items():
        if key.split(".")[0] in ("profile", "task", "aug", "detector", "tracking", "augmentations"):
            continue
        values = SPECIAL.get(key) or BAD.get(type(value), [])
        out += [(key, bad) for bad in values]
    return out


CASES = cases()


def test_the_generated_suite_has_at_least_200_cases():
    assert len(CASES) >= 200, len(CASES)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.mark.parametrize("key, value", CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_a_generated_bad_option_is_one_line_and_starts_no_run(capsys, store, key, value):
    code, out, err = run_cli(capsys, "run", "--task", "hand", "--profile", "smoke", "--no-progress",
                             "--tracking-uri", store, "--set", f"{key}={value}")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (key, value, err[-500:])
    assert "Traceback" not in err and not out
    assert not runs_in(store)
