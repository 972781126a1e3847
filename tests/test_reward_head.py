"""Reward heads: HL-Gauss targets and readout agree; both heads fit a target."""

from __future__ import annotations

import pytest
import torch

from lerobot_policy_rewact.policy.configuration_rewact import RewACTConfig
from lerobot_policy_rewact.policy.reward_head import (
    DistributionalRewardHead,
    SigmoidRewardHead,
    make_reward_head,
)


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


def test_feature_norm_eps_floors_how_far_a_still_dimension_is_scaled_up():
    """`reward_feature_norm_eps` reaches the head's FeatureNorm: a dimension whose variance is 1e-6 and moves by
    1e-3 comes out near 0.01 with eps 1e-2, where BatchNorm's 1e-5 scales it up to 0.3."""
    out = {}
    for eps in (1e-5, 1e-2):
        head = make_reward_head(RewACTConfig(device="cpu", reward_memory="none", reward_feature_norm_eps=eps))
        norm = head.net[0].eval()
        assert norm.eps == eps
        norm.running_var[:2] = torch.tensor([1e-6, 1.0])
        x = torch.zeros(1, norm.num_features)
        x[0, :2] = torch.tensor([1e-3, 1.0])
        out[eps] = norm(x)[0, :2]
    assert out[1e-5][0].item() == pytest.approx(0.30, abs=0.01)
    assert out[1e-2][0].item() == pytest.approx(0.01, abs=0.001)
    # a dimension that varies comes out as before
    assert out[1e-5][1].item() == pytest.approx(out[1e-2][1].item(), rel=0.01)
