"""`rewact visualise` / `scripts/visualise.py`: watch the reward on episodes the policy never saw.

The policy runs over each episode frame by frame exactly as on a robot (`select_action`, a fresh
reward every frame). For each episode it writes `episode_<N>.mp4` (camera images with the live
reward curve, the label or ground truth in grey when known) and `episode_<N>.png` (the whole curve).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

log = logging.getLogger(__name__)


def _truth_source(dataset_root: Path, policy, meta):
    """A function (episode, global indices) -> truth curve or None, loaded once for all episodes."""
    from .labels import RewardTargets
    from .sim import ground_truth

    if (dataset_root / ground_truth.FILENAME).is_file():
        truth = ground_truth.read(dataset_root)
        return lambda episode, indices: np.asarray(truth[episode].progress)
    try:
        targets = RewardTargets.from_config(policy.config, meta)
    except Exception as e:  # labels need files that may not be here: the videos are still useful
        log.warning("no labels to draw (%s)", e)
        return lambda episode, indices: None
    return lambda episode, indices: targets.lookup(torch.as_tensor(indices)).numpy()


def visualise(policy_path: str | Path, dataset_root: str | Path, episodes: list[int], out_dir: str | Path,
              repo_id: str | None = None) -> list[Path]:
    """Write an MP4 and a PNG per episode; returns the MP4 paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lerobot.policies.factory import make_pre_post_processors

    from .inference import open_dataset
    from .modeling_rewact import RewACTPolicy
    from .video import to_uint8_image, write_reward_video

    dataset_root, out_dir = Path(dataset_root), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = RewACTPolicy.from_pretrained(policy_path)
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(policy_path))
    camera_keys = list(policy.config.image_features)
    truth_of = None
    written = []
    for ep in episodes:
        ds = open_dataset(dataset_root, episodes=[ep], repo_id=repo_id)
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
        if truth_of is None:
            truth_of = _truth_source(dataset_root, policy, ds.meta)
        truth = truth_of(ep, np.asarray(ds.hf_dataset["index"]))
        if images:
            path = write_reward_video(out_dir / f"episode_{ep}.mp4", np.stack(images), rewards, ds.fps, truth,
                                      title=f"episode {ep}")
            written.append(path)
        fig, ax = plt.subplots(figsize=(8, 2.5))
        t = np.arange(len(rewards)) / ds.fps
        if truth is not None:
            ax.plot(t, truth, "k--", lw=1, label="label / truth")
        ax.plot(t, rewards, "C0", label="predicted reward")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("time (s)")
        ax.set_title(f"episode {ep}")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / f"episode_{ep}.png", dpi=100)
        plt.close(fig)
        log.info("episode %d: %s", ep, out_dir / f"episode_{ep}.mp4")
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The original RewACT's flags, plus --dataset-root and several episodes."""
    parser.add_argument("--policy-path", required=True, help="a saved model folder (.../pretrained_model)")
    parser.add_argument("--dataset-root", default=None, help="local dataset folder (required offline)")
    parser.add_argument("--dataset-repo-id", default=None, help="dataset id; with --dataset-root, its name")
    parser.add_argument("--episode-id", type=int, nargs="+", required=True, help="one or more episodes")
    parser.add_argument("--output-dir", default="outputs/visualise")


def run(args: argparse.Namespace) -> None:
    root = args.dataset_root
    if root is None:
        from lerobot.utils.constants import HF_LEROBOT_HOME

        if not args.dataset_repo_id:
            raise SystemExit("error: give --dataset-root (a local dataset) or --dataset-repo-id")
        root = HF_LEROBOT_HOME / args.dataset_repo_id  # LeRobot's local cache of a Hub dataset
    if not (Path(root) / "meta" / "info.json").is_file():
        raise SystemExit(f"error: no dataset at {root}: pass --dataset-root=<folder with meta/info.json>")
    if not (Path(args.policy_path) / "model.safetensors").is_file():
        raise SystemExit(f"error: {args.policy_path} is not a saved policy folder (no model.safetensors)")
    paths = visualise(args.policy_path, root, args.episode_id, args.output_dir, args.dataset_repo_id)
    for p in paths:
        print(p)
