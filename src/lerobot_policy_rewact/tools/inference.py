"""Rewards of whole dataset episodes, in batches, through the policy's reward-only path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@torch.no_grad()
def episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """Predicted reward of every frame of `dataset` (in order), shape (num_frames,), decoded frame by frame;
    with a memory, each frame reads its episode's frames before it, as when acting."""
    at_data_fps(policy, dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out, memory, episode = [], None, None
    with _autocast(policy):
        for batch in loader:
            for part in _by_episode(batch):  # a memory starts afresh with every episode
                if episode is None or int(part["episode_index"][0]) != episode:
                    memory, episode = None, int(part["episode_index"][0])
                step = policy.predict_episode(preprocessor(part), memory)
                out.append(step.reward.float().cpu())
                memory = step.memory
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def at_data_fps(policy: Any, dataset: Any) -> None:
    """Read the dataset at its own frame rate: a memory given in seconds spans the same time at any fps."""
    fps = getattr(getattr(dataset, "meta", None), "fps", None)
    if fps and getattr(policy, "reward_memory", None) is not None:
        policy.use_fps(float(fps))


def _by_episode(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch cut where its `episode_index` changes, each part in order."""
    episodes = torch.as_tensor(batch["episode_index"])
    cuts = [0, *((episodes[1:] != episodes[:-1]).nonzero().flatten() + 1).tolist(), len(episodes)]
    if len(cuts) == 2:
        return [batch]
    return [
        {k: v[a:b] if isinstance(v, torch.Tensor | list) else v for k, v in batch.items()}
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def episode_frames(dataset: Any) -> dict[str, Any]:
    """All frames of a one-episode `LeRobotDataset` as one batch, each camera video decoded once.

    Numeric columns come from the table, camera frames from one pass over the episode's video (the
    dataset's own decoder), instead of one seek and decode per frame.
    """
    from ..compat import decode_episode_videos

    rows = dataset.hf_dataset[:]
    episodes = torch.as_tensor(np.asarray(rows["episode_index"])).unique()
    if len(episodes) != 1:
        raise ValueError(f"episode_frames needs a dataset of one episode, got episodes {episodes.tolist()}")
    batch = {}
    for key, values in rows.items():
        if isinstance(values, list) and values and isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(values, torch.Tensor):
            batch[key] = values
    if dataset.meta.video_keys:
        timestamps = [float(t) for t in batch["timestamp"]]
        for key, frames in decode_episode_videos(dataset, timestamps, int(episodes[0])).items():
            batch[key] = frames if frames.is_floating_point() else frames.float() / 255
    batch["task"] = list(rows["task"]) if "task" in rows else [""] * len(batch["index"])
    return batch


@dataclass
class EpisodeOutputs:
    """What one pass over an episode gives, per frame."""

    # Predicted reward, (num_frames,).
    reward: np.ndarray
    # Mean |predicted - recorded| over the action chunk that starts at the frame (normalised units), or
    # None when only rewards were asked for.
    action_error: np.ndarray | None = None


def action_chunk_errors(chunks: torch.Tensor, actions: torch.Tensor) -> np.ndarray:
    """Per frame i: mean |chunks[i, j] - actions[i + j]| over the chunk steps inside the episode.

    `chunks` (n, chunk_size, action_dim) are the predicted chunks, `actions` (n, action_dim) the
    recorded ones, both normalised; steps past the episode's end are left out, as ACT's padding does.
    """
    n, size = chunks.shape[:2]
    steps = torch.arange(n)[:, None] + torch.arange(size)[None]
    inside = steps < n
    error = (chunks.float() - actions.float()[steps.clamp(max=n - 1)]).abs().mean(-1)
    return ((error * inside).sum(1) / inside.sum(1)).numpy()


def prepare_for_inference(policy: Any, use_amp: bool | None = None) -> Any:
    """Eval mode, channels-last backbone (faster on CPUs, same values); `use_amp` overrides the config's."""
    policy.eval()
    if use_amp is not None:
        policy.config.use_amp = use_amp
    backbone = getattr(getattr(policy, "model", None), "backbone", None)
    if backbone is not None:
        backbone.to(memory_format=torch.channels_last)
    return policy


def _autocast(policy: Any) -> Any:
    """Mixed precision when the policy's `use_amp` is set (bfloat16 on a CPU), as lerobot-eval does."""
    device = next(policy.parameters()).device.type
    return torch.autocast(device, enabled=bool(getattr(policy.config, "use_amp", False)))


@torch.no_grad()
def episode_outputs(
    policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 64, actions: bool = False
) -> EpisodeOutputs:
    """Rewards (and with `actions`, action-chunk errors) of a one-episode dataset, video decoded once.

    The frames go through `predict_episode` in order, so a memory reads the episode as acting does.
    Rewards alone take the reward-only path; with `actions` each batch runs ACT whole, and the
    predicted chunks are compared with the recorded actions (`action_chunk_errors`).
    """
    at_data_fps(policy, dataset)
    frames = episode_frames(dataset)
    total = len(frames["index"])
    rewards, chunks, recorded, memory = [], [], [], None
    with _autocast(policy):
        for start in range(0, total, batch_size):
            batch = preprocessor({k: v[start : start + batch_size] for k, v in frames.items()})
            step = policy.predict_episode(batch, memory, actions=actions)  # the frames in order, with memory
            rewards.append(step.reward.float().cpu())
            memory = step.memory
            if actions:
                chunks.append(step.chunk.float().cpu())
                recorded.append(batch["action"].float().cpu())
    if not rewards:
        return EpisodeOutputs(
            np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32) if actions else None
        )
    reward = torch.cat(rewards).numpy()
    if not actions:
        return EpisodeOutputs(reward)
    return EpisodeOutputs(reward, action_chunk_errors(torch.cat(chunks), torch.cat(recorded)))


def fast_episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 64) -> np.ndarray:
    """`episode_rewards` for a one-episode dataset: video decoded once, reward-only passes in batches."""
    return episode_outputs(policy, preprocessor, dataset, batch_size).reward
