"""Pre- and post-processors of RewACT: ACT's, plus one step that brings camera images to the size
the policy was built for.

The resize step sits before the normaliser, so training batches, `lerobot-eval` observations and
robot frames all reach the model at the same size (a simulator's 480x640 camera, a dataset
recorded at another resolution, fine-tuning a checkpoint on new data). The reward needs no
processing: its targets are in [0, 1] and looked up by frame index inside the policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from lerobot.configs.types import PipelineFeatureType, PolicyFeature
from lerobot.policies.act.processor_act import make_act_pre_post_processors
from lerobot.processor import NormalizerProcessorStep, ObservationProcessorStep, ProcessorStepRegistry
from torch.nn import functional as F  # noqa: N812

from .configuration_rewact import RewACTConfig

log = logging.getLogger(__name__)


@ProcessorStepRegistry.register(name="rewact_resize_images")
@dataclass
class ResizeImagesProcessorStep(ObservationProcessorStep):
    """Resize camera images (B, C, H, W) to `sizes[key] = [H, W]`, bilinear with antialiasing.

    Images already at their size pass through untouched; a camera of another size is reported
    once, then resized at every call.
    """

    sizes: dict[str, list[int]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set, init=False, repr=False)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        for key, size in self.sizes.items():
            image = observation.get(key)
            if not isinstance(image, torch.Tensor) or image.dim() < 3 or list(image.shape[-2:]) == list(size):
                continue
            if key not in self._warned:
                log.warning(
                    "'%s' is %s, the policy works at %s: resizing", key, tuple(image.shape[-2:]), tuple(size)
                )
                self._warned.add(key)
            batched = image if image.dim() == 4 else image.unsqueeze(0)
            if not batched.is_floating_point():  # uint8 frames: resize in float, keep the dtype
                resized = F.interpolate(batched.float(), size=tuple(size), mode="bilinear", antialias=True)
                resized = resized.round().clamp(0, 255).to(image.dtype)
            else:
                resized = F.interpolate(batched, size=tuple(size), mode="bilinear", antialias=True)
            observation[key] = resized if image.dim() == 4 else resized.squeeze(0)
        return observation

    def get_config(self) -> dict[str, Any]:
        return {"sizes": {k: list(v) for k, v in self.sizes.items()}}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        observations = features.get(PipelineFeatureType.OBSERVATION, {})
        for key, size in self.sizes.items():
            if key in observations:
                feature = observations[key]
                observations[key] = PolicyFeature(type=feature.type, shape=(*feature.shape[:-2], *size))
        return features


def make_rewact_pre_post_processors(
    config: RewACTConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
    **kwargs: Any,  # newer LeRobot also passes dataset_meta=
) -> tuple[Any, Any]:
    """ACT's processor pipelines built from a RewACT config, with the image resize step added."""
    pre, post = make_act_pre_post_processors(config, dataset_stats=dataset_stats)
    sizes = {key: list(feature.shape[-2:]) for key, feature in config.image_features.items()}
    if sizes:
        before = next(i for i, s in enumerate(pre.steps) if isinstance(s, NormalizerProcessorStep))
        pre.steps.insert(before, ResizeImagesProcessorStep(sizes=sizes))
    return pre, post
