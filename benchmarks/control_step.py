"""Per-step cost of acting: ACT's select_action vs RewACT's with a fresh reward every step.

For each policy, a run of `n_action_steps` control steps is timed step by step: the first step
computes the action chunk (a full model call), the others pop queued actions. RewACT also computes
the reward on every step; on popping steps through its reward-only pass (backbone + encoder).

    python benchmarks/control_step.py --setting act-defaults --image 96
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from common import build_pair, make_batch, observation, policy_options, summary, timed


@torch.no_grad()
def episode_times(policy, obs, steps: int) -> list[float]:
    policy.reset()
    return [timed(lambda: policy.select_action(obs)) for _ in range(steps)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="act-defaults", choices=["cpu", "act-defaults"])
    p.add_argument("--image", type=int, nargs=2, default=[96, 96], metavar=("H", "W"))
    p.add_argument("--state-dim", type=int, default=7)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--policy", action="append", default=[], help="a --policy.* flag of RewACT's (repeatable)")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    act, rewact = build_pair(a.setting, a.state_dim, tuple(a.image), rewact_options=policy_options(a.policy))
    act.eval(), rewact.eval()
    obs = observation(make_batch(rewact, 1))
    n = act.config.n_action_steps
    episode_times(act, obs, 2), episode_times(rewact, obs, 2)  # warm-up
    runs = {"act": [], "rewact": []}
    reward_only = []
    for _ in range(a.rounds):  # interleaved
        runs["act"].append(episode_times(act, obs, n))
        runs["rewact"].append(episode_times(rewact, obs, n))
        reward_only.extend(timed(lambda: rewact.step_reward(obs)) for _ in range(5))
    res = {}
    for name, eps in runs.items():
        res[name] = {
            "chunk_call_s": summary([e[0] for e in eps]),
            "pop_step_s": summary([t for e in eps for t in e[1:]]),
            "amortised_s": summary([statistics.mean(e) for e in eps]),
        }
    res["rewact_reward_only_s"] = summary(reward_only)
    # Where a chunk call's time goes: backbone alone, head alone, the rest by difference.
    image = obs[next(iter(rewact.config.image_features))]
    backbone = [timed(lambda: rewact.model.backbone(image)) for _ in range(5 * a.rounds)]
    first = next(m for m in rewact.reward_head.modules() if isinstance(m, torch.nn.Linear))
    feature = torch.zeros(1, first.in_features)  # the head reads a memory too, if any
    head = [timed(lambda: rewact.reward_head(feature)) for _ in range(20)]
    b, h = statistics.median(backbone), statistics.median(head)
    ro, ch = res["rewact_reward_only_s"]["median"], res["rewact"]["chunk_call_s"]["median"]
    res["split_s"] = {
        "backbone": b,
        "encoder_and_rest": max(ro - b - h, 0.0),
        "decoder_and_action_head": max(ch - ro, 0.0),
        "reward_head": h,
    }
    chunk = res["act"]["chunk_call_s"]["median"]
    res["ratios"] = {
        # ACT's average control step (one chunk call per n_action_steps) is the honest baseline
        "rewact_step_over_act_average_step": res["rewact"]["amortised_s"]["median"]
        / res["act"]["amortised_s"]["median"],
        "rewact_queued_step_over_act_chunk_call": res["rewact"]["pop_step_s"]["median"] / chunk,
        "reward_only_over_act_chunk_call": res["rewact_reward_only_s"]["median"] / chunk,
        "rewact_chunk_call_over_act_chunk_call": res["rewact"]["chunk_call_s"]["median"] / chunk,
    }
    h, w = a.image
    print(f"control step, {a.setting}, {h}x{w}, n_action_steps {n}, {a.rounds} rounds (medians)")
    for name in ("act", "rewact"):
        r = res[name]
        print(
            f"  {name:7s} chunk call {r['chunk_call_s']['median'] * 1000:7.2f} ms   queued step "
            f"{r['pop_step_s']['median'] * 1000:7.2f} ms   amortised {r['amortised_s']['median'] * 1000:7.2f} ms"
        )
    print(f"  RewACT reward-only pass {res['rewact_reward_only_s']['median'] * 1000:7.2f} ms")
    for k, v in res["ratios"].items():
        print(f"  {k}: {v:.3f}")
    split = res["split_s"]
    total = sum(split.values())
    print(
        "  split of a RewACT chunk call: "
        + ", ".join(f"{k} {v * 1000:.1f} ms ({v / total * 100:.0f} %)" for k, v in split.items())
    )
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
