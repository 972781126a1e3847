"""What a RewACT option costs against RewACT without it: train step and control step, A/B interleaved.

Both policies have the same ACT weights and sizes (`--setting`); B adds the `--policy.*` flags given.
Each round times one A then one B training step (forward + backward + AdamW step; B's batch carries the
past frames a memory reads) and one A then one B episode of `n_action_steps` control steps with a fresh
reward at every step. Prints the ratio of medians B/A with a paired bootstrap 90 % interval.

    python benchmarks/config_cost.py --policy=--policy.reward_memory=max
    python benchmarks/config_cost.py --base= --policy=--policy.reward_memory=none   # one frame vs the default

A is RewACT reading one frame (`--base`, default `--policy.reward_memory=none`), B is A's flags plus
`--policy`'s.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from common import build_one, current_frames, make_batch, observation, policy_options, timed
from train_step import ratio_of_medians, step_fn


def episode_time(policy, obs: dict, steps: int) -> float:
    """Mean time of one control step over an episode of `steps` steps."""
    policy.reset()
    with torch.no_grad():
        return statistics.mean(timed(lambda: policy.select_action(obs)) for _ in range(steps))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="cpu", choices=["cpu", "act-defaults"])
    p.add_argument("--image", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--policy", action="append", default=[], help="a --policy.* flag of B's (repeatable)")
    p.add_argument(
        "--base",
        action="append",
        default=None,
        help="a --policy.* flag of A's and B's (repeatable; default --policy.reward_memory=none; '' for none)",
    )
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    image = tuple(a.image)
    base_flags = [f for f in (a.base if a.base is not None else ["--policy.reward_memory=none"]) if f]
    base = build_one("rewact", a.setting, 7, image, 0, policy_options(base_flags))
    option = build_one("rewact", a.setting, 7, image, 0, policy_options([*base_flags, *a.policy]))
    batch = make_batch(option, a.batch)
    base_batch = make_batch(base, a.batch) if base.config.memory_offsets else current_frames(batch)
    train = {"A": step_fn(base, base_batch), "B": step_fn(option, batch)}
    obs = observation(batch)
    steps = base.config.n_action_steps
    times = {"train_A": [], "train_B": [], "control_A": [], "control_B": []}
    for fn in train.values():  # warm-up
        fn()
    for _ in range(a.rounds):
        for name in ("A", "B"):
            times[f"train_{name}"].append(timed(train[name]))
        for name, policy in (("A", base), ("B", option)):
            policy.eval()
            times[f"control_{name}"].append(episode_time(policy, obs, steps))
    result = {
        "setting": a.setting,
        "image": list(image),
        "batch": a.batch,
        "rounds": a.rounds,
        "base_flags": base_flags,
        "policy_flags": a.policy,
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "train_step_B_over_A": ratio_of_medians(times["train_A"], times["train_B"]),
        "control_step_B_over_A": ratio_of_medians(times["control_A"], times["control_B"]),
    }
    print(
        f"B = RewACT {' '.join([*base_flags, *a.policy])} against A = RewACT {' '.join(base_flags)}, {a.setting}, {image[0]}x{image[1]}, {a.rounds} rounds"
    )
    for what in ("train_step", "control_step"):
        r = result[f"{what}_B_over_A"]
        print(
            f"  {what} B/A, ratio of medians: {r['value']:.3f} (90 % bootstrap {r['ci90'][0]:.3f}-{r['ci90'][1]:.3f})"
        )
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
