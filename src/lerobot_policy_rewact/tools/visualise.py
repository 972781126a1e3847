"""`rewact visualise` / `scripts/visualise.py`: watch the reward on episodes the policy never saw.

The policy runs over each episode frame by frame exactly as on a robot (`select_action`, a fresh
reward every frame). For each episode it writes `episode_<N>.mp4` (camera images with the live
reward curve, the label or ground truth in grey when known, the outcome, a legend and where the
completion detector fired) and `episode_<N>.png` (the whole curve); with `--rerun=file` also
`episode_<N>.rrd` for rerun (cameras, state, reward, truth, detector), `--rerun=spawn` opens it.
The detector is `--detector_path`, else the checkpoint's tuned one (`completion_detector.json`, written
by `rewact evaluate`), else the untuned defaults.
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
from .detector import saved_or_default
from .plots import Panel, plot_panels
from .rerun_view import EpisodeView, require_rerun, write_rrd
from .video import to_uint8_image

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
    # Where episode_<N>.mp4 and episode_<N>.png (and .rrd) are written.
    output_dir: str = "outputs/visualise"
    # rerun view: none, file (episode_<N>.rrd) or spawn (the .rrd and a viewer); needs rerun-sdk.
    rerun: str = "none"
    # A completion detector file (default: completion_detector.json beside --policy.path, else defaults).
    detector_path: str | None = None

    def __post_init__(self):
        if self.rerun not in ("none", "file", "spawn"):
            raise ValueError(f"--rerun={self.rerun} is not one of none, file, spawn")


Truth = Callable[[int, np.ndarray], tuple[np.ndarray | None, str]]


def _truth_source(root: Path, policy, meta) -> Truth:
    """A function (episode, global indices) -> (truth curve or None, outcome), loaded once for all episodes."""
    from ..label_formats import ground_truth_file
    from ..policy.labels import RewardTargets

    if (root / ground_truth_file.FILENAME).is_file():
        truth = ground_truth_file.read(root)
        outcome = {True: "success", False: "failure", None: "unknown"}
        return lambda episode, indices: (np.asarray(truth[episode].progress), outcome[truth[episode].success])
    try:
        targets = RewardTargets.from_config(policy.config, meta)
    except Exception as e:  # labels need files that may not be here: the videos are still useful
        log.warning("no labels to draw (%s)", e)
        return lambda episode, indices: (None, "unknown")
    return lambda episode, indices: (targets.lookup(torch.as_tensor(indices)).numpy(), "unknown")


def _act(policy, pre, post, ds, camera_keys: list[str]) -> tuple[np.ndarray, dict, np.ndarray | None]:
    """Run the policy over an episode as on a robot: (rewards, camera images by key, robot states)."""
    from .inference import at_data_fps

    at_data_fps(policy, ds)
    policy.reset()
    rewards, images, states = [], {k: [] for k in camera_keys}, []
    for i in tqdm(range(len(ds)), desc=f"episode {int(ds.hf_dataset['episode_index'][0])}"):
        item = ds[i]
        post(policy.select_action(pre(item)))  # act as on a robot; the reward comes with it
        rewards.append(float(policy.last_reward[0]))
        for k in camera_keys:
            images[k].append(to_uint8_image(item[k]))
        if "observation.state" in item:
            states.append(item["observation.state"].numpy())
    cameras = {k: np.stack(v) for k, v in images.items()}
    return np.asarray(rewards), cameras, (np.stack(states) if states else None)


def _side_by_side(cameras: dict[str, np.ndarray]) -> np.ndarray:
    height = min(v.shape[1] for v in cameras.values())
    return np.concatenate([v[:, :height] for v in cameras.values()], axis=2)


def run(cfg: VisualiseConfig) -> list[Path]:
    """Write an MP4 and a PNG (and an .rrd) per episode; returns the MP4 paths."""
    from .video import write_reward_video

    root = cfg.dataset.folder()
    if not cfg.dataset.episodes:
        raise SystemExit("error: say which episodes to draw: --dataset.episodes=[24] (or [24,25,...])")
    if cfg.rerun != "none":
        require_rerun()  # a missing rerun-sdk stops before any work
    meta = cfg.dataset.meta()
    # a bad detector file stops before any work
    detector = saved_or_default(cfg.detector_path, cfg.policy.path, float(meta.fps))
    policy, pre, post = cfg.policy.load(meta)
    out_dir = fresh_output_dir(cfg.output_dir)
    truth_of = _truth_source(root, policy, meta)
    written = []
    for ep in cfg.dataset.episodes:
        ds = cfg.dataset.open(episodes=[ep])
        rewards, cameras, states = _act(policy, pre, post, ds, list(policy.config.image_features))
        truth, outcome = truth_of(ep, np.asarray(ds.hf_dataset["index"]))
        detector.fps = ds.fps
        detected = detector.states(rewards)
        if cameras:
            path = write_reward_video(
                out_dir / f"episode_{ep}.mp4", _side_by_side(cameras), rewards, ds.fps, truth,
                title=f"episode {ep}", outcome=outcome, detector_states=detected,
            )  # fmt: skip
            written.append(path)
            print(path)
        title = f"episode {ep} ({outcome})"
        panel = Panel(title, ds.fps, {"predicted reward": rewards}, styles={"label / truth": "k--"})
        if truth is not None:
            panel.curves["label / truth"] = truth
        fired = next((t for t, s in enumerate(detected) if s != "running"), None)
        if fired is not None:
            panel.vlines.append(
                (fired, "C2" if detected[fired] == "done" else "C1", f"detector: {detected[fired]}")
            )
        plot_panels([panel], out_dir / f"episode_{ep}.png", height=2.3)
        if cfg.rerun != "none":
            view = EpisodeView(ep, ds.fps, rewards, cameras, states, truth, outcome, detected)
            print(write_rrd(view, out_dir / f"episode_{ep}.rrd", spawn=cfg.rerun == "spawn"))
    return written
