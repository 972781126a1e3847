"""`RewACTRewardModel`: LeRobot's reward-model interface around a RewACT policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot.rewards.pretrained import PreTrainedRewardModel
from torch import Tensor

from ..policy.configuration_rewact import FORMER_DEFAULTS
from ..policy.modeling_rewact import RewACTPolicy
from .configuration_rewact import RewACTConfig


class RewACTRewardModel(PreTrainedRewardModel):
    """Task progress in [0, 1] per frame from a RewACT: the policy's reward-only path (backbone and
    encoder, no action decoder)."""

    config_class = RewACTConfig
    name = "rewact"

    def __init__(self, config: RewACTConfig, policy: RewACTPolicy | None = None, **kwargs: Any):
        super().__init__(config)
        if policy is None:
            meta = kwargs.get("dataset_meta")
            if meta is not None:  # lerobot-train --reward_model.type=rewact: the dataset's features
                _set_features(config, meta)
            policy = RewACTPolicy(config.policy_config(), **kwargs)
        self.policy = policy

    def get_optim_params(self) -> Any:
        """The policy's parameter groups (ACT's: the backbone at its own learning rate)."""
        return self.policy.get_optim_params()

    def _save_pretrained(self, save_directory: Path, **kwargs: Any) -> None:
        """Saved as a RewACT policy folder (its config.json and weights), which LeRobot also reads as a
        reward model: one checkpoint layout whichever way it was trained."""
        self.policy._save_pretrained(save_directory, **kwargs)

    def compute_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """Reward (B,) of a preprocessed batch, keeping no state, like LeRobot's other reward models. With a
        memory every sample carries its past frames ((B, T, ...), as LeRobot loads a dataset with this
        config's `observation_delta_indices`): the reward training computed for it. Single frames of a
        memory model are refused with the two ways to go on (`step_reward` steps environments)."""
        return self.policy.predict_reward(batch)

    def step_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """The reward (B,) of this control step of B environments (single frames), each with its memory of
        the episode so far, as acting computes it; `reset()` starts new episodes."""
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
        if config is None:
            config = RewACTConfig.from_pretrained(path)
        # The checkpoint's policy, with the given config's settings (--reward_model.* overrides, device).
        policy_config = config.policy_config()
        policy = RewACTPolicy.from_pretrained(path, config=policy_config)
        config.pretrained_path = str(path)
        for (
            name
        ) in FORMER_DEFAULTS:  # an older checkpoint loads as it was trained (the policy's loader knows)
            setattr(config, name, getattr(policy.config, name))
        config.device = policy.config.device
        model = cls(config, policy=policy)
        model.to(policy.config.device)
        model.eval()
        return model


def _set_features(config: RewACTConfig, meta: Any) -> None:
    """Inputs and outputs from a dataset's features, as LeRobot's `make_policy` sets a policy's."""
    from lerobot.configs.types import FeatureType
    from lerobot.utils.feature_utils import dataset_to_policy_features

    features = dataset_to_policy_features(meta.features)
    config.output_features = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
    if not config.input_features:
        config.input_features = {k: f for k, f in features.items() if k not in config.output_features}
