"""Training step time of RewACT against LeRobot's ACT at identical settings, interleaved A/B.

Each round times one ACT step then one RewACT step (forward + backward + optimiser step) on the
same batch, so drift of this shared machine hits both alike. Prints the median time of each, the
ratio of the medians with a bootstrap 90 % interval over rounds, and with `--memory` the peak
memory of each policy trained in a process of its own.

    python benchmarks/train_step.py --setting cpu --rounds 20
    python benchmarks/train_step.py --setting act-defaults --image 96 --batch 8 --rounds 6
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from common import build_pair, current_frames, make_batch, policy_options, summary, timed


def step_fn(policy, batch):
    optim = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    policy.train()

    def step():
        loss, _ = policy.forward(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()

    return step


def peak_memory_mb(
    setting: str, image: int, state_dim: int, batch: int, which: str, flags: list[str]
) -> float:
    """Peak resident memory of a fresh process that builds this one policy and trains 3 steps."""
    import subprocess
    import sys

    code = (
        "import resource, torch; from common import build_one, make_batch, policy_options; "
        "from common import current_frames; from train_step import step_fn;"
        f"p = build_one({which!r}, {setting!r}, {state_dim}, ({image}, {image}), 0, policy_options({flags!r}));"
        f"b = make_batch(p, {batch}); f = step_fn(p, b if {which!r} == 'rewact' else current_frames(b)); "
        "[f() for _ in range(3)];"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent, check=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def ratio_of_medians(act: list[float], rewact: list[float]) -> dict:
    """median(RewACT) / median(ACT) with a paired bootstrap 90 % interval over rounds."""
    import numpy as np
    from scipy import stats

    value = float(np.median(rewact) / np.median(act))
    ci = stats.bootstrap(
        (np.asarray(act), np.asarray(rewact)),
        lambda a, r: np.median(r) / np.median(a),
        paired=True,
        vectorized=False,
        confidence_level=0.9,
        n_resamples=2000,
        random_state=0,
    ).confidence_interval
    return {"value": value, "ci90": [float(ci.low), float(ci.high)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="cpu", choices=["cpu", "act-defaults"])
    p.add_argument("--image", type=int, default=96)
    p.add_argument("--state-dim", type=int, default=7)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--memory", action="store_true", help="also measure peak memory (one process per policy)")
    p.add_argument("--policy", action="append", default=[], help="a --policy.* flag of RewACT's (repeatable)")
    a = p.parse_args()
    act, rewact = build_pair(
        a.setting, a.state_dim, (a.image, a.image), rewact_options=policy_options(a.policy)
    )
    batch = make_batch(rewact, a.batch)
    steps = {"act": step_fn(act, current_frames(batch)), "rewact": step_fn(rewact, dict(batch))}
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
        "ratio_per_round": summary(ratios),
        "ratio_of_medians": ratio_of_medians(times["act"], times["rewact"]),
        "policy_flags": a.policy,
    }
    print(f"train step, {a.setting}, {a.image}x{a.image}, batch {a.batch}, {a.rounds} interleaved rounds")
    print(f"  ACT     {result['act_s']['median'] * 1000:8.1f} ms/step (median)")
    print(f"  RewACT  {result['rewact_s']['median'] * 1000:8.1f} ms/step (median)")
    r = result["ratio_of_medians"]
    print(
        f"  ratio of medians RewACT/ACT: {r['value']:.3f}  (90 % bootstrap {r['ci90'][0]:.3f}-{r['ci90'][1]:.3f})"
    )
    if a.memory:
        result["peak_memory_mb"] = {
            w: peak_memory_mb(a.setting, a.image, a.state_dim, a.batch, w, a.policy)
            for w in ("act", "rewact")
        }
        m = result["peak_memory_mb"]
        print(f"  peak memory: ACT {m['act']:.0f} MB, RewACT {m['rewact']:.0f} MB (each in its own process)")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
