"""In-process helpers: build a RewACT policy for a dataset the way lerobot-train does, and batches."""

from __future__ import annotations

from pathlib import Path

import torch
from lerobot.datasets.factory import resolve_delta_timestamps
from lerobot.policies.factory import make_policy, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig

from conftest import TINY_CONFIG, load_dataset, load_meta


def build(root: Path, **overrides):
    """(policy, preprocessor, postprocessor, meta) for a dataset, through LeRobot's factories."""
    meta = load_meta(root)
    config = RewACTConfig(**{**TINY_CONFIG, **overrides})
    policy = make_policy(config, ds_meta=meta)
    pre, post = make_pre_post_processors(config, dataset_stats=meta.stats)
    return policy, pre, post, meta


def save_checkpoint(policy, pre, post, path: Path) -> Path:
    """A model folder as lerobot-train saves it (config, weights, processors)."""
    for part in (policy, pre, post):
        part.save_pretrained(path)
    return path


def batches(root: Path, policy, pre, episodes=None, batch_size=8, shuffle=False, seed=0):
    """Preprocessed training batches (with action chunks) of a dataset."""
    meta = load_meta(root)
    dataset = load_dataset(root, episodes, resolve_delta_timestamps(policy.config, meta))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed)
    )
    for batch in loader:
        yield pre(batch)


def frames(root: Path, pre, episode: int):
    """Preprocessed single frames of one episode, in order, as a robot would see them."""
    dataset = load_dataset(root, [episode])
    for i in range(len(dataset)):
        yield pre(dataset[i])


def episode_pass(policy, observations) -> torch.Tensor:
    """Rewards (T,) of consecutive preprocessed frames of one episode in one whole-episode pass (each with
    the memory of the frames before it): what acting frame by frame must give."""
    rows = {
        k: torch.cat([o[k] for o in observations])
        for k, v in observations[0].items()
        if torch.is_tensor(v) and v.dim() > 0
    }
    return policy.predict_episode(rows).reward


def current_frames(policy, batch: dict) -> dict:
    """A training batch without the memory's past frames (the current frame of each sample): what ACT reads."""
    return policy._split_history(batch)[0]


def reward_loss_inputs(policy, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(head output, target) the reward loss is computed on in one forward pass of `policy` (detached)."""
    seen = []
    loss_fn = policy.reward_head.loss

    def spy(output, target):
        seen.append((output.detach(), target.detach()))
        return loss_fn(output, target)

    policy.reward_head.loss = spy
    try:
        policy.forward(batch)
    finally:
        policy.reward_head.loss = loss_fn
    return seen[0]
