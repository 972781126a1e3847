"""RewACT as a LeRobot 0.6 reward model: a RewACT checkpoint loads through LeRobot's reward-model
factory (`RewardModelConfig.from_pretrained`, `make_reward_model`, `make_reward_pre_post_processors`)
and `compute_reward(batch)` runs the policy's reward-only path.

The factory resolves classes by name: config `RewACTConfig` (registered as "rewact", the `type`
a RewACT checkpoint's config.json already has) -> model `RewACTRewardModel` in `modeling_rewact`
-> processors `make_rewact_pre_post_processors` in `processor_rewact`. LeRobot 0.4.4 has no reward
models: importing this package there raises `RewardModelsUnavailableError` saying so.
"""

from ..compat import HAS_REWARD_MODELS


class RewardModelsUnavailableError(ImportError):
    """This LeRobot has no reward-model API (it arrived in 0.6)."""


if not HAS_REWARD_MODELS:
    from ..compat import LEROBOT_VERSION

    raise RewardModelsUnavailableError(
        f"RewACT as a LeRobot reward model needs LeRobot >= 0.6 (installed: {LEROBOT_VERSION}), which has the "
        "reward-model API. On this release, use RewACTPolicy.predict_reward(batch) for the same reward."
    )

from .configuration_rewact import RewACTConfig  # noqa: E402
from .modeling_rewact import RewACTRewardModel  # noqa: E402
from .processor_rewact import make_rewact_pre_post_processors  # noqa: E402

__all__ = ["RewACTConfig", "RewACTRewardModel", "make_rewact_pre_post_processors"]
