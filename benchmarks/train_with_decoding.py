"""Training time per step in LeRobot's own loop, video decoding included, for RewACT configurations.

Each configuration trains `--steps` steps on a real dataset (default: the G1 data in ../shared, at the
README's CPU size, batch 16, `--num_workers=0` so decoding is inside the step) with `rewact train`, one
after the other (never side by side). LeRobot logs the mean update time (`updt_s`) and data time
(`data_s`) over every `--log-every` steps; the figure per configuration is the median over the logged
windows after the first (warm-up), and the ratio is against the first configuration, measured in the
same run. A memory's history frames are decoded by LeRobot's loader, so they show in `data_s`.

    python benchmarks/train_with_decoding.py single=--policy.reward_memory=none window=
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
G1 = REPO.parent / "shared" / "data" / "g1_pick_bottle"
LOG = re.compile(r"updt_s:([0-9.]+).*?data_s:([0-9.]+)")


def run(root: Path, repo_id: str, flags: list[str], steps: int, log_every: int, out: Path) -> dict:
    """Train and read LeRobot's logged step times: median update, data and total seconds per step."""
    from lerobot_policy_rewact.tools.presets import CPU, policy_flags

    cmd = [
        sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "train",
        f"--dataset.repo_id={repo_id}", f"--dataset.root={root}", "--policy.type=rewact", *policy_flags(CPU),
        *flags, f"--output_dir={out}", "--batch_size=16", f"--steps={steps}", f"--log_freq={log_every}",
        f"--save_freq={steps}", "--num_workers=0", "--wandb.enable=false", "--seed=1000",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed: {proc.stderr[-3000:]}")
    windows = [(float(u), float(d)) for u, d in LOG.findall(proc.stdout + proc.stderr)][1:]
    if not windows:
        raise RuntimeError("no step times in LeRobot's log: raise --steps or lower --log-every")
    return {
        "update_s": statistics.median(u for u, _ in windows),
        "data_s": statistics.median(d for _, d in windows),
        "step_s": statistics.median(u + d for u, d in windows),
        "windows": windows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "configs", nargs="+", help="NAME=FLAGS (space-separated --policy.* flags); the first is the base"
    )
    p.add_argument("--dataset.root", dest="root", type=Path, default=G1)
    p.add_argument("--dataset.repo_id", dest="repo_id", default="local/g1_pick_bottle")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--out", type=Path, default=REPO / "outputs" / "bench" / "train_with_decoding.json")
    a = p.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, item in enumerate(a.configs):
            name, _, flags = item.partition("=")
            result[name] = run(a.root, a.repo_id, flags.split(), a.steps, a.log_every, Path(tmp) / str(n))
            r = result[name]
            print(
                f"{name}: {r['step_s']:.3f} s/step (update {r['update_s']:.3f}, data {r['data_s']:.3f})",
                flush=True,
            )
    base = result[a.configs[0].partition("=")[0]]
    for name, r in result.items():
        r["ratio_to_base"] = r["step_s"] / base["step_s"]
        print(
            f"| {name} | {r['step_s']:.3f} | {r['update_s']:.3f} | {r['data_s']:.3f} | {r['ratio_to_base']:.2f}x |"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
