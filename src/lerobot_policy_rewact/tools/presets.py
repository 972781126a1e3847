"""Policy sizes used by the tools, tests and benchmarks, written once.

`TINY` trains a step in well under a second on a CPU (tests). `CPU` is the demo's size: small
enough for two CPU cores and a few minutes, big enough to learn the demo task's progress.
Both start the backbone from random weights, so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OFFLINE: dict[str, Any] = {"device": "cpu", "pretrained_backbone_weights": None}

TINY: dict[str, Any] = {
    **OFFLINE,
    "dim_model": 32,
    "dim_feedforward": 64,
    "n_heads": 2,
    "chunk_size": 5,
    "n_action_steps": 5,
    "n_encoder_layers": 1,
    "n_vae_encoder_layers": 1,
    "latent_dim": 8,
}

CPU: dict[str, Any] = {
    **OFFLINE,
    "dim_model": 64,
    "dim_feedforward": 128,
    "n_heads": 4,
    "chunk_size": 20,
    "n_action_steps": 20,
    "n_encoder_layers": 2,
    "n_vae_encoder_layers": 1,
    "latent_dim": 8,
    "optimizer_lr": 3e-4,
    "optimizer_lr_backbone": 3e-4,
}


def act_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options LeRobot's ACT takes too: a plain ACT baseline of the same size."""
    from dataclasses import fields

    from lerobot.policies.act.configuration_act import ACTConfig

    names = {f.name for f in fields(ACTConfig)}
    return {k: v for k, v in options.items() if k in names}


def policy_flags(options: dict[str, Any]) -> list[str]:
    """`--policy.<name>=<value>` flags for lerobot-train (None is written as null)."""
    return [f"--policy.{k}={'null' if v is None else v}" for k, v in options.items()]


@dataclass
class TrainingArgs:
    """How the tools train their models (LeRobot's names: `--steps`, `--batch_size`, `--seed`)."""

    # Training steps of each model.
    steps: int = 1000
    # Training batch size.
    batch_size: int = 16
    # Seeds the training (and any split of episodes).
    seed: int = 1000
    # Data-loading worker processes per training (1 suits 2 cores; LeRobot's default is 4).
    num_workers: int = 1
