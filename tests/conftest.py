"""Shared fixtures: an isolated cache and MLflow store per test session, one torch thread."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCHMARK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    torch.set_num_threads(1)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite MLflow store for the session (creating a store costs seconds of migrations)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"
