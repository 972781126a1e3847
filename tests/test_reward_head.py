"""Reward heads: HL-Gauss targets and readout agree; both heads fit a target."""

from __future__ import annotations

import pytest
import torch

from lerobot_policy_rewact.policy.reward_head import DistributionalRewardHead, SigmoidRewardHead


def test_hl_gauss_target_is_a_distribution_centred_on_the_label():
    head = DistributionalRewardHead(dim=16, num_bins=51, sigma=0.75)
    y = torch.tensor([0.0, 0.1, 0.37, 0.5, 0.93, 1.0])
    p = head.target_distribution(y)
    assert torch.allclose(p.sum(-1), torch.ones(len(y)))
    assert (p >= 0).all()
    mean = (p * head.centres).sum(-1)
    inner = (y > 0.05) & (y < 0.95)  # away from the ends the soft target's mean is the label
    assert torch.allclose(mean[inner], y[inner], atol=1e-4)
    assert head.centres[0] == 0 and head.centres[-1] == 1  # the readout can reach both ends


@pytest.mark.parametrize(
    "make",
    [
        lambda: SigmoidRewardHead(32),
        lambda: SigmoidRewardHead(32, "l1"),
        lambda: DistributionalRewardHead(32, 21),
    ],
)
def test_heads_fit_a_target(make):
    torch.manual_seed(0)
    head = make()
    x = torch.randn(64, 32)
    target = torch.sigmoid(x[:, 0] * 2)
    optim = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(300):
        loss = head.loss(head(x), target).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    reward = head.reward(head(x))
    assert reward.shape == (64,)
    assert ((reward >= 0) & (reward <= 1)).all()
    assert (reward - target).abs().mean() < 0.05


@pytest.mark.parametrize("kind", ["sigmoid", "distributional"])
def test_the_head_runs_in_full_precision_under_mixed_precision(kind):
    """Under bfloat16 autocast (--policy.use_amp=true) the head computes in float32: its output is what it
    gives for the same (bfloat16) feature without autocast, not a bfloat16 rounding of it."""
    torch.manual_seed(0)
    head = (
        SigmoidRewardHead(32, norm=True, batch_steps=300)
        if kind == "sigmoid"
        else DistributionalRewardHead(32, norm=True, batch_steps=300)
    ).eval()
    head.net[0].running_mean.fill_(5.0)
    head.net[0].running_var.fill_(1e-4)  # a feature that varies little around a large value
    feature = (5.0 + 0.01 * torch.randn(8, 32)).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = head(feature)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, head(feature.float()), rtol=1e-6, atol=1e-6)
