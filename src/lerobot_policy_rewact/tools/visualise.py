"""`rewact visualise` / `scripts/visualise.py`: watch the reward on episodes the policy never saw.

The policy runs over each episode frame by frame exactly as on a robot (`select_action`, a fresh
reward every frame). For each episode it writes `episode_<N>.mp4` (camera images with the live
reward curve, the label or ground truth in grey when known) and `episode_<N>.png` (the whole curve).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..files import fresh_output_dir
from .checkpoints import ScoringArgs
from .datasets import DatasetArgs
from .plots import Panel, plot_panels

log = logging.getLogger(__name__)


@dataclass
class EpisodesToDraw(DatasetArgs):
    """The dataset and the episodes to draw (LeRobot's `--dataset.*` names)."""

    # Episodes to draw, e.g. [24,25] (required: one MP4 each).
    episodes: list[int] | None = None


@dataclass
class VisualiseConfig(ScoringArgs):
    """MP4 and PNG of a trained RewACT's reward on dataset episodes (--dataset.episodes=[24,25])."""

    dataset: EpisodesToDraw = field(default_factory=EpisodesToDraw)
    # Where episode_<N>.mp4 and episode_<N>.png are written.
    output_dir: str = "outputs/visualise"


def _truth_source(root: Path, policy, meta) -> Callable[[int, np.ndarray], np.ndarray | None]:
    """A function (episode, global indices) -> truth curve or None, loaded once for all episodes."""
    from ..policy import ground_truth_file
    from ..policy.labels import RewardTargets

    if (root / ground_truth_file.FILENAME).is_file():
        truth = ground_truth_file.read(root)
        return lambda episode, indices: np.asarray(truth[episode].progress)
    try:
        targets = RewardTargets.from_config(policy.config, meta)
    except Exception as e:  # labels need files that may not be here: the videos are still useful
        log.warning("no labels to draw (%s)", e)
        return lambda episode, indices: None
    return lambda episode, indices: targets.lookup(torch.as_tensor(indices)).numpy()


def run(cfg: VisualiseConfig) -> list[Path]:
    """Write an MP4 and a PNG per episode; returns the MP4 paths."""
    from .video import to_uint8_image, write_reward_video

    root = cfg.dataset.folder()
    if not cfg.dataset.episodes:
        raise SystemExit("error: say which episodes to draw: --dataset.episodes=[24] (or [24,25,...])")
    policy, pre, post = cfg.policy.load(cfg.dataset.meta())
    out_dir = fresh_output_dir(cfg.output_dir)
    camera_keys = list(policy.config.image_features)
    truth_of = _truth_source(root, policy, cfg.dataset.meta())
    written = []
    for ep in cfg.dataset.episodes:
        ds = cfg.dataset.open(episodes=[ep])
        policy.reset()
        rewards, images = [], []
        for i in tqdm(range(len(ds)), desc=f"episode {ep}"):
            item = ds[i]
            post(policy.select_action(pre(item)))  # act as on a robot; the reward comes with it
            rewards.append(float(policy.last_reward[0]))
            if camera_keys:  # cameras side by side
                row = [to_uint8_image(item[k]) for k in camera_keys]
                height = min(r.shape[0] for r in row)
                images.append(np.concatenate([r[:height] for r in row], axis=1))
        rewards = np.asarray(rewards)
        truth = truth_of(ep, np.asarray(ds.hf_dataset["index"]))
        if images:
            path = write_reward_video(
                out_dir / f"episode_{ep}.mp4", np.stack(images), rewards, ds.fps, truth, title=f"episode {ep}"
            )
            written.append(path)
            print(path)
        panel = Panel(f"episode {ep}", ds.fps, {"predicted reward": rewards}, styles={"label / truth": "k--"})
        if truth is not None:
            panel.curves["label / truth"] = truth
        plot_panels([panel], out_dir / f"episode_{ep}.png", height=2.3)
    return written
