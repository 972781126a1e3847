"""RewACT: LeRobot's ACT with a per-frame task-progress (reward) head, as a LeRobot policy plugin.

Importing this package registers `--policy.type=rewact` with LeRobot (LeRobot imports it by
itself, because the distribution is named `lerobot_policy_rewact`).
"""

from .configuration_rewact import RewACTConfig
from .modeling_rewact import RewACTPolicy
from .processor_rewact import make_rewact_pre_post_processors

__all__ = ["RewACTConfig", "RewACTPolicy", "make_rewact_pre_post_processors"]
