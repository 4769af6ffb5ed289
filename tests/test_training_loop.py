"""The shared training loop: CPU determinism, resume from a checkpoint, early stopping, NaN losses."""

import numpy as np
import pytest
import torch

from baselines.augmentations.classic import ClassicAugmentation
from baselines.detectors.heatmap import HeatmapDetector, HeatmapSettings
from benchmark.detector import FitContext
from benchmark.errors import ConfigError
from benchmark.training.device import seed_everything
from benchmark.training.loop import batch_schedule, lr_factor
from benchmark.training.settings import TrainSettings
from tests.blob_sets import blobs


def train(tmp_path, epochs=3, resume=False, stop_at=None, patience=0, lr=2e-3, corrupt=False, snapshots=None,
          **execution):
    """Fit a tiny heatmap U-Net on blobs; ``snapshots`` (a list) receives the weights after every epoch."""
    seed_everything(0, torch.device("cpu"))
    detector = HeatmapDetector(HeatmapSettings(encoder="resnet10t", decoder_channels=[16, 16, 8, 8, 8],
                                               sigma=1.5))
    settings = TrainSettings(epochs=epochs, samples_per_epoch=8, batch_size=4, eval_batch_size=8, lr=lr,
                             warmup_epochs=1, patience=patience, **execution)

    def on_epoch(epoch, metrics):
        if snapshots is not None:
            snapshots.append(weights(detector))
        if stop_at is not None and epoch == stop_at:
            raise KeyboardInterrupt

    context = FitContext(settings=settings, augmentation=ClassicAugmentation(), seed=5,
                         device=torch.device("cpu"), checkpoint_dir=tmp_path, on_epoch=on_epoch,
                         resume=resume, progress=False)
    training = blobs(12, 1, size=(32, 32))
    if corrupt:
        training.images[:] = np.nan
    history = detector.fit(training, blobs(4, 2, size=(32, 32)), context)
    return detector, history


def weights(detector) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in detector.model.state_dict().values()
                      if p.is_floating_point()])


def test_same_seed_gives_identical_weights_on_the_cpu(tmp_path):
    a, history_a = train(tmp_path / "a")
    b, history_b = train(tmp_path / "b")
    assert torch.equal(weights(a), weights(b))
    losses = [m["train_loss"] for m in history_a.epoch_metrics]
    assert losses == [m["train_loss"] for m in history_b.epoch_metrics]


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    uninterrupted, history = train(tmp_path / "full", epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut", epochs=4, stop_at=2)
    assert (tmp_path / "cut" / "last.pt").exists()
    resumed, resumed_history = train(tmp_path / "cut", epochs=4, resume=True)
    assert len(resumed_history.epoch_metrics) == 4
    losses = [m["train_loss"] for m in resumed_history.epoch_metrics]
    assert losses == [m["train_loss"] for m in history.epoch_metrics]
    assert torch.equal(weights(uninterrupted), weights(resumed))


def test_early_stopping_restores_the_best_epoch(tmp_path):
    _, history = train(tmp_path, epochs=12, patience=2, lr=0.0)
    assert history.stopped_early and len(history.epoch_metrics) == history.best_epoch + 3
    assert history.best_score == min(m["val_mre_mm"] for m in history.epoch_metrics)


def test_training_ends_with_the_best_validation_epochs_weights(tmp_path):
    snapshots = []
    final, history = train(tmp_path, epochs=8, lr=0.05, snapshots=snapshots)
    last = len(history.epoch_metrics) - 1
    assert history.best_epoch < last  # otherwise restoring would change nothing
    assert torch.equal(weights(final), snapshots[history.best_epoch])
    assert not torch.equal(weights(final), snapshots[last])


def test_nan_loss_stops_training_with_a_clear_error(tmp_path):
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        train(tmp_path, epochs=1, corrupt=True)


def test_batch_schedule_cycles_through_shuffled_passes():
    settings = TrainSettings(samples_per_epoch=10, batch_size=4)
    index = batch_schedule(3, settings, np.random.default_rng(0))
    assert index.shape == (3, 4)
    flat = index.ravel()
    assert sorted(flat[:3]) == [0, 1, 2] and sorted(flat[3:6]) == [0, 1, 2]


def test_learning_rate_warms_up_then_decays_to_zero():
    assert lr_factor(0, 4, 20) == pytest.approx(0.25)
    assert lr_factor(3, 4, 20) == pytest.approx(1.0)
    assert lr_factor(12, 4, 20) == pytest.approx(0.5)
    assert lr_factor(20, 4, 20) == pytest.approx(0.0)


def test_channels_last_trains_the_same_model(tmp_path):
    default, history = train(tmp_path / "a")
    nhwc, history_nhwc = train(tmp_path / "b", channels_last=True)
    conv = next(p for p in nhwc.model.parameters() if p.ndim == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert np.allclose([m["train_loss"] for m in history.epoch_metrics],
                       [m["train_loss"] for m in history_nhwc.epoch_metrics], rtol=1e-3)
    # NHWC kernels sum in another order: the same training up to float rounding, not bit for bit
    assert (weights(default) - weights(nhwc)).norm() < 1e-2 * weights(default).norm()


@pytest.mark.parametrize("field", ["channels_last", "compile"])
def test_execution_switches_must_be_booleans(field):
    with pytest.raises(ConfigError, match=f"train.{field} must be true or false"):
        TrainSettings(**{field: "yes"})
