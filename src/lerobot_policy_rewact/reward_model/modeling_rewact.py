"""`RewACTRewardModel`: LeRobot's reward-model interface around a RewACT policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot.rewards.pretrained import PreTrainedRewardModel
from torch import Tensor

from ..policy.modeling_rewact import RewACTPolicy
from .configuration_rewact import RewACTConfig


class RewACTRewardModel(PreTrainedRewardModel):
    """Task progress in [0, 1] per frame from a RewACT: the policy's reward-only path (backbone and
    encoder, no action decoder)."""

    config_class = RewACTConfig
    name = "rewact"

    def __init__(self, config: RewACTConfig, policy: RewACTPolicy | None = None, **kwargs: Any):
        super().__init__(config)
        self.policy = policy if policy is not None else RewACTPolicy(config.policy_config(), **kwargs)

    def compute_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """Reward (B,) of a preprocessed batch of observations, one row per environment, as when acting:
        with a memory, each row reads its environment's frames since `reset()`."""
        return self.policy.step_reward(batch)

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """RewACT's training loss (reward and actions), so the model can also be trained as a reward model."""
        return self.policy.forward(batch)

    def reset(self) -> None:
        self.policy.reset()

    @classmethod
    def from_pretrained(
        cls, pretrained_name_or_path: str | Path, *, config: RewACTConfig | None = None, **kwargs: Any
    ) -> RewACTRewardModel:
        """Load a RewACT checkpoint (a policy folder from lerobot-train) as a reward model, offline."""
        path = Path(pretrained_name_or_path)
        for key in (
            "revision",
            "cache_dir",
            "force_download",
            "resume_download",
            "proxies",
            "token",
            "local_files_only",
            "strict",
            "dataset_stats",
            "dataset_meta",
        ):
            kwargs.pop(key, None)
        policy = RewACTPolicy.from_pretrained(path)
        if config is None:
            config = RewACTConfig.from_pretrained(path)
        config.pretrained_path = str(path)
        model = cls(config, policy=policy)
        model.to(policy.config.device)
        model.eval()
        return model
