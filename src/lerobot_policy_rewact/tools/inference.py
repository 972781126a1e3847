"""Rewards of whole dataset episodes, in batches, through the policy's reward-only path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@torch.no_grad()
def episode_rewards(policy: Any, preprocessor: Any, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """Predicted reward of every frame of `dataset` (in order), shape (num_frames,)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = [policy.predict_reward(preprocessor(batch)).float().cpu() for batch in loader]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


@dataclass
class PolicyArgs:
    """Which trained RewACT a command reads (LeRobot's `--policy.path`)."""

    # Saved RewACT model folder (.../checkpoints/last/pretrained_model).
    path: str | None = None

    def load(self) -> tuple[Any, Any, Any]:
        """(policy, preprocessor, postprocessor) of the saved model folder, offline."""
        from lerobot.policies.factory import make_pre_post_processors

        from ..policy.modeling_rewact import CheckpointError, RewACTPolicy

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
        policy = RewACTPolicy.from_pretrained(path)
        pre, post = make_pre_post_processors(policy.config, pretrained_path=str(path))
        return policy, pre, post
