"""Reward inference over whole episodes: frame by frame through the dataset vs each episode's video
decoded once with batched reward-only passes (what `rewact evaluate`, `progress` and `audit` use), in
full precision and with `--policy.use_amp=true` (bfloat16 autocast on a CPU).

A policy of the demo's size (tools/presets.py, untrained: speed does not depend on the weights)
scores the 10 held-out demo episodes both ways; seconds are counted after loading.

    python benchmarks/inference_speed.py --data data/aloha-transfer-demo
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from lerobot.policies.factory import make_policy, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.tools import presets
from lerobot_policy_rewact.tools.datasets import open_dataset
from lerobot_policy_rewact.tools.inference import episode_rewards, fast_episode_rewards, prepare_for_inference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/aloha-transfer-demo")
    parser.add_argument("--episodes", default="30-39")
    parser.add_argument("--out", default="outputs/bench/inference_speed.json")
    args = parser.parse_args()
    lo, hi = (int(x) for x in args.episodes.split("-"))
    episodes = list(range(lo, hi + 1))
    torch.manual_seed(0)
    meta = open_dataset(args.data).meta
    config = RewACTConfig(**presets.CPU)
    policy = prepare_for_inference(make_policy(config, ds_meta=meta))
    pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    datasets = {ep: open_dataset(args.data, episodes=[ep]) for ep in episodes}
    results = {}
    runs = (
        ("frame by frame", episode_rewards, False),
        ("decoded once, batched", fast_episode_rewards, False),
        ("decoded once, batched, use_amp", fast_episode_rewards, True),
    )
    for name, fn, amp in runs:
        policy.config.use_amp = amp
        t0 = time.perf_counter()
        curves = {ep: fn(policy, pre, ds) for ep, ds in datasets.items()}
        results[name] = {"seconds": time.perf_counter() - t0, "frames": sum(len(c) for c in curves.values())}
        results[name]["curves"] = curves
    a, b, c = (results[k].pop("curves") for k in results)
    difference = max(float(np.abs(a[ep] - b[ep]).max()) for ep in episodes)
    amp_difference = max(float(np.abs(b[ep] - c[ep]).max()) for ep in episodes)
    for name, r in results.items():
        print(f"{name:>22}: {r['seconds']:6.1f} s for {len(episodes)} episodes ({r['frames']} frames)")
    speedup = results["frame by frame"]["seconds"] / results["decoded once, batched"]["seconds"]
    amp_speedup = results["frame by frame"]["seconds"] / results["decoded once, batched, use_amp"]["seconds"]
    print(f"speed-up {speedup:.1f}x; largest difference between the two: {difference:.2e}")
    print(
        f"with use_amp: speed-up {amp_speedup:.1f}x; largest difference to full precision: {amp_difference:.2e}"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "results": results,
                "speedup": speedup,
                "max_difference": difference,
                "amp_speedup": amp_speedup,
                "amp_max_difference": amp_difference,
            }
        )
    )


if __name__ == "__main__":
    main()
