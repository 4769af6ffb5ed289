"""DDPM sampling with the full ancestral schedule (``T`` network calls per batch) and with the fast
DDIM sampler (``ddim_steps`` calls), on the ``ddpm`` generator's U-Net at its profile size. Speed does
not depend on the weights, so the network is untrained; sample quality of the two samplers (acceptance,
downstream MRE) comes from ``benchmark run --aug ddpm --set augmentations.ddpm.sampler=...``."""

from __future__ import annotations

import torch

from baselines.augmentations.two_channel import generator_grid
from baselines.diffusion import sample, scheduler_for
from benchmark.augmentation import create_augmentation
from benchmark.data.imageset import ImageSet
from benchmark.perf.timing import rate


def sampler_rates(params: dict, train: ImageSet, n_images: int,
                  device: torch.device) -> dict[str, float]:
    """Images per second of both samplers on ``n_images`` samples (one batch) on the generator grid of
    ``train``."""
    ddpm = create_augmentation("ddpm", {"ddpm": params})
    s = ddpm.settings
    size = generator_grid(s, train)
    torch.manual_seed(0)
    model = ddpm.network(size)
    scheduler = scheduler_for(s.recipe())

    def sampled(sampler: str) -> float:
        return rate(lambda: sample(model, scheduler, n_images, (2, *size), sampler, s.ddim_steps, n_images, 0,
                                        device, s.amp, progress=False), n_images, 1, 0, device, repeats=1)

    return {f"full schedule ({s.num_train_timesteps} steps)": sampled("ddpm"),
            f"ddim ({s.ddim_steps} steps)": sampled("ddim")}
