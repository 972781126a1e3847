"""RewACT: LeRobot's ACT with a per-frame task-progress (reward) head, as a LeRobot policy plugin.

Importing this package registers `--policy.type=rewact` and RewACT's processor step with LeRobot
(LeRobot imports it by itself, because the distribution is named `lerobot_policy_rewact`).

    policy/      what LeRobot loads: config, model, processors, reward head, labels and their files
    tools/       the `rewact` command and what it runs: evaluate, visualise, detector, plots, demo
    reward_model/  the same checkpoint as a LeRobot 0.6 reward model (`compute_reward`)
    generators/  data makers: synthetic marker datasets, the simulated ALOHA demonstrations
"""

from . import compat
from .policy import delta_timestamps
from .policy.configuration_rewact import RewACTConfig
from .policy.modeling_rewact import RewACTPolicy
from .policy.processor_rewact import make_rewact_pre_post_processors

delta_timestamps.install()  # a memory in seconds learns the dataset's fps before LeRobot loads frames

if compat.HAS_REWARD_MODELS:  # LeRobot 0.6+: a RewACT checkpoint also loads as a reward model ("rewact")
    from . import reward_model  # noqa: F401

__all__ = ["RewACTConfig", "RewACTPolicy", "make_rewact_pre_post_processors"]
