"""Pre- and post-processors of RewACT: ACT's, plus a step that stops on inputs that would give a
silently wrong answer (0..255 images, another channel count, NaN states) and a step that brings
camera images to the size the policy was built for.

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
from lerobot.processor import (
    NormalizerProcessorStep,
    ObservationProcessorStep,
    ProcessorStep,
    ProcessorStepRegistry,
    TransitionKey,
)
from lerobot.utils.constants import OBS_ENV_STATE, OBS_STATE
from torch.nn import functional as F  # noqa: N812

from .configuration_rewact import RewACTConfig

log = logging.getLogger(__name__)


@ProcessorStepRegistry.register(name="rewact_resize_images")
@dataclass
class ResizeImagesProcessorStep(ObservationProcessorStep):
    """Resize camera images (B, C, H, W), or (B, frames, C, H, W) with a memory's past frames, to
    `sizes[key] = [H, W]`, bilinear with antialiasing.

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
            batched = image.reshape(-1, *image.shape[-3:])  # (C, H, W), (B, ...) or (B, frames, ...)
            if not batched.is_floating_point():  # uint8 frames: resize in float, keep the dtype
                resized = F.interpolate(batched.float(), size=tuple(size), mode="bilinear", antialias=True)
                resized = resized.round().clamp(0, 255).to(image.dtype)
            else:
                resized = F.interpolate(batched, size=tuple(size), mode="bilinear", antialias=True)
            observation[key] = resized.reshape(*image.shape[:-2], *size)
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


class ObservationError(ValueError):
    """An observation the policy cannot use as it is; the message names the feature and the fix."""


@ProcessorStepRegistry.register(name="rewact_check_observation")
@dataclass
class CheckObservationProcessorStep(ProcessorStep):
    """Stop on inputs that would give a wrong action or reward without a word: camera images outside
    [0, 1] (0..255 floats), another channel count, non-finite states; uint8 frames are converted.

    The error names the feature, and the episode and frame when the batch says them (training).
    """

    channels: dict[str, int] = field(default_factory=dict)  # camera key -> channel count
    states: list[str] = field(default_factory=list)  # state keys that must be finite
    _warned: set[str] = field(default_factory=set, init=False, repr=False)

    def __call__(self, transition: dict) -> dict:
        observation = transition.get(TransitionKey.OBSERVATION)
        if not isinstance(observation, dict):
            return transition
        where = self._where(transition.get(TransitionKey.COMPLEMENTARY_DATA) or {})
        observation = dict(observation)
        for key, channels in self.channels.items():
            image = observation.get(key)
            if not isinstance(image, torch.Tensor):
                continue
            if image.dim() >= 3 and image.shape[-3] != channels:
                raise ObservationError(
                    f"'{key}' has {image.shape[-3]} channel(s) (shape {tuple(image.shape)}{where}) but the policy "
                    f"was trained with {channels}: give (..., {channels}, H, W) images."
                )
            if image.dtype == torch.uint8:
                if key not in self._warned:
                    log.warning("'%s' is uint8: converting to float in [0, 1]", key)
                    self._warned.add(key)
                image = observation[key] = image.float() / 255
            if image.is_floating_point() and image.numel():
                top, bottom = float(image.max()), float(image.min())
                if not (top == top and bottom == bottom) or top > 1.0 + 1e-3 or bottom < -1e-3:
                    raise ObservationError(
                        f"'{key}' has values in [{bottom:g}, {top:g}]{where}; the policy expects camera images as "
                        "floats in [0, 1]: divide 0..255 images by 255 (and replace NaN frames)."
                    )
        for key in self.states:
            state = observation.get(key)
            if isinstance(state, torch.Tensor) and not torch.isfinite(state).all():
                bad = (~torch.isfinite(state)).nonzero()[:, -1].unique().tolist()
                raise ObservationError(
                    f"'{key}' has NaN or infinite values (dimensions {bad[:10]}{where}): the policy cannot act or "
                    "learn from them; fix the dataset or the robot's readings (or leave those episodes out)."
                )
        transition = dict(transition)
        transition[TransitionKey.OBSERVATION] = observation
        return transition

    @staticmethod
    def _where(data: dict) -> str:
        index, episode = data.get("index"), data.get("episode_index")
        if isinstance(index, torch.Tensor) and isinstance(episode, torch.Tensor) and index.numel():
            pairs = sorted(set(zip(episode.flatten().tolist(), index.flatten().tolist(), strict=False)))[:5]
            return ", in this batch of (episode, global frame index) " + ", ".join(
                f"({e}, {i})" for e, i in pairs
            )
        return ""

    def get_config(self) -> dict[str, Any]:
        return {"channels": dict(self.channels), "states": list(self.states)}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        return features


def make_rewact_pre_post_processors(
    config: RewACTConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
    **kwargs: Any,  # newer LeRobot also passes dataset_meta=
) -> tuple[Any, Any]:
    """ACT's processor pipelines built from a RewACT config, with the image resize step added."""
    pre, post = make_act_pre_post_processors(config, dataset_stats=dataset_stats)
    before = next(i for i, s in enumerate(pre.steps) if isinstance(s, NormalizerProcessorStep))
    sizes = {key: list(feature.shape[-2:]) for key, feature in config.image_features.items()}
    if sizes:
        pre.steps.insert(before, ResizeImagesProcessorStep(sizes=sizes))
    channels = {key: int(feature.shape[0]) for key, feature in config.image_features.items()}
    states = [key for key in (OBS_STATE, OBS_ENV_STATE) if key in config.input_features]
    pre.steps.insert(before, CheckObservationProcessorStep(channels=channels, states=states))
    return pre, post
