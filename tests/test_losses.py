"""Loss signs, the gradient penalty against a hand computation, and the auxiliary BCE."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lab5_utils.gan.losses import LOSSES, aux_bce, interpolates, penalty_at


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The penalty as the trainer computes it (``GanStep._critic``): the critic's score at seeded interpolates."""
    x_hat = interpolates(real, fake, generator)
    out = critic(x_hat, y)
    return penalty_at(out[0] if isinstance(out, tuple) else out, x_hat)


@pytest.mark.parametrize("name", list(LOSSES))
def test_d_loss_is_lower_when_real_high_and_fake_low(name: str) -> None:
    d_loss, g_loss = LOSSES[name]
    good = d_loss(torch.full((8,), 2.0), torch.full((8,), -2.0))
    bad = d_loss(torch.full((8,), -2.0), torch.full((8,), 2.0))
    assert good < bad
    # G wants its fakes scored as real.
    assert g_loss(torch.full((8,), 2.0)) < g_loss(torch.full((8,), -2.0))


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradients_push_scores_the_right_way(name: str) -> None:
    d_loss, g_loss = LOSSES[name]
    real = torch.zeros(4, requires_grad=True)
    fake = torch.zeros(4, requires_grad=True)
    d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # descent raises real scores, lowers fake scores
    fake_g = torch.zeros(4, requires_grad=True)
    g_loss(fake_g).backward()
    assert (fake_g.grad < 0).all()


class LinearCritic(nn.Module):
    """D(x, y) = w . x (ignores y), so grad_x D = w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
        return (x.flatten(1) * self.w.flatten()).sum(1), None


def test_gradient_penalty_matches_hand_computation_on_linear_critic() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, 4, generator=g) * 0.3
    critic = LinearCritic(w.clone())
    real, fake = torch.randn(5, 3, 4, 4, generator=g), torch.randn(5, 3, 4, 4, generator=g)
    gp = gradient_penalty(critic, real, fake, torch.zeros(5, 24), generator=torch.Generator().manual_seed(1))
    expected = (w.norm() - 1.0) ** 2
    torch.testing.assert_close(gp, expected)
    # The penalty is differentiable w.r.t. the critic's weights (needed to add it to the critic loss).
    gp.backward()
    torch.testing.assert_close(critic.w.grad, 2 * (w.norm() - 1.0) * w / w.norm())


def test_gradient_penalty_is_zero_for_unit_norm_critic_and_accepts_plain_scores() -> None:
    w = torch.zeros(3, 2, 2)
    w[0, 0, 0] = 1.0

    def critic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) * w.flatten()).sum(1)

    gp = gradient_penalty(critic, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2), torch.zeros(4, 24))
    assert float(gp) == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_alpha_is_seeded() -> None:
    seen: list[torch.Tensor] = []

    def critic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return (x**2).flatten(1).sum(1)

    real, fake = torch.ones(3, 3, 2, 2), torch.zeros(3, 3, 2, 2)
    for seed in (7, 7, 8):
        gradient_penalty(critic, real, fake, torch.zeros(3, 24), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[0], seen[2])


def test_aux_bce_prefers_matching_logits() -> None:
    y = torch.zeros(2, 24)
    y[0, [1, 5]] = 1
    y[1, 20] = 1
    right = (y * 2 - 1) * 5
    assert aux_bce(right, y) < aux_bce(-right, y)
    assert aux_bce(right, y) < 0.01
