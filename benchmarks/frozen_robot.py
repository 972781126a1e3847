"""Frozen robot on real episodes: does the reward stay where it was while the robot stands still?

For each checkpoint and each held-out episode of a LeRobot dataset, the policy acts frame by frame
(`select_action`, its memory filled as on the robot) to a frame, then receives that same observation
for `--seconds` more; the figure is the largest change of the reward over the frozen stretch. A reward
that reads one frame cannot change (0 by construction); a memory that counts frames or reads the clock
drifts. The frames frozen on: the middle of the episode and 85 % of the way (on the self-resetting demo,
the carry back). `--noise 2.5` adds fresh camera noise to every frozen frame (the state stays exact).
For a window memory it also counts the recorded frames that did not advance the window
(their inputs within `reward_memory_still` of the last kept frame's): training reads its history by
frame offsets, so that share is where acting and training read different frames. Prints mean / max per
checkpoint; the JSON holds every episode.

    python benchmarks/frozen_robot.py --dataset.root=data/aloha-return-bench --episodes 20-29 \\
        single=outputs/.../pretrained_model window=outputs/.../pretrained_model
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FREEZE_AT = (0.5, 0.85)  # where in the episode the robot stops, as a share of its length


def frozen_change(policy, pre, dataset, k: int, seconds: float, noise: float = 0.0) -> float:
    """The largest reward change while frame k's observation is repeated for `seconds`, after acting frame
    by frame from the episode's start (memory filled as on the robot). `noise`: std (in 1/255) of fresh
    Gaussian pixel noise on every repeated frame's cameras, as a real camera gives; the state stays exact."""
    import torch

    policy.reset()
    rewards = []
    generator = torch.Generator().manual_seed(k)
    for n, i in enumerate([*range(k + 1), *[k] * int(round(seconds * dataset.fps))]):
        item = dict(dataset[i])
        if noise > 0 and n > k:
            for key in dataset.meta.camera_keys:
                item[key] = (
                    item[key] + torch.randn(item[key].shape, generator=generator) * noise / 255
                ).clamp(0, 1)
        policy.select_action(pre(item))
        rewards.append(float(policy.last_reward[0]))
    return float(np.abs(np.asarray(rewards[k:]) - rewards[k]).max())


def frozen_changes(policy, pre, dataset, seconds: float, noise: float = 0.0) -> list[float]:
    """`frozen_change` at each FREEZE_AT point of one episode."""
    return [
        frozen_change(policy, pre, dataset, int(share * (len(dataset) - 1)), seconds, noise)
        for share in FREEZE_AT
    ]


def held_frames(policy, pre, dataset) -> tuple[int, int]:
    """(recorded frames that did not advance the window memory, frames) of a one-episode dataset."""

    from lerobot_policy_rewact.policy.reward_memory import changed
    from lerobot_policy_rewact.tools.inference import episode_frames

    batch = pre(episode_frames(dataset))
    inputs = {k: batch[k].unsqueeze(0) for k in policy._still_inputs() if k in batch}
    kept, _ = changed(
        inputs,
        None,
        policy.config.reward_memory_still,
        ("observation.state", "observation.environment_state"),
    )
    return int((~kept[0, 1:]).sum()), int(kept.shape[1])


def main() -> None:
    import torch
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_policy_rewact import RewACTPolicy
    from lerobot_policy_rewact.tools.datasets import open_dataset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset.root", dest="root", type=Path, required=True)
    p.add_argument("--episodes", required=True, help="FIRST-LAST, inclusive")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--noise", type=float, default=0.0, help="camera noise std on the frozen frames, in 1/255")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/frozen_robot.json"))
    p.add_argument("models", nargs="+", help="NAME=checkpoint folder (repeatable names are grouped)")
    a = p.parse_args()
    first, last = (int(x) for x in a.episodes.split("-"))
    result: dict[str, list[float]] = {}
    held: dict[str, list[int]] = {}
    with torch.inference_mode():
        for item in a.models:
            name, path = item.split("=", 1)
            policy = RewACTPolicy.from_pretrained(path).eval()
            pre, _ = make_pre_post_processors(policy.config, pretrained_path=path)
            for ep in range(first, last + 1):
                dataset = open_dataset(a.root, [ep])
                result.setdefault(name, []).extend(frozen_changes(policy, pre, dataset, a.seconds, a.noise))
                if policy.config.reward_memory == "window":
                    n_held, n = held_frames(policy, pre, dataset)
                    totals = held.setdefault(name, [0, 0])
                    totals[0], totals[1] = totals[0] + n_held, totals[1] + n
            print(f"{name} ({path}): frozen {a.seconds:g} s, reward change mean {np.mean(result[name]):.3f}, "
                  f"max {np.max(result[name]):.3f} over {len(result[name])} freezes"
                  + (f"; recorded frames that did not advance the window: {held[name][0]} of {held[name][1]}"
                     if name in held else ""), flush=True)  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"reward_change": result, "held_frames": held}, indent=2))
    for name, values in result.items():
        print(f"| {name} | {np.mean(values):.3f} | {np.max(values):.3f} | {len(values)} |")


if __name__ == "__main__":
    main()
