"""Rewards of whole dataset episodes, in batches, through the policy's reward-only path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .datasets import DatasetArgs


@torch.no_grad()
def episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """Predicted reward of every frame of `dataset` (in order), shape (num_frames,), frame by frame."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = [policy.predict_reward(preprocessor(batch)).float().cpu() for batch in loader]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


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


@torch.no_grad()
def fast_episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 64) -> np.ndarray:
    """`episode_rewards` for a one-episode dataset: video decoded once, reward-only passes in batches."""
    frames = episode_frames(dataset)
    total = len(frames["index"])
    out = []
    for start in range(0, total, batch_size):
        batch = {k: v[start : start + batch_size] for k, v in frames.items()}
        out.append(policy.predict_reward(preprocessor(batch)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


@dataclass
class PolicyArgs:
    """Which trained RewACT a command reads (LeRobot's `--policy.path`)."""

    # Saved RewACT model folder (.../checkpoints/last/pretrained_model).
    path: str | None = None
    # Training flags of the models a command trains: every other --policy.* flag given lands here.
    options: list[str] = field(default_factory=list)

    def folder(self) -> Path:
        """The saved model folder, checked: config (a RewACT's), weights, processors."""
        from ..policy.modeling_rewact import CheckpointError

        if not self.path:
            raise CheckpointError(
                "No policy given: pass --policy.path=<run>/checkpoints/last/pretrained_model."
            )
        path = Path(self.path).expanduser()
        if not (path / "model.safetensors").is_file():
            what = (
                "does not exist"
                if not path.exists()
                else "is not a saved policy folder (no model.safetensors)"
            )
            raise CheckpointError(
                f"--policy.path={path} {what}: pass a lerobot-train checkpoint's model folder, "
                "<run>/checkpoints/<step or last>/pretrained_model."
            )
        check_checkpoint(path)
        return path

    def load(self) -> tuple[Any, Any, Any]:
        """(policy, preprocessor, postprocessor) of the saved model folder, offline."""
        from lerobot.policies.factory import make_pre_post_processors

        from ..policy.modeling_rewact import RewACTPolicy

        path = self.folder()
        policy = RewACTPolicy.from_pretrained(path)
        pre, post = make_pre_post_processors(policy.config, pretrained_path=str(path))
        return policy, pre, post


def check_checkpoint(path: Path) -> None:
    """CheckpointError unless `path` is a complete RewACT model folder (config, weights, processors)."""
    import json

    from ..policy.modeling_rewact import CheckpointError

    try:
        kind = json.loads((path / "config.json").read_text()).get("type")
    except FileNotFoundError:
        raise CheckpointError(
            f"--policy.path={path} has no config.json: the checkpoint is incomplete."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise CheckpointError(f"{path / 'config.json'} is damaged ({e}): use another checkpoint.") from e
    if kind != "rewact":
        raise CheckpointError(
            f"--policy.path={path} holds a '{kind}' policy, not a RewACT: only RewACT checkpoints predict rewards."
        )
    for name in ("policy_preprocessor.json", "policy_postprocessor.json"):
        if not (path / name).is_file():
            raise CheckpointError(
                f"--policy.path={path} lacks {name}: the checkpoint is incomplete (lerobot-train saves it beside "
                "model.safetensors); use another checkpoint."
            )


@dataclass
class ScoringArgs:
    """The dataset a command reads and the trained RewACT it scores with (`--dataset.*`, `--policy.*`)."""

    dataset: DatasetArgs = field(default_factory=DatasetArgs)
    policy: PolicyArgs = field(default_factory=PolicyArgs)
