"""LeRobot's `resolve_delta_timestamps`, taught that a RewACT memory is given in seconds.

LeRobot builds a training dataset before the policy (`make_dataset`, then `make_policy`): it reads the
config's `observation_delta_indices` (frames) and divides them by the dataset's fps. A RewACT memory's
frames depend on that fps (`reward_memory_seconds`), so the config must learn the fps first. `install()`
wraps the function LeRobot's dataset factory calls: for a RewACT config (policy or reward model) it
records the dataset's fps (`reward_memory_fps`, saved with the checkpoint) and loads a checkpoint that
predates a changed default as it was trained, then lets LeRobot resolve the timestamps as always; a
window memory's timestamps carry the rule that picks each sample's past frames as acting does
(`still_history`).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from . import still_history

log = logging.getLogger(__name__)


def prepare_config(cfg: Any, ds_meta: Any) -> None:
    """Make a RewACT config ready to say which frames a training sample reads from this dataset."""
    if getattr(cfg, "type", None) != "rewact" or not hasattr(cfg, "reward_memory_seconds"):
        return
    from .configuration_rewact import former_defaults

    pretrained = getattr(cfg, "pretrained_path", None)
    if pretrained:  # fine-tuning or resuming: an older checkpoint trains on as it was trained
        for name, value in former_defaults(pretrained).items():
            setattr(cfg, name, value)
    if cfg.reward_memory == "none":
        return
    fps = float(ds_meta.fps)
    if cfg.reward_memory_history is not None and cfg.reward_memory_fps is not None:
        return  # frame offsets stay at the rate they were trained at (another rate is refused)
    if cfg.reward_memory_fps not in (None, fps):
        log.info("reward memory: training on %g fps data after %g fps; its spans stay in seconds",
                 fps, cfg.reward_memory_fps)  # fmt: skip
    cfg.reward_memory_fps = fps


def install() -> None:
    """Wrap `lerobot.datasets.factory.resolve_delta_timestamps` once (the name `make_dataset` calls)."""
    from lerobot.datasets import factory

    original = factory.resolve_delta_timestamps
    if getattr(original, "_rewact", False):
        return

    @functools.wraps(original)
    def resolve_delta_timestamps(cfg: Any, ds_meta: Any, *args: Any, **kwargs: Any) -> Any:
        prepare_config(cfg, ds_meta)
        timestamps = original(cfg, ds_meta, *args, **kwargs)
        rule = still_history.rule_for(cfg, ds_meta) if timestamps else None
        return still_history.HistoryTimestamps(timestamps, rule) if rule else timestamps

    resolve_delta_timestamps._rewact = True
    factory.resolve_delta_timestamps = resolve_delta_timestamps
    still_history.install()
