"""Data pipeline: training-dataloader throughput on the demo dataset, and time spent waiting for data.

Measures samples/s of LeRobot's dataset (with the action chunks training asks for) through a
DataLoader at several worker counts, then runs RewACT's training steps (the demo's CPU config)
and reports the share of each step spent waiting for the next batch.

    python benchmarks/data_pipeline.py --dataset-root data/aloha-transfer-demo
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from lerobot.datasets.factory import resolve_delta_timestamps
from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
from lerobot.policies.factory import make_policy, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.compat import torchcodec_usable
from lerobot_policy_rewact.tools import presets

DEMO_POLICY = {**presets.CPU, "reward_labels": "ground_truth"}


def loader(dataset, batch, workers):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )


def throughput(dataset, batch: int, workers: int, batches: int) -> float:
    it = iter(loader(dataset, batch, workers))
    next(it)  # start-up (workers spawning) not counted
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - t0)


def waiting_share(dataset, meta, batch: int, workers: int, steps: int) -> dict:
    config = RewACTConfig(**DEMO_POLICY)
    policy = make_policy(config, ds_meta=meta)
    pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    optim = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    it = iter(loader(dataset, batch, workers))
    next(it)
    wait = compute = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        b = next(it)
        t1 = time.perf_counter()
        loss, _ = policy.forward(pre(b))
        optim.zero_grad()
        loss.backward()
        optim.step()
        t2 = time.perf_counter()
        wait, compute = wait + t1 - t0, compute + t2 - t1
    return {
        "workers": workers,
        "wait_s_per_step": wait / steps,
        "compute_s_per_step": compute / steps,
        "wait_share": wait / (wait + compute),
    }


def measure(a: argparse.Namespace) -> dict:
    """One measurement in this process: a fresh dataset, so no video decoder is shared with workers."""
    meta = LeRobotDatasetMetadata("local/demo", root=a.dataset_root)
    backend = None if torchcodec_usable() else "pyav"
    dataset = LeRobotDataset(
        "local/demo",
        root=a.dataset_root,
        video_backend=backend,
        delta_timestamps=resolve_delta_timestamps(RewACTConfig(**DEMO_POLICY), meta),
    )
    if a.mode == "throughput":
        return {"samples_per_s": throughput(dataset, a.batch, a.workers, a.batches)}
    return waiting_share(dataset, meta, a.batch, a.workers, a.steps)


def main() -> None:
    import subprocess
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset-root", type=Path, default=Path("data/aloha-transfer-demo"))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--mode", choices=["throughput", "waiting"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.mode:  # a child process: one measurement, printed as JSON
        print("RESULT " + json.dumps(measure(a)))
        return

    def child(mode: str, workers: int) -> dict:
        cmd = [
            sys.executable,
            __file__,
            f"--dataset-root={a.dataset_root}",
            f"--batch={a.batch}",
            f"--batches={a.batches}",
            f"--steps={a.steps}",
            f"--mode={mode}",
            f"--workers={workers}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])

    meta = LeRobotDatasetMetadata("local/demo", root=a.dataset_root)
    decoder = "torchcodec" if torchcodec_usable() else "pyav"
    result = {"decoder": decoder, "batch": a.batch, "throughput": {}, "waiting": []}
    print(
        f"data pipeline on {a.dataset_root} ({meta.total_frames} frames), batch {a.batch}, decoder {decoder}"
    )
    for workers in (0, 1, 2):
        sps = child("throughput", workers)["samples_per_s"]
        result["throughput"][workers] = sps
        print(f"  num_workers={workers}: {sps:7.1f} samples/s")
    for workers in (0, 1, 2):
        w = child("waiting", workers)
        result["waiting"].append(w)
        print(
            f"  training, num_workers={workers}: {w['compute_s_per_step'] * 1000:6.0f} ms compute + "
            f"{w['wait_s_per_step'] * 1000:6.0f} ms waiting per step -> {w['wait_share'] * 100:4.1f} % waiting"
        )
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
