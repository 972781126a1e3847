"""`rewact demo` (what `make demo` runs): the main job end to end on the built-in demonstrations.

1. generate the simulated ALOHA cube-transfer dataset, successes and failures (cached);
2. train RewACT on the first episodes with LeRobot's training loop, labels from the ground truth;
3. predict the reward on the held-out episodes as a robot would, frame by frame, and score it
   against the ground truth (MAE, VOC on successes, success-vs-failure ROC-AUC of the final reward);
4. write a plot, videos of unseen episodes with the reward drawn on them, metrics.json and
   report.md, and say where they are.
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

# A RewACT sized for two CPU cores and a few minutes: small transformer, small images.
CPU_POLICY = [
    "--policy.type=rewact",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.dim_model=64",
    "--policy.dim_feedforward=128",
    "--policy.n_heads=4",
    "--policy.chunk_size=20",
    "--policy.n_action_steps=20",
    "--policy.n_encoder_layers=2",
    "--policy.n_vae_encoder_layers=1",
    "--policy.latent_dim=8",
    "--policy.optimizer_lr=3e-4",
    "--policy.optimizer_lr_backbone=3e-4",
    "--policy.reward_labels=ground_truth",
]


@dataclass
class DemoConfig:
    data_dir: Path = Path("data/aloha-transfer-demo")
    out_dir: Path = Path("outputs/demo")
    episodes: int = 40
    held_out: int = 10  # the last block of 10: the same success/failure mix as training
    steps: int = 1000
    batch_size: int = 16
    extra_train_args: list[str] = field(default_factory=list)


def train(cfg: DemoConfig, data: Path, train_episodes: list[int]) -> Path:
    """Train with LeRobot's loop in a subprocess; returns the last checkpoint's model folder."""
    run_dir = cfg.out_dir / "train"
    if run_dir.exists():  # never overwrite an earlier run
        run_dir = cfg.out_dir / f"train-{time.strftime('%Y%m%d-%H%M%S')}"
    cmd = [
        sys.executable, "-m", "lerobot_policy_rewact.cli", "train",
        "--dataset.repo_id=local/aloha_transfer_cube_rewact", f"--dataset.root={data}",
        f"--dataset.episodes={json.dumps(train_episodes).replace(' ', '')}",
        *CPU_POLICY,
        f"--output_dir={run_dir}", "--job_name=rewact-demo",
        f"--batch_size={cfg.batch_size}", f"--steps={cfg.steps}",
        "--log_freq=100", f"--save_freq={cfg.steps}", "--num_workers=1", "--wandb.enable=false",
        *cfg.extra_train_args,
    ]
    log.info("training: %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return run_dir / "checkpoints" / "last" / "pretrained_model"


def _episode_images(dataset) -> np.ndarray:
    key = "observation.images.top"
    frames = [dataset[i][key] for i in range(len(dataset))]
    return (np.stack([f.permute(1, 2, 0).numpy() for f in frames]) * 255).round().astype(np.uint8)


def evaluate(checkpoint: Path, data: Path, episodes: list[int], out_dir: Path, videos: int = 2) -> dict:
    """Score the reward on held-out episodes against the ground truth; plot and film some."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lerobot.policies.factory import make_pre_post_processors

    from . import metrics
    from .inference import episode_rewards, open_dataset
    from .modeling_rewact import RewACTPolicy
    from .sim import ground_truth
    from .video import write_reward_video

    policy = RewACTPolicy.from_pretrained(checkpoint)
    pre, _ = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    truth = ground_truth.read(data)
    per_episode, curves = {}, {}
    for ep in episodes:
        ds = open_dataset(data, episodes=[ep])
        pred = episode_rewards(policy, pre, ds)
        gt = np.asarray(truth[ep].progress)
        curves[ep] = (pred, gt, ds)
        per_episode[ep] = {
            "success": truth[ep].success,
            "perturbation": truth[ep].perturbation,
            "mae": metrics.mae(pred, gt),
            "voc": metrics.voc(pred),
            "final_reward": metrics.final_reward(pred, ds.fps),
        }
    ok = [e for e in episodes if truth[e].success]
    failed = [e for e in episodes if not truth[e].success]
    summary = {
        "mae": float(np.mean([per_episode[e]["mae"] for e in episodes])),
        "voc_successes": float(np.mean([per_episode[e]["voc"] for e in ok])) if ok else None,
        "auroc_final_reward": metrics.auroc([per_episode[e]["final_reward"] for e in ok],
                                            [per_episode[e]["final_reward"] for e in failed]),
        "successes": len(ok),
        "failures": len(failed),
    }

    fig, axes = plt.subplots(len(episodes), 1, figsize=(8, 1.9 * len(episodes)), squeeze=False, sharex=True)
    for ax, ep in zip(axes[:, 0], episodes, strict=True):
        pred, gt, ds = curves[ep]
        t = np.arange(len(pred)) / ds.fps
        ax.plot(t, gt, "k--", lw=1, label="ground truth")
        ax.plot(t, pred, "C0", label="predicted")
        ax.set_ylim(-0.05, 1.05)
        outcome = "success" if truth[ep].success else f"failure ({truth[ep].perturbation})"
        ax.set_title(f"episode {ep}: {outcome}, MAE {per_episode[ep]['mae']:.3f}", fontsize=9)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    plot = out_dir / "reward_held_out.png"
    fig.savefig(plot, dpi=100)
    plt.close(fig)

    films = (failed[:1] + ok[:1] + failed[1:] + ok[1:])[:videos]  # a failure first: the reward must fall
    video_paths = []
    for ep in films:
        pred, gt, ds = curves[ep]
        outcome = "success" if truth[ep].success else "failure"
        path = out_dir / f"episode_{ep:03d}_{outcome}.mp4"
        write_reward_video(path, _episode_images(ds), pred, ds.fps, labels=gt, title=f"episode {ep} ({outcome})")
        video_paths.append(str(path))
    return {"checkpoint": str(checkpoint), "summary": summary, "episodes": per_episode, "plot": str(plot),
            "videos": video_paths}


def _report(report: dict) -> str:
    s = report["summary"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        "# RewACT demo: simulated ALOHA cube transfer",
        "",
        f"Held-out episodes: {s['successes']} successes, {s['failures']} failures. "
        f"Trained {report['train_steps']} steps; data {report['data_minutes']:.1f} min, total {report['minutes']:.1f} min.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| MAE to ground-truth progress | {fmt(s['mae'])} |",
        f"| VOC on successful episodes | {fmt(s['voc_successes'])} |",
        f"| success-vs-failure ROC-AUC (final reward) | {fmt(s['auroc_final_reward'])} |",
        "",
        "| episode | outcome | MAE | VOC | final reward |",
        "|---|---|---|---|---|",
    ]
    for ep, r in report["episodes"].items():
        outcome = "success" if r["success"] else f"failure: {r['perturbation']}"
        lines.append(f"| {ep} | {outcome} | {r['mae']:.3f} | {r['voc']:.2f} | {r['final_reward']:.2f} |")
    lines += ["", "![reward on held-out episodes](reward_held_out.png)", ""]
    lines += [f"Video: `{Path(v).name}`" for v in report["videos"]]
    return "\n".join(lines) + "\n"


def run_demo(cfg: DemoConfig) -> dict:
    from .sim.demo_data import DemoDataSpec, ensure

    t0 = time.perf_counter()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    data = ensure(DemoDataSpec(episodes=cfg.episodes), cfg.data_dir)
    data_minutes = (time.perf_counter() - t0) / 60
    train_eps = list(range(cfg.episodes - cfg.held_out))
    checkpoint = train(cfg, data, train_eps)
    report = evaluate(checkpoint, data, list(range(cfg.episodes - cfg.held_out, cfg.episodes)), cfg.out_dir)
    report.update(train_steps=cfg.steps, data_minutes=data_minutes, minutes=(time.perf_counter() - t0) / 60)
    (cfg.out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    text = _report(report)
    (cfg.out_dir / "report.md").write_text(text)
    print(text)
    print(f"Outputs in {cfg.out_dir}/: report.md, metrics.json, reward_held_out.png, "
          f"{', '.join(Path(v).name for v in report['videos'])}; model in {checkpoint}")
    return report
