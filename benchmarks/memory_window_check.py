"""Does a memory checkpoint's reward change between the memory it trained on and the one it acts with?

Training builds a sample's memory from the current frame and `reward_memory_history`'s past frames;
acting (and every tool) takes the maximum over every frame since the episode began. For each episode
this prints the MAE to the ground truth (or the linear label) of both readings of the same checkpoint:
"acting" (the running maximum) and "as trained" (the maximum over the training offsets only).

    python benchmarks/memory_window_check.py --policy <run>/checkpoints/last/pretrained_model \
        --dataset data/aloha-transfer-bench --episodes 40 46 51
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_policy_rewact import RewACTPolicy
    from lerobot_policy_rewact.label_formats import ground_truth_file
    from lerobot_policy_rewact.policy.labels import RewardTargets
    from lerobot_policy_rewact.tools.datasets import open_dataset
    from lerobot_policy_rewact.tools.inference import episode_frames

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, required=True)
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--episodes", type=int, nargs="+", required=True)
    a = p.parse_args()
    policy = RewACTPolicy.from_pretrained(a.policy).eval()
    if policy.reward_memory is None:
        raise SystemExit(f"{a.policy} has no memory (reward_memory=none): nothing to compare.")
    pre, _ = make_pre_post_processors(policy.config, pretrained_path=str(a.policy))
    has_truth = (a.dataset / ground_truth_file.FILENAME).is_file()
    truth = ground_truth_file.read(a.dataset) if has_truth else None
    labels = None if has_truth else RewardTargets.from_config(policy.config, open_dataset(a.dataset).meta)
    offsets = [*policy.config.memory_offsets, 0]
    print(f"training offsets {offsets}; MAE to the {'ground truth' if has_truth else 'labels'}")
    for ep in a.episodes:
        frames = episode_frames(open_dataset(a.dataset, episodes=[ep]))
        with torch.no_grad():
            features = torch.cat(
                [
                    policy.reward_feature(
                        policy.model.encode(
                            policy._prepare(pre({k: v[s : s + 64] for k, v in frames.items()}))
                        )
                    )
                    for s in range(0, len(frames["index"]), 64)
                ]
            )
            keys = policy.reward_memory(features)
            steps = torch.arange(len(keys))
            memories = {
                "acting": torch.cummax(keys, 0).values,
                "as trained": torch.stack([keys[(steps + o).clamp(min=0)] for o in offsets]).max(0).values,
            }
            rewards = {
                name: policy.reward_head.reward(policy.reward_head(torch.cat([features, m], -1))).numpy()
                for name, m in memories.items()
            }
        target = (
            np.asarray(truth[ep].progress)
            if truth is not None
            else labels.lookup(torch.as_tensor(np.asarray(frames["index"]))).numpy()
        )
        print(
            f"episode {ep}: "
            + ", ".join(
                f"{name} MAE {np.abs(r - target).mean():.3f} (last frames {r[-5:].mean():.2f})"
                for name, r in rewards.items()
            )
        )


if __name__ == "__main__":
    main()
