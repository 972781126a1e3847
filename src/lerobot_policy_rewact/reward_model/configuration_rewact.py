"""The reward-model config of RewACT: every field of the RewACT policy config, on LeRobot's
`RewardModelConfig`, so the config.json of any RewACT checkpoint reads as a reward-model config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lerobot.configs.rewards import RewardModelConfig

from ..policy.configuration_rewact import RewACTConfig as RewACTPolicyConfig, adopt_fields


@RewardModelConfig.register_subclass("rewact")
@dataclass
@adopt_fields(
    RewACTPolicyConfig, inherited=True, skip={f.name for f in dataclasses.fields(RewardModelConfig)}
)
class RewACTConfig(RewardModelConfig):
    """A RewACT checkpoint seen as a reward model (progress in [0, 1] per frame)."""

    def policy_config(self) -> RewACTPolicyConfig:
        """The same settings as the RewACT policy's config."""
        names = {f.name for f in dataclasses.fields(RewACTPolicyConfig)}
        values: dict[str, Any] = {n: getattr(self, n) for n in names if hasattr(self, n)}
        return RewACTPolicyConfig(**values)

    # The frames a training sample reads, as the policy's (with a memory: its history frames too), so
    # `lerobot-train --reward_model.type=rewact` trains the same model as `--policy.type=rewact`.
    @property
    def observation_delta_indices(self) -> list[int] | None:
        return self.policy_config().observation_delta_indices

    @property
    def action_delta_indices(self) -> list[int]:
        return self.policy_config().action_delta_indices

    @property
    def reward_delta_indices(self) -> None:
        return self.policy_config().reward_delta_indices

    def get_optimizer_preset(self) -> Any:
        return self.policy_config().get_optimizer_preset()

    def get_scheduler_preset(self) -> Any:
        return self.policy_config().get_scheduler_preset()
