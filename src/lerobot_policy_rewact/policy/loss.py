"""RewACT's training loss, the parts beside the model: ACT's action loss terms as the installed release
computes them, the reward loss's gradient under LeRobot 0.6's sample weighting, the report of a NaN
loss, and the console metrics. `RewACTPolicy.forward` combines them (failure masks, RA-BC, advantage
conditioning) into the loss LeRobot's training loop minimises.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from lerobot.utils.constants import ACTION
from torch import Tensor
from torch.nn import functional as F  # noqa: N812

from .. import compat

log = logging.getLogger(__name__)


class ConsoleMetrics:
    """RewACT's training numbers in the console every `every` steps, for LeRobot releases that send the
    policy's own numbers only to wandb (0.4.4); newer releases print them themselves."""

    def __init__(self, every: int = 100):
        from lerobot.utils.logging_utils import AverageMeter

        self.every, self.steps = every, 0
        self.meters = {
            k: AverageMeter(k, ":.3f")
            for k in ("reward_loss", "reward_mae", "reward_corr", "action_frames_share")
        }

    def add(self, info: dict[str, float]) -> None:
        self.steps += 1
        for key, meter in self.meters.items():
            meter.update(info[key])
        if self.steps % self.every == 0:
            log.info("rewact step:%d %s", self.steps, " ".join(str(m) for m in self.meters.values()))
            for meter in self.meters.values():
                meter.reset()


def correlation(pred: Tensor, target: Tensor) -> float | None:
    """Pearson correlation of the batch's predicted rewards with their targets: 0.0 for a constant prediction,
    None when the targets are all equal (nothing to follow).

    Near 0 while the loss stays flat means the reward predicts one value for every frame (a plateau some
    training seeds sit on for hundreds of steps; BENCHMARKS.md), however low the loss looks."""
    pred, target = pred.detach().float().flatten(), target.detach().float().flatten()
    if float(target.max() - target.min()) <= 1e-6:
        return None
    pred, target = pred - pred.mean(), target - target.mean()
    scale = (pred.pow(2).sum() * target.pow(2).sum()).sqrt()
    return float((pred * target).sum() / scale) if scale > 1e-12 else 0.0


class PlateauWatch:
    """Warns once when, from `after` training steps on, the reward explains less than `low` of its labels'
    variance over the last `every` steps (1 - squared error / the labels' spread around each batch's mean):
    the reward then predicts about one value for every frame (measured on some training seeds of the demo and
    of real data: BENCHMARKS.md), however it correlates. Read against the logs of earlier runs it catches the
    plateaus a correlation threshold missed, and a run still learning a hard task can dip under it once
    (docs/history.md, session 7)."""

    def __init__(
        self,
        every: int = 100,
        after: int = 600,
        low: float = 0.2,
        feature_norm: bool = False,
        mixed_precision: bool = False,
    ):
        self.every, self.after, self.low = every, after, low
        self.feature_norm, self.mixed_precision = feature_norm, mixed_precision
        self.steps, self.error, self.spread, self.warned = 0, 0.0, 0.0, False

    def add(self, pred: Tensor, target: Tensor) -> bool:
        """Count one training step's rewards `pred` against their labels `target` (B,) (a batch whose labels
        all agree is not counted); True when this step gave the warning."""
        pred, target = pred.detach().float().flatten(), target.detach().float().flatten()
        spread = float((target - target.mean()).pow(2).sum())
        if spread <= 1e-9:
            return False
        self.steps += 1
        self.error += float((pred - target).pow(2).sum())
        self.spread += spread
        if self.steps % self.every:
            return False
        explained, self.error, self.spread = 1.0 - self.error / self.spread, 0.0, 0.0
        if self.warned or self.steps < self.after or explained >= self.low:
            return False
        self.warned = True
        ways = []
        if self.mixed_precision:
            ways.append(
                "train in full precision (drop --policy.use_amp=true: mixed-precision training of the demo sat on "
                "this plateau in most measured runs, more often than in full precision)"
            )
        if not self.feature_norm:
            ways.append(
                "train with --policy.reward_feature_norm=true (the default: it standardises the head's input)"
            )
        way_out = ", ".join([*ways, "train with another --seed"])
        log.warning(
            "RewACT step %d: the reward explains %.2f of its labels' variance over the last %d steps: it predicts "
            "about one value for every frame. Some training seeds sit on this plateau for the whole run: %s, or "
            "check the labels (rewact labels plot); BENCHMARKS.md has the measurements.",
            self.steps, explained, self.every, way_out,
        )  # fmt: skip
        return True


class NonFiniteLossError(FloatingPointError):
    """The training loss is NaN or infinite; the message names the frames and the inputs."""


class UnweightedMean(torch.autograd.Function):
    """Per-sample reward losses whose gradient is that of their plain batch mean, whatever weights the
    caller multiplies them by.

    LeRobot 0.6's sample weighting (RA-BC) computes `sum(w * loss) / sum(w)` over `forward(reduction=
    "none")`'s per-sample losses; RA-BC is meant for the actions, and a reward that never trains on
    the frames where progress falls (weight 0) cannot learn failures. The forward value is unchanged;
    the backward gives each sample 1/B of the caller's overall gradient scale (the sum of the incoming
    gradients, 1 for a weighted or plain mean, more under loss scaling), or 1/B when every weight is 0.
    """

    @staticmethod
    def forward(ctx, losses: Tensor) -> Tensor:  # noqa: D102
        return losses.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        scale = grad.sum()
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        return scale.expand_as(grad) / grad.shape[0]


def act_loss_terms(
    config: Any, batch: dict[str, Tensor], actions_hat: Tensor, mu: Tensor | None, log_sigma_x2: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """ACT's loss per sample: (L1 summed over the chunk's real (not padded) steps, what ACT divides
    that sum by, the VAE's KL or None)."""
    real = ~batch["action_is_pad"].unsqueeze(-1)
    l1_sum = (F.l1_loss(batch[ACTION], actions_hat, reduction="none") * real).sum(dim=(1, 2))
    l1_count = compat.act_l1_count(real, actions_hat.shape[-1])
    kld = (
        (-0.5 * (1 + log_sigma_x2 - mu.pow(2) - log_sigma_x2.exp())).sum(-1)
        if config.use_vae and mu is not None
        else None
    )
    return l1_sum, l1_count, kld


def nonfinite_report(batch: dict[str, Tensor], per_sample: Tensor) -> str:
    """Which samples and which inputs made the loss NaN or infinite."""
    bad = ~torch.isfinite(per_sample)
    frames = ", ".join(
        f"(episode {int(e)}, index {int(i)})"
        for e, i in zip(batch["episode_index"][bad][:5], batch["index"][bad][:5], strict=True)
    )
    inputs = [
        k for k, v in batch.items()
        if isinstance(v, Tensor) and v.is_floating_point() and not torch.isfinite(v[bad]).all()
    ]  # fmt: skip
    cause = (
        f"non-finite values in {inputs}: fix those frames of the dataset (or leave their episodes out "
        "with --dataset.episodes)"
        if inputs
        else "the inputs are finite, so training diverged: lower --policy.optimizer_lr"
    )
    return (
        f"The loss is NaN or infinite for {int(bad.sum())} sample(s), e.g. {frames}: {cause}. Training stopped "
        "before saving NaN weights; the last checkpoint is intact."
    )
