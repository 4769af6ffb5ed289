"""Figures logged with every run: prediction overlays on test images and training curves. They are drawn
on :class:`matplotlib.figure.Figure` objects, which need no pyplot backend, so importing this module
leaves the user's matplotlib backend alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmark.augmentation import SyntheticSet
from benchmark.data.imageset import ImageSet
from benchmark.detector import Prediction


def overlay_grid(test: ImageSet, prediction: Prediction, path: Path, max_images: int = 8) -> Path:
    """Test images with ground truth (green) and prediction (red): points joined by error lines for
    landmarks, contours for masks."""
    n = min(max_images, len(test))
    cols = min(4, n)
    rows = -(-n // cols)
    height, width = test.image_size
    fig = Figure(figsize=(3 * cols, 3 * rows * height / width))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, ax in zip(range(n), axes.ravel()):
        ax.imshow(test.images[i], cmap="gray", vmin=0, vmax=1)
        ax.set_title(test.ids[i], fontsize=8)
        if test.landmarks is not None:
            true, pred = test.landmarks[i], prediction.landmarks[i]
            for (xt, yt), (xp, yp) in zip(true, pred):
                ax.plot([xt, xp], [yt, yp], color="yellow", linewidth=0.6)
            ax.scatter(true[:, 0], true[:, 1], s=6, c="lime", label="truth")
            ax.scatter(pred[:, 0], pred[:, 1], s=6, c="red", label="prediction")
        else:
            ax.contour(test.masks[i], levels=[0.5], colors="lime", linewidths=0.7)
            if prediction.masks[i].any():
                ax.contour(prediction.masks[i], levels=[0.5], colors="red", linewidths=0.7)
    fig.suptitle("green: ground truth, red: prediction", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def training_curves(history: list[dict[str, float]], path: Path) -> Path:
    """One panel per logged per-epoch metric (loss, learning rate, validation score)."""
    keys = [k for k in history[0] if all(k in h for h in history)]
    fig = Figure(figsize=(3.2 * len(keys), 2.8))
    axes = fig.subplots(1, len(keys), squeeze=False)
    epochs = np.arange(1, len(history) + 1)
    for ax, key in zip(axes.ravel(), keys):
        ax.plot(epochs, [h[key] for h in history], marker="o", markersize=2)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("epoch")
        if key == "train_loss":
            ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def sample_title(accepted: bool, reason: str, width: int = 26) -> str:
    """A sample's title in :func:`sample_grid`: ``accepted``, or the filter's reason wrapped into lines of at
    most ``width`` characters, never cut."""
    return "accepted" if accepted else textwrap.fill(reason, width)


def sample_grid(synthetic: SyntheticSet, path: Path, per_group: int = 8) -> Path:
    """Generated samples with their labels, accepted ones (green frame) above rejected ones (red frame,
    titled with the filter's reason in full, wrapped)."""
    images = synthetic.images
    accepted = np.asarray(synthetic.quality.get("accepted", [True] * len(images)), bool)
    reasons = synthetic.quality.get("reason", [""] * len(images))
    groups = [np.flatnonzero(accepted)[:per_group], np.flatnonzero(~accepted)[:per_group]]
    rows = [g for g in groups if len(g)]
    titles = [sample_title(bool(accepted[i]), str(reasons[i])) for i in range(len(images))]
    title_lines = max((titles[i].count("\n") + 1 for g in rows for i in g), default=1)
    height, width = images.image_size
    row_inches = 1.9 * height / width + 0.12 * title_lines
    fig = Figure(figsize=(1.8 * per_group, row_inches * max(1, len(rows))))
    axes = fig.subplots(max(1, len(rows)), per_group, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, index in zip(axes, rows):
        for ax, i in zip(row, index):
            ax.imshow(images.images[i], cmap="gray", vmin=0, vmax=1)
            if images.landmarks is not None:
                ax.scatter(images.landmarks[i, :, 0], images.landmarks[i, :, 1], s=3, c="yellow")
            if images.masks is not None and images.masks[i].any():
                ax.contour(images.masks[i], levels=[0.5], colors="yellow", linewidths=0.5)
            colour = "lime" if accepted[i] else "red"
            ax.axis("on")
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(colour)
                spine.set_linewidth(2)
            ax.set_title(titles[i], fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
