"""The shared diffusion maths (baselines/diffusion.py), each formula against a hand computation."""

import math

import numpy as np
import pytest
import torch
from diffusers.training_utils import EMAModel
from torch.optim.optimizer import register_optimizer_step_pre_hook

from baselines.diffusion import (
    DiffusionRecipe,
    add_noise,
    ddim_update,
    denoise_from,
    diffusion_loss,
    lr_multiplier,
    make_scheduler,
    min_snr_weight,
    partial_timesteps,
    predicted_eps,
    predicted_x0,
    sample,
    train_diffusion,
    training_target,
)
from baselines.networks.diffusion_unet import build_unet
from benchmark.errors import ConfigError

CPU = torch.device("cpu")


def draws(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, 2, 4, 4, generator=g) * 2 - 1, torch.randn(3, 2, 4, 4, generator=g)


def test_linear_schedule_and_forward_process_by_hand():
    abar = make_scheduler(10, "linear").alphas_cumprod
    betas = np.linspace(1e-4, 2e-2, 10)
    np.testing.assert_allclose(abar.numpy(), np.cumprod(1 - betas), rtol=1e-5)
    x0, eps = draws()
    a = torch.tensor([0.9, 0.5, 0.1])
    xt = add_noise(x0, eps, a)
    assert torch.allclose(xt[1], math.sqrt(0.5) * x0[1] + math.sqrt(0.5) * eps[1])
    assert torch.allclose(xt[2], math.sqrt(0.1) * x0[2] + math.sqrt(0.9) * eps[2])


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_targets_invert_to_x0(prediction_type):
    """A perfect network output (the training target) gives back x0 and eps exactly."""
    x0, eps = draws(1)
    a = torch.tensor([0.95, 0.4, 0.02])
    xt = add_noise(x0, eps, a)
    target = training_target(x0, eps, a, prediction_type)
    assert torch.allclose(predicted_x0(target, xt, a, prediction_type), x0, atol=1e-5)
    assert torch.allclose(predicted_eps(x0, xt, a), eps, atol=1e-4)


def test_v_target_by_hand():
    x0, eps = torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), -1.0)
    v = training_target(x0, eps, torch.tensor([0.64]), "v_prediction")
    assert v.item() == pytest.approx(0.8 * -1.0 - 0.6 * 0.5)


def test_min_snr_weights_by_hand():
    a = torch.tensor([0.5, 0.99])  # SNR 1 and 99
    gamma = 5.0
    np.testing.assert_allclose(min_snr_weight(a, gamma, "epsilon").numpy(), [1.0, 5 / 99], rtol=1e-5)
    np.testing.assert_allclose(min_snr_weight(a, gamma, "v_prediction").numpy(), [0.5, 5 / 100], rtol=1e-5)
    np.testing.assert_allclose(min_snr_weight(a, gamma, "sample").numpy(), [1.0, 5.0], rtol=1e-5)


def test_loss_weights_channels_and_snr():
    output = torch.zeros(2, 2, 2, 2)
    target = torch.stack(
        [torch.stack([torch.full((2, 2), 1.0), torch.full((2, 2), 3.0)])] * 2
    )  # errors 1 and 9
    a = torch.tensor([0.5, 0.5])
    assert diffusion_loss(output, target, a, DiffusionRecipe(1, 1)).item() == pytest.approx(5.0)
    weighted = DiffusionRecipe(1, 1, channel_weights=(1.0, 3.0))
    assert diffusion_loss(output, target, a, weighted).item() == pytest.approx((1 + 27) / 4)
    snr = DiffusionRecipe(1, 1, min_snr_gamma=0.5, prediction_type="sample")  # weight min(1, 0.5) = 0.5
    assert diffusion_loss(output, target, a, snr).item() == pytest.approx(2.5)
    with pytest.raises(ConfigError, match="channel_weights has 3 entries for 2 channels"):
        diffusion_loss(output, target, a, DiffusionRecipe(1, 1, channel_weights=(1.0, 1.0, 1.0)))


def test_recipe_errors_name_the_setting():
    with pytest.raises(ConfigError, match="prediction_type"):
        DiffusionRecipe(1, 1, prediction_type="x0")
    with pytest.raises(ConfigError, match="beta_schedule"):
        DiffusionRecipe(1, 1, beta_schedule="cosine")
    with pytest.raises(ConfigError, match="ema_decay"):
        DiffusionRecipe(1, 1, ema_decay=1.0)


def test_warmup_and_ema_decay_by_hand():
    assert [lr_multiplier(k, 4) for k in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cosine = [lr_multiplier(k, 2, 6, "cosine") for k in range(7)]
    half_way_down = 0.5 * (1 + math.cos(math.pi / 4))  # progress 1/4 of the 4 post-warm-up steps
    assert cosine == pytest.approx([0.5, 1.0, 1.0, half_way_down, 0.5, 1 - half_way_down, 0.0])
    ema = EMAModel([torch.nn.Parameter(torch.zeros(1))], decay=0.999, use_ema_warmup=True)
    assert ema.get_decay(1) == 0.0
    for k in (2, 10, 1000, 10**6):
        assert ema.get_decay(k) == pytest.approx(min(0.999, 1 - k ** (-2 / 3)))


def test_ddim_update_by_hand():
    x0, eps = torch.tensor([0.3]), torch.tensor([-0.7])
    a_t, a_s = torch.tensor(0.2), torch.tensor(0.6)
    assert ddim_update(x0, eps, a_t, a_s, 0.0, torch.zeros(1)).item() == pytest.approx(
        math.sqrt(0.6) * 0.3 + math.sqrt(0.4) * -0.7, rel=1e-5
    )
    sigma = math.sqrt(0.4 / 0.8 * (1 - 0.2 / 0.6))
    assert ddim_update(x0, eps, a_t, a_s, 1.0, torch.ones(1)).item() == pytest.approx(
        math.sqrt(0.6) * 0.3 + math.sqrt(0.4 - sigma**2) * -0.7 + sigma, rel=1e-5
    )


def test_partial_timesteps_follow_img2img():
    scheduler = make_scheduler(1000)
    stepper = partial_timesteps(scheduler, 0.2, 25)
    steps = stepper.timesteps.tolist()
    assert steps[0] == 200 and steps[-1] == 0 and len(steps) == 26 and steps == sorted(steps, reverse=True)


def test_zero_network_denoise_from_rescales_by_hand():
    """With a network that predicts eps = 0, every DDIM step multiplies by sqrt(abar_s / abar_t), so the
    result is x_t0 / sqrt(abar_t0) = x0 + sqrt(1 - abar_t0) / sqrt(abar_t0) noise."""

    class Zero(torch.nn.Module):
        def forward(self, x, t):
            return type("Out", (), {"sample": torch.zeros_like(x)})()

    scheduler = make_scheduler(1000, clip_sample=False)
    x0, noise = draws(2)
    out = denoise_from(Zero(), scheduler, x0, 0.3, 10, noise, CPU)
    t0 = int(partial_timesteps(scheduler, 0.3, 10).timesteps[0])
    a = scheduler.alphas_cumprod[t0]
    assert torch.allclose(out, x0 + (1 - a).sqrt() / a.sqrt() * noise, atol=1e-4)


def test_max_grad_norm_bounds_the_gradient_each_step_sees():
    data = torch.rand(4, 1, 8, 8) * 2 - 1
    norms: list[float] = []

    def record(optimiser, args, kwargs):
        grads = [p.grad for group in optimiser.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    def step_norms(max_grad_norm: float | None) -> list[float]:
        norms.clear()
        torch.manual_seed(0)
        model = build_unet((8, 8), 1, 1, (8, 8), 1, 0)
        handle = register_optimizer_step_pre_hook(record)
        try:
            train_diffusion(model, data, DiffusionRecipe(3, 2, lr=1e-2, max_grad_norm=max_grad_norm),
                            torch.Generator().manual_seed(0), CPU, progress=False)
        finally:
            handle.remove()
        return list(norms)

    free = step_norms(None)
    assert len(free) == 3 and max(free) > 0.05
    clipped = step_norms(0.05)
    assert max(clipped) == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ConfigError, match="max_grad_norm"):
        DiffusionRecipe(3, 2, max_grad_norm=0.0)


def test_ema_training_ends_on_the_shadow_weights_and_is_seeded():
    data = torch.rand(4, 1, 8, 8) * 2 - 1

    def trained(ema_decay: float) -> torch.Tensor:
        torch.manual_seed(0)
        model = build_unet((8, 8), 1, 1, (8, 8), 1, 0)
        train_diffusion(
            model,
            data,
            DiffusionRecipe(5, 2, lr=1e-2, ema_decay=ema_decay),
            torch.Generator().manual_seed(0),
            CPU,
            progress=False,
        )
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    raw, again, shadow = trained(0.0), trained(0.0), trained(0.9)
    assert torch.equal(raw, again)
    assert not torch.allclose(raw, shadow)


def test_a_checkpoint_sees_the_weights_a_shorter_fit_ends_with_and_leaves_training_unchanged():
    data = torch.rand(4, 1, 8, 8) * 2 - 1
    seen: dict[int, tuple[torch.Tensor, bool]] = {}

    def trained(steps: int, checkpoints: tuple[int, ...] = ()) -> tuple[torch.nn.Module, torch.Tensor]:
        torch.manual_seed(0)
        model = build_unet((8, 8), 1, 1, (8, 8), 1, 0)

        def look(step: int) -> None:
            seen[step] = (torch.cat([p.detach().flatten() for p in model.parameters()]), model.training)

        train_diffusion(model, data, DiffusionRecipe(steps, 2, lr=1e-2, warmup_steps=2, ema_decay=0.9),
                        torch.Generator().manual_seed(0), CPU, progress=False, checkpoints=checkpoints,
                        on_checkpoint=look)
        return model, torch.cat([p.detach().flatten() for p in model.parameters()])

    _, with_checkpoints = trained(6, (3,))
    _, plain = trained(6)
    _, three_steps = trained(3)
    assert torch.equal(with_checkpoints, plain)  # sampling at a checkpoint leaves the fit as it was
    assert list(seen) == [3] and torch.equal(seen[3][0], three_steps)  # the EMA a 3-step fit ends with
    assert seen[3][1] is False  # in eval mode
    assert not torch.equal(seen[3][0], plain)


def test_conditioned_sampling_sees_the_condition():
    torch.manual_seed(0)
    model = build_unet((8, 8), 2, 1, (8, 8), 1, 0)
    scheduler = make_scheduler(20)
    condition = torch.ones(2, 1, 8, 8)
    first = sample(model, scheduler, 2, (1, 8, 8), "ddim", 3, 2, 0, CPU, condition=condition, progress=False)
    same = sample(model, scheduler, 2, (1, 8, 8), "ddim", 3, 2, 0, CPU, condition=condition, progress=False)
    other = sample(model, scheduler, 2, (1, 8, 8), "ddim", 3, 2, 0, CPU, condition=-condition, progress=False)
    assert first.shape == (2, 1, 8, 8) and np.array_equal(first, same) and not np.allclose(first, other)
