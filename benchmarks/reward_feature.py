"""Which ACT feature should the reward head read? Train each variant the same way, compare.

Trains RewACT in process on a synthetic dataset whose progress is visible (a moving marker),
then scores the reward on held-out episodes as a robot would get it (eval mode, no VAE latent).
Prints MAE to the labels and seconds per training step for each variant.

    python benchmarks/reward_feature.py --steps 300
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lerobot.datasets.factory import resolve_delta_timestamps
from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
from lerobot.policies.factory import make_policy, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.generators.synthetic import MarkerSpec, make_marker_dataset
from lerobot_policy_rewact.policy.labels import RewardTargets
from lerobot_policy_rewact.tools import presets
from lerobot_policy_rewact.tools.inference import episode_rewards

SMALL = presets.CPU


def train_and_score(root: Path, train_eps: list[int], test_eps: list[int], steps: int, seed: int, **variant):
    torch.manual_seed(seed)
    meta = LeRobotDatasetMetadata("local/marker", root=root)
    config = RewACTConfig(**{**SMALL, **variant})
    policy = make_policy(config, ds_meta=meta)
    pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    data = LeRobotDataset(
        "local/marker",
        root=root,
        episodes=train_eps,
        video_backend="pyav",
        delta_timestamps=resolve_delta_timestamps(config, meta),
    )
    loader = torch.utils.data.DataLoader(
        data, batch_size=16, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed)
    )
    optim = torch.optim.AdamW(policy.get_optim_params(), lr=config.optimizer_lr, weight_decay=1e-4)
    step, t0 = 0, time.perf_counter()
    policy.train()
    while step < steps:
        for batch in loader:
            loss, _ = policy.forward(pre(batch))
            optim.zero_grad()
            loss.backward()
            optim.step()
            step += 1
            if step >= steps:
                break
    step_s = (time.perf_counter() - t0) / steps
    targets = RewardTargets.from_config(config, meta)
    errors = []
    for ep in test_eps:
        ds = LeRobotDataset("local/marker", root=root, episodes=[ep], video_backend="pyav")
        pred = episode_rewards(policy, pre, ds)
        label = targets.lookup(torch.as_tensor(np.asarray(ds.hf_dataset["index"]))).numpy()
        errors.append(np.abs(pred - label))
    return float(np.concatenate(errors).mean()), step_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/reward_feature.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    variants = {
        "mean+sigmoid": {"reward_feature": "mean", "reward_head": "sigmoid"},
        "latent+sigmoid": {"reward_feature": "latent", "reward_head": "sigmoid"},
        "mean+distributional": {"reward_feature": "mean", "reward_head": "distributional"},
        "latent+distributional": {"reward_feature": "latent", "reward_head": "distributional"},
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_marker_dataset(
            Path(tmp) / "marker",
            MarkerSpec(num_episodes=12, min_length=30, max_length=45, image_size=(32, 32)),
        )
        for name, variant in variants.items():
            runs = [
                train_and_score(root, list(range(10)), [10, 11], args.steps, seed, **variant)
                for seed in range(args.seeds)
            ]
            mae = [r[0] for r in runs]
            results[name] = {
                "held_out_mae": mae,
                "mean_mae": float(np.mean(mae)),
                "s_per_step": float(np.mean([r[1] for r in runs])),
            }
            print(
                f"{name:24s} held-out MAE {np.mean(mae):.3f} (seeds: {', '.join(f'{m:.3f}' for m in mae)})"
                f"  {results[name]['s_per_step'] * 1000:.0f} ms/step",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": args.steps, "results": results}, indent=2))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
