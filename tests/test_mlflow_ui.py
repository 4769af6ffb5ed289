"""The MLflow UI over a store this suite filled, in a real headless Chromium: the task's experiment lists the
runs by their ``task/aug/detector/seed`` names, and the compare view shows them side by side with their
metrics. Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from benchmark.config import resolve_config
from benchmark.runner import run_experiment
from tests.postgres_server import free_port

SCREENSHOTS = os.environ.get("BENCHMARK_SCREENSHOTS")  # a folder to keep the pages as PNGs (for the README)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--window-size=1800,1100"]


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory):
    """Two smoke runs of the hand task, logged as `benchmark run` logs them."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'mlflow.db'}"
    ids = [run_experiment(resolve_config("smoke", "hand", aug, "heatmap", {"tracking.uri": uri}),
                          progress=False).run_id
           for aug in ("none", "classic")]
    return uri, ids


@pytest.fixture(scope="module")
def mlflow_ui(filled_store):
    uri, _ = filled_store
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "the MLflow UI did not start"
        time.sleep(0.5)
    yield base
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def page_shows(driver, texts: list[str], timeout: float = 120) -> str:
    """Wait until the rendered page's text holds every one of ``texts``; return that text."""
    WebDriverWait(driver, timeout).until(
        lambda d: all(t in d.find_element("tag name", "body").text for t in texts))
    return driver.find_element("tag name", "body").text


def keep(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def test_the_task_experiment_lists_the_runs_by_name(filled_store, mlflow_ui, browser):
    uri, _ = filled_store
    experiment = MlflowClient(uri).get_experiment_by_name("hand")
    browser.get(f"{mlflow_ui}/#/experiments/{experiment.experiment_id}/runs")
    text = page_shows(browser, ["Training runs", "hand/none/heatmap/seed0", "hand/classic/heatmap/seed0"])
    keep(browser, "mlflow_experiment.png")
    assert "2 matching runs" in text


def test_the_compare_view_shows_both_runs_with_their_metrics(filled_store, mlflow_ui, browser):
    uri, ids = filled_store
    experiment = MlflowClient(uri).get_experiment_by_name("hand")
    runs = ",".join(f'"{i}"' for i in ids)
    browser.get(f'{mlflow_ui}/#/compare-runs?runs=[{runs}]&experiments=["{experiment.experiment_id}"]')
    text = page_shows(browser, ["Run details", "hand/none/heatmap/seed0", "hand/classic/heatmap/seed0",
                                "Metrics", "best_epoch", "inference_images_per_s", "train.lr"])
    keep(browser, "mlflow_compare.png")
    assert "train_loss" in text and "variant" in text  # the per-epoch curve and the run's method digest
