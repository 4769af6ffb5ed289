"""Generator throughput: each generator's own training code against a plain loop on the same networks,
and sampling images per second.

Suite: the generator's ``fit`` (``ddpm``, ``vae``, ``gan``) or the two training functions of
``latent-blend`` (autoencoder, latent DDPM), timed at ``warmup`` and at ``warmup + calls`` optimiser
steps; the difference is ``calls`` steps without network construction and first-call costs.
Reference: the same loss on the same architecture with the data already on the device, a fresh
optimiser and nothing else. Sampling: the configured sampler for ``n`` samples.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from baselines.augmentations.two_channel import encode_two_channel
from baselines.diffusion import (
    DiffusionRecipe,
    add_noise,
    denoise_from,
    diffusion_loss,
    scheduler_for,
    train_diffusion,
    training_target,
)
from benchmark.augmentation import create_augmentation
from benchmark.data.imageset import ImageSet
from benchmark.perf.detectors import plain_step
from benchmark.perf.figures import ModelFigures
from benchmark.perf.timing import rate, seconds

Loss = Callable[[torch.nn.Module], torch.Tensor]


def steps_rate(train_for: Callable[[int], object], batch_size: int, calls: int, warmup: int,
               device: torch.device, repeats: int = 3) -> float:
    """Images per second of ``calls`` steps from ``train_for(steps)`` timed at two step counts, each the
    best of ``repeats`` (as :func:`benchmark.perf.timing.rate`)."""
    short = min(seconds(lambda: train_for(warmup), device) for _ in range(repeats))
    long = min(seconds(lambda: train_for(warmup + calls), device) for _ in range(repeats))
    return batch_size * calls / max(long - short, 1e-9)


def diffusion_reference_loss(data: torch.Tensor, recipe: DiffusionRecipe,
                             condition: torch.Tensor | None = None) -> Loss:
    """The recipe's diffusion loss on random batches of ``data`` (already on the device), the network
    seeing ``concat(x_t, condition)`` when there is a condition."""
    abar = scheduler_for(recipe).alphas_cumprod.to(data.device)

    def loss_of(model: torch.nn.Module) -> torch.Tensor:
        index = torch.randint(len(data), (recipe.batch_size,), device=data.device)
        x0 = data[index]
        t = torch.randint(recipe.num_train_timesteps, (recipe.batch_size,), device=data.device)
        eps = torch.randn_like(x0)
        noisy = add_noise(x0, eps, abar[t])
        output = model(noisy if condition is None else torch.cat([noisy, condition[index]], 1), t).sample
        return diffusion_loss(output, training_target(x0, eps, abar[t], recipe.prediction_type), abar[t], recipe)
    return loss_of


def two_channel_figures(name: str, params: dict, train: ImageSet, device: torch.device, calls: int, warmup: int,
                        n_samples: int) -> ModelFigures:
    """``ddpm``, ``shape-ddpm``, ``vae`` or ``gan`` at ``params`` (the profile's settings); shape-ddpm
    samples images for the first ``n_samples`` training labels."""
    def create(steps: int):
        return create_augmentation(name, {name: {**params, "train_steps": steps}})

    s = create(1).settings
    size = s.grid(train.image_size)
    data = torch.from_numpy(encode_two_channel(train, size, s.heatmap_sigma))

    def train_for(steps: int):
        generator = create(steps)
        generator.fit(data, 0, device)
        return generator

    train_rate = steps_rate(train_for, s.batch_size, calls, warmup, device)
    reference = rate(reference_step(name, s, data.to(device), device), s.batch_size, calls, warmup, device)
    fitted = train_for(1)
    if name == "shape-ddpm":
        labels = data[torch.arange(n_samples) % len(data), 1:]
        sampling = rate(lambda: fitted.sample_images(labels, 0, device), n_samples, 1, 0, device, repeats=1)
    else:
        sampling = rate(lambda: fitted.sample(n_samples, 0, device), n_samples, 1, 0, device, repeats=1)
    diffusion = name in ("ddpm", "shape-ddpm") and s.sampler == "ddim"
    note = f"sampler {s.sampler}, {s.ddim_steps} steps" if diffusion else ""
    return ModelFigures(name, "generator", s.batch_size, train_rate, reference, sampling, note)


def reference_step(name: str, s, data: torch.Tensor, device: torch.device) -> Callable[[], None]:
    size = tuple(data.shape[-2:])
    if name == "ddpm":
        recipe = s.recipe((1.0, s.label_weight))
        return plain_step(s.unet(size, 2, 2).to(device), diffusion_reference_loss(data, recipe), s.lr, device, s.amp)
    if name == "shape-ddpm":
        loss = diffusion_reference_loss(data[:, :1], s.recipe(), condition=data[:, 1:])
        return plain_step(s.unet(size, 2, 1).to(device), loss, s.lr, device, s.amp)
    if name == "vae":
        from baselines.augmentations.vae import ConvVAE, vae_loss

        noise = torch.Generator(device=device).manual_seed(0)
        model = ConvVAE(size, s.channels, s.latent_dim).to(device)
        return plain_step(model, lambda m: vae_loss(m, data[torch.randint(len(data), (s.batch_size,), device=device)],
                                                    s.beta, noise, s.label_weight), s.lr, device, "off")
    if name == "gan":
        return gan_reference_step(s, data, device)
    raise ValueError(f"no reference loop for {name!r}")


def gan_reference_step(s, data: torch.Tensor, device: torch.device) -> Callable[[], None]:
    """The ``gan`` module's hinge-loss step on fresh networks and optimisers."""
    from baselines.augmentations.gan import Discriminator, Generator, diff_augment, hinge_step

    size = tuple(data.shape[-2:])
    generator, discriminator = Generator(size, s.channels, s.z_dim).to(device), Discriminator(size, s.channels).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=s.lr_g, betas=s.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=s.lr_d, betas=s.betas)

    draws = torch.Generator().manual_seed(0)
    augment = (lambda x: diff_augment(x, draws)) if s.diff_augment else None

    def step() -> None:
        real = data[torch.randint(len(data), (s.batch_size,), device=device)]
        hinge_step(generator, discriminator, opt_g, opt_d, real, torch.randn((s.batch_size, s.z_dim), device=device),
                   augment)
    return step


def latent_blend_figures(params: dict, train: ImageSet, device: torch.device, calls: int,
                         warmup: int) -> list[ModelFigures]:
    """The autoencoder and the latent DDPM of ``latent-blend``; sampling = blend-free partial DDIM
    (``strength``, ``denoise_steps``) plus decoding, per image."""
    from baselines.augmentations.latent_blend import build_autoencoder, encode, train_autoencoder
    from baselines.augmentations.two_channel import resize

    s = create_augmentation("latent-blend", {"latent-blend": params}).settings
    size = s.grid(train.image_size)
    data = torch.from_numpy(resize(train.images, size) * 2 - 1)[:, None]
    ae = build_autoencoder(s)
    ae_rate = steps_rate(lambda k: train_autoencoder(build_autoencoder(s), data, dataclasses.replace(s, ae_steps=k),
                                                     0, device), s.ae_batch_size, calls, warmup, device)
    crops = data[:s.ae_batch_size, :, :s.ae_crop or size[0], :s.ae_crop or size[1]].to(device)

    def ae_loss(model: torch.nn.Module) -> torch.Tensor:
        posterior = model.encode(crops).latent_dist
        mean, log_var = posterior.mean.float(), posterior.logvar.float()
        x_hat = model.decode(mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)).sample.float()
        error = (x_hat - crops).abs() if s.ae_loss == "l1" else (x_hat - crops) ** 2
        return error.mean() + s.kl_weight * (0.5 * (mean**2 + log_var.exp() - 1 - log_var)).mean()

    ae_reference = rate(plain_step(ae.to(device), ae_loss, s.ae_lr, device, s.amp), s.ae_batch_size, calls, warmup,
                        device)
    latents = encode(ae, data, s.sample_batch_size, device, s.amp)
    recipe = s.recipe()
    scheduler = scheduler_for(recipe, clip_sample=False)
    generator = torch.Generator()
    ddpm_rate = steps_rate(
        lambda k: train_diffusion(s.unet(size), latents, dataclasses.replace(recipe, steps=k),
                                  generator.manual_seed(0), device, s.amp, progress=False),
        s.ddpm_batch_size, calls, warmup, device)
    ddpm_loss = diffusion_reference_loss(latents.to(device), recipe)
    ddpm_reference = rate(plain_step(s.unet(size).to(device), ddpm_loss, s.ddpm_lr, device, s.amp),
                          s.ddpm_batch_size, calls, warmup, device)
    model = s.unet(size).to(device).eval()
    z = latents[:s.sample_batch_size]
    noise = torch.randn(z.shape)

    @torch.no_grad()
    def sample() -> None:
        ae.decode(denoise_from(model, scheduler, z, s.strength, s.denoise_steps, noise, device, s.amp))

    sampling = rate(sample, len(z), 1, 0, device, repeats=1)
    return [ModelFigures("latent-blend autoencoder", "generator", s.ae_batch_size, ae_rate, ae_reference, sampling,
                         f"sampling: {s.denoise_steps} DDIM steps from strength {s.strength} + decode"),
            ModelFigures("latent-blend latent ddpm", "generator", s.ddpm_batch_size, ddpm_rate, ddpm_reference,
                         float("nan"), "sampled with the autoencoder row")]
