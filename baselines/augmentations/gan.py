"""``gan``: a DCGAN on two-channel samples ``[image, label channel]``
(:mod:`baselines.augmentations.two_channel`); labels are read back from the generated label channel.

Networks. Generator: ``z ~ N(0, I)`` (``z_dim``) -> linear map to a 4..7 pixel grid (BatchNorm, ReLU),
``L - 1`` x (4x4 stride-2 transposed convolution + BatchNorm + ReLU), a last 4x4 stride-2 transposed
convolution to two channels and ``tanh``.
Discriminator: ``L`` x (4x4 stride-2 convolution + LeakyReLU 0.2) and a linear map to one logit, every layer
spectrally normalised (Miyato et al. 2018). Widths are ``channels * 2^min(i, 3)`` from the full-resolution
end.

Loss (hinge, Lim & Ye 2017; Miyato et al. 2018), with ``D`` the discriminator's logit:

    L_D = E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))],    L_G = -E_z[D(G(z))]

one discriminator and one generator Adam step per training step (``lr_d``, ``lr_g``, ``betas``). Samples
come from an exponential moving average of the generator's weights (``ema_decay`` = ``d``; diffusers'
``EMAModel``, as for the diffusion models, at a constant decay): the weights after the first step, then
``theta_ema <- d theta_ema + (1 - d) theta`` after each step (Karras et al. 2018; Yazici et al. 2019); the
BatchNorm statistics are the trained generator's own. The average smooths the oscillation of adversarial
training; ``0`` (the default) samples the last weights.
Initialisation, batches and noise all come from ``seed``, so a CPU run is repeatable.

Small data (``diff_augment``, DiffAugment of Zhao et al. 2020). With a few dozen images the discriminator
memorises the training set and its gradient stops carrying information. DiffAugment applies one random,
differentiable augmentation ``T`` to *every* sample the discriminator sees, real and generated, in both
its own step and the generator's (``D(T(x))``, ``D(T(G(z)))``), so ``D`` cannot memorise and ``G`` is not
taught to produce augmented samples. ``T`` here: a translation by up to ``1/8`` of each side (vacated
pixels -1, the background) and a cutout of a ``1/2``-side square (set to 0), the same draw for both
channels of a sample so image and label stay aligned, then brightness ``+ U(-0.25, 0.25)`` and
contrast ``x U(0.5, 1.5)`` about the mean, on the image channel only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from baselines.augmentations.two_channel import TwoChannelGenerator, TwoChannelSettings, batch_indices, stages
from benchmark.augmentation import composition_search_space
from benchmark.errors import ConfigError
from benchmark.perf.contract import Step
from benchmark.registry import AUGMENTATIONS


@dataclass(frozen=True)
class GANSettings(TwoChannelSettings):
    """:class:`~baselines.augmentations.two_channel.TwoChannelSettings` plus the networks and their
    training."""

    method: ClassVar[str] = "gan"

    z_dim: int = 64
    channels: int = 16
    train_steps: int = 300
    batch_size: int = 16
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    diff_augment: bool = False
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.z_dim, self.channels, self.train_steps, self.batch_size) < 1 \
                or min(self.lr_g, self.lr_d) <= 0:
            raise ConfigError("gan: z_dim, channels, train_steps and batch_size must be >= 1, "
                              "lr_g and lr_d > 0")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"gan: ema_decay must be in [0, 1), got {self.ema_decay}")
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


def diff_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The differentiable augmentation ``T`` of the module docstring for a (B, 2, h, w) batch in [-1, 1];
    parameters come from the CPU ``generator``."""
    b, _, h, w = x.shape
    dy, dx = max(1, h // 8), max(1, w // 8)
    padded = F.pad(x, (dx, dx, dy, dy), value=-1.0)
    oy = torch.randint(0, 2 * dy + 1, (b,), generator=generator).tolist()
    ox = torch.randint(0, 2 * dx + 1, (b,), generator=generator).tolist()
    shifted = torch.stack([padded[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w] for i in range(b)])
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    cy = torch.randint(0, h, (b, 1, 1), generator=generator).to(x.device)
    cx = torch.randint(0, w, (b, 1, 1), generator=generator).to(x.device)
    keep = ((yy - cy).abs() >= h // 4) | ((xx - cx).abs() >= w // 4)
    cut = shifted * keep[:, None].to(x.dtype)
    brightness = (torch.rand(b, 1, 1, generator=generator) * 0.5 - 0.25).to(x.device)
    contrast = (torch.rand(b, 1, 1, generator=generator) + 0.5).to(x.device)
    image = cut[:, 0]
    mean = image.mean(dim=(1, 2), keepdim=True)
    image = (image - mean) * contrast + mean + brightness
    return torch.stack([image, cut[:, 1]], dim=1)


def hinge_step(generator: Generator, discriminator: Discriminator, opt_g: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor,
               augment: Callable[[torch.Tensor], torch.Tensor] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One discriminator step on ``relu(1 - D(T(real))) + relu(1 + D(T(G(z))))`` then one generator step on
    ``-D(T(G(z)))`` (hinge loss; ``T`` = ``augment``, the identity when ``None``); returns both losses."""
    augment = augment or (lambda x: x)
    fake = generator(z)
    loss_d = (F.relu(1 - discriminator(augment(real))).mean()
              + F.relu(1 + discriminator(augment(fake.detach()))).mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_g = -discriminator(augment(fake)).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g


def weight_average(parameters: Iterable[nn.Parameter], decay: float) -> EMAModel:
    """The moving average of the module docstring over ``parameters``: diffusers' ``EMAModel`` held at
    ``decay`` from its second step on (its warm-up and decay ramp switched off)."""
    return EMAModel(parameters, decay=decay, min_decay=decay)


class GANAugmentation(TwoChannelGenerator):
    name = "gan"
    settings: GANSettings

    def fit(self, data: torch.Tensor, seed: int, device: torch.device) -> dict[str, float]:
        s = self.settings
        data, size = data.to(device), tuple(data.shape[-2:])
        # initial weights and spectral-norm start vectors come from the seeded global generator
        self.generator = Generator(size, s.channels, s.z_dim).to(device)
        self.discriminator = Discriminator(size, s.channels).to(device)
        self.noise = torch.Generator(device=device).manual_seed(seed)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=s.lr_g, betas=s.betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=s.lr_d, betas=s.betas)
        draws = torch.Generator().manual_seed(seed + 1)
        augment = (lambda x: diff_augment(x, draws)) if s.diff_augment else None
        batches = batch_indices(len(data), s.batch_size, s.train_steps, torch.Generator().manual_seed(seed))
        average = weight_average(self.generator.parameters(), s.ema_decay) if s.ema_decay else None
        for index in batches:
            real = data[index.to(device)]
            z = torch.randn((len(real), s.z_dim), generator=self.noise, device=device)
            loss_d, loss_g = hinge_step(self.generator, self.discriminator, opt_g, opt_d, real, z, augment)
            if average is not None:
                average.step(self.generator.parameters())
        if average is not None:
            average.copy_to(self.generator.parameters())
        return {"generator_final_loss_d": loss_d.item(), "generator_final_loss_g": loss_g.item()}

    def networks(self) -> list[torch.nn.Module]:
        return [self.generator, self.discriminator]

    def reference_step(self, data: torch.Tensor, device: torch.device) -> Step:
        """:func:`hinge_step` on fresh networks and optimisers, DiffAugment as configured."""
        s = self.settings
        size = tuple(data.shape[-2:])
        generator = Generator(size, s.channels, s.z_dim).to(device)
        discriminator = Discriminator(size, s.channels).to(device)
        opt_g = torch.optim.Adam(generator.parameters(), lr=s.lr_g, betas=s.betas)
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=s.lr_d, betas=s.betas)
        draws = torch.Generator().manual_seed(0)
        augment = (lambda x: diff_augment(x, draws)) if s.diff_augment else None

        def step() -> None:
            real = data[torch.randint(len(data), (s.batch_size,), device=device)]
            z = torch.randn((s.batch_size, s.z_dim), device=device)
            hinge_step(generator, discriminator, opt_g, opt_d, real, z, augment)
        return step

    def sample(self, n: int, seed: int, device: torch.device) -> np.ndarray:
        self.generator.eval()
        z_dim = self.settings.z_dim
        with torch.inference_mode():
            samples = [self.generator(torch.randn((min(256, n - i), z_dim), generator=self.noise,
                                                  device=device))
                       for i in range(0, n, 256)]
        return torch.cat(samples).cpu().numpy()


AUGMENTATIONS.register("gan", "DCGAN (spectral-norm discriminator, hinge loss) on [image, label channel] "
                              "samples; labels read back from the generated channel",
                       settings=GANSettings, search_space=composition_search_space("gan"))(GANAugmentation)
