"""Processors of RewACT as a reward model: the checkpoint's own saved policy processors, or fresh
ones built as for the policy."""

from __future__ import annotations

from typing import Any

from lerobot.policies.factory import make_pre_post_processors

from ..policy.processor_rewact import make_rewact_pre_post_processors as make_policy_processors
from .configuration_rewact import RewACTConfig


def make_rewact_pre_post_processors(
    config: RewACTConfig, dataset_stats: Any = None, **kwargs: Any
) -> tuple[Any, Any]:
    """The saved processors of `config.pretrained_path` when set, else the policy's for these stats."""
    if config.pretrained_path:
        return make_pre_post_processors(config.policy_config(), pretrained_path=str(config.pretrained_path))
    return make_policy_processors(config.policy_config(), dataset_stats=dataset_stats)
