"""Pre- and post-processors of RewACT: exactly ACT's (normalise inputs, unnormalise actions).

The reward needs no processing: its targets are in [0, 1] and looked up by frame index inside the
policy, and its prediction is already in [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch

from lerobot.policies.act.processor_act import make_act_pre_post_processors

from .configuration_rewact import RewACTConfig


def make_rewact_pre_post_processors(
    config: RewACTConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
    **kwargs: Any,  # newer LeRobot also passes dataset_meta=
) -> tuple[Any, Any]:
    """ACT's processor pipelines, built from a RewACT config."""
    return make_act_pre_post_processors(config, dataset_stats=dataset_stats)
