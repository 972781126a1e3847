"""How much of what the reward head reads in training is ACT's dropout, not the frame?

The head reads one encoder feature per frame (the latent token's output with the acting latent). In
training that pass runs with ACT's dropout (unless `--policy.reward_encoder_dropout=false`), so the
same frame gives a different feature on every pass. This compares, over frames spread across one
episode, the variance a frame's feature has from dropout alone (several train-mode passes of the same
frame) with the variance from going from one frame to another (the eval-mode feature across frames):
a head whose input moves more with dropout than with the task has little to learn from.

    python benchmarks/dropout_noise.py --data data/aloha-return-bench --episode 21            # fresh policy
    python benchmarks/dropout_noise.py --data data/aloha-return-bench --episode 21 \
        --checkpoint outputs/bench/reward/<label>/<config>/return-seed1000/train/checkpoints/last/pretrained_model
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from lerobot.policies.factory import make_policy, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.tools import presets
from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
from lerobot_policy_rewact.tools.datasets import DatasetArgs
from lerobot_policy_rewact.tools.inference import episode_frames


def features(policy, batch: dict, passes: int) -> tuple[np.ndarray, np.ndarray]:
    """(eval feature (F, D), train-mode features (passes, F, D)) of the frames in `batch`."""
    prepared = policy._prepare(batch)
    with torch.no_grad():
        policy.eval()
        still = policy.reward_feature(policy.model.encode(prepared)).numpy()
        policy.train()
        noisy = np.stack(
            [policy.reward_feature(policy.model.encode(prepared)).numpy() for _ in range(passes)]
        )
    policy.eval()
    return still, noisy


def noise_against_signal(still: np.ndarray, noisy: np.ndarray) -> dict:
    """Dropout variance (across passes, per frame and dim) against frame-to-frame variance (per dim)."""
    dropout_var = noisy.var(axis=0).mean(axis=0)  # (D,)
    frame_var = still.var(axis=0)  # (D,)
    ratio = dropout_var / np.maximum(frame_var, 1e-12)
    return {
        "dropout_variance": float(dropout_var.mean()),
        "frame_variance": float(frame_var.mean()),
        "ratio_of_means": float(dropout_var.mean() / max(frame_var.mean(), 1e-12)),
        "median_ratio_per_dim": float(np.median(ratio)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="a LeRobot dataset root")
    p.add_argument("--episode", type=int, default=0)
    p.add_argument("--frames", type=int, default=48, help="frames spread evenly over the episode")
    p.add_argument("--passes", type=int, default=8, help="train-mode passes per frame")
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="a pretrained_model folder (default: a fresh policy)"
    )
    p.add_argument("--seed", type=int, default=1000, help="initialisation of the fresh policy and of dropout")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    data = DatasetArgs(root=str(a.data))
    meta = data.meta()
    if a.checkpoint is None:
        config = RewACTConfig(**presets.CPU, reward_memory="none", reward_labels="linear")
        policy = make_policy(config, ds_meta=meta)
        pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    else:
        policy, pre, _ = PolicyArgs(str(a.checkpoint)).load(meta)
    frames = episode_frames(data.open([a.episode]))
    n = len(frames["index"])
    rows = np.unique(np.linspace(0, n - 1, min(a.frames, n)).round().astype(int))
    batch = pre({k: v[rows] if isinstance(v, torch.Tensor) else v for k, v in frames.items()})
    still, noisy = features(policy, batch, a.passes)
    result = {
        "checkpoint": str(a.checkpoint) if a.checkpoint else f"fresh (seed {a.seed})",
        "data": str(a.data),
        "episode": a.episode,
        "frames": len(rows),
        "passes": a.passes,
        **noise_against_signal(still, noisy),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
