"""RewACT: LeRobot's ACT with a per-frame task-progress (reward) head, as a LeRobot policy plugin.

Importing this package registers `--policy.type=rewact` and RewACT's processor step with LeRobot
(LeRobot imports it by itself, because the distribution is named `lerobot_policy_rewact`).

    policy/      what LeRobot loads: config, model, processors, reward head, labels and their files
    tools/       the `rewact` command and what it runs: evaluate, visualise, detector, plots, demo
    generators/  data makers: synthetic marker datasets, the simulated ALOHA demonstrations
"""

from .policy.configuration_rewact import RewACTConfig
from .policy.modeling_rewact import RewACTPolicy
from .policy.processor_rewact import make_rewact_pre_post_processors

__all__ = ["RewACTConfig", "RewACTPolicy", "make_rewact_pre_post_processors"]
