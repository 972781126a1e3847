"""Reward heads: map one ACT feature vector per sample to a task-progress value in [0, 1].

Both heads share one interface: `head(feature) -> output` (raw), `head.reward(output) -> (B,)` in
[0, 1], and `head.loss(output, target) -> (B,)` per-sample loss, so the policy never needs to know
which head it has.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn


class FeatureNorm(nn.BatchNorm1d):
    """BatchNorm1d that reads a training batch of one sample (the last batch of an epoch can be one: LeRobot
    keeps it) with its running statistics, as in eval mode, instead of failing.

    With `batch_steps`, only the first `batch_steps` training batches are standardised with their own
    statistics; later ones with the running statistics (as acting), which each batch still updates with no
    gradient through them (with `batch_steps=0` the first batch sets them outright). Batches are counted in
    `num_batches_tracked`, which checkpoints keep, so a resumed training goes on where it was.

    `eps` is added to every variance the input is divided by: a floor on how far a dimension that barely varies
    is scaled up (BatchNorm's own 1e-5 lets a dimension of variance 1e-5 move the head 300x)."""

    def __init__(self, dim: int, batch_steps: int | None = None, eps: float = 1e-5):
        super().__init__(dim, eps=eps)
        self.batch_steps = batch_steps

    def _running(self, x: Tensor) -> Tensor:
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=self.eps
        )

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        if self.batch_steps is None or self.num_batches_tracked < self.batch_steps:
            return self._running(x) if x.shape[0] < 2 else super().forward(x)
        if x.shape[0] >= 2:  # BatchNorm's own update of the running statistics, its output unused
            with torch.no_grad():
                momentum = 1.0 if self.num_batches_tracked == 0 else self.momentum
                F.batch_norm(
                    x, self.running_mean, self.running_var, training=True, momentum=momentum, eps=self.eps
                )
                self.num_batches_tracked += 1
        return self._running(x)


def _mlp(
    dim: int, out: int, norm: bool = False, batch_steps: int | None = None, norm_eps: float = 1e-5
) -> nn.Sequential:
    """dim -> dim/2 -> dim/4 -> out, the original RewACT head's shape; with `norm`, the input standardised
    per dimension first (`FeatureNorm`: over the batch in training, its running statistics in eval mode,
    which every acting and prediction path sets)."""
    return nn.Sequential(
        *([FeatureNorm(dim, batch_steps, norm_eps)] if norm else []),
        nn.Linear(dim, dim // 2),
        nn.ReLU(),
        nn.Linear(dim // 2, dim // 4),
        nn.ReLU(),
        nn.Linear(dim // 4, out),
    )


class SigmoidRewardHead(nn.Module):
    """A scalar in (0, 1) through a sigmoid, trained by regression (MSE or L1) to the label."""

    def __init__(
        self,
        dim: int,
        regression_loss: str = "mse",
        norm: bool = False,
        batch_steps: int | None = None,
        norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.net = _mlp(dim, 1, norm, batch_steps, norm_eps)
        self.regression_loss = regression_loss

    def forward(self, feature: Tensor) -> Tensor:
        return self.net(feature).squeeze(-1)  # logits, (B,)

    def reward(self, output: Tensor) -> Tensor:
        return torch.sigmoid(output)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        pred = torch.sigmoid(output)
        if self.regression_loss == "l1":
            return (pred - target).abs()
        return (pred - target).pow(2)


class DistributionalRewardHead(nn.Module):
    """Logits over value bins on [0, 1], trained with an HL-Gauss soft target (cross-entropy).

    The bin centres run from exactly 0 to exactly 1, so the expected value (the reward) can reach
    both ends; the loss and the readout use the same centres. `sigma` is the Gaussian's width in
    units of one bin (0.75 is the HL-Gauss paper's recommendation).
    """

    def __init__(
        self,
        dim: int,
        num_bins: int = 51,
        sigma: float = 0.75,
        norm: bool = False,
        batch_steps: int | None = None,
        norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.net = _mlp(dim, num_bins, norm, batch_steps, norm_eps)
        centres = torch.linspace(0.0, 1.0, num_bins)
        width = 1.0 / (num_bins - 1)
        self.register_buffer("centres", centres, persistent=False)
        self.register_buffer(
            "edges", torch.cat([centres - width / 2, centres[-1:] + width / 2]), persistent=False
        )
        self.sigma = sigma * width

    def forward(self, feature: Tensor) -> Tensor:
        return self.net(feature)  # logits, (B, num_bins)

    def reward(self, output: Tensor) -> Tensor:
        return (output.softmax(-1) * self.centres).sum(-1)

    def target_distribution(self, target: Tensor) -> Tensor:
        """Mass of N(target, sigma) in each bin, renormalised to the support: (B, num_bins)."""
        cdf = torch.special.ndtr((self.edges.unsqueeze(0) - target.unsqueeze(-1)) / self.sigma)
        mass = cdf[:, 1:] - cdf[:, :-1]
        return mass / (cdf[:, -1:] - cdf[:, :1])

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return -(self.target_distribution(target) * F.log_softmax(output, -1)).sum(-1)


def make_reward_head(config) -> nn.Module:
    """The head a `RewACTConfig` asks for; with a memory it reads the memory beside the feature."""
    slots = config.memory_slots if config.memory_by_slot else 1
    dim = config.dim_model + (slots * config.reward_memory_dim if config.reward_memory != "none" else 0)
    if config.reward_head == "distributional":
        return DistributionalRewardHead(
            dim,
            config.reward_num_bins,
            config.reward_hl_gauss_sigma,
            config.reward_feature_norm,
            config.reward_feature_norm_batch_steps,
            config.reward_feature_norm_eps,
        )
    return SigmoidRewardHead(
        dim,
        config.reward_regression_loss,
        config.reward_feature_norm,
        config.reward_feature_norm_batch_steps,
        config.reward_feature_norm_eps,
    )
