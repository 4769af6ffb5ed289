"""The ``saltpepper`` detector: few-hot targets, the growing blur, top-k readout, the sampler (against an
oracle network), learning, per-landmark uncertainty, repeatability, settings, and CLI runs that report
single-step and multi-step side by side."""

import math
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from baselines.augmentations.classic import ClassicAugmentation
from baselines.detectors.losses import from_output_grid, spatial_cross_entropy, to_output_grid
from baselines.detectors.saltpepper import (
    SaltPepperDetector,
    blur_std,
    few_hot_heatmaps,
    few_hot_weights,
    gaussian_blur,
    reverse_timesteps,
    search_space,
    topk_coordinates,
)
from benchmark.detector import FitContext
from benchmark.errors import ConfigError
from benchmark.evaluation import uncertainty_summary
from benchmark.registry import DETECTORS
from benchmark.training.device import seed_everything
from benchmark.training.settings import TrainSettings
from tests.blob_sets import blobs
from tests.cli_helpers import run_cli, run_json

TINY = {"block_out_channels": [8, 16], "attention_levels": 0, "steps": 3, "n_samples": 3}
SIZE = (32, 36)  # divisible by output_stride 2 x one U-Net halving


# --- pieces ---------------------------------------------------------------------------------------------

def test_bilinear_few_hot_mass_sums_to_one_and_centres_on_the_landmark():
    landmarks = torch.tensor([[[3.25, 4.5], [0.0, 7.0], [6.7, 2.1]]])
    weights = few_hot_weights(landmarks, (9, 8))
    assert weights.shape == (1, 3, 9, 8)
    assert torch.allclose(weights.sum((-2, -1)), torch.ones(1, 3))
    assert int((weights[0, 0] > 0).sum()) == 4 and int((weights[0, 1] > 0).sum()) == 1
    rows, columns = torch.meshgrid(torch.arange(9.0), torch.arange(8.0), indexing="ij")
    centre = torch.stack([(weights * columns).sum((-2, -1)), (weights * rows).sum((-2, -1))], -1)
    assert torch.allclose(centre, landmarks, atol=1e-6)
    x0 = few_hot_heatmaps(landmarks, (9, 8))
    assert torch.allclose(x0.flatten(2).amax(-1), torch.ones(1, 3)) and x0.min() >= 0


def test_nearest_few_hot_is_one_hot_at_the_rounded_pixel():
    weights = few_hot_weights(torch.tensor([[[3.4, 4.6]]]), (9, 8), mode="nearest")
    assert weights.sum() == 1 and weights[0, 0, 5, 3] == 1


def test_blur_std_grows_over_the_reverse_process():
    t = torch.tensor([99, 50, 0])
    std = blur_std(t, 100, 0.5, 10.0)
    assert std[0] == pytest.approx(0.5) and std[2] == pytest.approx(10.0) and std[0] < std[1] < std[2]


def test_gaussian_blur_keeps_mass_spreads_with_std_and_is_identity_at_zero():
    x = torch.zeros(2, 1, 15, 15)
    x[:, 0, 7, 7] = 1
    assert torch.equal(gaussian_blur(x, 0.0, 5), x)
    blurred = gaussian_blur(x, torch.tensor([1.0, 3.0]), 5)
    assert torch.allclose(blurred.sum((-2, -1)), torch.ones(2, 1), atol=1e-6)
    assert blurred[1, 0, 7, 7] < blurred[0, 0, 7, 7] < 1
    assert torch.allclose(blurred[0, 0], blurred[0, 0].T, atol=1e-7)  # isotropic


def test_topk_coordinates_weight_the_hottest_pixels():
    heatmaps = torch.zeros(1, 2, 6, 7)
    heatmaps[0, 0, 2, 3] = 3.0
    heatmaps[0, 0, 2, 5] = 1.0
    heatmaps[0, 0, 4, 1] = -9.0
    heatmaps[0, 1] = -1.0
    heatmaps[0, 1, 5, 6] = -0.5
    assert topk_coordinates(heatmaps, 1)[0, 0].tolist() == [3.0, 2.0]
    assert topk_coordinates(heatmaps, 2)[0, 0].tolist() == pytest.approx([3.5, 2.0])
    assert topk_coordinates(heatmaps, 10)[0, 1].tolist() == [6.0, 5.0]  # all <= 0: the hottest alone


def test_reverse_timesteps_run_from_T_minus_1_to_0():
    assert reverse_timesteps(100, 1) == [99]
    steps = reverse_timesteps(100, 10)
    assert steps[0] == 99 and steps[-1] == 0 and len(steps) == 10 and steps == sorted(steps, reverse=True)
    assert reverse_timesteps(5, 5) == [4, 3, 2, 1, 0]


def test_spatial_cross_entropy_is_smallest_at_the_target_distribution():
    q = few_hot_weights(torch.tensor([[[2.5, 3.0]]]), (6, 6)) * 0.9 + 0.1 / 36
    best = spatial_cross_entropy(q.log(), q)
    assert torch.isclose(best, -(q * q.log()).sum(), atol=1e-5)
    assert spatial_cross_entropy(q.log() + torch.randn_like(q), q) > best


def test_uncertainty_summary_ranks_errors():
    errors = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert uncertainty_summary(errors / 2, errors) == {"uncertainty_mm_mean": 1.25,
                                                      "uncertainty_error_spearman": 1.0}
    assert uncertainty_summary(-errors, errors)["uncertainty_error_spearman"] == pytest.approx(-1.0)
    assert math.isnan(uncertainty_summary(np.zeros((2, 2)), errors)["uncertainty_error_spearman"])


# --- the sampler, against an oracle network ---------------------------------------------------------------

class Oracle(nn.Module):
    """Predicts the clean few-hot sample of given landmarks, whatever ``x_t``: ``prediction: sample``."""

    def __init__(self, landmarks: torch.Tensor, grid: tuple[int, int], stride: int):
        super().__init__()
        self.x0 = few_hot_heatmaps(to_output_grid(landmarks, stride), grid)
        self.calls = 0

    def forward(self, inputs, t):
        self.calls += 1
        return SimpleNamespace(sample=self.x0.repeat_interleave(len(inputs) // len(self.x0), dim=0))


@pytest.mark.parametrize("inference, calls", [("single", 1), ("multi", 3)])
def test_sampler_with_an_oracle_reads_the_landmarks_back_exactly(inference, calls):
    images = blobs(2, 5, size=SIZE)
    detector = DETECTORS.create("saltpepper", **TINY, prediction="sample", inference=inference,
                                blur_max_std=0.0, top_k=4)
    detector.num_landmarks = 2
    detector.model = Oracle(torch.from_numpy(images.landmarks), (SIZE[0] // 2, SIZE[1] // 2), 2)
    prediction = detector.predict(images, n_samples=1)
    assert detector.model.calls == calls
    np.testing.assert_allclose(prediction.landmarks, images.landmarks, atol=1e-4)
    np.testing.assert_array_equal(prediction.extras["uncertainty_mm"], np.zeros((2, 2), np.float32))


def test_output_grid_maps_are_inverse():
    points = torch.rand(3, 4, 2) * 30
    assert torch.allclose(from_output_grid(to_output_grid(points, 4), 4), points, atol=1e-5)


# --- training and prediction --------------------------------------------------------------------------------

def train(epochs: int = 4):
    seed_everything(0, torch.device("cpu"))
    detector = DETECTORS.create("saltpepper", **TINY)
    settings = TrainSettings(epochs=epochs, samples_per_epoch=32, batch_size=8, eval_batch_size=8, lr=5e-3,
                             warmup_epochs=0, patience=0)
    context = FitContext(settings=settings, augmentation=ClassicAugmentation(), seed=3,
                         device=torch.device("cpu"), progress=False)
    history = detector.fit(blobs(16, 1, size=SIZE), blobs(4, 2, size=SIZE), context)
    return detector, history


@pytest.fixture(scope="module")
def trained():
    return train()


def test_a_few_training_steps_lower_the_loss(trained):
    _, history = trained
    losses = [m["train_loss"] for m in history.epoch_metrics]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0], losses
    assert "val_mre_mm" in history.epoch_metrics[-1]


def test_predictions_are_in_image_with_a_spread_per_landmark(trained):
    detector, _ = trained
    test = blobs(5, 9, size=SIZE)
    prediction = detector.predict(test)
    assert prediction.landmarks.shape == (5, 2, 2) and np.all(np.isfinite(prediction.landmarks))
    assert np.all((prediction.landmarks >= 0) & (prediction.landmarks <= [SIZE[1] - 1, SIZE[0] - 1]))
    spread = prediction.extras["uncertainty_mm"]
    assert spread.shape == (5, 2) and np.all(spread >= 0) and spread.max() > 0
    np.testing.assert_allclose(prediction.extras["uncertainty_px"], spread)  # 1 mm pixels
    assert set(detector.prediction_variants()) == {"single"}


def test_predictions_repeat_and_do_not_touch_the_training_rng(trained):
    detector, _ = trained
    test = blobs(3, 4, size=SIZE)
    torch.manual_seed(11)
    first = detector.predict(test).landmarks
    after = torch.rand(1)
    torch.manual_seed(11)
    np.testing.assert_array_equal(detector.predict(test).landmarks, first)
    assert torch.equal(torch.rand(1), after)


def test_same_seed_gives_identical_training_on_the_cpu(trained):
    first, history = trained
    second, history_again = train()
    losses = [m["train_loss"] for m in history.epoch_metrics]
    assert losses == [m["train_loss"] for m in history_again.epoch_metrics]
    test = blobs(3, 4, size=SIZE)
    np.testing.assert_array_equal(first.predict(test).landmarks, second.predict(test).landmarks)


def test_working_size_the_unet_cannot_halve_is_a_config_error():
    detector = DETECTORS.create("saltpepper", **TINY)
    context = FitContext(settings=TrainSettings(epochs=1), augmentation=ClassicAugmentation(), seed=0,
                         device=torch.device("cpu"), progress=False)
    with pytest.raises(ConfigError, match="divisible by 4"):
        detector.fit(blobs(4, 1, size=(30, 34)), blobs(2, 2, size=(30, 34)), context)


# --- settings -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, setting", [
    ({"inference": "few"}, "inference"),
    ({"steps": 0}, "steps"),
    ({"steps": 200}, "steps"),
    ({"blur_kernel": 4}, "blur_kernel"),
    ({"blur_min_std": 3.0, "blur_max_std": 1.0}, "blur_min_std"),
    ({"mse_weight": 0.0, "ce_weight": 0.0}, "mse_weight"),
    ({"prediction": "v"}, "prediction"),
    ({"eta": 2.0}, "eta"),
    ({"block_out_channels": [12, 20]}, "block_out_channels"),
    ({"colour": "grey"}, "colour"),
])
def test_bad_settings_are_config_errors_naming_the_setting(params, setting):
    with pytest.raises(ConfigError, match=setting):
        DETECTORS.create("saltpepper", **params)


def test_registry_and_search_space_build_valid_detectors():
    detector = DETECTORS.create("saltpepper")
    assert isinstance(detector, SaltPepperDetector) and detector.kinds == {"landmarks"}
    assert detector.settings.num_train_timesteps == 100 and detector.settings.blur_max_std == 10.0
    assert detector.alphas_cumprod[0] == pytest.approx(1 - 1e-4)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        assert isinstance(DETECTORS.create("saltpepper", **search_space(study.ask())), SaltPepperDetector)


# --- end to end through the CLI ---------------------------------------------------------------------------

def test_ceph_run_reports_multi_and_single_step_with_uncertainty(capsys, tracking_uri):
    metrics = run_json(capsys, tracking_uri, "--task", "ceph", "--detector", "saltpepper")["metrics"]
    for prefix in ("", "single."):
        assert {f"{prefix}mre_mm", f"{prefix}sdr_2mm", f"{prefix}uncertainty_mm_mean",
                f"{prefix}inference_images_per_s"} <= set(metrics)
        assert math.isfinite(metrics[f"{prefix}mre_mm"]) and metrics[f"{prefix}mre_mm"] > 0


def test_segmentation_task_is_refused_before_a_run_starts(capsys, tracking_uri):
    code, _, err = run_cli(capsys, "run", "--profile", "smoke", "--no-progress", "--tracking-uri",
                           tracking_uri, "--task", "canal", "--detector", "saltpepper")
    assert code == 2 and "cannot do segmentation" in err and len(err.strip().splitlines()) == 1
