"""Shared pieces of the benchmarks: ACT and RewACT built alike on synthetic inputs, and timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy

from lerobot_policy_rewact import RewACTConfig, RewACTPolicy
from lerobot_policy_rewact.tools import presets

SETTINGS = {
    # small enough for a CPU: what the demo uses (tools/presets.py)
    "cpu": {k: v for k, v in presets.CPU.items() if k not in presets.OFFLINE},
    # LeRobot ACT's defaults (dim 512, chunk 100, 4 encoder layers, VAE)
    "act-defaults": {},
}


def features(state_dim: int, image_hw: tuple[int, int], cameras: int = 1):
    inputs = {"observation.state": PolicyFeature(FeatureType.STATE, (state_dim,))}
    for c in range(cameras):
        inputs[f"observation.images.cam{c}"] = PolicyFeature(FeatureType.VISUAL, (3, *image_hw))
    return inputs, {"action": PolicyFeature(FeatureType.ACTION, (state_dim,))}


class FakeMeta:
    """Just enough dataset metadata for RewACT's linear labels: one long episode."""

    def __init__(self, frames: int):
        self.episodes = {"episode_index": [0], "dataset_from_index": [0], "dataset_to_index": [frames]}
        self.fps, self.root, self.total_frames = 50, ".", frames


def policy_options(flags: list[str]) -> dict:
    """`--policy.name=value` flags (as reward_bench.py passes configurations) as RewACTConfig keywords."""
    import json

    out = {}
    for flag in flags:
        name, _, value = flag.removeprefix("--policy.").partition("=")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value  # a plain string (a choice such as `sigmoid`)
    return out


def build_one(which: str, setting: str, state_dim: int, image_hw: tuple[int, int], seed: int = 0,
              rewact_options: dict | None = None):  # fmt: skip
    """ACT ("act") or RewACT ("rewact") alone, on the CPU, no pretrained backbone; the same seed gives
    both the same ACT weights."""
    inputs, outputs = features(state_dim, image_hw)
    common = dict(
        device="cpu",
        pretrained_backbone_weights=None,
        input_features=inputs,
        output_features=outputs,
        **SETTINGS[setting],
    )
    torch.manual_seed(seed)
    if which == "act":
        return ACTPolicy(ACTConfig(**common))
    return RewACTPolicy(RewACTConfig(**common, **(rewact_options or {})), dataset_meta=FakeMeta(10_000))


def build_pair(setting: str, state_dim: int, image_hw: tuple[int, int], seed: int = 0,
               rewact_options: dict | None = None):  # fmt: skip
    """(ACT, RewACT) with identical ACT weights and options."""
    return (
        build_one("act", setting, state_dim, image_hw, seed),
        build_one("rewact", setting, state_dim, image_hw, seed, rewact_options),
    )


def make_batch(policy, batch_size: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    cfg = policy.config
    steps = len(cfg.observation_delta_indices or [0])  # a memory reads past frames beside the current one
    history = (steps,) if steps > 1 else ()
    batch = {
        key: torch.randn(batch_size, *history, *ft.shape, generator=g)
        for key, ft in cfg.input_features.items()
    }
    if history:
        batch["observation.state_is_pad"] = torch.zeros(batch_size, steps, dtype=torch.bool)
    batch["action"] = torch.randn(batch_size, cfg.chunk_size, cfg.action_feature.shape[0], generator=g)
    batch["action_is_pad"] = torch.zeros(batch_size, cfg.chunk_size, dtype=torch.bool)
    batch["index"] = torch.randint(0, 10_000, (batch_size,), generator=g)
    batch["episode_index"] = torch.zeros(batch_size, dtype=torch.int64)
    return batch


def observation(batch: dict) -> dict:
    """One observation (batch of 1) from a training batch, as a robot would give it (the current frame)."""
    return {k: v[:1] for k, v in current_frames(batch).items() if k.startswith("observation.")}


def current_frames(batch: dict) -> dict:
    """A training batch without the memory's past frames: what ACT trains on."""
    steps = batch.get("observation.state_is_pad")
    if steps is None:
        return batch
    return {
        k: v[:, -1] if k.startswith("observation.") else v
        for k, v in batch.items()
        if not k.endswith("_is_pad") or k == "action_is_pad"
    }


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
