"""``gan``: a DCGAN on two-channel samples ``[image, label channel]``
(:mod:`baselines.augmentations.two_channel`); labels are read back from the generated label channel.

Networks. Generator: ``z ~ N(0, I)`` (``z_dim``) -> linear map to a 4..7 pixel grid (BatchNorm, ReLU),
``L - 1`` x (4x4 stride-2 transposed convolution + BatchNorm + ReLU), a last 4x4 stride-2 transposed
convolution to two channels and ``tanh``. Discriminator: ``L`` x (4x4 stride-2 convolution + LeakyReLU
0.2) and a linear map to one logit, every layer spectrally normalised (Miyato et al. 2018). Widths are
``channels * 2^min(i, 3)`` from the full-resolution end.

Loss (hinge, Lim & Ye 2017; Miyato et al. 2018), with ``D`` the discriminator's logit:

    L_D = E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))],    L_G = -E_z[D(G(z))]

one discriminator and one generator Adam step per training step (``lr_d``, ``lr_g``, ``betas``).
Initialisation, batches and noise all come from ``seed``, so a CPU run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from baselines.augmentations.two_channel import TwoChannelGenerator, TwoChannelSettings, batch_indices, stages
from benchmark.augmentation import composition_search_space
from benchmark.config import build
from benchmark.errors import ConfigError
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class GANSettings(TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings` plus the networks and their training."""

    method: ClassVar[str] = "gan"

    z_dim: int = 64
    channels: int = 16
    train_steps: int = 1000
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.z_dim, self.channels, self.train_steps, self.batch_size) < 1 or min(self.lr_g, self.lr_d) <= 0:
            raise ConfigError("gan: z_dim, channels, train_steps and batch_size must be >= 1, "
                              "lr_g and lr_d > 0")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"gan: betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", betas)


def _widths(channels: int, levels: int) -> list[int]:
    return [channels * 2 ** min(i, 3) for i in range(levels)]


class Generator(nn.Module):
    def __init__(self, size: tuple[int, int], channels: int, z_dim: int):
        super().__init__()
        levels = stages(size)
        widths = _widths(channels, levels)
        self.grid = (size[0] // 2**levels, size[1] // 2**levels)
        self.top_width = widths[-1]
        self.project = nn.Linear(z_dim, widths[-1] * self.grid[0] * self.grid[1], bias=False)
        self.norm = nn.BatchNorm2d(widths[-1])
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[::-1], widths[::-1][1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.ConvTranspose2d(widths[0], 2, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(F.relu(self.norm(self.project(z).view(len(z), self.top_width, *self.grid))))


class Discriminator(nn.Module):
    def __init__(self, size: tuple[int, int], channels: int):
        super().__init__()
        levels = stages(size)
        widths = _widths(channels, levels)
        layers: list[nn.Module] = []
        for c_in, c_out in zip([2] + widths[:-1], widths):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)]
        flat = widths[-1] * (size[0] // 2**levels) * (size[1] // 2**levels)
        self.body = nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(flat, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[:, 0]


def hinge_step(generator: Generator, discriminator: Discriminator, opt_g: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One discriminator step on ``relu(1 - D(real)) + relu(1 + D(G(z)))`` then one generator step on
    ``-D(G(z))`` (hinge loss); returns both losses."""
    fake = generator(z)
    loss_d = F.relu(1 - discriminator(real)).mean() + F.relu(1 + discriminator(fake.detach())).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_g = -discriminator(fake).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g


class GANAugmentation(TwoChannelGenerator):
    name = "gan"
    settings: GANSettings

    def fit(self, data: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        s = self.settings
        data, size = data.to(device), tuple(data.shape[-2:])
        # initial weights and spectral-norm start vectors come from the seeded global generator
        self.generator = Generator(size, s.channels, s.z_dim).to(device)
        discriminator = Discriminator(size, s.channels).to(device)
        self.noise = torch.Generator(device=device).manual_seed(seed)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=s.lr_g, betas=s.betas)
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=s.lr_d, betas=s.betas)
        for index in batch_indices(len(data), s.batch_size, s.train_steps, torch.Generator().manual_seed(seed)):
            real = data[index.to(device)]
            z = torch.randn((len(real), s.z_dim), generator=self.noise, device=device)
            loss_d, loss_g = hinge_step(self.generator, discriminator, opt_g, opt_d, real, z)
        return {"generator_final_loss_d": loss_d.item(), "generator_final_loss_g": loss_g.item()}

    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        self.generator.eval()
        z_dim = self.settings.z_dim
        with torch.inference_mode():
            samples = [self.generator(torch.randn((min(256, n - i), z_dim), generator=self.noise, device=device))
                       for i in range(0, n, 256)]
        return torch.cat(samples).cpu().numpy()


@AUGMENTATIONS.register("gan", "DCGAN (spectral-norm discriminator, hinge loss) on [image, label channel] "
                               "samples; labels read back from the generated channel",
                       search_space=composition_search_space("gan"))
def create(**params) -> GANAugmentation:
    return GANAugmentation(build(GANSettings, params, "gan augmentation"))
