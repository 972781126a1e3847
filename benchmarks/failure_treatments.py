"""Does keeping failures out of the action loss, or RA-BC, make a better policy? Four arms, one table.

On the built-in demo data (40 simulated episodes, 30 % failing on purpose), every arm is trained the
same way (LeRobot's loop, same size, steps, batch, seed, the first 30 episodes) except its treatment:

    act              LeRobot's ACT, every frame trains the actions
    rewact-plain     RewACT, ground-truth reward labels, every frame trains the actions
    rewact-masked    RewACT, failed frames train the reward only (the default)
    rewact-rabc      rewact-masked + RA-BC weights from cross-fitted progress (`rewact progress` over
                     the 30 training episodes; LeRobot 0.4.4 route: --policy.rabc_progress_path)

Reported: ACT's action L1 (normalised actions, whole chunks, padding masked, eval mode) on the
held-out *successful* episodes, the reward metrics of `rewact evaluate` on all 10 held-out ones, and
each arm's training time over ACT's (same run). Figures, not assertions.

    python benchmarks/failure_treatments.py --steps 1000 --progress-steps 600 --folds 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from lerobot_policy_rewact.tools import evaluate, presets
from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
from lerobot_policy_rewact.tools.datasets import DatasetArgs, open_dataset

REWARD_KEYS = ("mae", "voc_successes_mean", "auroc_final_reward", "auroc_max_smoothed_reward")


def train(name: str, policy_flags: list[str], data: Path, out: Path, args) -> tuple[Path, float]:
    run_dir = out / name
    model = run_dir / "checkpoints" / "last" / "pretrained_model"
    timing = out / f"{name}.seconds"
    if model.is_dir() and timing.is_file():  # reuse an earlier run of this benchmark
        return model, float(timing.read_text())
    cmd = [sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "train",
           "--dataset.repo_id=local/aloha_transfer_cube_rewact", f"--dataset.root={data}",
           f"--dataset.episodes={json.dumps(list(range(30))).replace(' ', '')}", *policy_flags,
           f"--output_dir={run_dir}", f"--seed={args.seed}", f"--batch_size={args.batch_size}",
           f"--steps={args.steps}", f"--save_freq={args.steps}", "--log_freq=200", "--num_workers=1",
           "--wandb.enable=false"]  # fmt: skip
    t0 = time.perf_counter()
    with (out / f"{name}.log").open("w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    timing.write_text(str(seconds))
    return model, seconds


@torch.no_grad()
def held_out_action_l1(model: Path, data: Path, episodes: list[int]) -> float:
    """ACT's L1 between predicted and recorded action chunks (normalised, padding masked)."""
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    config = json.loads((model / "config.json").read_text())
    policy = get_policy_class(config["type"]).from_pretrained(model)
    policy.eval()
    pre, _ = make_pre_post_processors(policy.config, pretrained_path=str(model))
    meta = open_dataset(data).meta
    dataset = LeRobotDataset(
        meta.repo_id,
        root=data,
        episodes=episodes,
        video_backend="pyav",
        delta_timestamps=resolve_delta_timestamps(policy.config, meta),
    )
    total, count = 0.0, 0
    for batch in torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=False):
        batch = pre(batch)
        chunk = policy.predict_action_chunk(batch)
        real = ~batch["action_is_pad"].unsqueeze(-1)
        total += float(((chunk - batch["action"]).abs() * real).sum())
        count += int(real.sum()) * chunk.shape[-1]
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/aloha-transfer-demo")
    parser.add_argument("--out", default="outputs/bench/failure_treatments")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--progress-steps", type=int, default=600)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, ensure

    data = ensure(DemoDataSpec(num_episodes=40), Path(args.data))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth = json.loads((data / "rewact_ground_truth.json").read_text())["episodes"]
    held_out = list(range(30, 40))
    successes = [ep for ep in held_out if truth[str(ep)]["success"]]

    rewact = [
        "--policy.type=rewact",
        *presets.policy_flags(presets.CPU),
        "--policy.reward_labels=ground_truth",
    ]
    act_options = presets.act_options(presets.CPU)
    act = ["--policy.type=act", "--policy.push_to_hub=false", *presets.policy_flags(act_options)]
    progress_dir = out / "progress"
    t0 = time.perf_counter()
    if not (progress_dir / "progress.parquet").is_file():
        subprocess.run([sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "progress",
                        f"--dataset.root={data}", f"--dataset.episodes={json.dumps(list(range(30))).replace(' ', '')}",
                        f"--output_dir={progress_dir}", f"--folds={args.folds}", f"--steps={args.progress_steps}",
                        f"--batch_size={args.batch_size}", f"--seed={args.seed}", *rewact[1:]], check=True)  # fmt: skip
    progress_seconds = time.perf_counter() - t0
    arms = {
        "act": act,
        "rewact-plain": [*rewact, "--policy.action_loss_on_failures=true"],
        "rewact-masked": rewact,
        "rewact-rabc": [*rewact, f"--policy.rabc_progress_path={progress_dir / 'progress.parquet'}"],
    }
    results = {}
    for name, flags in arms.items():
        model, seconds = train(name, flags, data, out, args)
        row = {
            "train_seconds": seconds,
            "action_l1_held_out_successes": held_out_action_l1(model, data, successes),
        }
        if name != "act":
            curves = evaluate.dataset_curves(
                PolicyArgs(str(model)), DatasetArgs(root=str(data), episodes=held_out)
            )
            summary = evaluate.score(curves, evaluate.CompletionDetector(fps=curves[0].fps))["summary"]
            row.update({k: summary[k] for k in REWARD_KEYS})
        results[name] = row
        print(name, json.dumps(row), flush=True)
    base = results["act"]["train_seconds"]
    lines = ["| arm | action L1, held-out successes | vs ACT | MAE | VOC | ROC-AUC final | ROC-AUC max | train time vs ACT |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for name, r in results.items():
        l1 = r["action_l1_held_out_successes"]
        lines.append(
            f"| {name} | {l1:.4f} | {l1 / results['act']['action_l1_held_out_successes']:.3f} | "
            + " | ".join(fmt(r.get(k)) for k in REWARD_KEYS)
            + f" | {r['train_seconds'] / base:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    print(
        f"cross-fitted progress ({args.folds} folds x {args.progress_steps} steps): {progress_seconds:.0f} s; "
        f"held-out successes: {successes}"
    )
    (out / "results.json").write_text(
        json.dumps(
            {
                "results": results,
                "table": table,
                "args": vars(args),
                "progress_seconds": progress_seconds,
                "held_out_successes": successes,
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
