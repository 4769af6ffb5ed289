"""Losses and output-grid maps shared by the detectors (``heatmap``, ``segformer``, ``saltpepper``).

Both work on a network's raw output of shape (B, K, h, w), one channel per landmark, on an output
grid of ``1 / s`` of the working size, against Gaussian target heatmaps of peak 1 on that grid; the
caller maps landmarks onto it first (``x_out = (x + 0.5) / s - 0.5``) and renders the targets with
``sigma`` in output-grid pixels (:func:`benchmark.heatmaps.gaussian_heatmaps`).

* ``softmax-ce``: ``p = softmax(output)`` over the h x w plane of each channel; the loss is the
  cross-entropy ``-sum(q * log p)`` against the Gaussian target ``q`` normalised to sum 1, averaged
  over images and landmarks.
* ``mse``: the mean squared error against Gaussian heatmaps of peak 1.

:func:`heatmap_probabilities` turns the output into the non-negative maps that
:func:`benchmark.heatmaps.decode_heatmaps` decodes: the spatial softmax for ``softmax-ce``, the
output as it is for ``mse``. :func:`segmentation_loss` is the mask heads' loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

HEATMAP_LOSSES = ("softmax-ce", "mse")


def heatmap_loss(output: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Loss of ``output`` (B, K, h, w) against the Gaussian ``target`` heatmaps (B, K, h, w) of peak 1."""
    if loss == "mse":
        return F.mse_loss(output, target)
    if loss != "softmax-ce":
        raise ValueError(f"heatmap loss must be one of {HEATMAP_LOSSES}, got {loss!r}")
    return spatial_cross_entropy(output, target)


def spatial_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spatially normalised cross-entropy: ``mean_{b,k} -sum_p q(p) log softmax_p(logits)``, the softmax over
    the H x W plane of each channel and ``q`` the target normalised to sum 1 per channel. (B, K, H, W) ->
    scalar."""
    log_p = F.log_softmax(logits.flatten(2), dim=-1)
    q = target.flatten(2)
    q = q / q.sum(-1, keepdim=True).clamp_min(1e-12)
    return -(q * log_p).sum(-1).mean()


def heatmap_probabilities(output: torch.Tensor, loss: str) -> torch.Tensor:
    """Network output -> non-negative heatmaps for decoding: spatial softmax for ``softmax-ce``, as-is for
    ``mse``."""
    if loss == "mse":
        return output
    return F.softmax(output.flatten(2), dim=-1).view_as(output)


def to_output_grid(landmarks: torch.Tensor, stride: int) -> torch.Tensor:
    return (landmarks + 0.5) / stride - 0.5


def from_output_grid(landmarks: torch.Tensor, stride: int) -> torch.Tensor:
    return (landmarks + 0.5) * stride - 0.5


def segmentation_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy + soft Dice ``1 - (2 sum(p m) + 1) / (sum(p) + sum(m) + 1)`` per image."""
    bce = F.binary_cross_entropy_with_logits(logits, masks)
    p = torch.sigmoid(logits).flatten(1)
    m = masks.flatten(1)
    dice = (2 * (p * m).sum(1) + 1) / (p.sum(1) + m.sum(1) + 1)
    return bce + (1 - dice).mean()
