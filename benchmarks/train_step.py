"""Training step time of RewACT against LeRobot's ACT at identical settings, interleaved A/B.

Each round times one ACT step then one RewACT step (forward + backward + optimiser step) on the
same batch, so drift of this shared machine hits both alike. Prints the median time of each and
the median and spread of the per-round ratio.

    python benchmarks/train_step.py --setting cpu --rounds 20
    python benchmarks/train_step.py --setting act-defaults --image 96 --batch 8 --rounds 6
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from common import build_pair, make_batch, summary, timed


def step_fn(policy, batch):
    optim = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    policy.train()

    def step():
        loss, _ = policy.forward(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()

    return step


def peak_memory_mb(setting: str, image: int, state_dim: int, batch: int, which: str) -> float:
    """Peak resident memory of a fresh process that builds one policy and trains 3 steps."""
    import subprocess
    import sys

    code = (
        "import resource, torch; from common import build_pair, make_batch; from train_step import step_fn;"
        f"act, rew = build_pair({setting!r}, {state_dim}, ({image}, {image})); p = {'act' if which == 'act' else 'rew'};"
        f"del {'rew' if which == 'act' else 'act'}; f = step_fn(p, make_batch(p, {batch}));"
        "[f() for _ in range(3)]; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent, check=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="cpu", choices=["cpu", "act-defaults"])
    p.add_argument("--image", type=int, default=96)
    p.add_argument("--state-dim", type=int, default=7)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--memory", action="store_true", help="also measure peak memory (one process per policy)")
    a = p.parse_args()
    act, rewact = build_pair(a.setting, a.state_dim, (a.image, a.image))
    batch = make_batch(rewact, a.batch)
    steps = {"act": step_fn(act, dict(batch)), "rewact": step_fn(rewact, dict(batch))}
    for fn in steps.values():  # warm-up
        fn()
    times = {"act": [], "rewact": []}
    for _ in range(a.rounds):
        for name, fn in steps.items():
            times[name].append(timed(fn))
    ratios = [r / b for r, b in zip(times["rewact"], times["act"], strict=True)]
    result = {
        "setting": a.setting,
        "image": a.image,
        "batch": a.batch,
        "act_s": summary(times["act"]),
        "rewact_s": summary(times["rewact"]),
        "ratio": summary(ratios),
    }
    print(f"train step, {a.setting}, {a.image}x{a.image}, batch {a.batch}, {a.rounds} interleaved rounds")
    print(f"  ACT     {result['act_s']['median'] * 1000:8.1f} ms/step (median)")
    print(f"  RewACT  {result['rewact_s']['median'] * 1000:8.1f} ms/step (median)")
    r = result["ratio"]
    print(f"  ratio RewACT/ACT: median {r['median']:.3f}  (min {r['min']:.3f}, max {r['max']:.3f})")
    if a.memory:
        result["peak_memory_mb"] = {
            w: peak_memory_mb(a.setting, a.image, a.state_dim, a.batch, w) for w in ("act", "rewact")
        }
        m = result["peak_memory_mb"]
        print(f"  peak memory: ACT {m['act']:.0f} MB, RewACT {m['rewact']:.0f} MB (whole process)")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
