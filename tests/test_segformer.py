"""The ``segformer`` detector: settings, the stride-4 network and grid, learning, prediction, CPU
determinism, the sweep search space, and end-to-end CLI runs on the smoke profile."""

import math

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from baselines.augmentations.classic import ClassicAugmentation
from baselines.detectors.losses import heatmap_loss, heatmap_probabilities, to_output_grid
from baselines.detectors.segformer import (
    SegformerDetector,
    SegformerNet,
    SegformerSettings,
    search_space,
)
from benchmark.detector import FitContext
from benchmark.errors import ConfigError
from benchmark.heatmaps import gaussian_heatmaps
from benchmark.registry import DETECTORS
from benchmark.training.device import seed_everything
from benchmark.training.settings import TrainSettings
from tests.blob_sets import blobs
from tests.cli_helpers import run_json

TINY = {"hidden_sizes": [8, 16, 32, 64], "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 2, 4],
        "decoder_hidden_size": 32}
# Not multiples of 4: exercises the padding, the crop of the stride-4 grid and the clipping of landmarks.
HEIGHT, WIDTH = 30, 34


def train(masks: bool, epochs: int = 4, lr: float = 1e-2):
    seed_everything(0, torch.device("cpu"))
    detector = DETECTORS.create("segformer", **TINY)
    settings = TrainSettings(epochs=epochs, samples_per_epoch=32, batch_size=8, eval_batch_size=8, lr=lr,
                             warmup_epochs=0, patience=0)
    context = FitContext(settings=settings, augmentation=ClassicAugmentation(), seed=3,
                         device=torch.device("cpu"), progress=False)
    history = detector.fit(blobs(16, 1, masks), blobs(4, 2, masks), context)
    return detector, history


@pytest.fixture(scope="module")
def trained_landmarks():
    return train(masks=False)


@pytest.fixture(scope="module")
def trained_masks():
    return train(masks=True)


def weights(detector) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in detector.model.state_dict().values()
                      if p.is_floating_point()])


# --- settings and factory ----------------------------------------------------------------------------

def test_registry_builds_the_published_sizes_and_tiny_overrides():
    detector = DETECTORS.create("segformer")
    assert isinstance(detector, SegformerDetector) and detector.kinds == {"landmarks", "segmentation"}
    assert detector.settings.architecture() == {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2],
                                                "num_attention_heads": [1, 2, 5, 8],
                                                "decoder_hidden_size": 256}
    b2 = DETECTORS.create("segformer", size="b2").settings.architecture()
    assert b2["hidden_sizes"] == [64, 128, 320, 512] and b2["depths"] == [3, 4, 6, 3]
    assert b2["decoder_hidden_size"] == 768
    b1 = DETECTORS.create("segformer", size="b1", depths=[1, 1, 1, 1]).settings.architecture()
    assert b1["depths"] == [1] * 4


@pytest.mark.parametrize("params, setting", [
    ({"size": "b7"}, "size"),
    ({"loss": "l1"}, "loss"),
    ({"sigma": 0}, "sigma"),
    ({"depths": [1, 1, 1]}, "depths"),
    ({"hidden_sizes": [8, 16, 32, 0]}, "hidden_sizes"),
    ({"decoder_hidden_size": 2.5}, "decoder_hidden_size"),
    ({"hidden_sizes": [8, 16, 30, 64], "num_attention_heads": [1, 1, 4, 4]}, "num_attention_heads"),
    ({"drop_path_rate": 1.0}, "drop_path_rate"),
    ({"colour": "grey"}, "colour"),
])
def test_bad_settings_are_config_errors_naming_the_setting(params, setting):
    with pytest.raises(ConfigError, match=setting):
        DETECTORS.create("segformer", **params)


def test_search_space_suggests_valid_settings():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        params = search_space(study.ask())
        assert {"size", "sigma", "loss"} <= set(params)
        assert isinstance(DETECTORS.create("segformer", **params), SegformerDetector)
    fixed = search_space(optuna.trial.FixedTrial({"segformer.size": "b1", "segformer.sigma": 3.0,
                                                  "segformer.loss": "mse", "segformer.drop_path_rate": 0.0,
                                                  "segformer.classifier_dropout": 0.2}))
    assert DETECTORS.create("segformer", **fixed).settings == SegformerSettings(
        size="b1", sigma=3.0, loss="mse", drop_path_rate=0.0, classifier_dropout=0.2)


# --- network and output grid ---------------------------------------------------------------------------

def test_network_is_a_grey_transformers_segformer_with_stride_4_outputs():
    from transformers import SegformerForSemanticSegmentation

    net = SegformerNet(SegformerSettings(**TINY), out_channels=3)
    assert isinstance(net.segformer, SegformerForSemanticSegmentation)
    assert net.segformer.config.num_channels == 1 and net.segformer.config.num_labels == 3
    for size, grid in [((32, 64), (8, 16)), ((HEIGHT, WIDTH), (8, 9)), ((48, 40), (12, 10))]:
        assert net(torch.rand(2, 1, *size)).shape == (2, 3, *grid)
    b0 = SegformerNet(SegformerSettings(size="b0"), out_channels=1).segformer.config
    assert list(b0.hidden_sizes) == [32, 64, 160, 256] and b0.decoder_hidden_size == 256


def test_full_resolution_upsamples_by_exactly_4_with_pixel_centres():
    # Logits that equal the output-grid x coordinate: after upsampling, working pixel x must read
    # (x + 0.5) / 4 - 0.5 (away from the borders, where bilinear interpolation clamps).
    grid_x = torch.arange(9.0).expand(1, 1, 8, 9)
    upsampled = SegformerDetector(SegformerSettings()).full_resolution(grid_x, (HEIGHT, WIDTH))
    assert upsampled.shape == (1, 1, HEIGHT, WIDTH)
    x = torch.arange(2, WIDTH - 4, dtype=torch.float32)
    assert torch.allclose(upsampled[0, 0, 5, 2:WIDTH - 4], (x + 0.5) / 4 - 0.5)


class FixedOutput(nn.Module):
    """A stand-in for SegFormer that returns given stride-4 outputs."""

    output_stride = 4

    def __init__(self, output: torch.Tensor):
        super().__init__()
        self.output = output

    def forward(self, images):
        return self.output[: len(images)]


def test_predict_decodes_the_stride_4_grid_back_to_working_pixels():
    """Logits = log of the training target: decoding recovers the landmarks to sub-pixel accuracy."""
    images = blobs(3, 7)
    detector = DETECTORS.create("segformer", **TINY, sigma=3.0)
    grid = to_output_grid(torch.from_numpy(images.landmarks), 4)
    detector.model = FixedOutput(gaussian_heatmaps(grid, (8, 9), 3.0 / 4).clamp_min(1e-30).log())
    predicted = detector.predict(images).landmarks
    assert predicted.shape == (3, 2, 2)
    np.testing.assert_allclose(predicted, images.landmarks, atol=1e-3)


def test_softmax_ce_is_smallest_at_the_normalised_target():
    landmarks = torch.tensor([[[3.3, 4.6], [6.0, 1.2]]])
    target = gaussian_heatmaps(landmarks, (8, 9), 0.75)
    q = target / target.sum((-2, -1), keepdim=True)
    best = heatmap_loss(q.log(), target, "softmax-ce")
    entropy = -(q * q.log()).sum((-2, -1)).mean()
    assert torch.isclose(best, entropy, atol=1e-5)
    assert heatmap_loss(q.log() + 0.3 * torch.randn_like(q), target, "softmax-ce") > best
    assert torch.allclose(heatmap_probabilities(q.log(), "softmax-ce"), q, atol=1e-6)
    assert heatmap_loss(target, target, "mse") == 0


# --- training and prediction ----------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["trained_landmarks", "trained_masks"])
def test_a_few_training_steps_lower_the_loss(which, request):
    _, history = request.getfixturevalue(which)
    losses = [m["train_loss"] for m in history.epoch_metrics]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.8 * losses[0], losses


def test_predict_returns_in_image_landmarks(trained_landmarks):
    detector, history = trained_landmarks
    assert "val_mre_mm" in history.epoch_metrics[-1]
    test = blobs(5, 9)
    landmarks = detector.predict(test).landmarks
    assert landmarks.shape == (5, 2, 2) and landmarks.dtype == np.float32 and np.all(np.isfinite(landmarks))
    assert np.all((landmarks >= 0) & (landmarks <= [WIDTH - 1, HEIGHT - 1]))


def test_predict_returns_binary_masks_that_overlap_the_bars(trained_masks):
    detector, history = trained_masks
    assert "val_dice" in history.epoch_metrics[-1]
    test = blobs(5, 9, masks=True)
    prediction = detector.predict(test)
    assert prediction.landmarks is None
    masks = prediction.masks
    assert masks.shape == (5, HEIGHT, WIDTH) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    overlap = (masks * test.masks).sum() / max(1, masks.sum())
    assert overlap > test.masks.mean(), "the predicted foreground should favour the bars over chance"


def test_same_seed_gives_identical_weights_and_predictions_on_the_cpu(trained_landmarks):
    first, history = trained_landmarks
    second, history_again = train(masks=False)
    assert torch.equal(weights(first), weights(second))
    losses = [m["train_loss"] for m in history.epoch_metrics]
    assert losses == [m["train_loss"] for m in history_again.epoch_metrics]
    test = blobs(3, 4)
    np.testing.assert_array_equal(first.predict(test).landmarks, second.predict(test).landmarks)


# --- end to end through the CLI ---------------------------------------------------------------------------

def test_canal_run_reports_segmentation_metrics(capsys, tracking_uri):
    result = run_json(capsys, tracking_uri, "--task", "canal", "--detector", "segformer")
    metrics = result["metrics"]
    assert result["detector"] == "segformer"
    assert {"dice", "precision", "recall", "hd95_mm", "train_seconds",
            "inference_images_per_s"} <= set(metrics)
    assert 0.0 <= metrics["dice"] <= 1.0 and metrics["epochs_run"] == 2


def test_hand_run_reports_landmark_metrics(capsys, tracking_uri):
    result = run_json(capsys, tracking_uri, "--task", "hand", "--detector", "segformer")
    metrics = result["metrics"]
    assert result["detector"] == "segformer" and result["task"] == "hand"
    assert {"mre_mm", "sdr_2mm", "sdr_4mm", "sdr_10mm"} <= set(metrics)
    assert math.isfinite(metrics["mre_mm"]) and metrics["mre_mm"] > 0
