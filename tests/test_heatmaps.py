import math

import pytest
import torch

from benchmark.heatmaps import decode_heatmaps, gaussian_heatmaps


def test_gaussian_peaks_at_the_landmark_with_x_as_column():
    heatmaps = gaussian_heatmaps(torch.tensor([[[5.0, 3.0]]]), (8, 12), sigma=2.0)
    assert heatmaps.shape == (1, 1, 8, 12)
    assert heatmaps[0, 0, 3, 5] == 1.0
    assert heatmaps.max() == 1.0
    assert heatmaps[0, 0, 3, 6] == pytest.approx(math.exp(-1 / 8))
    assert heatmaps[0, 0, 5, 5] == pytest.approx(math.exp(-4 / 8))


def test_gaussian_at_a_sub_pixel_position_has_the_analytic_values():
    heatmaps = gaussian_heatmaps(torch.tensor([[[2.5, 1.25]]]), (4, 5), sigma=1.0)
    assert heatmaps[0, 0, 1, 2] == pytest.approx(math.exp(-(0.25 + 0.0625) / 2))
    assert heatmaps.max() < 1.0


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
def test_decoding_recovers_sub_pixel_positions(sigma):
    generator = torch.Generator().manual_seed(0)
    height, width = 24, 32
    landmarks = torch.rand(3, 5, 2, generator=generator) * torch.tensor([width - 3.0, height - 3.0]) + 1.5
    decoded = decode_heatmaps(gaussian_heatmaps(landmarks, (height, width), sigma))
    assert decoded.shape == (3, 5, 2)
    assert (decoded - landmarks).abs().max() < 0.05


def test_decoding_batched_non_square_heatmaps_keeps_x_and_y_apart():
    landmarks = torch.tensor([[[17.3, 2.6], [1.8, 13.1], [9.5, 9.5]],
                              [[3.2, 14.4], [17.9, 0.7], [10.0, 4.0]]])
    heatmaps = gaussian_heatmaps(landmarks, (16, 20), sigma=1.5)
    assert heatmaps.shape == (2, 3, 16, 20)
    decoded = decode_heatmaps(heatmaps)
    assert decoded.shape == (2, 3, 2)
    assert (decoded - landmarks).abs().max() < 0.05


def test_decoding_at_the_border_keeps_the_argmax_along_that_axis():
    height, width = 10, 14
    landmarks = torch.tensor([[[0.0, 0.0], [width - 1.0, height - 1.0], [width - 1.0, 3.4], [6.3, 0.0]]])
    decoded = decode_heatmaps(gaussian_heatmaps(landmarks, (height, width), sigma=2.0))
    assert torch.equal(decoded[0, :2], landmarks[0, :2])
    assert decoded[0, 2, 0] == width - 1 and abs(decoded[0, 2, 1] - 3.4) < 0.05
    assert abs(decoded[0, 3, 0] - 6.3) < 0.05 and decoded[0, 3, 1] == 0


def test_refinement_moves_at_most_half_a_pixel_from_the_argmax():
    heatmaps = torch.rand(4, 6, 9, 11, generator=torch.Generator().manual_seed(1)) - 0.3
    decoded = decode_heatmaps(heatmaps)
    index = heatmaps.flatten(2).argmax(-1)
    argmax = torch.stack([index % 11, index // 11], dim=-1).float()
    assert (decoded - argmax).abs().max() <= 0.5


def test_a_single_hot_pixel_decodes_to_its_centre():
    heatmaps = torch.zeros(1, 1, 5, 7)
    heatmaps[0, 0, 2, 4] = 1.0
    assert decode_heatmaps(heatmaps).tolist() == [[[4.0, 2.0]]]
