"""``vae``: a convolutional variational autoencoder on two-channel samples ``[image, label channel]``
(:mod:`baselines.augmentations.two_channel`); new samples are decoded from ``z ~ N(0, I)`` and their
labels read back from the generated label channel.

Network. Encoder: ``L`` stride-2 4x4 convolutions (LeakyReLU 0.2; widths ``channels * 2^min(i, 3)``)
down to a 4..7 pixel grid, then linear maps to the posterior mean ``mu`` and log-variance ``log s^2``
(``latent_dim`` each). Decoder: a linear map back to that grid, ``L`` x (nearest 2x upsampling + 3x3
convolution + LeakyReLU), a final 3x3 convolution to two channels (no output activation; samples are
clipped to [-1, 1] when decoded).

Loss (per sample, averaged over the batch and divided by the number of values ``2 h w``):

    L = sum_c w_c sum_pixels (x - x_hat)_c^2 + beta * KL,   KL = 1/2 sum_j (mu_j^2 + s_j^2 - 1 - log s_j^2)

with ``z = mu + s * eps`` (reparameterisation) and ``w = (1, label_weight)``. Up to a constant this is the
negative ELBO of a Gaussian decoder of std ``sqrt(beta / 2)`` on the [-1, 1] scale: ``beta = 0.5`` treats
everything below a std of 0.5 as noise (a thin heatmap peak included), ``beta = 0.02`` a std of 0.1. ``beta``
thus trades sharpness (small) against samples from the prior that look like the data (large). Adam, constant
learning rate ``lr``.

Sampling (``latent_sampling``). ``prior``: ``z ~ N(0, I)``, the textbook VAE. ``posterior``: ``z ~
q(z | x_i)`` for a training sample ``x_i`` drawn uniformly, i.e. from the aggregate posterior
``(1/N) sum_i q(z | x_i)``, the distribution the decoder was trained on. With few training images and a
small ``beta`` the prior covers regions no posterior reaches, and their decodings are grey fields (hand,
10 images, ``beta`` 0.02, 1000 steps: every prior sample had 74+ peaks in its label channel); samples
from the aggregate posterior are variations of the training samples (ex-post density estimation of the
latent, as in Ghosh et al. 2020, with the encoder's own posteriors as the density). They stay close to
the training images by construction: the nearest-training SSIM that every run logs says how close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from baselines.augmentations.two_channel import TwoChannelGenerator, TwoChannelSettings, batch_indices, stages
from benchmark.augmentation import composition_search_space
from benchmark.errors import ConfigError
from benchmark.perf.contract import Step, plain_step
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class VAESettings(TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings` plus the network and its training
    (``label_weight``: the loss weight ``w_1`` of the label channel against 1 for the image)."""

    method: ClassVar[str] = "vae"

    channels: int = 16
    latent_dim: int = 64
    heatmap_sigma: float = 1.5
    beta: float = 0.02
    train_steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    latent_sampling: Literal["prior", "posterior"] = "posterior"
    label_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.channels, self.latent_dim, self.train_steps, self.batch_size) < 1 or self.beta < 0 \
                or self.lr <= 0:
            raise ConfigError("vae: channels, latent_dim, train_steps and batch_size must be >= 1, "
                              "beta >= 0, lr > 0")
        if not self.label_weight > 0:
            raise ConfigError(f"vae: label_weight must be > 0, got {self.label_weight}")
        if self.latent_sampling not in ("prior", "posterior"):
            raise ConfigError(f"vae: latent_sampling must be prior or posterior, "
                              f"got {self.latent_sampling!r}")


def _widths(channels: int, levels: int) -> list[int]:
    return [channels * 2 ** min(i, 3) for i in range(levels)]


class ConvVAE(nn.Module):
    """Encoder / decoder of the module docstring for (2, h, w) inputs."""

    def __init__(self, size: tuple[int, int], channels: int, latent_dim: int):
        super().__init__()
        levels = stages(size)
        widths = _widths(channels, levels)
        self.grid = (size[0] // 2**levels, size[1] // 2**levels)
        flat = widths[-1] * self.grid[0] * self.grid[1]
        encoder: list[nn.Module] = []
        for c_in, c_out in zip([2] + widths[:-1], widths):
            encoder += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.posterior = nn.Linear(flat, 2 * latent_dim)
        self.project = nn.Linear(latent_dim, flat)
        decoder: list[nn.Module] = []
        for c_in, c_out in zip(widths[::-1], widths[::-1][1:] + [widths[0]]):
            decoder += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1),
                        nn.LeakyReLU(0.2)]
        self.decoder = nn.Sequential(*decoder, nn.Conv2d(widths[0], 2, 3, 1, 1))
        self.top_width = widths[-1]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.posterior(self.encoder(x)).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.project(z).view(len(z), self.top_width, *self.grid))


def vae_loss(model: ConvVAE, x: torch.Tensor, beta: float, generator: torch.Generator,
             label_weight: float = 1.0) -> torch.Tensor:
    """The loss of the module docstring for a batch ``x`` (B, 2, h, w)."""
    mu, log_var = model.encode(x)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device)
    x_hat = model.decode(mu + torch.exp(0.5 * log_var) * eps)
    weights = torch.tensor([1.0, label_weight], device=x.device).view(1, 2, 1, 1)
    reconstruction = (weights * (x - x_hat) ** 2).flatten(1).sum(1)
    kl = 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(1)
    return (reconstruction + beta * kl).mean() / x[0].numel()


class VAEAugmentation(TwoChannelGenerator):
    name = "vae"
    settings: VAESettings

    def fit(self, data: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        s = self.settings
        data = data.to(device)
        self.model = ConvVAE(tuple(data.shape[-2:]), s.channels, s.latent_dim).to(device)
        self.noise = torch.Generator(device=device).manual_seed(seed)
        optimiser = torch.optim.Adam(self.model.parameters(), lr=s.lr)
        self.model.train()
        batches = batch_indices(len(data), s.batch_size, s.train_steps, torch.Generator().manual_seed(seed))
        for index in batches:
            loss = vae_loss(self.model, data[index.to(device)], s.beta, self.noise, s.label_weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        self.model.eval()
        with torch.inference_mode():
            parts = [self.model.encode(data[i:i + 256]) for i in range(0, len(data), 256)]
        self.posteriors = tuple(torch.cat(part) for part in zip(*parts))  # (mu, log_var) of every sample
        return {"generator_final_loss": loss.item()}

    def networks(self) -> list[torch.nn.Module]:
        return [self.model]

    def reference_step(self, data: torch.Tensor, device: torch.device) -> Step:
        """:func:`vae_loss` under AdamW, without autocast (``fit`` runs in float32)."""
        s = self.settings
        noise = torch.Generator(device=device).manual_seed(0)
        model = ConvVAE(tuple(data.shape[-2:]), s.channels, s.latent_dim).to(device)

        def loss_of(network: torch.nn.Module) -> torch.Tensor:
            batch = data[torch.randint(len(data), (s.batch_size,), device=device)]
            return vae_loss(network, batch, s.beta, noise, s.label_weight)
        return plain_step(model, loss_of, s.lr, device, "off")

    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        latent_dim = self.settings.latent_dim
        samples = []
        with torch.inference_mode():
            for start in range(0, n, 256):
                count = min(256, n - start)
                z = torch.randn((count, latent_dim), generator=self.noise, device=device)
                if self.settings.latent_sampling == "posterior":
                    mu, log_var = self.posteriors
                    pick = torch.randint(len(mu), (count,), generator=self.noise, device=device)
                    z = mu[pick] + torch.exp(0.5 * log_var[pick]) * z
                samples.append(self.model.decode(z))
        return torch.cat(samples).cpu().numpy()


AUGMENTATIONS.register(
    "vae",
    "convolutional VAE on [image, label channel] samples; labels read back from the generated channel "
    "(heatmap peaks + MRF + shape model, or thresholded mask)",
    settings=VAESettings,
    search_space=composition_search_space("vae"),
)(VAEAugmentation)

