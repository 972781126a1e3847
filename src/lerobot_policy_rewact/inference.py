"""Rewards of whole dataset episodes, in batches, through the policy's reward-only path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch


def open_dataset(root: str | Path, episodes: list[int] | None = None, repo_id: str | None = None) -> Any:
    """A local LeRobot dataset (never the Hub), decoded with PyAV unless torchcodec works."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from .compat import torchcodec_usable

    root = Path(root)
    if not (root / "meta" / "info.json").is_file():
        raise FileNotFoundError(f"{root} is not a LeRobot dataset folder (no meta/info.json).")
    return LeRobotDataset(
        repo_id or f"local/{root.name}",
        root=root,
        episodes=episodes,
        video_backend=None if torchcodec_usable() else "pyav",
    )


@torch.no_grad()
def episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """Predicted reward of every frame of `dataset` (in order), shape (num_frames,)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = [policy.predict_reward(preprocessor(batch)).float().cpu() for batch in loader]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
