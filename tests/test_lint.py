"""The tree is ruff-clean (the rules and line length of ``[tool.ruff]`` in pyproject.toml).

CI runs the linter through pytest because ``.ci/run`` runs exactly the README's test command
(``uv run --locked pytest``) and nothing else; ruff comes with the dev dependency group."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}{result.stderr}"
