"""``latent-blend``: anatomy-guided latent blending (Lim et al. 2024). A labelled image's anatomy is
carried into a similar unlabelled image in the latent space of an autoencoder, the seam is harmonised by
a partial reverse diffusion with an unconditional latent DDPM, and the decoded image is paired with the
labelled image's own labels (no label is generated or read back).

Protocol (fitted on the training split of the current fold and the task's unlabelled pool only):

1. **Autoencoder.** A diffusers ``AutoencoderKL`` (random initialisation, one grey channel, downsampling
   factor ``f = 2^(len(ae_block_out_channels) - 1)``, ``latent_channels`` channels, no attention unless
   ``ae_attention``) is trained on the labelled and unlabelled images, scaled to [-1, 1] at ``image_size``
   (``None``: the working size), for ``ae_steps`` AdamW steps of

       L_AE = mean_pixels rho(x - D(z)) + kl_weight * mean_latent KL(N(mu, s^2) || N(0, I)),

   ``z = mu + s * eps`` (reparameterisation), ``rho = |.|`` (``ae_loss="l1"``) or ``(.)^2`` (``"mse"``),
   the KL term ``1/2 (mu^2 + s^2 - 1 - log s^2)`` averaged over latent elements. A training batch is
   ``ae_batch_size`` random ``ae_crop`` x ``ae_crop`` crops (``None``: whole images); the network is
   convolutional, so crops cost a fraction of whole images and it is applied to whole images afterwards.
2. **Latent DDPM.** Every image is encoded to its posterior mean ``mu``; the latents are multiplied by
   ``latent_scale = 1 / std(mu)`` (over all training latents; recorded as a metric) so the diffusion
   sees unit-variance data. An unconditional ``UNet2DModel`` is trained on them with the eps-prediction
   loss of :mod:`baselines.diffusion` (linear schedule 1e-4 .. 2e-2,
   ``num_train_timesteps`` T = 1000, ``ddpm_steps`` AdamW steps).
3. **Partners by SSIM.** For each labelled image ``a`` the ``top_k`` candidates ``u`` with the highest
   SSIM(a, u) (scikit-image, data range 1, 7x7 window) are its partners. To save time SSIM is computed on
   both images shrunk by ``ssim_downsample`` (anti-aliased bilinear; 2 by default, a quarter of the cost).
   Candidates are the unlabelled pool; where a task has none (real data without an unlabelled folder),
   the other labelled training images (never the image itself), and the autoencoder and DDPM are then
   trained on the labelled images only. Every (labelled, partner) pair makes one sample; the set is cut
   to ``n_samples`` (or ``round(samples_ratio * n_train)``) taking pairs round-robin: every labelled image
   with its best partner, then every one with its second best, and so on. The paper's set of
   ``top_k * n_train`` samples is therefore ``samples_ratio = top_k``.
4. **Blending.** The anatomy map ``G`` is the label map on the latent grid (adaptive max pooling of the
   working-size mask: a latent cell is anatomy when any pixel under it is), for landmark tasks the union
   of discs of radius ``landmark_radius`` working pixels around the landmarks, pooled the same way. It is
   dilated by ``dilation`` latent cells (a ``(2 d + 1)^2`` square structuring element), ``G'``. With
   ``convention="labelled-inside"`` (the paper's text: labelled latent = foreground source, unlabelled
   latent = background source)

       z_init = G' * z_a + (1 - G') * z_u,

   with ``"labelled-outside"`` (the literal reading of the paper's Appendix A, ``z_u G' + z_a (1 - G')``)
   the two sources swap. Latents are the scaled posterior means.
5. **Noise and denoise.** ``z_init`` is noised once with ``q(z_t0 | z_init)``,
   ``z_t0 = sqrt(abar_t0) z_init + sqrt(1 - abar_t0) eps``, to the largest timestep ``t0 <= strength * T``
   of a DDIM schedule of ``ceil(denoise_steps / strength)`` steps, and denoised by its deterministic
   update (eta 0) from ``t0`` down to 0 (about ``denoise_steps`` network calls;
   :func:`baselines.diffusion.denoise_from`, diffusers' img2img convention):

       z0_hat = (z_t - sqrt(1 - abar_t) eps_theta(z_t, t)) / sqrt(abar_t),
       z_s    = sqrt(abar_s) z0_hat + sqrt(1 - abar_s) eps_theta(z_t, t).

   Latents are not clipped. The paper blends once, before the noising, and its Appendix A loop only
   denoises (unlike Blended Latent Diffusion, which re-imposes the background at every step); this
   module does the same. The paper does not give the noise level of ``noise(z_init, T)`` (its ``T`` is
   the 25 denoising steps); noising to the full T = 1000 would erase the blend, so the start is the
   SDEdit-style ``strength``. The result is decoded, clipped to [-1, 1], mapped to [0, 1] and resized to
   the working size.
6. **Labels and evidence.** The sample of pair (a, u) carries a's mask or landmarks unchanged, and a's
   spacing and original size (its labels are a's, so are its millimetres). Quality columns: ``accepted``
   (false only when decoding gave non-finite values, which are zeroed), ``reason``, ``labelled_id``,
   ``partner_id``, ``partner_rank`` (0 = best), ``partner_ssim`` (the selection SSIM) and
   ``nearest_train_ssim`` (:func:`benchmark.synthetic.nearest_training_ssim`, memorisation evidence).

Deviation from the paper: it trains the LDM on unlabelled images disjoint from those it blends and its
VAE for 2,000 epochs on thousands of radiographs; here both networks are trained on the fold's labelled
images and the whole unlabelled pool (all the data a fold may use), for far fewer steps by default. All
randomness (weights, batches, crops, the forward noise) comes from ``seed``, so a seed gives the same set
on the CPU.

``benchmark perf`` measures two rows (:meth:`LatentBlendAugmentation.perf_models`): the autoencoder, whose
sampling figure is the blend-free partial reverse process plus decoding of one sampling batch, and the
latent U-Net, trained on the latents of an untrained autoencoder (speed does not depend on the weights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, UNet2DModel
from skimage.metrics import structural_similarity
from tqdm.auto import tqdm

from baselines.augmentations.two_channel import batch_indices, resize
from baselines.diffusion import DiffusionRecipe, denoise_from, reference_loss, scheduler_for, train_diffusion
from baselines.networks.diffusion_unet import build_unet
from benchmark.augmentation import Augmentation, GeneratorSettings, SyntheticSet, composition_search_space
from benchmark.data.imageset import ImageSet
from benchmark.errors import ConfigError
from benchmark.perf.contract import PerfModel, plain_step
from benchmark.record.metrics import sample_metrics, timing_metrics
from benchmark.registry import AUGMENTATIONS
from benchmark.synthetic import nearest_training_ssim
from benchmark.task import TaskShape
from benchmark.training.device import autocast, pick_device
from benchmark.training.settings import AmpMode

CONVENTIONS = ("labelled-inside", "labelled-outside")
WHAT = "latent-blend"


@dataclass(frozen=True)
class LatentBlendSettings(GeneratorSettings):
    """Composition and sample count (as every :class:`~benchmark.augmentation.GeneratorSettings`), the
    autoencoder, the latent DDPM, partner selection, blending and sampling (module docstring). The defaults
    fit a 2-core CPU budget of a few minutes on the canal phantoms; the paper's networks are far larger and
    longer trained. ``strength`` 0.2 because the DDPM of that budget paints streaks into the image from about
    0.3 on and erases the anatomy at 0.5; a well-trained DDPM can start from more noise."""

    method: ClassVar[str] = WHAT

    image_size: tuple[int, int] | None = None
    ae_block_out_channels: tuple[int, ...] = field(default=(16, 32, 32))
    ae_layers_per_block: int = 1
    ae_attention: bool = False
    latent_channels: int = 4
    ae_loss: Literal["l1", "mse"] = "l1"
    kl_weight: float = 1e-4
    ae_steps: int = 300
    ae_batch_size: int = 8
    ae_crop: int | None = 64
    ae_lr: float = 2e-3
    num_train_timesteps: int = 1000
    unet_block_out_channels: tuple[int, ...] = field(default=(16, 32, 64))
    unet_layers_per_block: int = 1
    unet_attention_levels: int = 1
    ddpm_steps: int = 300
    ddpm_batch_size: int = 16
    ddpm_lr: float = 1e-3
    top_k: int = 20
    ssim_downsample: int = 2
    convention: Literal["labelled-inside", "labelled-outside"] = "labelled-inside"
    dilation: int = 1
    landmark_radius: float = 6.0
    strength: float = 0.2
    denoise_steps: int = 25
    sample_batch_size: int = 32
    amp: AmpMode = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("ae_block_out_channels", "unet_block_out_channels"):
            channels = tuple(int(c) for c in getattr(self, name))
            if not channels or min(channels) < 1:
                raise ConfigError(f"{WHAT}: {name} must be a non-empty list of positive widths, "
                                  f"got {channels}")
            object.__setattr__(self, name, channels)
        groups = ae_norm_groups(self.ae_block_out_channels)
        if any(c % groups for c in self.ae_block_out_channels):
            raise ConfigError(f"{WHAT}: ae_block_out_channels {self.ae_block_out_channels} must all be "
                              f"divisible by {groups} (group normalisation)")
        for name in ("ae_layers_per_block", "latent_channels", "ae_steps", "ae_batch_size",
                     "unet_layers_per_block", "num_train_timesteps", "ddpm_steps", "ddpm_batch_size", "top_k",
                     "ssim_downsample", "denoise_steps", "sample_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{WHAT}: {name} must be >= 1, got {getattr(self, name)}")
        if self.image_size is not None:
            size = tuple(int(v) for v in self.image_size)
            if len(size) != 2 or min(size) < 1 or any(v % self.size_multiple for v in size):
                raise ConfigError(f"{WHAT}: image_size must be [H, W] divisible by {self.size_multiple} "
                                  f"(autoencoder and U-Net halvings) or null, got {self.image_size}")
            object.__setattr__(self, "image_size", size)
        if self.ae_crop is not None and (self.ae_crop < 1 or self.ae_crop % self.downsampling):
            raise ConfigError(f"{WHAT}: ae_crop must be a positive multiple of the autoencoder's "
                              f"downsampling factor {self.downsampling} or null, got {self.ae_crop}")
        if not 0 <= self.unet_attention_levels <= len(self.unet_block_out_channels):
            raise ConfigError(f"{WHAT}: unet_attention_levels must be in "
                              f"[0, {len(self.unet_block_out_channels)}], got {self.unet_attention_levels}")
        if self.ae_loss not in ("l1", "mse"):
            raise ConfigError(f"{WHAT}: ae_loss must be 'l1' or 'mse', got {self.ae_loss!r}")
        if self.convention not in CONVENTIONS:
            raise ConfigError(f"{WHAT}: convention must be one of {', '.join(CONVENTIONS)}, "
                              f"got {self.convention!r}")
        if not 0 < self.strength <= 1:
            raise ConfigError(f"{WHAT}: strength must be in (0, 1] (fraction of the T diffusion steps), "
                              f"got {self.strength}")
        if self.dilation < 0:
            raise ConfigError(f"{WHAT}: dilation must be >= 0 latent cells, got {self.dilation}")
        if self.landmark_radius <= 0:
            raise ConfigError(f"{WHAT}: landmark_radius must be > 0 pixels, got {self.landmark_radius}")
        if self.kl_weight < 0 or self.ae_lr <= 0 or self.ddpm_lr <= 0:
            raise ConfigError(f"{WHAT}: kl_weight must be >= 0, ae_lr and ddpm_lr > 0")

    @property
    def downsampling(self) -> int:
        """The autoencoder's factor f: every encoder block but the last halves the image."""
        return 2 ** (len(self.ae_block_out_channels) - 1)

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of f times the U-Net's halvings of the latent grid."""
        return self.downsampling * 2 ** (len(self.unet_block_out_channels) - 1)

    def grid(self, working_size: tuple[int, int]) -> tuple[int, int]:
        """The image size (h, w) both networks work at: ``image_size``, else the working size; both sides
        must be multiples of :attr:`size_multiple`."""
        size = tuple(int(v) for v in (self.image_size or working_size))
        if any(v % self.size_multiple for v in size):
            raise ConfigError(f"{WHAT}: image size {size} must be divisible by {self.size_multiple}; "
                              f"set augmentations.{WHAT}.image_size")
        return size

    def unet(self, size: tuple[int, int]) -> UNet2DModel:
        """The latent DDPM's randomly initialised U-Net for images of ``size``: on the latent grid
        ``size / f``, ``latent_channels`` in and out."""
        latent_size = (size[0] // self.downsampling, size[1] // self.downsampling)
        return build_unet(latent_size, self.latent_channels, self.latent_channels,
                          self.unet_block_out_channels, self.unet_layers_per_block,
                          self.unet_attention_levels)

    def recipe(self) -> DiffusionRecipe:
        """The latent DDPM's training: ``ddpm_steps`` AdamW steps at ``ddpm_batch_size``, eps-prediction."""
        return DiffusionRecipe(steps=self.ddpm_steps, batch_size=self.ddpm_batch_size, lr=self.ddpm_lr,
                               num_train_timesteps=self.num_train_timesteps)


def ae_norm_groups(channels: tuple[int, ...]) -> int:
    return min(8, min(channels))


def build_autoencoder(s: LatentBlendSettings) -> AutoencoderKL:
    """A randomly initialised one-channel ``AutoencoderKL`` (no downloaded weights)."""
    levels = len(s.ae_block_out_channels)
    return AutoencoderKL(
        in_channels=1, out_channels=1, down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels, block_out_channels=s.ae_block_out_channels,
        layers_per_block=s.ae_layers_per_block, latent_channels=s.latent_channels,
        norm_num_groups=ae_norm_groups(s.ae_block_out_channels), mid_block_add_attention=s.ae_attention,
    )


def random_crops(data: torch.Tensor, index: torch.Tensor, crop: int | None,
                 generator: torch.Generator) -> torch.Tensor:
    """``data[index]`` (B, C, H, W) cut to random ``crop`` x ``crop`` windows (each side at most H, W)."""
    height, width = data.shape[-2:]
    ch, cw = min(crop or height, height), min(crop or width, width)
    ys = torch.randint(height - ch + 1, (len(index),), generator=generator).tolist()
    xs = torch.randint(width - cw + 1, (len(index),), generator=generator).tolist()
    return torch.stack([data[i, :, y:y + ch, x:x + cw] for i, y, x in zip(index.tolist(), ys, xs)])


def autoencoder_loss(ae: AutoencoderKL, x: torch.Tensor, s: LatentBlendSettings,
                     generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """L_AE of the module docstring on the batch ``x`` (on ``device``); the reparameterisation noise is drawn
    on the CPU from ``generator`` (``None``: torch's global generator)."""
    with autocast(device, s.amp):
        posterior = ae.encode(x).latent_dist
        mean, log_var = posterior.mean.float(), posterior.logvar.float()
        z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator).to(device)
        x_hat = ae.decode(z).sample.float()
    error = (x_hat - x).abs() if s.ae_loss == "l1" else (x_hat - x) ** 2
    kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var)
    return error.mean() + s.kl_weight * kl.mean()


def train_autoencoder(ae: AutoencoderKL, data: torch.Tensor, s: LatentBlendSettings, seed: int,
                      device: torch.device) -> list[float]:
    """Fit ``ae`` to ``data`` (N, 1, h, w) in [-1, 1] with L_AE of the module docstring; the losses."""
    ae.to(device).train()
    optimiser = torch.optim.AdamW(ae.parameters(), lr=s.ae_lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    batches = batch_indices(len(data), s.ae_batch_size, s.ae_steps, generator)
    for index in tqdm(batches, total=s.ae_steps, desc="latent-blend autoencoder", disable=None, leave=False):
        x = random_crops(data, index, s.ae_crop, generator).to(device)
        loss = autoencoder_loss(ae, x, s, generator, device)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def encode(ae: AutoencoderKL, data: torch.Tensor, batch_size: int, device: torch.device,
           amp: str) -> torch.Tensor:
    """Posterior means (N, C, h/f, w/f) of ``data`` (N, 1, h, w), on the CPU."""
    ae.to(device).eval()
    out = []
    for start in range(0, len(data), batch_size):
        with autocast(device, amp):
            out.append(ae.encode(data[start:start + batch_size].to(device)).latent_dist.mean.float().cpu())
    return torch.cat(out)


def anatomy_masks(labelled: ImageSet, latent_size: tuple[int, int], landmark_radius: float) -> np.ndarray:
    """(N, h, w) float32 {0, 1} anatomy maps on the latent grid, before dilation: the mask (or the discs of
    radius ``landmark_radius`` working pixels around the landmarks) max-pooled onto the latent grid."""
    if labelled.masks is not None:
        label_maps = labelled.masks.astype(np.float32)
    elif labelled.landmarks is not None:
        yy, xx = np.mgrid[:labelled.image_size[0], :labelled.image_size[1]]
        x, y = labelled.landmarks[:, :, 0, None, None], labelled.landmarks[:, :, 1, None, None]
        label_maps = (((xx - x) ** 2 + (yy - y) ** 2) <= landmark_radius**2).any(axis=1).astype(np.float32)
    else:
        raise ValueError("latent-blend needs landmarks or masks in the training set")
    pooled = F.adaptive_max_pool2d(torch.from_numpy(label_maps)[:, None], tuple(latent_size))
    return (pooled[:, 0] > 0).float().numpy()


def dilate(masks: np.ndarray, cells: int) -> np.ndarray:
    """Binary dilation of (N, h, w) masks by ``cells`` with a (2 cells + 1)^2 square structuring element."""
    x = torch.from_numpy(np.asarray(masks, dtype=np.float32))
    if cells == 0:
        return x.numpy()
    return F.max_pool2d(x[:, None], 2 * cells + 1, stride=1, padding=cells)[:, 0].numpy()


def blend(z_labelled: torch.Tensor, z_partner: torch.Tensor, anatomy: torch.Tensor,
          convention: str) -> torch.Tensor:
    """``z_init = G' z_in + (1 - G') z_out`` with (z_in, z_out) = (labelled, partner) for
    ``labelled-inside`` and (partner, labelled) for ``labelled-outside``; ``anatomy`` (N, h, w)
    broadcasts over the latent channels of the (N, C, h, w) latents."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    m = anatomy[:, None]
    inside, outside = (z_labelled, z_partner) if convention == "labelled-inside" else (z_partner, z_labelled)
    return m * inside + (1 - m) * outside


def ssim_partners(labelled: np.ndarray, pool: np.ndarray, k: int, downsample: int,
                  exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices (N, k) into ``pool`` of each labelled image's ``k`` highest-SSIM candidates, best first (ties
    broken by pool order), and those SSIMs. Both sets are shrunk by ``downsample`` first (to no less than
    the 7x7 SSIM window). ``exclude_self``: ``pool`` is the labelled set and image i is not its own
    candidate."""
    size = labelled.shape[1:]
    grid = (max(7, size[0] // downsample), max(7, size[1] // downsample))
    a, u = resize(labelled, grid), resize(pool, grid)
    ssim = np.array([[structural_similarity(x, y, data_range=1.0) for y in u] for x in a])
    ssim = ssim.reshape(len(a), len(u))
    if exclude_self:
        np.fill_diagonal(ssim, -np.inf)
    order = np.argsort(-ssim, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(ssim, order, axis=1)


def round_robin_pairs(n_labelled: int, k: int, n: int) -> list[tuple[int, int]]:
    """The first ``n`` (labelled index, partner rank) pairs: every labelled image at rank 0, then rank 1..."""
    return [(i, rank) for rank in range(k) for i in range(n_labelled)][:n]


def final_loss(losses: list[float]) -> float:
    """Mean of the last tenth of a loss curve (at least its last value)."""
    return float(np.mean(losses[-max(1, len(losses) // 10):]))


class LatentBlendAugmentation(Augmentation):
    name = "latent-blend"

    def __init__(self, settings: LatentBlendSettings):
        self.settings = settings
        self.composition = settings

    def check(self, shape: TaskShape) -> None:
        """The working size suits the networks; without an unlabelled pool, every labelled image needs a
        partner among the other training images."""
        self.settings.grid(shape.working_size)
        if shape.n_train is not None and not shape.n_unlabelled and shape.n_train < 2:
            raise ConfigError(f"{WHAT}: without an unlabelled pool the training set needs at least 2 images "
                              f"(the partners), got {shape.n_train}; raise --train-size")

    def synthesize(self, train: ImageSet, seed: int, unlabelled: ImageSet | None = None,
                   device: torch.device | None = None) -> SyntheticSet:
        """The labelled synthetic set of the module docstring. Without an unlabelled pool (``None`` or
        empty) the partners are the other labelled training images and the networks see those only."""
        s = self.settings
        if train.landmarks is None and train.masks is None:
            raise ValueError("latent-blend needs landmarks or masks in the training set")
        has_pool = unlabelled is not None and len(unlabelled) > 0
        if not has_pool and len(train) < 2:
            raise ValueError("latent-blend without an unlabelled pool needs at least 2 training images")
        size = s.grid(train.image_size)
        latent_size = (size[0] // s.downsampling, size[1] // s.downsampling)
        device = device or pick_device("auto")

        # 1-2: autoencoder and latent DDPM on the labelled (and unlabelled) images
        images = np.concatenate([train.images, unlabelled.images]) if has_pool else train.images
        data = torch.from_numpy(resize(images, size) * 2 - 1)[:, None]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ae = build_autoencoder(s)
            unet = s.unet(size)
        started = time.perf_counter()
        ae_losses = train_autoencoder(ae, data, s, seed, device)
        latents = encode(ae, data, s.sample_batch_size, device, s.amp)
        latent_scale = float(1.0 / latents.std().clamp_min(1e-8))
        latents = latents * latent_scale
        recipe = s.recipe()
        scheduler = scheduler_for(recipe, clip_sample=False)
        report = train_diffusion(unet, latents, recipe, torch.Generator().manual_seed(seed + 1), device,
                                 s.amp, desc="latent-blend ddpm training")
        train_seconds = time.perf_counter() - started

        # 3: partners and the pairs to synthesise
        pool = unlabelled.images if has_pool else train.images
        k = min(s.top_k, len(pool) - (0 if has_pool else 1))
        partners, partner_ssim = ssim_partners(train.images, pool, k, s.ssim_downsample, not has_pool)
        n = s.n_to_generate(len(train))
        pairs = round_robin_pairs(len(train), k, n)
        z_labelled = latents[:len(train)]
        z_pool = latents[len(train):] if has_pool else z_labelled
        anatomy = torch.from_numpy(dilate(anatomy_masks(train, latent_size, s.landmark_radius), s.dilation))

        # 4-5: blend, noise to t0, DDIM back to 0, decode
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(seed + 2)
        unet.to(device).eval()
        decoded = []
        for start in tqdm(range(0, len(pairs), s.sample_batch_size), desc="latent-blend sampling",
                          disable=None, leave=False):
            chunk = pairs[start:start + s.sample_batch_size]
            a = torch.tensor([i for i, _ in chunk])
            u = torch.from_numpy(np.array([partners[i, rank] for i, rank in chunk]))
            z_init = blend(z_labelled[a], z_pool[u], anatomy[a], s.convention).to(device)
            noise = torch.randn(z_init.shape, generator=generator).to(device)
            z0 = denoise_from(unet, scheduler, z_init, s.strength, s.denoise_steps, noise, device, s.amp)
            with torch.no_grad(), autocast(device, s.amp):
                decoded.append(ae.decode(z0 / latent_scale).sample.float()[:, 0].cpu().numpy())
        sampling_seconds = time.perf_counter() - started
        metrics = {**timing_metrics(train_seconds, len(pairs), sampling_seconds),
                   "latent_scale": latent_scale, "ae_final_loss": final_loss(ae_losses),
                   "ddpm_final_loss": final_loss(report.losses)}
        partner_ids = unlabelled.ids if has_pool else train.ids
        return self._result(train, partner_ids, pairs, partners, partner_ssim, np.concatenate(decoded), seed,
                            metrics)

    def perf_models(self, train: ImageSet, device: torch.device) -> list[PerfModel]:
        """The autoencoder and the latent U-Net (module docstring): each ``train`` call trains fresh networks
        by :func:`train_autoencoder` (on whole training images) or :func:`train_diffusion` (on their
        latents); the references are :func:`autoencoder_loss` on ``ae_batch_size`` crops and the latent
        diffusion loss."""
        s = self.settings
        size = s.grid(train.image_size)
        data = torch.from_numpy(resize(train.images, size) * 2 - 1)[:, None]
        latest = {"autoencoder": build_autoencoder(s), "unet": s.unet(size).to(device)}
        latents = encode(latest["autoencoder"], data, s.sample_batch_size, device, s.amp)
        recipe = s.recipe()
        crops = data[:s.ae_batch_size, :, :s.ae_crop or size[0], :s.ae_crop or size[1]]
        z = latents[:s.sample_batch_size]
        noise = torch.randn(z.shape)
        scheduler = scheduler_for(recipe, clip_sample=False)

        def train_autoencoder_for(steps: int, batch_size: int, device: torch.device) -> dict[str, float]:
            latest["autoencoder"] = build_autoencoder(s)
            one_run = replace(s, ae_steps=steps, ae_batch_size=batch_size)
            losses = train_autoencoder(latest["autoencoder"], data, one_run, 0, device)
            return {"ae_final_loss": final_loss(losses)}

        def train_unet_for(steps: int, batch_size: int, device: torch.device) -> dict[str, float]:
            latest["unet"] = s.unet(size)
            one_run = replace(recipe, steps=steps, batch_size=batch_size)
            report = train_diffusion(latest["unet"], latents, one_run, torch.Generator().manual_seed(0),
                                     device, s.amp, progress=False)
            return {"ddpm_final_loss": final_loss(report.losses)}

        def autoencoder_reference(device: torch.device):
            x = crops.to(device)
            return plain_step(build_autoencoder(s).to(device),
                              lambda ae: autoencoder_loss(ae, x, s, None, device), s.ae_lr, device, s.amp)

        def unet_reference(device: torch.device):
            return plain_step(s.unet(size).to(device), reference_loss(latents.to(device), recipe), s.ddpm_lr,
                              device, s.amp)

        @torch.no_grad()
        def sample(n: int, device: torch.device) -> int:
            z0 = denoise_from(latest["unet"], scheduler, z, s.strength, s.denoise_steps, noise, device, s.amp)
            latest["autoencoder"].decode(z0)
            return len(z)

        return [PerfModel(f"{WHAT} autoencoder", s.ae_batch_size, s.ae_steps, train_autoencoder_for,
                          lambda: [latest["autoencoder"]], autoencoder_reference, sample,
                          f"sampling: {s.denoise_steps} DDIM steps from strength {s.strength} + decode"),
                PerfModel(f"{WHAT} latent ddpm", s.ddpm_batch_size, s.ddpm_steps, train_unet_for,
                          lambda: [latest["unet"]], unet_reference, None, "sampled with the autoencoder row")]

    def _result(self, train: ImageSet, partner_ids: list[str], pairs: list[tuple[int, int]],
                partners: np.ndarray, partner_ssim: np.ndarray, decoded: np.ndarray, seed: int,
                metrics: dict[str, float]) -> SyntheticSet:
        """Step 6 of the module docstring: images at the working size with the labelled images' labels."""
        finite = np.isfinite(decoded.reshape(len(decoded), -1)).all(axis=1)
        unit = (np.clip(np.nan_to_num(decoded, nan=0.0, posinf=0.0, neginf=0.0), -1, 1) + 1) / 2
        images = np.clip(resize(unit, train.image_size), 0, 1)
        a = np.array([i for i, _ in pairs], dtype=np.int64)
        n = len(pairs)
        ssim = nearest_training_ssim(images, train.images)
        quality = {
            "accepted": finite.tolist(),
            "reason": ["accepted" if ok else "non-finite decoded values" for ok in finite],
            "labelled_id": [train.ids[i] for i in a],
            "partner_id": [partner_ids[partners[i, rank]] for i, rank in pairs],
            "partner_rank": [rank for _, rank in pairs],
            "partner_ssim": [float(partner_ssim[i, rank]) for i, rank in pairs],
            "nearest_train_ssim": [float(v) for v in ssim],
        }
        synthetic = ImageSet(
            ids=[f"latent-blend-{seed}-{j:05d}" for j in range(n)], images=images,
            spacing=train.spacing[a], original_size=train.original_size[a],
            landmarks=None if train.landmarks is None else train.landmarks[a],
            masks=None if train.masks is None else train.masks[a],
        )
        metrics = {**sample_metrics(finite, ssim), **metrics}
        return SyntheticSet(images=synthetic, quality=quality, metrics=metrics)


def search_space(trial) -> dict:
    """Sweep suggestions: the paper's top-k (5, 10, 20, 50), the SDEdit strength, the label-map dilation,
    how many blended images are made per labelled image and how many join the real ones (top-k reaches
    the samples only where more than one is made per image: pairs are taken best partner first)."""
    return {"top_k": trial.suggest_categorical(f"{WHAT}.top_k", [5, 10, 20, 50]),
            "strength": trial.suggest_float(f"{WHAT}.strength", 0.1, 0.6),
            "dilation": trial.suggest_int(f"{WHAT}.dilation", 0, 3),
            **composition_search_space(WHAT)(trial)}


AUGMENTATIONS.register(WHAT, "anatomy-guided latent blending (Lim et al. 2024): a labelled image's latent "
                             "inside its dilated label map, an SSIM-top-k unlabelled partner's outside, "
                             "partly noised and denoised by a latent DDPM; keeps the labelled image's "
                             "labels",
                       settings=LatentBlendSettings, search_space=search_space)(LatentBlendAugmentation)
