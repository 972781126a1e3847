"""`rewact demo`: the main job end to end on built-in data, sized for a CPU.

1. build the demo dataset (cached: reused when it is already there),
2. train RewACT on all but the held-out episodes with LeRobot's training loop,
3. predict the reward on the held-out episodes frame by frame and compare it with the labels,
4. write a plot, a JSON of the numbers and a short markdown report, and say where they are.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# A RewACT small enough to learn the demo in a few CPU minutes.
CPU_POLICY = [
    "--policy.type=rewact",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.dim_model=64",
    "--policy.dim_feedforward=128",
    "--policy.n_heads=4",
    "--policy.chunk_size=10",
    "--policy.n_action_steps=10",
    "--policy.n_encoder_layers=2",
    "--policy.n_vae_encoder_layers=1",
    "--policy.latent_dim=8",
    "--policy.optimizer_lr=3e-4",
    "--policy.optimizer_lr_backbone=3e-4",
]


@dataclass
class DemoConfig:
    data_dir: Path = Path("data/demo-marker")
    out_dir: Path = Path("outputs/demo")
    episodes: int = 16
    held_out: int = 3
    steps: int = 600
    batch_size: int = 16
    extra_train_args: list[str] = field(default_factory=list)


def ensure_dataset(cfg: DemoConfig) -> Path:
    """The demo dataset, generated once and then reused."""
    from .synthetic import MarkerSpec, make_marker_dataset

    if (cfg.data_dir / "meta" / "info.json").is_file():
        log.info("using the cached demo dataset at %s", cfg.data_dir)
        return cfg.data_dir
    if cfg.data_dir.exists():
        raise FileExistsError(
            f"{cfg.data_dir} exists but is not a finished dataset (no meta/info.json); move it away "
            "and run again (nothing was deleted)."
        )
    spec = MarkerSpec(episodes=cfg.episodes, min_length=40, max_length=60, image_size=(48, 48))
    return make_marker_dataset(cfg.data_dir, spec, repo_id="local/demo-marker")


def train(cfg: DemoConfig, data: Path, n_episodes: int) -> Path:
    """Train with LeRobot's loop in a subprocess; returns the last checkpoint's model folder."""
    run_dir = cfg.out_dir / "train"
    if run_dir.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = cfg.out_dir / f"train-{stamp}"
    train_eps = list(range(n_episodes - cfg.held_out))
    cmd = [
        sys.executable, "-m", "lerobot_policy_rewact.cli", "train",
        "--dataset.repo_id=local/demo", f"--dataset.root={data}",
        f"--dataset.episodes={json.dumps(train_eps).replace(' ', '')}",
        *CPU_POLICY,
        f"--output_dir={run_dir}", "--job_name=rewact-demo",
        f"--batch_size={cfg.batch_size}", f"--steps={cfg.steps}",
        "--log_freq=100", f"--save_freq={cfg.steps}", "--num_workers=1", "--wandb.enable=false",
        *cfg.extra_train_args,
    ]
    log.info("training: %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return run_dir / "checkpoints" / "last" / "pretrained_model"


def evaluate(checkpoint: Path, data: Path, episodes: list[int], out_dir: Path) -> dict:
    """Reward vs labels on held-out episodes: per-episode MAE and a plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from lerobot.policies.factory import make_pre_post_processors

    from .inference import episode_rewards, open_dataset
    from .labels import RewardTargets
    from .modeling_rewact import RewACTPolicy

    policy = RewACTPolicy.from_pretrained(checkpoint)
    pre, _ = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    full = open_dataset(data)
    targets = RewardTargets.from_config(policy.config, full.meta)
    results = {}
    fig, axes = plt.subplots(len(episodes), 1, figsize=(8, 2.4 * len(episodes)), squeeze=False)
    for ax, ep in zip(axes[:, 0], episodes, strict=True):
        ds = open_dataset(data, episodes=[ep])
        pred = episode_rewards(policy, pre, ds)
        label = targets.lookup(torch.as_tensor(np.asarray(ds.hf_dataset["index"]))).numpy()
        results[ep] = {"frames": len(pred), "mae": float(np.abs(pred - label).mean()),
                       "final_reward": float(pred[-1])}
        t = np.arange(len(pred)) / ds.fps
        ax.plot(t, label, "k--", label="label")
        ax.plot(t, pred, "C0", label="predicted")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("reward")
        ax.set_title(f"held-out episode {ep}: MAE {results[ep]['mae']:.3f}", fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    plot = out_dir / "reward_held_out.png"
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    mae = float(np.mean([r["mae"] for r in results.values()]))
    return {"checkpoint": str(checkpoint), "held_out_episodes": results, "mean_mae": mae, "plot": str(plot)}


def run_demo(cfg: DemoConfig) -> dict:
    t0 = time.perf_counter()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    data = ensure_dataset(cfg)
    from .inference import open_dataset

    n_episodes = open_dataset(data).meta.total_episodes
    checkpoint = train(cfg, data, n_episodes)
    held_out = list(range(n_episodes - cfg.held_out, n_episodes))
    report = evaluate(checkpoint, data, held_out, cfg.out_dir)
    report["minutes"] = (time.perf_counter() - t0) / 60
    (cfg.out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    lines = ["# RewACT demo", "", f"Checkpoint: `{checkpoint}`", "",
             "| held-out episode | frames | MAE to labels | final reward |", "|---|---|---|---|"]
    for ep, r in report["held_out_episodes"].items():
        lines.append(f"| {ep} | {r['frames']} | {r['mae']:.3f} | {r['final_reward']:.2f} |")
    lines += ["", f"Mean MAE {report['mean_mae']:.3f}; total time {report['minutes']:.1f} min.", "",
              "![reward](reward_held_out.png)"]
    (cfg.out_dir / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:-2]))
    print(f"\nOutputs in {cfg.out_dir}/: report.md, metrics.json, reward_held_out.png; model in {checkpoint}")
    return report
